// Receiving PROXY headers from real senders: curl --haproxy-protocol (v1, TCP4 and
// TCP6), HAProxy send-proxy / send-proxy-v2 (with CRC32C and UNIQUE_ID TLVs, and behind TLS with
// every SSL TLV), HAProxy's v2 LOCAL health checks, and nginx stream `proxy_protocol on`.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.InteropTests {
    @Suite("Receive: curl, HAProxy and nginx send headers to sluice")
    struct Receive {
        /// One curl run against `sluice -L tcp://<listen>/<http target>?proxyProtocol=1`.
        struct CurlCase: Sendable, CustomTestStringConvertible {
            var haproxyProtocol: Bool
            var ipv6: Bool
            var testDescription: String {
                (haproxyProtocol ? "curl --haproxy-protocol" : "plain curl") + (ipv6 ? " -6 to [::1]" : " to 127.0.0.1")
            }
        }

        /// Test 1 (I-1, I-10): curl's own v1 header (`PROXY TCP4|TCP6 <curl's address> …`) is
        /// parsed and stripped: curl gets the page, sluice's accept line has `client` = curl's
        /// local address, the target receives the request starting at `GET` with no PROXY line,
        /// and the close line counts only the request bytes. Without the flag the connection is
        /// served as plain.
        @Test(arguments: [
            CurlCase(haproxyProtocol: true, ipv6: false), CurlCase(haproxyProtocol: true, ipv6: true),
            CurlCase(haproxyProtocol: false, ipv6: false),
        ])
        func curlHeaderIsParsedAndStripped(_ run: CurlCase) throws {
            let target = try Interop.httpTarget()
            let listen = run.ipv6 ? "[::1]:0" : "127.0.0.1:0"
            let sluice = try SluiceProcess.start([
                "-L", forwardURL(listen: listen, to: [target.target], query: "proxyProtocol=1"),
            ])
            let ip = run.ipv6 ? Interop.loopback6 : Interop.loopback1
            let result = try Curl.run(
                (run.haproxyProtocol ? ["--haproxy-protocol"] : []) + (run.ipv6 ? ["-6", "-g"] : []),
                url: Interop.url(ip, sluice.port))
            #expect(result.exitCode == 0 && result.status == 200, "\(result); sluice:\n\(sluice.stderrText)")
            #expect(result.body == Interop.cannedBody, "\(result)")
            let curlAddress = try #require(result.localAddress, "\(result)")
            #expect(curlAddress.ip == ip)

            let accept = try #require(
                sluice.interopAcceptLine(remote: curlAddress),
                "no accept line for \(curlAddress):\n\(sluice.stderrText)")
            #expect(accept["client"]?.string == curlAddress.description, "\(accept)")
            #expect(accept["local"]?.string == SocketAddress(ip, port: sluice.port).description, "\(accept)")

            let request = Interop.request(target)
            #expect(request.hasPrefix("GET / HTTP/1.1\r\n"), "target received \(request.debugDescription)")
            #expect(!request.contains("PROXY"), "the PROXY line reached the target: \(request.debugDescription)")

            let sid = try #require(accept["sid"]?.string)
            let closed = sluice.waitForLine { $0["sid"]?.string == sid && $0["msg"]?.string?.contains(" >< ") == true }
            #expect(closed?["inputBytes"]?.int == request.utf8.count, "close line \(String(describing: closed))")
            #expect(sluice.interopWarnings.isEmpty, "warnings:\n\(sluice.stderrText)")
        }

        /// One HAProxy `server … <sendOptions>` in front of sluice.
        struct HAProxyCase: Sendable, CustomTestStringConvertible {
            var sendOptions: String
            var ipv6Client: Bool
            var testDescription: String {
                sendOptions + (ipv6Client ? ", client over ::1 (TCP6)" : ", client 127.0.0.2")
            }
        }

        /// Test 2 (I-2, I-3): a client from 127.0.0.2 (or ::1) → HAProxy 2.6 `mode tcp` →
        /// `server s1 <sluice> send-proxy[-v2 …]` → sluice `?proxyProtocol=1` → echo. The echo is
        /// exact (the header did not leak into the payload) and sluice's accept line has `client`
        /// = the client's address while `remote` is HAProxy's own socket. The `crc32c,unique-id`
        /// row proves sluice's CRC32C check accepts HAProxy's checksum (a mismatch would close the
        /// connection with a warning).
        @Test(arguments: [
            HAProxyCase(sendOptions: "send-proxy", ipv6Client: false),
            HAProxyCase(sendOptions: "send-proxy-v2", ipv6Client: false),
            HAProxyCase(sendOptions: "send-proxy-v2 proxy-v2-options crc32c,unique-id", ipv6Client: false),
            HAProxyCase(sendOptions: "send-proxy", ipv6Client: true),
            HAProxyCase(sendOptions: "send-proxy-v2 proxy-v2-options crc32c", ipv6Client: true),
        ])
        func haproxyHeaderGivesTheClientAddress(_ run: HAProxyCase) throws {
            let echo = try EchoServer()
            let sluice = try SluiceProcess.start(["-L", forwardURL(to: [echo.target], query: "proxyProtocol=1")])
            let bindHost = run.ipv6Client ? "[::1]" : "127.0.0.1"
            let haproxy = try HAProxyPeer.start { ports in
                """
                frontend fe
                    bind \(bindHost):\(ports[0])
                    unique-id-format %ci:%cp_%fi:%fp_%Ts_%rt:%pid
                    default_backend be
                backend be
                    server s1 127.0.0.1:\(sluice.port) \(run.sendOptions)
                """
            }
            let frontend = SocketAddress(run.ipv6Client ? Interop.loopback6 : Interop.loopback1, port: haproxy.port)
            let source = run.ipv6Client ? Interop.loopback6 : Interop.loopback2
            let connection = try TestConnection.connect(to: frontend, from: source)
            let payload = TestData.random(count: 32 << 10, seed: 41)
            #expect(
                try connection.exchange(payload, expecting: payload.count) == payload,
                "echo through HAProxy and sluice differs; sluice:\n\(sluice.stderrText)\n\(haproxy.diagnostics)")
            let client = try connection.clientAddress
            #expect(client.ip == source)

            let accept = try #require(
                sluice.interopAcceptLine(client: client),
                "no accept line with client \(client):\n\(sluice.stderrText)\n\(haproxy.diagnostics)")
            let remote = accept["remote"]?.string.flatMap(SocketAddress.init)
            #expect(remote?.ip == Interop.loopback1 && remote != client, "remote must be HAProxy's socket: \(accept)")
            #expect(accept["local"]?.string == "127.0.0.1:\(sluice.port)", "\(accept)")
            #expect(accept["msg"]?.string == "\(accept["remote"]?.string ?? "?") <> 127.0.0.1:\(sluice.port)")
            #expect(sluice.interopWarnings.isEmpty, "warnings:\n\(sluice.stderrText)")
            connection.close()
        }

        /// I-3/I-4: HAProxy terminates TLS (ALPN, SNI, a client certificate) and sends
        /// `send-proxy-v2-ssl-cn proxy-v2-options ssl,cert-cn,ssl-cipher,cert-sig,cert-key,
        /// authority,crc32c,unique-id`: a v2 header of about 200 bytes with ALPN, AUTHORITY,
        /// UNIQUE_ID, an SSL TLV with five sub-TLVs (version, CN, cipher, signature and key
        /// algorithms) and a CRC32C over all of it. curl (with a client certificate, over
        /// `https://sluice-test.example`) gets the page; sluice's accept line has `client` = curl's
        /// address; the target receives the decrypted request from `GET` on, with no header byte.
        @Test func haproxyTLSHeaderWithEveryTLV() throws {
            let certificates = try TestCertificates()
            let target = try Interop.httpTarget()
            let sluice = try SluiceProcess.start(["-L", forwardURL(to: [target.target], query: "proxyProtocol=1")])
            let haproxy = try HAProxyPeer.start { ports in
                """
                frontend fe_tls
                    bind 127.0.0.1:\(ports[0]) ssl crt \(certificates.serverBundle) alpn h2,http/1.1 verify optional ca-file \(certificates.clientCertificate)
                    unique-id-format %ci:%cp_%fi:%fp_%Ts_%rt:%pid
                    default_backend be
                backend be
                    server s1 127.0.0.1:\(sluice.port) send-proxy-v2-ssl-cn proxy-v2-options ssl,cert-cn,ssl-cipher,cert-sig,cert-key,authority,crc32c,unique-id
                """
            }
            let name = certificates.serverName
            let result = try Curl.run(
                [
                    "-k", "--http1.1", "--cert", certificates.clientCertificate, "--key", certificates.clientKey,
                    "--resolve", "\(name):\(haproxy.port):127.0.0.1",
                ], url: "https://\(name):\(haproxy.port)/")
            #expect(
                result.exitCode == 0 && result.status == 200,
                "\(result)\nsluice:\n\(sluice.stderrText)\n\(haproxy.diagnostics)")
            #expect(result.body == Interop.cannedBody, "\(result)")
            let curlAddress = try #require(result.localAddress, "\(result)")

            let accept = try #require(
                sluice.interopAcceptLine(client: curlAddress),
                "no accept line with client \(curlAddress):\n\(sluice.stderrText)\n\(haproxy.diagnostics)")
            #expect(accept["remote"]?.string != curlAddress.description, "remote must be HAProxy's socket: \(accept)")
            let request = Interop.request(target)
            #expect(request.hasPrefix("GET / HTTP/1.1\r\n"), "target received \(request.debugDescription)")
            #expect(request.contains("Host: \(name):\(haproxy.port)\r\n"), "\(request.debugDescription)")
            #expect(sluice.interopWarnings.isEmpty, "warnings:\n\(sluice.stderrText)")
        }

        /// Whom sluice trusts, and where HAProxy's connection to it comes from.
        struct TrustCase: Sendable, CustomTestStringConvertible {
            var haproxySource: String
            var query: String
            var trusted: Bool
            var testDescription: String {
                trusted ? "trusted HAProxy, header re-sent" : "untrusted HAProxy, relayed untouched"
            }
        }

        /// Trust with real peers: client 127.0.0.2 → HAProxy A (`send-proxy`, connecting from
        /// `source`) → sluice `proxyProtocol.trusted=127.0.0.1` → HAProxy B (`accept-proxy`
        /// reporter). From 127.0.0.5 (untrusted) sluice must not parse A's header: its accept
        /// line has `client` = `remote`, and the header reaches B byte for byte, so B (a strict
        /// parser) reports the client. From 127.0.0.1 (trusted) sluice uses the header (`client`
        /// = 127.0.0.2:<port>) and, with `handler.proxyProtocol=2`, sends its own to B.
        @Test(arguments: [
            TrustCase(
                haproxySource: "127.0.0.5", query: "proxyProtocol=1&proxyProtocol.trusted=127.0.0.1", trusted: false),
            TrustCase(
                haproxySource: "127.0.0.1",
                query: "proxyProtocol=1&proxyProtocol.trusted=127.0.0.1&handler.proxyProtocol=2", trusted: true),
        ])
        func trustedSourcesWithHAProxy(_ run: TrustCase) throws {
            let reporter = try Interop.haproxyReporter()
            let sluice = try SluiceProcess.start([
                "-L", forwardURL(to: ["127.0.0.1:\(reporter.port)"], query: run.query),
            ])
            let front = try HAProxyPeer.start { ports in
                """
                frontend fe
                    bind 127.0.0.1:\(ports[0])
                    default_backend be
                backend be
                    server s1 127.0.0.1:\(sluice.port) send-proxy source \(run.haproxySource)
                """
            }
            let result = try Curl.run(["--interface", "127.0.0.2"], url: Interop.url(Interop.loopback1, front.port))
            #expect(
                result.exitCode == 0 && result.status == 200,
                "\(result)\nsluice:\n\(sluice.stderrText)\n\(front.diagnostics)\n\(reporter.diagnostics)")
            let client = try #require(result.localAddress, "\(result)")
            let frontend = SocketAddress(Interop.loopback1, port: front.port)
            #expect(result.body == Interop.haproxyReported(source: client, destination: frontend), "\(result)")

            let accept = try #require(
                sluice.waitForLine { $0["msg"]?.string?.contains(" <> ") == true }, "\(sluice.stderrText)")
            let remote = try #require(accept["remote"]?.string.flatMap(SocketAddress.init), "\(accept)")
            #expect(remote.ip == IPAddress(run.haproxySource), "\(accept)")
            #expect(accept["client"]?.string == (run.trusted ? client : remote).description, "\(accept)")
            #expect(sluice.interopWarnings.isEmpty, "warnings:\n\(sluice.stderrText)")
        }

        /// Test 3 (I-7): `server s1 <sluice> send-proxy-v2 check inter 500ms` with a tcp-check
        /// that sends `PING` and expects the reply to *start* with `PING` (`rstring ^PING`).
        /// HAProxy 2.6 opens each check with a v2 LOCAL header; sluice must accept it, use the
        /// real addresses, and relay only `PING\r\n` to the echo target. The server reaches
        /// `L7OK` and stays UP with no failed check; had sluice rejected LOCAL, the check would
        /// fail, and had it relayed the header, the echo would start with the v2 signature. The
        /// second row makes the header mandatory and trusts only 127.0.0.1: a LOCAL header counts.
        @Test(arguments: [
            "proxyProtocol=1", "proxyProtocol=1&proxyProtocol.required=true&proxyProtocol.trusted=127.0.0.1",
        ])
        func haproxyHealthChecksWithV2LocalAreServed(query: String) throws {
            let echo = try EchoServer()
            let sluice = try SluiceProcess.start(["-L", forwardURL(to: [echo.target], query: query)])
            let haproxy = try HAProxyPeer.start { ports in
                """
                frontend fe
                    bind 127.0.0.1:\(ports[0])
                    default_backend be
                backend be
                    option tcp-check
                    tcp-check send "PING\\r\\n"
                    tcp-check expect rstring ^PING
                    server s1 127.0.0.1:\(sluice.port) send-proxy-v2 check inter 500ms rise 1 fall 1
                """
            }
            let passed = try waitFor(timeout: .seconds(15), interval: .milliseconds(100)) { () -> [String: String]? in
                guard let row = try haproxy.stat(proxy: "be", server: "s1"), row["check_status"] == "L7OK" else {
                    return nil
                }
                return row
            }
            #expect(passed != nil, "no passing check; sluice:\n\(sluice.stderrText)\n\(haproxy.diagnostics)")
            // Two more checks: HAProxy records a check's result before it closes the connection, and
            // sluice's close line for it comes after that. Then still UP and not one failed check.
            let checksSoFar = sluice.closeLineCount
            #expect(
                waitUntil(timeout: .seconds(15)) { sluice.closeLineCount >= checksSoFar + 2 },
                "no two more checks; sluice:\n\(sluice.stderrText)")
            let row = try haproxy.stat(proxy: "be", server: "s1")
            #expect(row?["status"] == "UP", "\(String(describing: row))")
            #expect(row?["chkfail"] == "0", "failed checks: \(String(describing: row))")
            #expect(row?["check_status"] == "L7OK", "\(String(describing: row))")

            let closes = sluice.jsonLines.filter { $0["msg"]?.string?.contains(" >< ") == true }
            #expect(closes.count >= 2, "expected at least two check connections:\n\(sluice.stderrText)")
            for line in closes {
                #expect(line["client"] == line["remote"], "LOCAL must keep the real address: \(line)")
                #expect(line["inputBytes"]?.int == 6, "only PING\\r\\n may reach the target: \(line)")
            }
            #expect(sluice.interopWarnings.isEmpty, "warnings:\n\(sluice.stderrText)")
        }

        /// Test 4 (I-9): a client from 127.0.0.3 → nginx 1.22 `stream { … proxy_protocol on; }`
        /// (v1) → sluice `?proxyProtocol=1` → echo. The echo is exact and sluice's accept line has
        /// `client` = 127.0.0.3:<port> while `remote` is nginx's upstream socket.
        @Test func nginxStreamHeaderGivesTheClientAddress() throws {
            let echo = try EchoServer()
            let sluice = try SluiceProcess.start(["-L", forwardURL(to: [echo.target], query: "proxyProtocol=1")])
            let nginx = try NginxPeer.start { ports in
                """
                stream {
                    server {
                        listen 127.0.0.1:\(ports[0]);
                        proxy_pass 127.0.0.1:\(sluice.port);
                        proxy_protocol on;
                    }
                }
                """
            }
            let connection = try TestConnection.connect(
                to: SocketAddress(Interop.loopback1, port: nginx.port), from: Interop.loopback3)
            let payload = TestData.random(count: 32 << 10, seed: 42)
            #expect(
                try connection.exchange(payload, expecting: payload.count) == payload,
                "echo through nginx and sluice differs; sluice:\n\(sluice.stderrText)\n\(nginx.diagnostics)")
            let client = try connection.clientAddress
            #expect(client.ip == Interop.loopback3)

            let accept = try #require(
                sluice.interopAcceptLine(client: client),
                "no accept line with client \(client):\n\(sluice.stderrText)\n\(nginx.diagnostics)")
            let remote = accept["remote"]?.string.flatMap(SocketAddress.init)
            #expect(remote?.ip == Interop.loopback1, "remote must be nginx's upstream socket: \(accept)")
            #expect(accept["local"]?.string == "127.0.0.1:\(sluice.port)", "\(accept)")
            #expect(sluice.interopWarnings.isEmpty, "warnings:\n\(sluice.stderrText)")
            connection.close()
        }
    }
}
