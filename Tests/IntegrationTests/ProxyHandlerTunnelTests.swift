// The tunnels the proxy handlers open (HTTP CONNECT, SOCKS5, SOCKS4/4a) as byte pipes: bytes sent
// with the handshake in one write, half-close in both orders, large transfers, and GOST's user-only
// credentials (`-L user@:P`, which admit any password and the SOCKS4 user id).
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ProxyHandlerTests {
    @Suite("Proxy handlers: tunnels (early data, half-close, volume, user-only credentials)")
    struct ProxyHandlerTunnels {
        typealias T = ProxyHandlerTesting

        /// The protocol a tunnel is opened with.
        enum Opening: String, Sendable, CaseIterable, CustomTestStringConvertible {
            case httpConnect, socks5, socks4, socks4a

            /// The `-L` scheme that serves it (auto serves all of them too).
            var scheme: String {
                switch self {
                case .httpConnect: "http"
                case .socks5: "socks5"
                case .socks4, .socks4a: "socks4"
                }
            }

            /// The whole client handshake for `target` (IPv4 loopback).
            func handshake(_ target: SocketAddress) -> [UInt8] {
                let port = [UInt8(target.port >> 8), UInt8(target.port & 0xFF)]
                switch self {
                case .httpConnect: return Array("CONNECT \(target) HTTP/1.1\r\nHost: \(target)\r\n\r\n".utf8)
                case .socks5: return [5, 1, 0] + [5, 1, 0, 1, 127, 0, 0, 1] + port
                case .socks4: return [4, 1] + port + [127, 0, 0, 1] + Array("someone".utf8) + [0]
                case .socks4a: return [4, 1] + port + [0, 0, 0, 1] + [0] + Array("127.0.0.1".utf8) + [0]
                }
            }

            /// How many reply bytes come back before the tunnel, and a check of them.
            var replyLength: Int {
                switch self {
                case .httpConnect: T.connectEstablished.utf8.count
                case .socks5: 2 + 10
                case .socks4, .socks4a: 8
                }
            }

            func replyIsSuccess(_ reply: [UInt8]) -> Bool {
                switch self {
                case .httpConnect: String(decoding: reply, as: UTF8.self) == T.connectEstablished
                case .socks5: Array(reply.prefix(5)) == [5, 0, 5, 0, 0]
                case .socks4, .socks4a: Array(reply.prefix(2)) == [0, 90]
                }
            }

            var testDescription: String { rawValue }
        }

        /// The handshake and 100 KiB of payload in one write, before any reply: the reply is a success,
        /// then the target receives exactly the payload (no handshake byte), for each protocol on its
        /// own handler and on auto.
        @Test(arguments: Opening.allCases, [false, true])
        func payloadInTheSameWriteAsTheHandshake(_ opening: Opening, auto: Bool) throws {
            let target = try RecordingServer()
            let sluice = try T.start(auto ? "" : opening.scheme)
            let connection = try sluice.connect()
            defer { connection.close() }
            let payload = TestData.random(count: 100 << 10, seed: 91)
            try connection.sendAll(opening.handshake(target.address) + payload)
            let reply = try connection.receive(exactly: opening.replyLength)
            #expect(opening.replyIsSuccess(reply), "reply \(reply)")
            let received = try #require(target.waitForBytes(payload.count, timeout: .seconds(10)))
            #expect(received == payload, "the target got \(received.count) bytes, not the payload")
        }

        /// Half-close through a tunnel: the client sends 200 KiB and its FIN; the target (which answers
        /// only after EOF) sees all of it, then sends 300 KiB and closes; the client gets them all and
        /// EOF. The close line says `done`.
        @Test(arguments: Opening.allCases)
        func clientHalfCloseIsCarriedThrough(_ opening: Opening) throws {
            let server = try HalfCloseServer(replyCount: 300 << 10)
            let sluice = try T.start(opening.scheme)
            let connection = try sluice.connect()
            defer { connection.close() }
            let client = try #require(connection.localAddress)
            try connection.sendAll(opening.handshake(server.address))
            #expect(opening.replyIsSuccess(try connection.receive(exactly: opening.replyLength)))
            let sent = DataPattern(seed: 5)
            try connection.send(sent, count: 200 << 10)
            try connection.shutdownWrite()
            let sum = try connection.checksumUntilEOF()
            #expect(sum == server.pattern.checksum(count: 300 << 10), "reply checksum \(sum)")
            #expect(server.waitForClosed(1))
            #expect(server.records.first?.received == sent.checksum(count: 200 << 10))
            connection.close()
            let log = try sluice.closedLog(ofClient: client)
            #expect(log.reason == "done", "\(log)")
        }

        /// The target sends 8 MiB and closes first: the client reads every byte (checksum) and then EOF.
        @Test(arguments: [Opening.httpConnect, .socks5])
        func largeDownloadThenTargetClose(_ opening: Opening) throws {
            let server = try SenderServer(count: 8 << 20, seed: 13)
            let sluice = try T.start("")
            let connection = try TestConnection.connect(to: sluice.address(), timeout: .seconds(30))
            defer { connection.close() }
            try connection.sendAll(opening.handshake(server.address))
            #expect(opening.replyIsSuccess(try connection.receive(exactly: opening.replyLength)))
            let sum = try connection.checksumUntilEOF()
            #expect(sum == server.pattern.checksum(count: 8 << 20), "download checksum \(sum)")
        }

        // MARK: User-only credentials

        /// `-L http://alice@…`: GOST's rule that an empty configured password admits any password for
        /// the right user; another user gets 407.
        @Test func httpUserWithoutPasswordAdmitsAnyPassword() throws {
            let origin = try HTTPOrigin()
            let sluice = try T.start("http", userinfo: "alice@")
            let admitted = try Curl.run(
                ["-x", "http://\(sluice.proxyAuthority)", "-U", "alice:whatever"], url: origin.url(path: "/alice"))
            #expect(admitted.exitCode == 0 && admitted.status == 200, "\(admitted)\n\(sluice.stderrText)")
            let client = try #require(admitted.localAddress)
            #expect(try sluice.closedLog(ofClient: client).connected?["user"]?.string == "alice")
            let refused = try Curl.run(
                ["-x", "http://\(sluice.proxyAuthority)", "-U", "bob:whatever"], url: origin.url(path: "/bob"))
            #expect(refused.status == 407, "\(refused)")
            #expect(origin.waitForRequests(1) != nil && origin.requests.count == 1, "\(origin.diagnostics)")
        }

        /// `-L socks4://alice@…`: the SOCKS4 user id `alice` is admitted (and logged as `user`);
        /// `bob` is answered 93. With a password configured (`alice:pw@`) no SOCKS4 client can pass
        /// (it has no password to give), as in GOST.
        @Test func socks4UserID() throws {
            let origin = try HTTPOrigin()
            let userOnly = try T.start("socks4", userinfo: "alice@")
            let admitted = try Curl.run(
                ["-x", "socks4://alice@\(userOnly.proxyAuthority)"], url: origin.url(path: "/four-user"))
            #expect(admitted.exitCode == 0 && admitted.status == 200, "\(admitted)\n\(userOnly.stderrText)")
            let client = try #require(admitted.localAddress)
            #expect(try userOnly.closedLog(ofClient: client).connected?["user"]?.string == "alice")
            let refused = try Curl.run(["-x", "socks4://bob@\(userOnly.proxyAuthority)"], url: origin.url(path: "/b"))
            #expect(refused.exitCode != 0, "\(refused)")

            let withPassword = try T.start("socks4", userinfo: "alice:pw@")
            let connection = try withPassword.connect()
            defer { connection.close() }
            let port = origin.address().port
            try connection.sendAll(
                [4, 1, UInt8(port >> 8), UInt8(port & 0xFF), 127, 0, 0, 1] + Array("alice".utf8) + [0])
            #expect(try connection.receiveUntilEOF(limit: 64) == [0, 93, 0, 0, 0, 0, 0, 0])
            #expect(origin.waitForRequests(1) != nil && origin.requests.count == 1, "\(origin.diagnostics)")
        }
    }
}
