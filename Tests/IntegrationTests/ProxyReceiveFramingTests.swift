// Receive: framing, payload and timing (proxy-protocol.md §4.5; reliability-and-operations.md A.2):
// payload after the header, split headers, the header deadline, plain clients, oversize lines,
// server-speaks-first, and clients that close early.
import Glibc
import Sluice
import TestSupport
import Testing

/// A TLS 1.2 ClientHello record for `example.com` (first byte 0x16): 32 fixed "random" bytes, three
/// cipher suites, null compression, an SNI extension.
let tlsClientHello: [UInt8] = {
    let random = (0..<32).map { UInt8($0 &* 7 &+ 1) }
    let name = ascii("example.com")
    let serverName: [UInt8] = [0x00, UInt8(name.count + 5), 0x00, UInt8(name.count + 3), 0x00, 0x00, UInt8(name.count)]
    let sni: [UInt8] = [0x00, 0x00] + serverName + name
    let extensions: [UInt8] = [0x00, UInt8(sni.count)] + sni
    var body: [UInt8] = [0x03, 0x03] + random + [0x00]  // version, random, empty session id
    body += [0x00, 0x06, 0x13, 0x01, 0xc0, 0x2f, 0x00, 0x9c]  // cipher suites
    body += [0x01, 0x00] + extensions  // null compression, extensions
    let handshake: [UInt8] = [0x01, 0x00, UInt8(body.count >> 8), UInt8(body.count & 0xff)] + body
    return [0x16, 0x03, 0x01, UInt8(handshake.count >> 8), UInt8(handshake.count & 0xff)] + handshake
}()

extension Integration.ProxyProtocolIntegrationTests {
    @Suite("Receive: framing, split headers and deadlines (proxy-protocol.md §4.5)")
    struct ProxyReceiveFramingTests {
        // MARK: Payload after the header

        /// T-payload-v1 / T-payload-v2: the header and the first request in one write, a second write
        /// later. The target gets the request first, then the second write, in order, and never the
        /// header; `inputBytes` counts both writes and not the header.
        @Test(arguments: [("v1", ascii("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n")), ("v2", v2TCP4)])
        func payloadAfterTheHeaderIsForwardedFirstAndInOrder(_ version: String, _ header: [UInt8]) throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(to: [target.target])
            let connection = try sluice.connect(from: peer2)
            let client = try connection.clientAddress
            try connection.sendAll(header + httpRequest)
            let first = try #require(target.waitForBytes(httpRequest.count), "stderr:\n\(sluice.stderrText)")
            #expect(first == httpRequest, "\(version): target got \(printable(first))")
            let second = ascii("second write")
            try connection.sendAll(second)
            try connection.shutdownWrite()
            _ = try connection.receiveUntilEOF()
            #expect(target.connections.first == httpRequest + second)
            let log = try sluice.requireClosedLog(client)
            #expect(log.closed?["inputBytes"]?.int == httpRequest.count + second.count, "\(log)")
            let expected = version == "v1" ? "192.168.0.1:56324" : "127.0.0.1:42"
            #expect(log.closed?["client"]?.string == expected, "\(log)")
        }

        /// A header followed in the same write by 200 KiB, far more than Sluice reads while sniffing:
        /// the target gets all of it, in order (the sniffed part first, then the rest from the socket).
        @Test func largePayloadBehindTheHeaderArrivesInOrder() throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(to: [target.target])
            let payload = TestData.random(count: 200 << 10, seed: 4)
            let run = try runValid(ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n") + payload, through: sluice, to: target)
            #expect(Checksum(run.targetData) == Checksum(payload))
            #expect(run.log.closed?["inputBytes"]?.int == payload.count, "\(run.log)")
        }

        /// T-stray-after: V2-TCP4-AUTH followed in the same write by 8 bytes that look like a TLV. The
        /// header's `len` ends it: the 8 bytes are payload and reach the target untouched.
        @Test func bytesAfterTheV2LengthArePayloadNotTLVs() throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(to: [target.target])
            let stray = hex("0200053534333231")
            let run = try runValid(v2TCP4Auth + stray, through: sluice, to: target)
            expectAccepted(run, payload: stray, client: "127.0.0.1:42", sluice: sluice, target: target)
        }

        // MARK: Split headers

        /// T-split: V2-SSL-ALPN-AUTH (90 bytes) one byte per write with TCP_NODELAY, each sent once
        /// sluice has acted on the one before (so each is a read of its own), then a request.
        /// Nothing is dialled while the header is incomplete; then the header's source is the
        /// client and the target gets the request only.
        @Test func v2HeaderOneBytePerWriteIsAccepted() throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(to: [target.target])
            let connection = try sluice.connect(from: peer2)
            connection.setNoDelay()
            for byte in v2SSLALPNAuth.dropLast() {
                try connection.sendAll([byte])
                #expect(sluice.waitUntilQuiet(), "sluice did not go quiet")
            }
            #expect(connection.waitForClose(timeout: .zero) == .timeout, "closed before the header was complete")
            expectNothingDialled(sluice, target, "dialled before the header was complete")
            try connection.sendAll([v2SSLALPNAuth.last!] + httpRequest)
            try connection.shutdownWrite()
            _ = try connection.receiveUntilEOF()
            let log = try sluice.requireClosedLog(try connection.clientAddress)
            let run = ReceiveRun(
                targetData: target.connections.first ?? [], client: try connection.clientAddress, log: log)
            expectAccepted(run, payload: httpRequest, client: "203.0.113.7:40000", sluice: sluice, target: target)
        }

        /// T-split-v1: V1-MAX6 in three writes (`PROX` / `Y TCP6 ffff` / rest), each sent once sluice
        /// has acted on the one before.
        @Test func v1HeaderInThreeWritesIsAccepted() throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(to: [target.target])
            let line = ascii(
                "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"
            )
            let connection = try sluice.connect(from: peer2)
            connection.setNoDelay()
            try connection.sendAll(Array(line[0..<4]))
            #expect(sluice.waitUntilQuiet(), "sluice did not go quiet")
            try connection.sendAll(Array(line[4..<15]))
            expectNothingDialled(sluice, target, "dialled before the line was complete")
            #expect(connection.waitForClose(timeout: .zero) == .timeout, "closed before the line was complete")
            try connection.sendAll(Array(line[15...]) + httpRequest)
            try connection.shutdownWrite()
            _ = try connection.receiveUntilEOF()
            let client = try connection.clientAddress
            let run = ReceiveRun(
                targetData: target.connections.first ?? [], client: client, log: try sluice.requireClosedLog(client))
            expectAccepted(
                run, payload: httpRequest, client: "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", sluice: sluice,
                target: target)
        }

        /// T-split-sig: the first 9 signature bytes, a pause (until sluice has acted on them and
        /// sleeps again), then the rest of V2-TCP4 and a request: Sluice waits through the pause,
        /// then accepts the header.
        @Test func v2SignatureSplitWithAPauseIsAccepted() throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(to: [target.target])
            let connection = try sluice.connect(from: peer2)
            connection.setNoDelay()
            try connection.sendAll(Array(v2TCP4[0..<9]))
            expectNothingDialled(sluice, target, "dialled during the pause")
            #expect(connection.waitForClose(timeout: .zero) == .timeout, "closed during the pause")
            try connection.sendAll(Array(v2TCP4[9...]) + httpRequest)
            try connection.shutdownWrite()
            _ = try connection.receiveUntilEOF()
            let client = try connection.clientAddress
            let run = ReceiveRun(
                targetData: target.connections.first ?? [], client: client, log: try sluice.requireClosedLog(client))
            expectAccepted(run, payload: httpRequest, client: "127.0.0.1:42", sluice: sluice, target: target)
        }

        // MARK: The header deadline

        /// T-timeout (server speaks first): a client that sends nothing is served as plain when the
        /// 1 s deadline passes, not before: the target is dialled when the deadline fires (its
        /// accept time says so), the accept line comes then, the banner reaches the client, and the
        /// client is the real peer.
        @Test func silentClientIsServedAsPlainAtTheDeadline() throws {
            let deadline = 1.0
            let banner = ascii("220 ready\r\n")
            let target = try RecordingServer(reply: banner, replyWhen: .onAccept)
            let sluice = try SluiceProcess.receiving(to: [target.target], timeout: "1s")
            let started = Monotonic.now
            let connection = try sluice.connect(from: peer2)
            let client = try connection.clientAddress
            let received = try connection.receive(exactly: banner.count)
            #expect(received == banner)
            let dialled = try #require(target.records.first?.acceptedAt, "the target saw no connection")
            let dialledAfter = Double(dialled.nanoseconds - started.nanoseconds) / 1e9
            #expect(
                TimingBound.isAt(dialledAfter, deadline: deadline),
                "dialled \(dialledAfter) s after connecting (deadline \(deadline) s)")
            // The accept line is written at the decision; it cannot have arrived before it was written.
            let accepted = sluice.process.waitForLine(timeout: .seconds(10)) {
                $0.json?["remote"]?.string == client.description && $0.text.contains(" <> ")
            }
            let acceptedAfter = accepted.map { Double($0.arrivedAt.nanoseconds - started.nanoseconds) / 1e9 } ?? -1
            #expect(acceptedAfter >= deadline * 0.8, "accept line \(acceptedAfter) s after connecting")
            try connection.sendAll(ascii("HELO me\r\n"))
            try connection.shutdownWrite()
            _ = try connection.receiveUntilEOF()
            let log = try sluice.requireClosedLog(client)
            #expect(target.connections.first == ascii("HELO me\r\n"))
            #expect(log.accepted?["client"]?.string == client.description, "\(log)")
            #expect(sluice.warnings(sid: log.sid).isEmpty, "\(log)")
        }

        /// T-prefix-timeout, optional mode: `PROX` and a stall. At the 1 s deadline the bytes are
        /// served as plain: the target is dialled when the deadline fires and gets `PROX`, then
        /// what follows.
        @Test func signaturePrefixIsServedAsPlainAtTheDeadline() throws {
            let deadline = 1.0
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(to: [target.target], timeout: "1s")
            let started = Monotonic.now
            let connection = try sluice.connect(from: peer2)
            try connection.sendAll(ascii("PROX"))
            let first = try #require(target.waitForBytes(4, timeout: .seconds(10)), "stderr:\n\(sluice.stderrText)")
            #expect(first == ascii("PROX"))
            let dialled = try #require(target.records.first?.acceptedAt)
            let dialledAfter = Double(dialled.nanoseconds - started.nanoseconds) / 1e9
            #expect(
                TimingBound.isAt(dialledAfter, deadline: deadline),
                "dialled \(dialledAfter) s after connecting (deadline \(deadline) s)")
            try connection.sendAll(ascii("IMITY sensor\n"))
            try connection.shutdownWrite()
            _ = try connection.receiveUntilEOF()
            #expect(target.connections.first == ascii("PROXIMITY sensor\n"))
            let log = try sluice.requireClosedLog(try connection.clientAddress)
            #expect(sluice.warnings(sid: log.sid).isEmpty, "\(log)")
            #expect(log.closed?["inputBytes"]?.int == 17, "\(log)")
        }

        /// T-prefix-timeout, required mode: a v1 or v2 signature prefix and a stall are closed when
        /// the 1 s deadline fires, with a warning; nothing is dialled.
        @Test(arguments: [ascii("PROX"), hex("0d0a0d0a00")])
        func signaturePrefixIsClosedAtTheDeadlineWhenRequired(_ prefix: [UInt8]) throws {
            let deadline = 1.0
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(
                to: [target.target], timeout: "1s", query: "proxyProtocol.required=true")
            let started = Monotonic.now
            let connection = try sluice.connect(from: peer2)
            let client = try connection.clientAddress
            try connection.sendAll(prefix)
            let outcome = connection.waitForClose(timeout: .seconds(deadline * 3))
            let elapsed = started.elapsedSeconds
            #expect(outcome.isClosed, "client saw \(outcome)")
            #expect(
                TimingBound.isAt(elapsed, deadline: deadline), "closed after \(elapsed) s (deadline \(deadline) s)")
            let log = try sluice.requireClosedLog(client)
            #expect(
                sluice.warnings(sid: log.sid).map { $0["msg"]?.string }
                    == ["proxy protocol: no complete header within the deadline"], "\(log)")
            #expect(log.closed?["reason"]?.string == "headerTimeout", "\(log)")
            #expect(log.connected == nil, "dialled: \(log)")
            expectNothingDialled(sluice, target)
        }

        /// A2: the deadline is absolute, not reset by activity. A client dripping a v1 line one byte
        /// every 300 ms (never completing it, and never idle for as long as the 1 s deadline) in
        /// required mode is closed when the deadline fires, counted from the connect.
        @Test func drippingClientIsClosedAtTheAbsoluteDeadline() throws {
            let deadline = 1.0
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(
                to: [target.target], timeout: "1s", query: "proxyProtocol.required=true")
            let started = Monotonic.now
            let connection = try sluice.connect(from: peer2)
            connection.setNoDelay()
            var closedAt: Double?
            for byte in ascii("PROXY TCP4 1.2.3.4") {
                if (try? connection.sendAll([byte])) == nil {
                    closedAt = started.elapsedSeconds
                    break
                }
                // The drip's pace (not a wait for anything); a close meanwhile ends it.
                if connection.waitForClose(timeout: .seconds(deadline * 0.3)).isClosed {
                    closedAt = started.elapsedSeconds
                    break
                }
            }
            let elapsed = try #require(closedAt, "still open after dripping 18 bytes over 5 s")
            #expect(
                TimingBound.isAt(elapsed, deadline: deadline), "closed after \(elapsed) s (deadline \(deadline) s)")
            expectNothingDialled(sluice, target)
        }

        /// A2: the deadline covers the header only. After a valid header, a client idle for twice
        /// the 1 s header deadline still gets its bytes through.
        @Test func deadlineEndsWithAValidHeader() throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(
                to: [target.target], timeout: "1s", query: "proxyProtocol.required=true")
            let connection = try sluice.connect(from: peer2)
            try connection.sendAll(ascii("PROXY TCP4 203.0.113.9 198.51.100.1 5000 443\r\n"))
            // Idle for two deadlines measured from the connect: any time the deadline could fire.
            #expect(connection.waitForClose(timeout: .seconds(2)) == .timeout, "closed while idle")
            try connection.sendAll(ascii("late data"))
            try connection.shutdownWrite()
            _ = try connection.receiveUntilEOF()
            #expect(target.connections.first == ascii("late data"))
            let log = try sluice.requireClosedLog(try connection.clientAddress)
            #expect(log.accepted?["client"]?.string == "203.0.113.9:5000")
            #expect(sluice.warnings(sid: log.sid).isEmpty, "\(log)")
        }

        // MARK: Plain clients

        /// T-plain-http, T-plain-POST, T-plain-tls: first bytes that rule a header out are forwarded
        /// at once, each sent alone (`G`, `PO` — `O` is not `R` —, a TLS 0x16, `SSH-`): the target
        /// has them well before the 5 s header deadline, and they are the client's.
        @Test(arguments: [ascii("G"), ascii("PO"), [0x16], ascii("SSH-2.0-x\r\n"), ascii("\r\nX")])
        func firstBytesThatRuleAHeaderOutAreForwardedAtOnce(_ first: [UInt8]) throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(to: [target.target])
            let connection = try sluice.connect(from: peer2)
            connection.setNoDelay()
            let started = Monotonic.now
            try connection.sendAll(first)
            let got = target.waitForBytes(first.count, timeout: .seconds(headerDeadline))
            let elapsed = started.elapsedSeconds
            #expect(got == first, "target got \(got.map(printable) ?? "nothing")")
            #expect(
                TimingBound.isWellBefore(elapsed, deadline: headerDeadline),
                "forwarded after \(elapsed) s (header deadline \(headerDeadline) s)")
            let sid = try #require(sluice.sid(ofClient: try connection.clientAddress))
            #expect(
                sluice.connectionLog(sid: sid).accepted?["client"]?.string == (try connection.clientAddress).description
            )
        }

        /// T-plain-http / T-plain-POST / T-plain-tls whole: the bytes reach the target untouched.
        @Test(arguments: [
            ascii("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            ascii("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"),
            tlsClientHello,
        ])
        func plainStreamsReachTheTargetUntouched(_ input: [UInt8]) throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(to: [target.target])
            let started = Monotonic.now
            let run = try runValid(input, through: sluice, to: target)
            #expect(
                TimingBound.isWellBefore(started.elapsedSeconds, deadline: headerDeadline),
                "took \(started.elapsedSeconds) s (header deadline \(headerDeadline) s)")
            expectAccepted(run, payload: input, client: nil, sluice: sluice, target: target)
        }

        // MARK: Oversize v1 lines

        /// T-v1-nocrlf (CVE-2021-23351): `PROXY ` then 100 KiB without LF, ten times. Each is closed at
        /// once with "v1 header too long" and nothing is dialled; Sluice's RSS grows by less than
        /// 512 KiB over the ten (buffering them would take 1,000 KiB).
        @Test func endlessV1LineIsClosedAndNotBuffered() throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(to: [target.target])
            // Warm up the buffer pools with one ordinary header connection.
            _ = try runValid(ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n") + httpRequest, through: sluice, to: target)
            let warm = try #require(sluice.rssKiB())
            let line = ascii("PROXY ") + [UInt8](repeating: 0x41, count: 100 << 10)
            let second = try RecordingServer()
            for _ in 0..<10 {
                try expectRejected(line, reason: "v1 header too long", sluice: sluice, target: second)
            }
            let after = try #require(sluice.rssKiB())
            #expect(after - warm < 512, "RSS grew from \(warm) KiB to \(after) KiB")
            #expect(target.acceptedCount == 1)
        }

        /// §1.1: 107 bytes without CRLF are decided at once (closed), while 106 bytes may still be a
        /// header (the connection waits).
        @Test func lineWithoutCRLFIsDecidedAt107Bytes() throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(to: [target.target])
            let line107 = ascii("PROXY UNKNOWN " + String(repeating: "x", count: 93))
            #expect(line107.count == 107)
            try expectRejected(line107, reason: "v1 header too long", sluice: sluice, target: target)
            let waiting = try sluice.connect(from: peer2)
            try waiting.sendAll(Array(line107.dropLast()))
            // Sluice has read the 106 bytes and gone back to waiting: a decision would have closed.
            #expect(sluice.waitUntilQuiet(), "sluice did not go quiet")
            #expect(waiting.waitForClose(timeout: .zero) == .timeout, "106 bytes were decided")
            try waiting.sendAll(ascii("\r\n") + httpRequest)
            try waiting.shutdownWrite()
            _ = try waiting.receiveUntilEOF()
            // 106 bytes + CRLF = 108: too long after all, but only once the CR arrives.
            let log = try sluice.requireClosedLog(try waiting.clientAddress)
            #expect(sluice.warnings(sid: log.sid).first?["msg"]?.string == "proxy protocol: v1 header too long")
        }

        // MARK: Server speaks first

        /// T-v1-short-serverfirst: a short v1 line and nothing else; the target's banner reaches the
        /// client at once (Sluice does not wait for 107 bytes or the deadline).
        @Test func shortHeaderThenServerBannerIsPrompt() throws {
            let banner = ascii("220 smtp.example ESMTP\r\n")
            let target = try RecordingServer(reply: banner, replyWhen: .onAccept)
            let sluice = try SluiceProcess.receiving(to: [target.target])
            let connection = try sluice.connect(from: peer2)
            let started = Monotonic.now
            try connection.sendAll(ascii("PROXY TCP4 1.1.1.1 2.2.2.2 1 2\r\n"))
            let received = try connection.receive(exactly: banner.count)
            let elapsed = started.elapsedSeconds
            #expect(received == banner)
            #expect(
                TimingBound.isWellBefore(elapsed, deadline: headerDeadline),
                "banner after \(elapsed) s (header deadline \(headerDeadline) s)")
            let sid = try #require(sluice.sid(ofClient: try connection.clientAddress))
            #expect(sluice.connectionLog(sid: sid).accepted?["client"]?.string == "1.1.1.1:1")
        }

        // MARK: Clients that close early

        /// T-empty-close: connect and close at once. Closed quietly: no warning, reason
        /// `clientClosedEarly`, nothing dialled.
        @Test func emptyConnectionClosesQuietly() throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(to: [target.target])
            let connection = try sluice.connect(from: peer2)
            let client = try connection.clientAddress
            connection.close()
            let log = try sluice.requireClosedLog(client)
            #expect(log.closed?["reason"]?.string == "clientClosedEarly", "\(log)")
            #expect(sluice.warningLines.isEmpty, "stderr:\n\(sluice.stderrText)")
            #expect(sluice.lines(level: "error").isEmpty, "stderr:\n\(sluice.stderrText)")
            #expect(log.connected == nil, "\(log)")
            expectNothingDialled(sluice, target)
        }

        /// T-close-mid: half a v1 line or half a v2 signature, then FIN: closed with a warning, no
        /// target connection.
        @Test(arguments: [ascii("PROXY TCP4 192.168"), hex("0d0a0d0a000d")])
        func halfAHeaderThenFINIsRejected(_ half: [UInt8]) throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(to: [target.target])
            try expectRejected(
                half, reason: "connection closed inside the header", sluice: sluice, target: target, thenFIN: true)
        }
    }
}
