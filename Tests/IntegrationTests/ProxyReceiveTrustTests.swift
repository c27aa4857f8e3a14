// Receive: the trust policy (`proxyProtocol.trusted`) and required mode (`proxyProtocol.required`),
// with clients bound to 127.0.0.2 (trusted) and 127.0.0.3 (not) (reliability-and-operations.md A.3).
import Glibc
import Sluice
import TestSupport
import Testing

/// A v1 header spoofing 203.0.113.7:40000 → 198.51.100.1:443.
let spoofedV1 = ascii("PROXY TCP4 203.0.113.7 198.51.100.1 40000 443\r\n")

extension Integration.ProxyProtocolIntegrationTests {
    @Suite("Receive: trusted peers and required mode (A.3)")
    struct ProxyReceiveTrustTests {
        /// T-untrusted: with `trusted=127.0.0.2`, the same header+request from 127.0.0.3 is not
        /// interpreted: header bytes included, everything reaches the target, and `client` is the
        /// real peer. From 127.0.0.2 the header is honoured.
        @Test func untrustedPeersHeaderIsPayload() throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(to: [target.target], query: "proxyProtocol.trusted=127.0.0.2")
            let untrusted = try runValid(spoofedV1 + httpRequest, through: sluice, to: target, from: peer3)
            expectAccepted(untrusted, payload: spoofedV1 + httpRequest, client: nil, sluice: sluice, target: target)
            #expect(untrusted.client.ip == peer3)

            let second = try RecordingServer()
            let trusting = try SluiceProcess.receiving(to: [second.target], query: "proxyProtocol.trusted=127.0.0.2")
            let trusted = try runValid(spoofedV1 + httpRequest, through: trusting, to: second, from: peer2)
            expectAccepted(trusted, payload: httpRequest, client: "203.0.113.7:40000", sluice: trusting, target: second)
        }

        /// An untrusted peer is never sniffed: a silent one is served at once (no header deadline),
        /// and a lone `P` (a possible header start) is forwarded at once.
        @Test func untrustedPeerIsServedWithoutWaiting() throws {
            let banner = ascii("hello\r\n")
            let target = try RecordingServer(reply: banner, replyWhen: .onAccept)
            let sluice = try SluiceProcess.receiving(to: [target.target], query: "proxyProtocol.trusted=127.0.0.2")
            let started = Monotonic.now
            let silent = try sluice.connect(from: peer3)
            #expect(try silent.receive(exactly: banner.count) == banner)
            #expect(
                TimingBound.isWellBefore(started.elapsedSeconds, deadline: headerDeadline),
                "banner after \(started.elapsedSeconds) s (header deadline \(headerDeadline) s)")

            let prefix = try sluice.connect(from: peer3)
            prefix.setNoDelay()
            _ = try prefix.receive(exactly: banner.count)
            let sent = Monotonic.now
            try prefix.sendAll(ascii("P"))
            let got = waitFor(timeout: .seconds(headerDeadline)) { () -> [UInt8]? in
                let list = target.connections
                return list.count >= 2 && !list[1].isEmpty ? list[1] : nil
            }
            #expect(got == ascii("P"), "target connections: \(target.connections.map(printable))")
            #expect(
                TimingBound.isWellBefore(sent.elapsedSeconds, deadline: headerDeadline),
                "forwarded after \(sent.elapsedSeconds) s (header deadline \(headerDeadline) s)")
        }

        /// `trusted` takes addresses and CIDR ranges: with `127.0.0.2,10.0.0.0/8,127.0.0.4/30`,
        /// 127.0.0.2 and 127.0.0.5 may send a header, 127.0.0.3 may not.
        @Test func trustedListTakesAddressesAndRanges() throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(
                to: [target.target], query: "proxyProtocol.trusted=127.0.0.2,10.0.0.0/8,127.0.0.4/30")
            let peer5 = IPAddress.v4(IPv4Address(127, 0, 0, 5))
            for (source, honoured) in [(peer2, true), (peer5, true), (peer3, false)] {
                let connection = try sluice.connect(from: source)
                try connection.sendAll(spoofedV1 + httpRequest)
                try connection.shutdownWrite()
                _ = try connection.receiveUntilEOF()
                let client = try connection.clientAddress
                let log = try sluice.requireClosedLog(client)
                let want = honoured ? "203.0.113.7:40000" : client.description
                #expect(log.accepted?["client"]?.string == want, "from \(source): \(log)")
            }
            #expect(target.waitForClosed(3, timeout: .seconds(10)))
            let data = target.connections
            #expect(data == [httpRequest, httpRequest, spoofedV1 + httpRequest], "\(data.map(printable))")
        }

        /// On a dual-stack `:0` listener an IPv4 peer's socket address is `::ffff:127.0.0.2`; it still
        /// matches `trusted=127.0.0.2` (lavinmq #2070), while 127.0.0.3 does not.
        @Test func trustMatchesIPv4PeersOnADualStackListener() throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(
                to: [target.target], query: "proxyProtocol.trusted=127.0.0.2", listen: ":0")
            for (source, want) in [(peer2, "203.0.113.7:40000"), (peer3, nil)] {
                let connection = try sluice.connect(from: source)
                let client = try connection.clientAddress
                try connection.sendAll(spoofedV1 + httpRequest)
                try connection.shutdownWrite()
                _ = try connection.receiveUntilEOF()
                let log = try sluice.requireClosedLog(client)
                #expect(log.accepted?["client"]?.string == (want ?? client.description), "from \(source): \(log)")
            }
        }

        /// Required mode (`trusted=127.0.0.2`, `required=true`): a trusted peer without a header is
        /// closed at once (first byte `G`) with a warning and nothing dialled; with a header it is
        /// served; an untrusted peer is served as plain, its header bytes as payload.
        @Test func requiredModeClosesTrustedPeersWithoutAHeader() throws {
            let query = "proxyProtocol.trusted=127.0.0.2&proxyProtocol.required=true"
            do {
                let target = try RecordingServer()
                let sluice = try SluiceProcess.receiving(to: [target.target], query: query)
                let connection = try sluice.connect(from: peer2)
                let client = try connection.clientAddress
                let started = Monotonic.now
                try connection.sendAll(httpRequest)
                let outcome = connection.waitForClose(timeout: .seconds(headerDeadline))
                #expect(
                    outcome.isClosed && TimingBound.isWellBefore(started.elapsedSeconds, deadline: headerDeadline),
                    "\(outcome) after \(started.elapsedSeconds) s (header deadline \(headerDeadline) s)")
                let log = try sluice.requireClosedLog(client)
                #expect(
                    sluice.warnings(sid: log.sid).map { $0["msg"]?.string }
                        == ["proxy protocol: no header from a peer that must send one"], "\(log)")
                #expect(log.closed?["reason"]?.string == "headerMissing", "\(log)")
                #expect(log.connected == nil, "\(log)")
                expectNothingDialled(sluice, target)
            }
            do {
                let target = try RecordingServer()
                let sluice = try SluiceProcess.receiving(to: [target.target], query: query)
                let run = try runValid(spoofedV1 + httpRequest, through: sluice, to: target, from: peer2)
                expectAccepted(run, payload: httpRequest, client: "203.0.113.7:40000", sluice: sluice, target: target)
            }
            do {
                let target = try RecordingServer()
                let sluice = try SluiceProcess.receiving(to: [target.target], query: query)
                let run = try runValid(httpRequest, through: sluice, to: target, from: peer3)
                expectAccepted(run, payload: httpRequest, client: nil, sluice: sluice, target: target)
                let second = try RecordingServer()
                let other = try SluiceProcess.receiving(to: [second.target], query: query)
                let spoof = try runValid(spoofedV1 + httpRequest, through: other, to: second, from: peer3)
                expectAccepted(spoof, payload: spoofedV1 + httpRequest, client: nil, sluice: other, target: second)
            }
        }

        /// Required mode without a trusted list: every peer must send a header. A silent client is
        /// closed when the 1 s deadline fires (warning, nothing dialled); LOCAL from a health
        /// checker is accepted with the real addresses.
        @Test func requiredModeWithoutAListAppliesToEveryone() throws {
            let deadline = 1.0
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(
                to: [target.target], timeout: "1s", query: "proxyProtocol.required=true")
            let started = Monotonic.now
            let silent = try TestConnection.connect(to: sluice.address())
            let outcome = silent.waitForClose(timeout: .seconds(deadline * 3))
            let elapsed = started.elapsedSeconds
            #expect(
                outcome.isClosed && TimingBound.isAt(elapsed, deadline: deadline),
                "\(outcome) after \(elapsed) s (deadline \(deadline) s)")
            let log = try sluice.requireClosedLog(try silent.clientAddress)
            #expect(log.closed?["reason"]?.string == "headerTimeout", "\(log)")
            #expect(sluice.warnings(sid: log.sid).count == 1, "\(log)")
            expectNothingDialled(sluice, target)

            let local = hex("0d0a0d0a000d0a515549540a20000000")
            let run = try runValid(local + httpRequest, through: sluice, to: target, from: peer3)
            expectAccepted(run, payload: httpRequest, client: nil, sluice: sluice, target: target)
        }
    }
}
