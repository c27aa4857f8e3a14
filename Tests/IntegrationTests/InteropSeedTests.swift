// The seed page's examples (GOST's PROXY protocol page), run as written with local ports: the
// receive example (a forwarder in front of a `proxyProtocol=1` forwarder, with and without curl's
// header) and the three send examples (tcp, rtcp, and a chain node with `proxyProtocol=1`).
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.InteropTests {
    @Suite("Seed page examples with local ports")
    struct Seed {
        /// Test 5: `sluice -L tcp://:A/:B -L tcp://:B/<http>?proxyProtocol=1`.
        /// 1. `curl -H"Host: example.com" http://127.0.0.1:A`: service-1's accept line has
        ///    `client` = `remote` = service-0's outbound socket (127.0.0.1:<port>), as on the page.
        /// 2. `curl --haproxy-protocol -H"Host:example.com" http://127.0.0.1:A`: service-0 relays
        ///    curl's header untouched; service-1's accept line has `client` = curl's address and
        ///    `remote` = service-0's outbound socket, and the target gets the request without it.
        @Test func receiveExample() throws {
            let target = try Interop.httpTarget()
            let sluice = try Interop.sluice(ports: 2, listeners: 2) { ports in
                [
                    "-L", "tcp://:\(ports[0])/:\(ports[1])",
                    "-L", "tcp://:\(ports[1])/127.0.0.1:\(target.port)?proxyProtocol=1",
                ]
            }
            let (a, b) = (sluice.ports[0], sluice.ports[1])
            #expect(sluice.listeners.map(\.description) == ["[::]:\(a)", "[::]:\(b)"])

            for (index, withHeader) in [false, true].enumerated() {
                let flags = withHeader ? ["--haproxy-protocol", "-HHost:example.com"] : ["-HHost: example.com"]
                let result = try Curl.run(flags, url: "http://127.0.0.1:\(a)")
                #expect(result.exitCode == 0 && result.status == 200, "\(result)\n\(sluice.stderrText)")
                #expect(result.body == Interop.cannedBody)
                let curlAddress = try #require(result.localAddress, "\(result)")

                // service-0: accepted curl, dialled service-1 from `src`.
                let outer = try #require(
                    sluice.interopAcceptLine(remote: curlAddress, service: "service-0"), "\(sluice.stderrText)")
                let outerSID = try #require(outer["sid"]?.string)
                let connected = sluice.waitForLine {
                    $0["sid"]?.string == outerSID && $0["msg"]?.string?.contains(" <-> ") == true
                }
                let hop = try #require(connected?["src"]?.string.flatMap(SocketAddress.init), "\(sluice.stderrText)")

                // service-1: accepted service-0's connection.
                let inner = try #require(
                    sluice.interopAcceptLine(remote: hop, service: "service-1"), "\(sluice.stderrText)")
                #expect(inner["local"]?.string == "127.0.0.1:\(b)", "\(inner)")
                #expect(inner["msg"]?.string == "\(hop) <> 127.0.0.1:\(b)", "\(inner)")
                let expectedClient = withHeader ? curlAddress : hop
                #expect(inner["client"]?.string == expectedClient.description, "header \(withHeader): \(inner)")

                let request = Interop.request(target, on: index)
                #expect(request.hasPrefix("GET / HTTP/1.1\r\n"), "\(request.debugDescription)")
                #expect(request.contains("Host: example.com\r\n") || request.contains("Host:example.com\r\n"))
                #expect(!request.contains("PROXY"), "\(request.debugDescription)")
            }
            #expect(sluice.interopWarnings.isEmpty, "warnings:\n\(sluice.stderrText)")
        }

        /// Test 10 (forwarders): `sluice -L <scheme>://:A/:B?handler.proxyProtocol=1` with an
        /// HAProxy `accept-proxy` reporter on 127.0.0.1:B (`:B` means 127.0.0.1:B). curl from
        /// 127.0.0.2 to the dual-stack `:A` listener: HAProxy reports the client and
        /// 127.0.0.1:A (sluice's accepted socket, plain IPv4 although the listener is `[::]`);
        /// curl over ::1: HAProxy reports ::1 and [::1]:A (a TCP6 header).
        @Test(arguments: ["tcp", "rtcp"])
        func sendExampleForwarder(scheme: String) throws {
            let haproxy = try Interop.haproxyReporter()
            let sluice = try Interop.sluice(ports: 1, listeners: 1) { ports in
                ["-L", "\(scheme)://:\(ports[0])/:\(haproxy.port)?handler.proxyProtocol=1"]
            }
            // An IPv4 client (plain IPv4 addresses although the listener is `[::]`), then IPv6.
            for (flags, ip) in [(["--interface", "127.0.0.2"], Interop.loopback1), (["-6", "-g"], Interop.loopback6)] {
                let result = try Curl.run(flags, url: Interop.url(ip, sluice.port))
                #expect(
                    result.exitCode == 0 && result.status == 200,
                    "\(result)\n\(sluice.stderrText)\n\(haproxy.diagnostics)")
                let client = try #require(result.localAddress, "\(result)")
                #expect(client.ip == (ip == Interop.loopback1 ? Interop.loopback2 : Interop.loopback6))
                let destination = SocketAddress(ip, port: sluice.port)
                #expect(result.body == Interop.haproxyReported(source: client, destination: destination), "\(result)")
            }
        }

        /// Test 10 (chain node): `sluice -L tcp://:A/<echo> -F http://:B?proxyProtocol=1`, the
        /// page's `-L :8080 -F http://:8000?proxyProtocol=1` with a tcp forwarder in place of the
        /// auto handler. B is an HAProxy `accept-proxy` frontend passing the stream to tinyproxy:
        /// the echo works and HAProxy logs the client and 127.0.0.1:A.
        @Test func sendExampleChainNode() throws {
            let echo = try EchoServer()
            let tinyproxy = try TinyproxyPeer.start(connectPorts: [echo.port])
            let haproxy = try Chain.haproxyInFrontOf(tinyproxy)
            let sluice = try Interop.sluice(ports: 1, listeners: 1) { ports in
                ["-L", "tcp://:\(ports[0])/\(echo.target)", "-F", "http://:\(haproxy.port)?proxyProtocol=1"]
            }
            let connection = try TestConnection.connect(to: sluice.address(), from: Interop.loopback2)
            #expect(
                try connection.echo("seed chain example"),
                "sluice:\n\(sluice.stderrText)\n\(haproxy.diagnostics)\n\(tinyproxy.diagnostics)")
            let client = try connection.clientAddress
            let line = "PP src=\(client) dst=127.0.0.1:\(sluice.port) rcvd=1"
            #expect(haproxy.waitForLog(containing: line) != nil, "HAProxy did not log \(line):\n\(haproxy.diagnostics)")
            connection.close()
        }
    }
}
