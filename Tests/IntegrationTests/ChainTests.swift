// Chains: dialling the target through `-F http://…` and `-F socks5://…` hops, with the first
// node's PROXY header, the CONNECT request's fields, SOCKS5 authentication and address types, and
// the target's own header through the tunnel. The proxies are the recording ones of TestProxies.
import Glibc
import Sluice
import TestSupport
import Testing

/// A hop's handshake deadline when nothing sets it (`connector.timeout`, which defaults to the 15 s
/// `dialTimeout`), in seconds: a refused handshake closes the client well before it.
let handshakeDeadline = 15.0

extension SluiceProcess {
    /// Starts `sluice -L tcp://127.0.0.1:0/<target>[?query] -F <hop>…`.
    static func chained(to target: String, query: String = "", hops: [String]) throws -> SluiceProcess {
        try start(["-L", forwardURL(to: [target], query: query)] + hops.flatMap { ["-F", $0] })
    }
}

/// The request head Sluice's http connector writes (GOST's field order).
func connectHead(_ target: String, authorization: String? = nil) -> String {
    var head = "CONNECT \(target) HTTP/1.1\r\nHost: \(target)\r\n"
    if let authorization { head += "Proxy-Authorization: Basic \(authorization)\r\n" }
    return head + "Proxy-Connection: keep-alive\r\n\r\n"
}

extension Integration.ProxyProtocolIntegrationTests {
    @Suite("Chains: HTTP CONNECT and SOCKS5 hops")
    struct ChainTests {
        /// `-F http://user:pass@…?proxyProtocol=1` with `handler.proxyProtocol=1`. On the wire to the
        /// proxy: the node's PROXY line first, then exactly `CONNECT target HTTP/1.1` with `Host`,
        /// `Proxy-Authorization: Basic dXNlcjpwYXNz` (base64 of `user:pass`) and
        /// `Proxy-Connection`, and nothing else before the 200. The target's own header arrives at
        /// the target through the tunnel, before the client's bytes; the reply comes back.
        @Test func httpNodeGetsItsHeaderThenConnectWithAuthorization() throws {
            let proxy = try RecordingHTTPProxy(.init(expectsProxyHeader: true))
            let target = try RecordingServer(reply: ascii("pong"), replyWhen: .afterFirstBytes)
            let sluice = try SluiceProcess.chained(
                to: target.target, query: "handler.proxyProtocol=1",
                hops: ["http://user:pass@\(proxy.target)?proxyProtocol=1"])
            let connection = try sluice.connect(from: peer2)
            let client = try connection.clientAddress
            try connection.sendAll(ascii("ping"))
            #expect(try connection.receive(exactly: 4) == ascii("pong"))

            let line = "PROXY TCP4 127.0.0.2 127.0.0.1 \(client.port) \(sluice.port)\r\n"
            let record = try #require(proxy.waitForRecords(1)?.first, "stderr:\n\(sluice.stderrText)")
            let expected = ascii(line + connectHead(target.target, authorization: "dXNlcjpwYXNz"))
            #expect(record.received == expected, "proxy got \(printable(record.received))")
            #expect(record.requestLine == "CONNECT \(target.target) HTTP/1.1")
            #expect(record.field("Host") == target.target)
            #expect(record.field("Proxy-Authorization") == "Basic dXNlcjpwYXNz")
            #expect(
                record.proxyHeader?.addresses
                    == .inet(source: client, destination: SocketAddress(localhost, port: sluice.port)))
            #expect(target.waitForBytes(line.utf8.count + 4) == ascii(line + "ping"))
            connection.close()
            let log = try sluice.requireClosedLog(client)
            #expect(log.connected?["msg"]?.string == "\(client) <-> \(target.target)", "\(log)")
        }

        /// Receive and chain together: the node's PROXY header names the original client and
        /// destination from the header Sluice received (203.0.113.7:40000 → 198.51.100.1:443).
        @Test func nodeHeaderCarriesTheReceivedAddresses() throws {
            let proxy = try RecordingHTTPProxy(.init(expectsProxyHeader: true))
            let echo = try EchoServer()
            let sluice = try SluiceProcess.chained(
                to: echo.target, query: "proxyProtocol=1", hops: ["http://\(proxy.target)?proxyProtocol=1"])
            let connection = try sluice.connect(from: peer2)
            try connection.sendAll(spoofedV1)
            #expect(try connection.echo("relayed"))
            let record = try #require(proxy.waitForRecords(1)?.first)
            #expect(
                record.received == spoofedV1 + ascii(connectHead(echo.target)),
                "proxy got \(printable(record.received))")
        }

        /// `proxyProtocol=2` on the node: the proxy parses a v2 header (the client's addresses) and
        /// then exactly the CONNECT head; without the handler's header the target gets only the
        /// client's bytes.
        @Test func httpNodeGetsAV2Header() throws {
            let proxy = try RecordingHTTPProxy(.init(expectsProxyHeader: true))
            let target = try RecordingServer(reply: ascii("ok"), replyWhen: .afterFirstBytes)
            let sluice = try SluiceProcess.chained(to: target.target, hops: ["http://\(proxy.target)?proxyProtocol=2"])
            let connection = try sluice.connect(from: peer2)
            let client = try connection.clientAddress
            try connection.sendAll(ascii("data"))
            #expect(try connection.receive(exactly: 2) == ascii("ok"))
            let record = try #require(proxy.waitForRecords(1)?.first)
            let header = try #require(
                record.proxyHeader, "proxy: \(record.failure ?? "") \(printable(record.received))")
            #expect(header.version == .v2 && header.family == .inet, "\(header)")
            #expect(header.addresses == .inet(source: client, destination: SocketAddress(localhost, port: sluice.port)))
            #expect(Array(record.received[record.proxyHeaderLength...]) == ascii(connectHead(target.target)))
            #expect(target.connections.first == ascii("data"))
        }

        /// Without credentials or `proxyProtocol`, the proxy's first bytes are the bare CONNECT head.
        @Test func httpNodeWithoutAuthOrHeader() throws {
            let proxy = try RecordingHTTPProxy()
            let echo = try EchoServer()
            let sluice = try SluiceProcess.chained(to: echo.target, hops: ["http://\(proxy.target)"])
            let connection = try sluice.connect()
            let client = try connection.clientAddress
            #expect(try connection.echo("through one hop"))
            let record = try #require(proxy.waitForRecords(1)?.first)
            #expect(record.received == ascii(connectHead(echo.target)), "proxy got \(printable(record.received))")
            #expect(record.field("Proxy-Authorization") == nil)
            // The byte counts are the client's and the target's bytes, not the handshake's.
            connection.close()
            let log = try sluice.requireClosedLog(client)
            #expect(log.closed?["inputBytes"]?.int == 15 && log.closed?["outputBytes"]?.int == 15, "\(log)")
        }

        /// Two hops, http then socks5: 256 KiB go through both tunnels and back from an echo target.
        /// The HTTP proxy was asked for the SOCKS5 node, the SOCKS5 server (no auth offered) for the
        /// target as an IPv4 address.
        @Test func httpThenSOCKS5DeliversEndToEnd() throws {
            let http = try RecordingHTTPProxy()
            let socks = try TestSOCKS5Server()
            let echo = try EchoServer()
            let sluice = try SluiceProcess.chained(
                to: echo.target, hops: ["http://\(http.target)", "socks5://\(socks.target)"])
            let connection = try sluice.connect()
            let data = TestData.random(count: 256 << 10, seed: 46)
            #expect(try connection.exchange(data, expecting: data.count) == data)
            let httpRecord = try #require(http.waitForRecords(1)?.first)
            #expect(httpRecord.requestLine == "CONNECT \(socks.target) HTTP/1.1")
            let socksRecord = try #require(socks.waitForRecords(1)?.first)
            #expect(socksRecord.methods == [0])
            #expect(socksRecord.command == 1 && socksRecord.addressType == 1, "\(socksRecord)")
            #expect(socksRecord.target == echo.target)
            #expect(echo.acceptedCount == 1)
        }

        /// Two hops with headers: the first node's PROXY line goes to hop 0 only (the SOCKS5 hop
        /// gets a plain greeting), and the target's header crosses both tunnels.
        @Test func headersGoToTheFirstNodeAndThroughBothTunnels() throws {
            let http = try RecordingHTTPProxy(.init(expectsProxyHeader: true))
            let socks = try TestSOCKS5Server()
            let target = try RecordingServer(reply: ascii("ack"), replyWhen: .afterFirstBytes)
            let sluice = try SluiceProcess.chained(
                to: target.target, query: "handler.proxyProtocol=1",
                hops: ["http://\(http.target)?proxyProtocol=1", "socks5://\(socks.target)"])
            let connection = try sluice.connect(from: peer2)
            let client = try connection.clientAddress
            try connection.sendAll(ascii("hi"))
            #expect(try connection.receive(exactly: 3) == ascii("ack"))
            let line = "PROXY TCP4 127.0.0.2 127.0.0.1 \(client.port) \(sluice.port)\r\n"
            let httpRecord = try #require(http.waitForRecords(1)?.first)
            #expect(httpRecord.received == ascii(line + connectHead(socks.target)), "\(printable(httpRecord.received))")
            let socksRecord = try #require(socks.waitForRecords(1)?.first)
            #expect(socksRecord.failure == nil && socksRecord.methods == [0], "\(socksRecord)")
            #expect(target.waitForBytes(line.utf8.count + 2) == ascii(line + "hi"))
        }

        /// SOCKS5 with username/password (RFC 1929): Sluice offers both methods, sends the
        /// credentials, and the tunnel carries data.
        @Test func socks5WithUsernameAndPassword() throws {
            let socks = try TestSOCKS5Server(credentials: ("alice", "s3cret"))
            let echo = try EchoServer()
            let sluice = try SluiceProcess.chained(to: echo.target, hops: ["socks5://alice:s3cret@\(socks.target)"])
            let connection = try sluice.connect()
            #expect(try connection.echo("authenticated"))
            let record = try #require(socks.waitForRecords(1)?.first)
            #expect(record.methods == [0, 2], "\(record)")
            #expect(record.username == "alice" && record.password == "s3cret", "\(record)")
            #expect(record.target == echo.target && record.reply == 0, "\(record)")
        }

        /// A SOCKS5 server refusing the password: the client is closed at once (well before the
        /// handshake deadline), an error line says so, the target never sees a connection.
        @Test func socks5WrongPasswordClosesTheClient() throws {
            let socks = try TestSOCKS5Server(credentials: ("alice", "right"))
            let target = try RecordingServer()
            let sluice = try SluiceProcess.chained(to: target.target, hops: ["socks5://alice:wrong@\(socks.target)"])
            let connection = try sluice.connect()
            let client = try connection.clientAddress
            let started = Monotonic.now
            try connection.sendAll(ascii("hello"))
            let outcome = connection.waitForClose(timeout: .seconds(handshakeDeadline))
            #expect(
                outcome.isClosed && TimingBound.isWellBefore(started.elapsedSeconds, deadline: handshakeDeadline),
                "\(outcome) after \(started.elapsedSeconds) s (handshake deadline \(handshakeDeadline) s)")
            let log = try sluice.requireClosedLog(client)
            let messages = log.errors.compactMap { $0["msg"]?.string }
            #expect(
                messages == [
                    "route(retry=0) node-0@\(socks.target): socks5: authentication failed",
                    "node-0@\(socks.target): socks5: authentication failed",
                ], "\(log)")
            #expect(socks.records.first?.password == "wrong")
            #expect(target.acceptedCountOnceSettled() == 0)
        }

        /// SOCKS5 CONNECT to an IPv6 literal target (ATYP 4) and to a name (ATYP 3, passed on
        /// unresolved, as GOST does).
        @Test(arguments: ["ipv6", "domain"])
        func socks5AddressTypes(_ kind: String) throws {
            let socks = try TestSOCKS5Server()
            let echo = try EchoServer(address: kind == "ipv6" ? loopbackV6AnyPort : loopbackAnyPort)
            let targetText = kind == "ipv6" ? echo.target : "localhost:\(echo.port)"
            let sluice = try SluiceProcess.chained(to: targetText, hops: ["socks5://\(socks.target)"])
            let connection = try sluice.connect()
            #expect(try connection.echo("via \(kind)"))
            let record = try #require(socks.waitForRecords(1)?.first)
            #expect(record.addressType == (kind == "ipv6" ? 4 : 3), "\(record)")
            #expect(record.host == (kind == "ipv6" ? "::1" : "localhost"), "\(record)")
            #expect(record.port == echo.port)
        }

        /// Bytes the last hop sends right after its 200 (in the same write) reach the client first,
        /// before anything the target sends, and without waiting for the client to send anything.
        @Test func bytesAfterTheReplyReachTheClientFirst() throws {
            let proxy = try RecordingHTTPProxy(.init(afterReply: ascii("EARLY|")))
            let target = try RecordingServer(reply: ascii("BANNER"), replyWhen: .onAccept)
            let sluice = try SluiceProcess.chained(to: target.target, hops: ["http://\(proxy.target)"])
            let connection = try sluice.connect()
            let client = try connection.clientAddress
            let got = try connection.receive(exactly: 12)
            #expect(got == ascii("EARLY|BANNER"), "client got \(printable(got))")
            connection.close()
            let log = try sluice.requireClosedLog(client)
            #expect(log.closed?["outputBytes"]?.int == 12, "\(log)")
        }
    }
}
