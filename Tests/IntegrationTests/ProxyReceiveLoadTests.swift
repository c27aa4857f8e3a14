// Receive under load and in target selection: silent clients waiting for the header deadline must
// not delay anyone else, and the `hash` strategy keys on the header's source.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ProxyProtocolIntegrationTests {
    @Suite("Receive: concurrency and the hash selector")
    struct ProxyReceiveLoadTests {
        /// Detection runs per connection in the reactor: with 500 silent connections held open
        /// (`proxyProtocol.timeout=10s`, one reactor thread), a plain client and a v1 client each
        /// complete round trips through an echo target well before that deadline (under half of
        /// it: waiting on the silent ones would take until it fires), and no silent connection was
        /// dialled meanwhile.
        @Test func fiveHundredSilentClientsDoNotDelayOthers() throws {
            let deadline = 10.0
            let echo = try EchoServer()
            let sluice = try SluiceProcess.start([
                "-threads", "1", "-L",
                forwardURL(to: [echo.target], query: "proxyProtocol=1&proxyProtocol.timeout=10s"),
            ])
            let baseline = try #require(sluice.openFDCount())
            let opened = Monotonic.now
            var silent: [TestConnection] = []
            for _ in 0..<500 { silent.append(try sluice.connect(from: peer2, timeout: .seconds(10))) }
            // Sluice has accepted them all (one descriptor each, nothing dialled).
            let held = waitUntil(timeout: .seconds(10)) { (sluice.openFDCount() ?? 0) >= baseline + 500 }
            #expect(held, "descriptors: \(sluice.openFDCount() ?? -1), baseline \(baseline)")

            var slowest = 0.0
            for i in 0..<5 {
                let started = Monotonic.now
                let plain = try sluice.connect(from: peer3, timeout: .seconds(deadline))
                #expect(try plain.echo("GET /\(i) HTTP/1.1\r\n\r\n"))
                let proxied = try sluice.connect(from: peer2, timeout: .seconds(deadline))
                try proxied.sendAll(ascii("PROXY TCP4 198.51.100.\(i + 1) 192.0.2.1 4000 80\r\n"))
                #expect(try proxied.echo("ping \(i)"))
                slowest = max(slowest, started.elapsedSeconds)
                plain.close()
                proxied.close()
            }
            #expect(
                TimingBound.isWellBefore(slowest, deadline: deadline),
                "slowest pair of round trips took \(slowest) s (header deadline \(deadline) s)")
            // Had the silent ones' deadline passed, their dials would say nothing about waiting.
            #expect(opened.elapsedSeconds < deadline * 0.9, "test too slow to be meaningful: the deadline is near")
            #expect(echo.acceptedCount == 10, "silent connections were dialled: \(echo.acceptedCount)")
            for connection in silent { connection.close() }
            #expect(
                waitUntil(timeout: .seconds(10)) { (sluice.openFDCount() ?? .max) <= baseline + 2 },
                "descriptors after closing: \(sluice.openFDCount() ?? -1), baseline \(baseline)")
            // Each connection's close line is its last: once all 510 are in, so is any warning.
            #expect(waitUntil(timeout: .seconds(30)) { sluice.closeLineCount >= 510 }, "close lines")
            #expect(sluice.warningLines.isEmpty, "silent clients that close are not header errors")
        }

        /// `strategy=hash` keys on the client IP, and the client is the header's source: the same
        /// spoofed IP (203.0.113.7) from eight different real peers always lands on one target, the
        /// one its hash picks, while the same peers without a header are spread by their own IPs.
        @Test func hashStrategyUsesTheHeadersSource() throws {
            let targets = try [RecordingServer(), RecordingServer()]
            let sluice = try SluiceProcess.receiving(to: targets.map(\.target), query: "strategy=hash")
            let peers = (2...9).map { IPAddress.v4(IPv4Address(127, 0, 0, UInt8($0))) }
            let spoofed = IPAddress.v4(IPv4Address(203, 0, 113, 7))
            func pick(_ ip: IPAddress) -> Int { Int(Selector.hashKey(ip) % 2) }
            let peerPicks = peers.map(pick)
            // The test means something only if the real peers would go elsewhere too.
            try #require(Set(peerPicks).count == 2, "peers all hash to one target: \(peerPicks)")

            func send(_ input: [UInt8], from source: IPAddress, tag: String) throws -> Int? {
                let connection = try sluice.connect(from: source)
                try connection.sendAll(input + ascii(tag))
                try connection.shutdownWrite()
                _ = try connection.receiveUntilEOF()
                return waitFor(timeout: .seconds(10)) {
                    targets.firstIndex {
                        $0.connections.contains { $0.suffix(tag.utf8.count) == ArraySlice(ascii(tag)) }
                    }
                }
            }
            var spoofedPicks: [Int?] = []
            var plainPicks: [Int?] = []
            for (i, source) in peers.enumerated() {
                spoofedPicks.append(try send(spoofedV1, from: source, tag: "spoofed-\(i)"))
                plainPicks.append(try send([], from: source, tag: "plain-\(i)"))
            }
            #expect(spoofedPicks == Array(repeating: pick(spoofed), count: peers.count), "\(spoofedPicks)")
            #expect(plainPicks == peerPicks.map { Optional($0) }, "\(plainPicks) want \(peerPicks)")
            // A different spoofed source moves with its own hash.
            let other = (1...250).lazy.map { IPAddress.v4(IPv4Address(198, 51, 100, UInt8($0))) }
                .first { pick($0) != pick(spoofed) }!
            let line = ascii("PROXY TCP4 \(other) 198.51.100.1 40000 443\r\n")
            #expect(try send(line, from: peer2, tag: "other") == pick(other))
        }
    }
}
