// Chains through real proxies: `-F http://…` through tinyproxy's HTTP CONNECT (plain and
// with Basic authentication), `-F socks5://…` through Dante, and `-F …?proxyProtocol=1|2` through
// an HAProxy `accept-proxy` frontend in front of either, which proves the wire order: the PROXY
// header first, then CONNECT or the SOCKS5 greeting.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.InteropTests {
    @Suite("Chains: tinyproxy (HTTP CONNECT), Dante (SOCKS5), HAProxy accept-proxy in front of them")
    struct Chain {
        /// Test 9: `sluice -L tcp://…/<echo> -F http://<tinyproxy>`. 256 KiB of random bytes
        /// reach the echo target through tinyproxy's tunnel and come back intact; tinyproxy logged
        /// the `CONNECT <echo> HTTP/1.1` request, and sluice's connected line names tinyproxy as
        /// its upstream socket's peer (`dst`).
        @Test func connectThroughTinyproxy() throws {
            let echo = try EchoServer()
            let tinyproxy = try TinyproxyPeer.start(connectPorts: [echo.port])
            let sluice = try SluiceProcess.start([
                "-L", forwardURL(to: [echo.target]), "-F", "http://127.0.0.1:\(tinyproxy.port)",
            ])
            let connection = try sluice.connect()
            let payload = TestData.random(count: 256 << 10, seed: 43)
            #expect(
                try connection.exchange(payload, expecting: payload.count) == payload,
                "echo through tinyproxy differs; sluice:\n\(sluice.stderrText)\n\(tinyproxy.diagnostics)")
            #expect(
                tinyproxy.waitForLog(containing: "CONNECT \(echo.target) HTTP/1.1") != nil,
                "tinyproxy saw no CONNECT to \(echo.target):\n\(tinyproxy.diagnostics)")
            let client = try connection.clientAddress
            let sid = try #require(sluice.sid(ofClient: client), "\(sluice.stderrText)")
            let connected = sluice.waitForLine {
                $0["sid"]?.string == sid && $0["msg"]?.string?.contains(" <-> ") == true
            }
            #expect(connected?["dst"]?.string == tinyproxy.address.description, "\(String(describing: connected))")
            #expect(connected?["msg"]?.string == "\(client) <-> \(echo.target)", "\(String(describing: connected))")
            connection.close()
        }

        /// The credentials sluice sends to a tinyproxy with `BasicAuth alice s3cret`.
        struct AuthCase: Sendable, CustomTestStringConvertible {
            var userinfo: String
            /// The status tinyproxy answers, or nil when the tunnel opens.
            var refusal: String?
            var testDescription: String { userinfo.isEmpty ? "no credentials" : userinfo }
        }

        /// Test 9 (auth): with the right `user:pass@` the Basic `Proxy-Authorization` sluice
        /// builds is accepted and the echo works. Without credentials tinyproxy answers 407, with
        /// wrong ones 401: sluice then logs `node-0@<tinyproxy>: <status>` at error level, closes
        /// the client, and the target is never reached.
        @Test(arguments: [
            AuthCase(userinfo: "alice:s3cret@", refusal: nil),
            AuthCase(userinfo: "", refusal: "407 Proxy Authentication Required"),
            AuthCase(userinfo: "alice:wrong@", refusal: "401 Unauthorized"),
        ])
        func tinyproxyBasicAuthentication(_ run: AuthCase) throws {
            let echo = try EchoServer()
            let tinyproxy = try TinyproxyPeer.start(connectPorts: [echo.port], basicAuth: ("alice", "s3cret"))
            let sluice = try SluiceProcess.start([
                "-L", forwardURL(to: [echo.target]), "-F", "http://\(run.userinfo)127.0.0.1:\(tinyproxy.port)",
            ])
            let connection = try sluice.connect()
            guard let refusal = run.refusal else {
                #expect(try connection.echo("authenticated"), "sluice:\n\(sluice.stderrText)\n\(tinyproxy.diagnostics)")
                return
            }
            try connection.sendAll("never delivered")
            let outcome = connection.waitForClose(timeout: .seconds(handshakeDeadline))
            #expect(outcome.isClosed, "client saw \(outcome)")
            let node = "node-0@127.0.0.1:\(tinyproxy.port): \(refusal)"
            let error = sluice.waitForLine { line in
                line["level"]?.string == "error" && line["msg"]?.string?.contains(node) == true
            }
            #expect(error != nil, "no error line containing \(node.debugDescription):\n\(sluice.stderrText)")
            #expect(
                sluice.lines(level: "error").contains {
                    $0["msg"]?.string?.hasPrefix("route(retry=0) \(node)") == true
                },
                "no route(retry=0) line:\n\(sluice.stderrText)")
            #expect(echo.acceptedCountOnceSettled() == 0, "the target was reached despite the refusal")
        }

        /// Starts an HAProxy `mode tcp` frontend with `accept-proxy` that logs the header's
        /// addresses as `PP src=<ip:port> dst=<ip:port> rcvd=1` (at connect, `option logasap`) and
        /// forwards the rest of the stream to tinyproxy.
        static func haproxyInFrontOf(_ tinyproxy: TinyproxyPeer) throws -> HAProxyPeer {
            try haproxyInFront(ofPort: tinyproxy.port)
        }

        /// The same HAProxy frontend in front of any proxy listening on 127.0.0.1:`port`.
        static func haproxyInFront(ofPort port: UInt16) throws -> HAProxyPeer {
            try HAProxyPeer.start { ports in
                """
                frontend fe_chain
                    bind 127.0.0.1:\(ports[0]) accept-proxy
                    option logasap
                    log-format "PP src=%ci:%cp dst=%fi:%fp rcvd=%[fc_rcvd_proxy]"
                    default_backend be_proxy
                backend be_proxy
                    server proxy 127.0.0.1:\(port)
                """
            }
        }

        /// Test 9 (PROXY to the first node): `-F http://<HAProxy>?proxyProtocol=1|2`, where
        /// HAProxy `accept-proxy` strips the header and passes the CONNECT on to tinyproxy. The
        /// tunnel works only if sluice wrote the PROXY header first and CONNECT after it, and
        /// HAProxy logs the client (127.0.0.2) and sluice's listening address.
        @Test(arguments: [1, 2])
        func proxyHeaderThenConnectThroughHAProxy(version: Int) throws {
            let echo = try EchoServer()
            let tinyproxy = try TinyproxyPeer.start(connectPorts: [echo.port])
            let haproxy = try Chain.haproxyInFrontOf(tinyproxy)
            let sluice = try SluiceProcess.start([
                "-L", forwardURL(to: [echo.target]), "-F", "http://127.0.0.1:\(haproxy.port)?proxyProtocol=\(version)",
            ])
            let connection = try TestConnection.connect(to: sluice.address(), from: Interop.loopback2)
            #expect(
                try connection.echo("through HAProxy and tinyproxy"),
                "sluice:\n\(sluice.stderrText)\n\(haproxy.diagnostics)\n\(tinyproxy.diagnostics)")
            let client = try connection.clientAddress
            let line = "PP src=\(client) dst=127.0.0.1:\(sluice.port) rcvd=1"
            #expect(haproxy.waitForLog(containing: line) != nil, "HAProxy did not log \(line):\n\(haproxy.diagnostics)")
            #expect(
                tinyproxy.waitForLog(containing: "CONNECT \(echo.target) HTTP/1.1") != nil, "\(tinyproxy.diagnostics)")
            connection.close()
        }

        /// Test 9 (both headers): `-L …/<reporter>?handler.proxyProtocol=2 -F
        /// http://<HAProxy>?proxyProtocol=1`. The first node gets a v1 header, then CONNECT; the
        /// target (an HAProxy `accept-proxy` reporter reached through tinyproxy's tunnel) gets its
        /// own v2 header, and both report the client 127.0.0.2 and sluice's listening address.
        @Test func nodeHeaderAndTargetHeaderThroughTheTunnel() throws {
            let reporter = try Interop.haproxyReporter()
            let tinyproxy = try TinyproxyPeer.start(connectPorts: [reporter.port])
            let haproxy = try Chain.haproxyInFrontOf(tinyproxy)
            let sluice = try SluiceProcess.start([
                "-L", forwardURL(to: ["127.0.0.1:\(reporter.port)"], query: "handler.proxyProtocol=2"),
                "-F", "http://127.0.0.1:\(haproxy.port)?proxyProtocol=1",
            ])
            let result = try Curl.run(["--interface", "127.0.0.2"], url: Interop.url(Interop.loopback1, sluice.port))
            #expect(
                result.exitCode == 0 && result.status == 200,
                "\(result)\n\(sluice.stderrText)\n\(haproxy.diagnostics)\n\(tinyproxy.diagnostics)\n\(reporter.diagnostics)"
            )
            let client = try #require(result.localAddress, "\(result)")
            let destination = sluice.address()
            #expect(result.body == Interop.haproxyReported(source: client, destination: destination), "\(result)")
            let line = "PP src=\(client) dst=\(destination) rcvd=1"
            #expect(
                haproxy.waitForLog(containing: line) != nil, "first node did not log \(line):\n\(haproxy.diagnostics)")
        }

        /// Test 9 (SOCKS5): `sluice -L tcp://…/<echo> -F socks5://<danted>`. 256 KiB come back
        /// intact through Dante's tunnel, Dante logged the connect to the echo target (`ip.port`),
        /// and sluice's connected line names Dante as its upstream socket's peer.
        @Test func socks5ThroughDante() throws {
            let echo = try EchoServer()
            let dante = try DantePeer.start()
            let sluice = try SluiceProcess.start([
                "-L", forwardURL(to: [echo.target]), "-F", "socks5://127.0.0.1:\(dante.port)",
            ])
            let connection = try sluice.connect()
            let payload = TestData.random(count: 256 << 10, seed: 44)
            #expect(
                try connection.exchange(payload, expecting: payload.count) == payload,
                "echo through Dante differs; sluice:\n\(sluice.stderrText)\n\(dante.diagnostics)")
            let target = "127.0.0.1.\(echo.port)"
            let logged = dante.peer.waitForOutput { $0.contains("tcp/connect [") && $0.contains(target) }
            #expect(logged != nil, "Dante logged no connect to \(target):\n\(dante.diagnostics)")
            let client = try connection.clientAddress
            let sid = try #require(sluice.sid(ofClient: client), "\(sluice.stderrText)")
            let connected = sluice.waitForLine {
                $0["sid"]?.string == sid && $0["msg"]?.string?.contains(" <-> ") == true
            }
            #expect(connected?["dst"]?.string == dante.address.description, "\(String(describing: connected))")
            connection.close()
        }

        /// Test 9 (PROXY, then SOCKS5): `-F socks5://<HAProxy>?proxyProtocol=1|2`, HAProxy
        /// `accept-proxy` in front of Dante. The tunnel works only if the header came before the
        /// SOCKS5 greeting, and HAProxy logs the client (127.0.0.2) and sluice's listening address.
        @Test(arguments: [1, 2])
        func proxyHeaderThenSocks5ThroughHAProxy(version: Int) throws {
            let echo = try EchoServer()
            let dante = try DantePeer.start()
            let haproxy = try Chain.haproxyInFront(ofPort: dante.port)
            let sluice = try SluiceProcess.start([
                "-L", forwardURL(to: [echo.target]), "-F",
                "socks5://127.0.0.1:\(haproxy.port)?proxyProtocol=\(version)",
            ])
            let connection = try TestConnection.connect(to: sluice.address(), from: Interop.loopback2)
            #expect(
                try connection.echo("through HAProxy and Dante"),
                "sluice:\n\(sluice.stderrText)\n\(haproxy.diagnostics)\n\(dante.diagnostics)")
            let client = try connection.clientAddress
            let line = "PP src=\(client) dst=127.0.0.1:\(sluice.port) rcvd=1"
            #expect(haproxy.waitForLog(containing: line) != nil, "HAProxy did not log \(line):\n\(haproxy.diagnostics)")
            connection.close()
        }

        /// Two hops through two real proxies: `-F http://<tinyproxy> -F socks5://<danted>`.
        /// sluice asks tinyproxy to CONNECT to Dante, runs the SOCKS5 handshake through that
        /// tunnel, and Dante connects to the echo target: 64 KiB come back intact, tinyproxy
        /// logged `CONNECT <danted>` and Dante logged the connect to the target.
        @Test func twoHopsTinyproxyThenDante() throws {
            let echo = try EchoServer()
            let dante = try DantePeer.start()
            let tinyproxy = try TinyproxyPeer.start(connectPorts: [dante.port])
            let sluice = try SluiceProcess.start([
                "-L", forwardURL(to: [echo.target]), "-F", "http://127.0.0.1:\(tinyproxy.port)",
                "-F", "socks5://127.0.0.1:\(dante.port)",
            ])
            let connection = try sluice.connect()
            let payload = TestData.random(count: 64 << 10, seed: 45)
            #expect(
                try connection.exchange(payload, expecting: payload.count) == payload,
                "echo through two hops differs; sluice:\n\(sluice.stderrText)\n\(tinyproxy.diagnostics)\n\(dante.diagnostics)"
            )
            #expect(
                tinyproxy.waitForLog(containing: "CONNECT \(dante.address) HTTP/1.1") != nil,
                "tinyproxy saw no CONNECT to Dante:\n\(tinyproxy.diagnostics)")
            let target = "127.0.0.1.\(echo.port)"
            let logged = dante.peer.waitForOutput { $0.contains("tcp/connect [") && $0.contains(target) }
            #expect(logged != nil, "Dante logged no connect to \(target):\n\(dante.diagnostics)")
            connection.close()
        }
    }
}
