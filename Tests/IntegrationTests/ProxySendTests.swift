// Send: the PROXY header Sluice writes to the target with `handler.proxyProtocol=1|2`:
// exact v1 lines and parsed v2 headers for IPv4, IPv6 and mixed families, received-then-sent
// addresses, the header and first payload in one write, and rtcp (proxy-protocol.md §4.6).
import Glibc
import Sluice
import TestSupport
import Testing

/// Parses the PROXY header at the start of `bytes` with Sluice's own parser (unit-tested on its own);
/// the header and the bytes after it, or nil when there is no complete valid header.
func parseHeader(_ bytes: [UInt8]) -> (header: ProxyHeader, rest: [UInt8])? {
    guard case .header(let header, let consumed) = ProxyParser().parse(bytes) else { return nil }
    return (header, Array(bytes[consumed...]))
}

extension Integration.ProxyProtocolIntegrationTests {
    @Suite("Send: headers to the target (proxy-protocol.md §4.6)")
    struct ProxySendTests {
        /// Starts sluice sending v`version` headers to `target` (and receiving, with `receive`).
        static func sending(
            _ version: Int, to target: String, receive: Bool = false, listen: String = "127.0.0.1:0",
            scheme: String = "tcp"
        ) throws -> SluiceProcess {
            var query = "handler.proxyProtocol=\(version)"
            if receive { query = "proxyProtocol=1&proxyProtocol.timeout=5s&" + query }
            return try SluiceProcess.start(["-L", "\(scheme)://\(listen)/\(target)?\(query)"])
        }

        /// Sends `payload` on `connection`, half-closes, drains the client side, and returns what the
        /// target's only connection received.
        static func deliver(
            _ payload: [UInt8], on connection: TestConnection, to target: RecordingServer
        ) throws
            -> [UInt8]
        {
            try connection.sendAll(payload)
            try connection.shutdownWrite()
            _ = try connection.receiveUntilEOF()
            #expect(target.waitForClosed(1))
            #expect(target.acceptedCount == 1)
            return target.connections.first ?? []
        }

        // MARK: v1

        /// S-v1-v4: an IPv4 client from 127.0.0.2. The target gets exactly
        /// `PROXY TCP4 127.0.0.2 127.0.0.1 <client port> <sluice port>\r\n`, then the payload (two
        /// writes), nothing before the header and nothing between.
        @Test func v1LineForAnIPv4Client() throws {
            let target = try RecordingServer()
            let sluice = try Self.sending(1, to: target.target)
            let connection = try sluice.connect(from: peer2)
            let client = try connection.clientAddress
            let line = "PROXY TCP4 127.0.0.2 127.0.0.1 \(client.port) \(sluice.port)\r\n"
            try connection.sendAll(ascii("first "))
            // The second write goes out once the first has reached the target.
            #expect(target.waitForBytes(line.utf8.count + 6) != nil, "target got \(target.connections.map(printable))")
            let got = try Self.deliver(ascii("second"), on: connection, to: target)
            #expect(got == ascii(line + "first second"), "target got \(printable(got))")
        }

        /// The header is written right after connect, before any payload: a client that sends nothing
        /// still has its header at the target, alone. (No timer is configured that could flush it
        /// later, so its arrival while the client is silent is the proof.)
        @Test func headerIsWrittenBeforeAnyPayload() throws {
            let target = try RecordingServer()
            let sluice = try Self.sending(1, to: target.target)
            let connection = try sluice.connect()
            let client = try connection.clientAddress
            let line = ascii("PROXY TCP4 127.0.0.1 127.0.0.1 \(client.port) \(sluice.port)\r\n")
            let got = target.waitForBytes(line.count, timeout: .seconds(10))
            #expect(got == line, "target got \(got.map(printable) ?? "nothing")")
        }

        /// An IPv6 client on a `[::1]` listener to a `[::1]` target: `PROXY TCP6 ::1 ::1 …`.
        @Test func v1LineForAnIPv6Client() throws {
            let target = try RecordingServer(address: loopbackV6AnyPort)
            let sluice = try Self.sending(1, to: target.target, listen: "[::1]:0")
            let connection = try sluice.connect()
            let client = try connection.clientAddress
            #expect(client.ip == .v6(.loopback))
            let got = try Self.deliver(ascii("payload"), on: connection, to: target)
            #expect(got == ascii("PROXY TCP6 ::1 ::1 \(client.port) \(sluice.port)\r\npayload"), "\(printable(got))")
        }

        /// A dual-stack `:0` listener reached over IPv4: both addresses are IPv4 (Sluice unmaps
        /// `::ffff:` socket addresses, as in its logs), so the line is TCP4 with dotted quads.
        @Test func dualStackListenerWithAnIPv4ClientSendsTCP4() throws {
            let target = try RecordingServer()
            let sluice = try Self.sending(1, to: target.target, listen: ":0")
            let connection = try sluice.connect(from: peer2)
            let client = try connection.clientAddress
            let got = try Self.deliver(ascii("x"), on: connection, to: target)
            #expect(
                got == ascii("PROXY TCP4 127.0.0.2 127.0.0.1 \(client.port) \(sluice.port)\r\nx"), "\(printable(got))")
        }

        // MARK: v2

        /// v2 for an IPv4 client: PROXY, INET, STREAM, 127.0.0.2:<client port> → 127.0.0.1:<sluice
        /// port>, 28 bytes, no TLVs; the payload follows.
        @Test func v2HeaderForAnIPv4Client() throws {
            let target = try RecordingServer()
            let sluice = try Self.sending(2, to: target.target)
            let connection = try sluice.connect(from: peer2)
            let client = try connection.clientAddress
            let got = try Self.deliver(httpRequest, on: connection, to: target)
            let (header, rest) = try #require(parseHeader(got), "no v2 header: \(printable(got))")
            #expect(header.version == .v2 && header.command == .proxy, "\(header)")
            #expect(header.family == .inet && header.transport == .stream, "\(header)")
            #expect(
                header.addresses == .inet(source: client, destination: SocketAddress(localhost, port: sluice.port)),
                "\(header)")
            #expect(header.tlvs.isEmpty)
            #expect(got.count - rest.count == 28)
            #expect(rest == httpRequest)
        }

        /// v2 for an IPv6 client: INET6, [::1]:<client port> → [::1]:<sluice port>, 52 bytes.
        @Test func v2HeaderForAnIPv6Client() throws {
            let target = try RecordingServer(address: loopbackV6AnyPort)
            let sluice = try Self.sending(2, to: target.target, listen: "[::1]:0")
            let connection = try sluice.connect()
            let client = try connection.clientAddress
            let got = try Self.deliver(httpRequest, on: connection, to: target)
            let (header, rest) = try #require(parseHeader(got), "no v2 header: \(printable(got))")
            #expect(header.version == .v2 && header.command == .proxy, "\(header)")
            #expect(header.family == .inet6 && header.transport == .stream, "\(header)")
            #expect(
                header.addresses
                    == .inet(source: client, destination: SocketAddress(.v6(.loopback), port: sluice.port)),
                "\(header)")
            #expect(got.count - rest.count == 52)
            #expect(rest == httpRequest)
        }

        // MARK: Mixed families

        /// S-mixed-family: a received TCP6 header whose source is `::ffff:203.0.113.7` (Sluice's client
        /// becomes IPv4 203.0.113.7) and whose destination is IPv6, or the reverse. The families
        /// differ, so the header sent is TCP6 with the IPv4 side written as `::ffff:a.b.c.d`.
        struct MixedCase: Sendable, CustomTestStringConvertible {
            var received: String
            var sent: String
            var client: String
            var testDescription: String { "client \(client)" }
        }

        @Test(arguments: [
            MixedCase(
                received: "PROXY TCP6 ::ffff:203.0.113.7 2001:db8::1 40000 443\r\n",
                sent: "PROXY TCP6 ::ffff:203.0.113.7 2001:db8::1 40000 443\r\n", client: "203.0.113.7:40000"),
            MixedCase(
                received: "PROXY TCP6 2001:db8::7 ::ffff:198.51.100.1 40000 443\r\n",
                sent: "PROXY TCP6 2001:db8::7 ::ffff:198.51.100.1 40000 443\r\n", client: "[2001:db8::7]:40000"),
        ])
        func mixedFamiliesAreSentAsTCP6WithMappedIPv4(_ mixed: MixedCase) throws {
            let (received, sent, client) = (mixed.received, mixed.sent, mixed.client)
            let target = try RecordingServer()
            let sluice = try Self.sending(1, to: target.target, receive: true)
            let connection = try sluice.connect(from: peer2)
            let got = try Self.deliver(ascii(received) + ascii("data"), on: connection, to: target)
            #expect(got == ascii(sent + "data"), "target got \(printable(got))")
            let log = try sluice.requireClosedLog(try connection.clientAddress)
            #expect(log.accepted?["client"]?.string == client, "\(log)")

            let v2Target = try RecordingServer()
            let v2 = try Self.sending(2, to: v2Target.target, receive: true)
            let v2Connection = try v2.connect(from: peer2)
            let v2Got = try Self.deliver(ascii(received) + ascii("data"), on: v2Connection, to: v2Target)
            let (header, rest) = try #require(parseHeader(v2Got), "no v2 header: \(printable(v2Got))")
            let fields = sent.split(separator: " ")
            let source = try #require(IPv6Address(String(fields[2])))
            let destination = try #require(IPv6Address(String(fields[3])))
            #expect(header.family == .inet6, "\(header)")
            #expect(
                header.addresses
                    == .inet(
                        source: SocketAddress(.v6(source), port: 40000),
                        destination: SocketAddress(.v6(destination), port: 443)), "\(header)")
            #expect(rest == ascii("data"))
        }

        // MARK: Received, then sent

        /// A received header's source and destination (spoofed 203.0.113.7:40000 → 198.51.100.1:443)
        /// are what Sluice sends on, in the configured version: v1 in → v2 out, v2 in → v1 out.
        @Test func receivedAddressesAreSentOnInTheOtherVersion() throws {
            let source = SocketAddress(.v4(IPv4Address(203, 0, 113, 7)), port: 40000)
            let destination = SocketAddress(.v4(IPv4Address(198, 51, 100, 1)), port: 443)
            do {
                let target = try RecordingServer()
                let sluice = try Self.sending(2, to: target.target, receive: true)
                let connection = try sluice.connect(from: peer2)
                let got = try Self.deliver(spoofedV1 + httpRequest, on: connection, to: target)
                let (header, rest) = try #require(parseHeader(got), "no v2 header: \(printable(got))")
                #expect(header.version == .v2 && header.family == .inet, "\(header)")
                #expect(header.addresses == .inet(source: source, destination: destination), "\(header)")
                #expect(rest == httpRequest)
            }
            do {
                let target = try RecordingServer()
                let sluice = try Self.sending(1, to: target.target, receive: true)
                var v2 = [UInt8](repeating: 0, count: 28)
                let length = try v2.withUnsafeMutableBytes {
                    try ProxyEncoder.writeV2(source: source, destination: destination, into: $0)
                }
                #expect(length == 28)
                let connection = try sluice.connect(from: peer2)
                let got = try Self.deliver(v2 + httpRequest, on: connection, to: target)
                #expect(got == spoofedV1 + httpRequest, "target got \(printable(got))")
            }
        }

        /// A received LOCAL header (a health check) keeps the real addresses, so the header sent names
        /// the TCP peer and Sluice's local address.
        @Test func receivedLocalHeaderSendsTheRealAddresses() throws {
            let target = try RecordingServer()
            let sluice = try Self.sending(1, to: target.target, receive: true)
            let connection = try sluice.connect(from: peer2)
            let client = try connection.clientAddress
            let got = try Self.deliver(
                hex("0d0a0d0a000d0a515549540a20000000") + ascii("ok"), on: connection, to: target)
            #expect(
                got == ascii("PROXY TCP4 127.0.0.2 127.0.0.1 \(client.port) \(sluice.port)\r\nok"), "\(printable(got))")
        }

        // MARK: One write

        /// S-atomic: bytes the client sent before Sluice connected (read while sniffing: a plain
        /// first packet, or the payload behind a received header) leave in the same write as the
        /// header. The target's first read holds the header and the payload together.
        @Test(arguments: [1, 2])
        func headerAndEarlyPayloadLeaveInOneWrite(_ version: Int) throws {
            let target = try ReadRecordingServer()
            let sluice = try Self.sending(version, to: target.target, receive: true)
            for (i, input) in [httpRequest, spoofedV1 + httpRequest].enumerated() {
                let connection = try sluice.connect(from: peer2)
                try connection.sendAll(input)
                // At least the shortest header (v2 TCP4, 28 bytes) and the request.
                let chunks = try #require(
                    target.waitForBytes(28 + httpRequest.count, on: i), "stderr:\n\(sluice.stderrText)")
                let first = chunks[0]
                let parsed = try #require(parseHeader(first), "first read \(printable(first))")
                #expect(parsed.rest == httpRequest, "first read \(printable(first)); reads \(chunks.map(\.count))")
                if i == 1 { #expect(parsed.header.source?.description == "203.0.113.7:40000") }
                connection.close()
            }
        }

        // MARK: rtcp

        /// `rtcp://…?handler.proxyProtocol=1` (no chain) listens locally and forwards like tcp, with a
        /// header naming the accepted connection's peer and local address.
        @Test func rtcpSendsTheAcceptedConnectionsAddresses() throws {
            let target = try RecordingServer()
            let sluice = try Self.sending(1, to: target.target, scheme: "rtcp")
            let connection = try sluice.connect(from: peer2)
            let client = try connection.clientAddress
            let got = try Self.deliver(ascii("via rtcp"), on: connection, to: target)
            #expect(
                got == ascii("PROXY TCP4 127.0.0.2 127.0.0.1 \(client.port) \(sluice.port)\r\nvia rtcp"),
                "\(printable(got))")
            let log = try sluice.requireClosedLog(client)
            #expect(log.accepted?["handler"]?.string == "rtcp" && log.accepted?["listener"]?.string == "rtcp", "\(log)")
        }

        /// rtcp has no receive side: `proxyProtocol=1` does nothing. A client's header is payload
        /// (after Sluice's own header with the real addresses), `client` is the real peer, and a
        /// silent client is dialled at once (no sniffing).
        @Test func rtcpIgnoresReceivedHeaders() throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.start([
                "-L",
                "rtcp://127.0.0.1:0/\(target.target)?proxyProtocol=1&proxyProtocol.timeout=5s&handler.proxyProtocol=1",
            ])
            let connection = try sluice.connect(from: peer2)
            let client = try connection.clientAddress
            let line = ascii("PROXY TCP4 127.0.0.2 127.0.0.1 \(client.port) \(sluice.port)\r\n")
            let started = Monotonic.now
            #expect(target.waitForBytes(line.count, timeout: .seconds(headerDeadline)) == line, "not dialled at once")
            #expect(
                TimingBound.isWellBefore(started.elapsedSeconds, deadline: headerDeadline),
                "dialled after \(started.elapsedSeconds) s (header deadline \(headerDeadline) s)")
            let got = try Self.deliver(spoofedV1 + httpRequest, on: connection, to: target)
            #expect(got == line + spoofedV1 + httpRequest, "target got \(printable(got))")
            let log = try sluice.requireClosedLog(client)
            #expect(log.accepted?["client"]?.string == client.description, "\(log)")
        }
    }
}
