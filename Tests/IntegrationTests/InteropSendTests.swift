// Sending PROXY headers to real receivers: sluice `handler.proxyProtocol=1|2` → HAProxy
// 2.6 `accept-proxy` and nginx 1.22 `listen … proxy_protocol`, each answering with the addresses
// it was told; and a header received by sluice, re-sent in the other version.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.InteropTests {
    @Suite("Send: sluice sends headers to HAProxy and nginx")
    struct Send {
        /// One sluice `handler.proxyProtocol=<version>` forwarder with a client of one family.
        struct SendCase: Sendable, CustomTestStringConvertible {
            var version: Int
            var ipv6: Bool
            var testDescription: String {
                "v\(version), " + (ipv6 ? "client over [::1] (TCP6 header)" : "client 127.0.0.2 (TCP4 header)")
            }
        }

        static let cases = [
            SendCase(version: 1, ipv6: false), SendCase(version: 2, ipv6: false), SendCase(version: 1, ipv6: true),
            SendCase(version: 2, ipv6: true),
        ]

        /// Starts `sluice -L tcp://<listen>/<receiver>?handler.proxyProtocol=<version>` and runs
        /// curl through it (from 127.0.0.2, or over ::1); returns curl's result, curl's address and
        /// sluice's listening address (the header's destination).
        static func curlThroughSender(
            _ run: SendCase, to receiver: UInt16
        ) throws -> (
            result: CurlResult, client: SocketAddress?, destination: SocketAddress, sluice: SluiceProcess
        ) {
            let listen = run.ipv6 ? "[::1]:0" : "127.0.0.1:0"
            let sluice = try SluiceProcess.start([
                "-L",
                forwardURL(
                    listen: listen, to: ["127.0.0.1:\(receiver)"], query: "handler.proxyProtocol=\(run.version)"),
            ])
            let ip = run.ipv6 ? Interop.loopback6 : Interop.loopback1
            let source = run.ipv6 ? ["-6", "-g"] : ["--interface", "127.0.0.2"]
            let result = try Curl.run(source, url: Interop.url(ip, sluice.port))
            return (result, result.localAddress, SocketAddress(ip, port: sluice.port), sluice)
        }

        /// Test 6 (I-6): client → sluice `handler.proxyProtocol=1|2` → HAProxy `bind …
        /// accept-proxy` (`mode http`), which answers with `%[src]`, `%[src_port]`, `%[dst]`,
        /// `%[dst_port]` and `fc_rcvd_proxy`. HAProxy must report the client's address and
        /// sluice's listening address (TCP4 from 127.0.0.2, TCP6 over ::1); without a valid
        /// header it would close the connection.
        @Test(arguments: Send.cases)
        func haproxyAcceptProxySeesTheClient(_ run: SendCase) throws {
            let haproxy = try Interop.haproxyReporter()
            let (result, client, destination, sluice) = try Send.curlThroughSender(run, to: haproxy.port)
            #expect(
                result.exitCode == 0 && result.status == 200, "\(result)\n\(sluice.stderrText)\n\(haproxy.diagnostics)")
            let source = try #require(client, "\(result)")
            #expect(source.ip == (run.ipv6 ? Interop.loopback6 : Interop.loopback2))
            #expect(result.body == Interop.haproxyReported(source: source, destination: destination), "\(result)")
        }

        /// Test 7 (I-5): client → sluice `handler.proxyProtocol=1|2` → nginx 1.22 `listen …
        /// proxy_protocol` (`http`), which answers `$proxy_protocol_addr:$proxy_protocol_port` and
        /// the server address and port. nginx 1.22 accepts v2 headers of at most 107 bytes; sluice's
        /// TCP4/TCP6 headers are 28/52 bytes.
        @Test(arguments: Send.cases)
        func nginxProxyProtocolListenerSeesTheClient(_ run: SendCase) throws {
            let nginx = try Interop.nginxReporter()
            let (result, client, destination, sluice) = try Send.curlThroughSender(run, to: nginx.port)
            #expect(
                result.exitCode == 0 && result.status == 200, "\(result)\n\(sluice.stderrText)\n\(nginx.diagnostics)")
            let source = try #require(client, "\(result)")
            #expect(result.body == Interop.reported(source: source, destination: destination), "\(result)")
        }

        /// A header a client sends to sluice, and the addresses in it.
        struct RelayCase: Sendable, CustomTestStringConvertible {
            var name: String
            var inbound: [UInt8]
            var outboundVersion: Int
            var source: String
            var destination: String
            var testDescription: String { name }
        }

        /// Test 8: received, then sent. A client sends its own header (v1 TCP4 claiming
        /// 203.0.113.7:40000 → 198.51.100.1:443, or v2 TCP6 2001:db8::1:51512 → 2001:db8::2:443)
        /// and an HTTP request to sluice `?proxyProtocol=1&handler.proxyProtocol=<other version>`;
        /// HAProxy `accept-proxy` behind it must report exactly the received addresses.
        @Test(arguments: [
            RelayCase(
                name: "v1 TCP4 in, v2 out", inbound: Array("PROXY TCP4 203.0.113.7 198.51.100.1 40000 443\r\n".utf8),
                outboundVersion: 2, source: "203.0.113.7:40000", destination: "198.51.100.1:443"),
            RelayCase(
                name: "v2 TCP6 in, v1 out",
                inbound: [
                    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x21, 0x00, 0x24,
                    0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
                    0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0xC9, 0x38, 0x01, 0xBB,
                ], outboundVersion: 1, source: "[2001:db8::1]:51512", destination: "[2001:db8::2]:443"),
        ])
        func receivedHeaderIsResentToHAProxy(_ run: RelayCase) throws {
            let haproxy = try Interop.haproxyReporter()
            let sluice = try SluiceProcess.start([
                "-L",
                forwardURL(
                    to: ["127.0.0.1:\(haproxy.port)"],
                    query: "proxyProtocol=1&handler.proxyProtocol=\(run.outboundVersion)"),
            ])
            let connection = try sluice.connect()
            try connection.sendAll(
                run.inbound + Array("GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n".utf8))
            let response = Interop.text(try connection.receiveUntilEOF(limit: 64 << 10))
            let source = try #require(SocketAddress(run.source))
            let destination = try #require(SocketAddress(run.destination))
            let expected = Interop.haproxyReported(source: source, destination: destination)
            #expect(
                response.hasPrefix("HTTP/1.1 200"),
                "\(response.debugDescription)\n\(sluice.stderrText)\n\(haproxy.diagnostics)")
            #expect(response.hasSuffix("\r\n\r\n" + expected), "\(response.debugDescription)")

            let accept = sluice.interopAcceptLine(client: source)
            #expect(accept != nil, "no accept line with client \(source):\n\(sluice.stderrText)")
        }
    }
}
