// The proxy handlers with PROXY protocol and chains around them: the GOST PROXY page's two examples
// end to end (`-L=:8080?proxyProtocol=1` with `curl --haproxy-protocol`, and `-L :8080 -F
// http://:8000?proxyProtocol=1` into a second Sluice), HAProxy `send-proxy-v2` in front of auto,
// socks5 and http, and real proxies (tinyproxy, Dante) as the chain behind a handler.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ProxyHandlerTests {
    @Suite("Proxy handlers: PROXY receive in front, chains behind")
    struct ProxyHandlerProxyProtocol {
        typealias T = ProxyHandlerTesting

        /// How curl talks to the proxy.
        enum ClientKind: String, Sendable, CaseIterable, CustomTestStringConvertible {
            case plainGet, connect, socks5Hostname, socks4

            /// curl's arguments for a proxy at `authority`.
            func arguments(_ authority: String) -> [String] {
                switch self {
                case .plainGet: ["-x", "http://\(authority)"]
                case .connect: ["-p", "-x", "http://\(authority)"]
                case .socks5Hostname: ["--socks5-hostname", authority]
                case .socks4: ["--socks4", authority]
                }
            }

            /// The `handler` field auto logs for it.
            var spoken: String {
                switch self {
                case .plainGet, .connect: "http"
                case .socks5Hostname: "socks5"
                case .socks4: "socks4"
                }
            }

            var testDescription: String { rawValue }
        }

        /// The origin's body starts with the request line's method and path and says which server.
        static func expectOriginBody(
            _ result: CurlResult, path: String, diagnostics: @autoclosure () -> String,
            sourceLocation: SourceLocation = #_sourceLocation
        ) {
            #expect(
                result.exitCode == 0 && result.status == 200, "\(result)\n\(diagnostics())",
                sourceLocation: sourceLocation)
            #expect(
                result.body.hasPrefix("GET \(path) server=origin conn=") && result.body.hasSuffix(" seq=1\n"),
                "\(result)", sourceLocation: sourceLocation)
        }

        // MARK: The reference page's examples

        /// The page's receive example as written, `-L=:P?proxyProtocol=1` (auto on `[::]`), with
        /// `curl --haproxy-protocol -x` from 127.0.0.2: curl's v1 header comes first and is taken off
        /// (were it not, the auto handler would read `PROXY …` as an HTTP request line and answer
        /// 400), the request is served, and the accept line's `client` is curl's address.
        @Test func referencePageReceiveExampleWithCurlHeader() throws {
            let origin = try HTTPOrigin()
            let sluice = try SluiceProcess.start(["-L=:0?proxyProtocol=1"])
            #expect(sluice.listeners.first?.description.hasPrefix("[::]:") == true, "\(sluice.stderrText)")
            let result = try Curl.run(
                ["--haproxy-protocol", "--interface", "127.0.0.2", "-x", "http://\(sluice.proxyAuthority)"],
                url: origin.url(path: "/seed-receive"))
            Self.expectOriginBody(result, path: "/seed-receive", diagnostics: sluice.stderrText)
            let curl = try #require(result.localAddress, "\(result)")
            #expect(curl.ip == T.loopback2)
            let log = try sluice.closedLog(ofClient: curl)
            #expect(log.accepted?["client"]?.string == curl.description, "\(log)")
            #expect(log.accepted?["handler"]?.string == "http", "\(log)")
            #expect(log.connected?["msg"]?.string == "\(curl) <-> \(origin.address())", "\(log)")
            #expect(log.reason == "done", "\(log)")
            #expect(sluice.lines(level: "warning").isEmpty, "\(sluice.stderrText)")
        }

        /// A header whose source is not the socket's: a raw v1 line naming 203.0.113.7:40000, then
        /// the proxy request in the same write. The client is the header's, and auto picks the
        /// sub-handler from the first byte *after* the header (HTTP or SOCKS5).
        @Test(arguments: ["http", "socks5"])
        func receivedHeaderThenHandshakeInOneWrite(spoken: String) throws {
            let echo = try EchoServer()
            let sluice = try T.start("", query: "proxyProtocol=1")
            let connection = try sluice.connect()
            defer { connection.close() }
            let header = "PROXY TCP4 203.0.113.7 127.0.0.1 40000 \(sluice.port)\r\n"
            let port = echo.port
            if spoken == "http" {
                try connection.sendAll(header + "CONNECT \(echo.target) HTTP/1.1\r\nHost: \(echo.target)\r\n\r\n")
                let reply = try connection.receive(exactly: T.connectEstablished.utf8.count)
                #expect(String(decoding: reply, as: UTF8.self) == T.connectEstablished)
            } else {
                let request: [UInt8] = [5, 1, 0, 1, 127, 0, 0, 1, UInt8(port >> 8), UInt8(port & 0xFF)]
                try connection.sendAll(Array(header.utf8) + [5, 1, 0] + request)
                #expect(try connection.receive(exactly: 2) == [5, 0])
                #expect(Array(try connection.receive(exactly: 10)[0..<2]) == [5, 0])
            }
            #expect(try T.echoes(connection, "after the header, through \(spoken)"))
            connection.close()
            let client = SocketAddress(.v4(IPv4Address(203, 0, 113, 7)), port: 40000)
            let log = try sluice.closedLog(ofClient: client)
            #expect(log.accepted?["handler"]?.string == spoken, "\(log)")
            #expect(log.accepted?["remote"]?.string != client.description, "\(log)")
            let remote = try #require(log.accepted?["remote"]?.string, "\(log)")
            #expect(log.connected?["msg"]?.string == "\(remote) <-> \(echo.target)", "\(log)")
            #expect(log.connected?["client"]?.string == client.description, "\(log)")
        }

        /// The node scheme of the page's send example, and how curl talks to the first Sluice.
        struct ChainCase: Sendable, CustomTestStringConvertible {
            var node: String
            var client: ClientKind
            var testDescription: String { "-F \(node)://…?proxyProtocol=1, curl \(client.rawValue)" }
        }

        /// The page's send example: `-L :P -F http://:Q?proxyProtocol=1`, where Q is a second Sluice
        /// `-L http://:Q?proxyProtocol=1` (and the same with socks5 on both ends). curl (from
        /// 127.0.0.2) reaches the origin through both; the second Sluice's accept line names curl as
        /// `client` (from the first one's header) while its `remote` is the first one's upstream
        /// socket (its `src`); both log the origin as what was connected. As in GOST and the page's own
        /// log example, `msg` names the socket's peer (`remote`), not the header's client.
        @Test(arguments: [
            ChainCase(node: "http", client: .plainGet), ChainCase(node: "http", client: .connect),
            ChainCase(node: "http", client: .socks5Hostname), ChainCase(node: "socks5", client: .plainGet),
            ChainCase(node: "socks5", client: .socks4),
        ])
        func referencePageSendExampleIntoASecondSluice(_ run: ChainCase) throws {
            let origin = try HTTPOrigin()
            let second = try SluiceProcess.start(["-L", "\(run.node)://:0?proxyProtocol=1"])
            let first = try SluiceProcess.start(["-L", ":0", "-F", "\(run.node)://:\(second.port)?proxyProtocol=1"])
            let result = try Curl.run(
                ["--interface", "127.0.0.2"] + run.client.arguments(first.proxyAuthority),
                url: origin.url(path: "/seed-send"))
            Self.expectOriginBody(
                result, path: "/seed-send", diagnostics: "first:\n\(first.stderrText)\nsecond:\n\(second.stderrText)")
            let curl = try #require(result.localAddress, "\(result)")

            let firstLog = try first.closedLog(ofClient: curl)
            #expect(firstLog.accepted?["handler"]?.string == run.client.spoken, "\(firstLog)")
            #expect(firstLog.connected?["msg"]?.string == "\(curl) <-> \(origin.address())", "\(firstLog)")
            let firstUpstream = try #require(firstLog.connected?["src"]?.string, "\(firstLog)")

            let secondLog = try second.closedLog(ofClient: curl)
            #expect(secondLog.accepted?["remote"]?.string == firstUpstream, "\(secondLog)")
            #expect(secondLog.accepted?["handler"]?.string == run.node, "\(secondLog)")
            // As in GOST (and the page's own example), `msg` names the socket's peer; `client` the header's.
            #expect(secondLog.connected?["msg"]?.string == "\(firstUpstream) <-> \(origin.address())", "\(secondLog)")
            #expect(secondLog.connected?["client"]?.string == curl.description, "\(secondLog)")
            #expect(secondLog.connected?["dst"]?.string == origin.address().description, "\(secondLog)")
            #expect(first.lines(level: "warning").isEmpty && second.lines(level: "warning").isEmpty)
        }

        // MARK: HAProxy in front

        /// The handler behind HAProxy and how the client talks to it.
        struct HAProxyCase: Sendable, CustomTestStringConvertible {
            var scheme: String
            var client: ClientKind
            var testDescription: String { "\(scheme.isEmpty ? "auto" : scheme) handler, curl \(client.rawValue)" }
        }

        /// curl from 127.0.0.2 → HAProxy `mode tcp` → `server … send-proxy-v2` → Sluice
        /// `?proxyProtocol=1` with an auto, socks5 or http handler → origin. The body arrives; the
        /// accept line's `client` is curl's address, `remote` HAProxy's socket on 127.0.0.1, and
        /// `handler` the protocol curl spoke.
        @Test(arguments: [
            HAProxyCase(scheme: "", client: .plainGet), HAProxyCase(scheme: "", client: .socks5Hostname),
            HAProxyCase(scheme: "", client: .socks4), HAProxyCase(scheme: "socks5", client: .socks5Hostname),
            HAProxyCase(scheme: "http", client: .connect),
        ])
        func haproxySendProxyV2InFront(_ run: HAProxyCase) throws {
            let origin = try HTTPOrigin()
            let sluice = try T.start(run.scheme, query: "proxyProtocol=1")
            let haproxy = try HAProxyPeer.start { ports in
                """
                frontend fe
                    bind 127.0.0.1:\(ports[0])
                    default_backend be
                backend be
                    server s1 127.0.0.1:\(sluice.port) send-proxy-v2
                """
            }
            let result = try Curl.run(
                ["--interface", "127.0.0.2"] + run.client.arguments("127.0.0.1:\(haproxy.port)"),
                url: origin.url(path: "/behind-haproxy"))
            Self.expectOriginBody(
                result, path: "/behind-haproxy", diagnostics: "\(sluice.stderrText)\n\(haproxy.diagnostics)")
            let curl = try #require(result.localAddress, "\(result)")
            #expect(curl.ip == T.loopback2)
            let log = try sluice.closedLog(ofClient: curl)
            let remote = try #require(log.accepted?["remote"]?.string.flatMap(SocketAddress.init), "\(log)")
            #expect(remote.ip == T.loopback1 && remote != curl, "\(log)")
            #expect(log.accepted?["handler"]?.string == run.client.spoken, "\(log)")
            #expect(log.connected?["msg"]?.string == "\(remote) <-> \(origin.address())", "\(log)")
            #expect(log.connected?["client"]?.string == curl.description, "\(log)")
            #expect(log.reason == "done", "\(log)")
            #expect(sluice.lines(level: "warning").isEmpty, "\(sluice.stderrText)")
        }

        // MARK: Real proxies behind

        /// `-L socks5://… -F http://<tinyproxy>`: curl's SOCKS5 request becomes a CONNECT at tinyproxy
        /// (which logs it), and the body comes back.
        @Test func socks5HandlerThroughTinyproxy() throws {
            let origin = try HTTPOrigin()
            let tinyproxy = try TinyproxyPeer.start(connectPorts: [origin.address().port])
            let sluice = try T.start("socks5", extra: ["-F", "http://127.0.0.1:\(tinyproxy.port)"])
            let result = try Curl.run(
                ["--socks5-hostname", sluice.proxyAuthority], url: origin.url(path: "/via-tinyproxy"))
            Self.expectOriginBody(
                result, path: "/via-tinyproxy", diagnostics: "\(sluice.stderrText)\n\(tinyproxy.diagnostics)")
            #expect(
                tinyproxy.waitForLog(containing: "CONNECT \(origin.address()) HTTP/1.1") != nil,
                "\(tinyproxy.diagnostics)")
            let curl = try #require(result.localAddress, "\(result)")
            let log = try sluice.closedLog(ofClient: curl)
            #expect(log.connected?["msg"]?.string == "\(curl) <-> \(origin.address())", "\(log)")
            #expect(log.connected?["dst"]?.string == tinyproxy.address.description, "\(log)")
        }

        /// `-L http://… -F socks5://<Dante>`: a plain GET and a CONNECT through Sluice each become a
        /// SOCKS5 CONNECT at Dante (which logs it), and the bodies come back.
        @Test(arguments: [ClientKind.plainGet, .connect])
        func httpHandlerThroughDante(client: ClientKind) throws {
            let origin = try HTTPOrigin()
            let dante = try DantePeer.start()
            let sluice = try T.start("http", extra: ["-F", "socks5://127.0.0.1:\(dante.port)"])
            let result = try Curl.run(client.arguments(sluice.proxyAuthority), url: origin.url(path: "/via-dante"))
            Self.expectOriginBody(result, path: "/via-dante", diagnostics: "\(sluice.stderrText)\n\(dante.diagnostics)")
            #expect(
                dante.waitForLog(containing: "127.0.0.1.\(origin.address().port)") != nil, "\(dante.diagnostics)")
            let curl = try #require(result.localAddress, "\(result)")
            let log = try sluice.closedLog(ofClient: curl)
            #expect(log.connected?["msg"]?.string == "\(curl) <-> \(origin.address())", "\(log)")
            #expect(log.connected?["dst"]?.string == dante.address.description, "\(log)")
        }
    }
}
