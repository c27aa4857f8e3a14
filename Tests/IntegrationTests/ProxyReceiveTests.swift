// Integration tests for PROXY protocol receive, send and chains: their parent suite, the helpers
// they share, and the v1 vectors of proxy-protocol.md §4.1–4.2.
//
// Every test runs the real `sluice` against loopback servers. Receive tests send from 127.0.0.2, so
// the real peer never looks like a header's 127.0.0.1; trust tests add 127.0.0.3. Like every suite
// of this target they run one test at a time (see `Integration`): several measure delays.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration {
    @Suite("PROXY protocol receive, send and chains", .timeLimit(.minutes(3)))
    struct ProxyProtocolIntegrationTests {}
}

/// 127.0.0.2: the default client source of these tests, and the trusted peer of the trust tests.
let peer2 = IPAddress.v4(IPv4Address(127, 0, 0, 2))
/// 127.0.0.3: an untrusted peer.
let peer3 = IPAddress.v4(IPv4Address(127, 0, 0, 3))

/// The UTF-8 bytes of `text`.
func ascii(_ text: String) -> [UInt8] { Array(text.utf8) }

/// The bytes of a hex string; spaces are ignored.
func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8.filter { $0 != 0x20 })
    precondition(digits.count % 2 == 0, "odd hex string \(text)")
    func value(_ c: UInt8) -> UInt8 {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: preconditionFailure("not hex: \(text)")
        }
    }
    return stride(from: 0, to: digits.count, by: 2).map { value(digits[$0]) << 4 | value(digits[$0 + 1]) }
}

/// Bytes as text for failure messages (non-printable bytes as `\xNN`).
func printable(_ bytes: [UInt8]) -> String {
    var text = ""
    for byte in bytes.prefix(300) {
        switch byte {
        case 0x0D: text += "\\r"
        case 0x0A: text += "\\n"
        case 0x20..<0x7F: text.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            let digits = String(byte, radix: 16)
            text += "\\x" + (digits.count == 1 ? "0" : "") + digits
        }
    }
    return bytes.count > 300 ? text + "… (\(bytes.count) bytes)" : text
}

/// A request the receive tests put after a header: the target must get exactly these bytes.
let httpRequest = ascii("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")

/// One input for the receive side: the bytes a client sends in one write, and what must happen.
struct ReceiveVector: Sendable, CustomTestStringConvertible {
    /// The vector's id in proxy-protocol.md (e.g. `V1-TCP4`).
    var id: String
    var bytes: [UInt8]
    /// For a valid header: the `client` Sluice must log (nil: the real peer). For an invalid one:
    /// the reason named in the warning, after `proxy protocol: `.
    var expected: String?

    init(_ id: String, _ bytes: [UInt8], _ expected: String?) {
        self.id = id
        self.bytes = bytes
        self.expected = expected
    }

    var testDescription: String { id }
}

/// The header deadline (`proxyProtocol.timeout`) `SluiceProcess.receiving` sets unless told
/// otherwise, in seconds: "at once" in these tests means well before it (`TimingBound.isWellBefore`).
let headerDeadline = 5.0

extension SluiceProcess {
    /// Starts `sluice -L tcp://<listen>/<targets>?proxyProtocol=1&proxyProtocol.timeout=<timeout>[&query]`.
    static func receiving(
        to targets: [String], timeout: String = "5s", query: String = "", listen: String = "127.0.0.1:0"
    ) throws -> SluiceProcess {
        let full = "proxyProtocol=1&proxyProtocol.timeout=\(timeout)" + (query.isEmpty ? "" : "&\(query)")
        return try start(["-L", forwardURL(listen: listen, to: targets, query: full)])
    }

    /// Connects a client from `source` (e.g. 127.0.0.2) to the first listener on 127.0.0.1.
    func connect(from source: IPAddress, timeout: Duration = .seconds(10)) throws -> TestConnection {
        try TestConnection.connect(to: address(), from: source, timeout: timeout)
    }

    /// `127.0.0.1:<port>`: the `local` of every connection to the first listener.
    var localText: String { "127.0.0.1:\(port)" }

    /// The `warning` lines of connection `sid`.
    func warnings(sid: String) -> [JSONValue] { lines(sid: sid).filter { $0["level"]?.string == "warning" } }

    /// Every `warning` line so far.
    var warningLines: [JSONValue] { lines(level: "warning") }

    /// The log of the connection from `client`, once closed; records an issue (with stderr) if missing.
    func requireClosedLog(
        _ client: SocketAddress, timeout: Duration = .seconds(10), sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> ConnectionLog {
        try #require(
            closedConnectionLog(client: client, timeout: timeout),
            "no accept/close lines for \(client); stderr:\n\(stderrText)", sourceLocation: sourceLocation)
    }
}

/// What a valid-header run produced.
struct ReceiveRun {
    /// The bytes the (only) target connection received.
    var targetData: [UInt8]
    /// The client's real address.
    var client: SocketAddress
    var log: ConnectionLog
}

/// Sends `input` in one write from `source`, half-closes, reads the client side to EOF (the target
/// closes at EOF), and returns what the target got and the connection's log lines.
func runValid(
    _ input: [UInt8], through sluice: SluiceProcess, to target: RecordingServer, from source: IPAddress = peer2,
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> ReceiveRun {
    let connection = try sluice.connect(from: source, timeout: .seconds(10))
    let client = try connection.clientAddress
    try connection.sendAll(input)
    try connection.shutdownWrite()
    _ = try connection.receiveUntilEOF()
    connection.close()
    let log = try sluice.requireClosedLog(client, sourceLocation: sourceLocation)
    #expect(target.waitForClosed(1), "target connection not closed", sourceLocation: sourceLocation)
    return ReceiveRun(targetData: target.connections.first ?? [], client: client, log: log)
}

/// Checks a connection whose header Sluice accepted: the target got exactly `payload` (the header
/// was not forwarded), the log's `client` is `client` (nil: the real peer) while `remote` and
/// `local` stay the real socket addresses, no warning, and `inputBytes` counts the payload only.
func expectAccepted(
    _ run: ReceiveRun, payload: [UInt8], client expectedClient: String?, sluice: SluiceProcess,
    target: RecordingServer, sourceLocation: SourceLocation = #_sourceLocation
) {
    let real = run.client.description
    #expect(target.acceptedCount == 1, "target connections: \(target.acceptedCount)", sourceLocation: sourceLocation)
    #expect(
        run.targetData == payload, "target got \(printable(run.targetData)), want \(printable(payload))",
        sourceLocation: sourceLocation)
    let accepted = run.log.accepted
    #expect(accepted?["client"]?.string == (expectedClient ?? real), "\(run.log)", sourceLocation: sourceLocation)
    #expect(accepted?["remote"]?.string == real, "\(run.log)", sourceLocation: sourceLocation)
    #expect(accepted?["local"]?.string == sluice.localText, "\(run.log)", sourceLocation: sourceLocation)
    #expect(accepted?["msg"]?.string == "\(real) <> \(sluice.localText)", sourceLocation: sourceLocation)
    #expect(
        run.log.connected?["client"]?.string == (expectedClient ?? real), "\(run.log)", sourceLocation: sourceLocation)
    #expect(sluice.warnings(sid: run.log.sid).isEmpty, "\(run.log)", sourceLocation: sourceLocation)
    #expect(run.log.closed?["inputBytes"]?.int == payload.count, "\(run.log)", sourceLocation: sourceLocation)
    #expect(run.log.closed?["reason"]?.string == "done", "\(run.log)", sourceLocation: sourceLocation)
}

/// Sends `input` from `source` and expects Sluice to refuse it as an invalid header: the client is
/// closed at once (well before the header deadline), one warning `proxy protocol: <reason>`,
/// close reason `headerInvalid` with no input bytes, and the target never sees a connection. With
/// `thenFIN` the client half-closes right after sending.
func expectRejected(
    _ input: [UInt8], reason: String, sluice: SluiceProcess, target: RecordingServer, from source: IPAddress = peer2,
    thenFIN: Bool = false, sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let connection = try sluice.connect(from: source, timeout: .seconds(10))
    let client = try connection.clientAddress
    let started = Monotonic.now
    // Sluice may close while a long input is still being sent.
    do { try connection.sendAll(input) } catch {}
    if thenFIN { try? connection.shutdownWrite() }
    let outcome = connection.waitForClose(timeout: .seconds(headerDeadline))
    let elapsed = started.elapsedSeconds
    #expect(outcome.isClosed, "client saw \(outcome)", sourceLocation: sourceLocation)
    #expect(
        TimingBound.isWellBefore(elapsed, deadline: headerDeadline),
        "closed after \(elapsed) s (header deadline \(headerDeadline) s)", sourceLocation: sourceLocation)
    let log = try sluice.requireClosedLog(client, sourceLocation: sourceLocation)
    let warnings = sluice.warnings(sid: log.sid)
    #expect(warnings.count == 1, "\(log)", sourceLocation: sourceLocation)
    #expect(warnings.first?["msg"]?.string == "proxy protocol: \(reason)", "\(log)", sourceLocation: sourceLocation)
    #expect(warnings.first?["client"]?.string == client.description, "\(log)", sourceLocation: sourceLocation)
    #expect(log.closed?["reason"]?.string == "headerInvalid", "\(log)", sourceLocation: sourceLocation)
    #expect(log.closed?["inputBytes"]?.int == 0, "\(log)", sourceLocation: sourceLocation)
    #expect(log.connected == nil, "dialled after an invalid header: \(log)", sourceLocation: sourceLocation)
    expectNothingDialled(sluice, target, sourceLocation: sourceLocation)
}

/// Expects that `target` has seen no connection from `sluice`, once sluice has finished acting on
/// what it was sent: a dial sluice made would have reached the target's accept queue by the time
/// sluice sleeps again (a loopback connect's handshake is done inside the `connect` call).
func expectNothingDialled(
    _ sluice: SluiceProcess, _ target: RecordingServer, _ comment: String = "the target saw a connection",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(sluice.waitUntilQuiet(), "sluice did not go quiet", sourceLocation: sourceLocation)
    #expect(target.acceptedCountOnceSettled() == 0, "\(comment)", sourceLocation: sourceLocation)
}

extension Integration.ProxyProtocolIntegrationTests {
    @Suite("Receive: v1 vectors (proxy-protocol.md §4.1, §4.2)")
    struct ProxyReceiveV1Tests {
        /// §4.1: every valid v1 line, each followed in the same write by a request. The client is
        /// the line's source (or the real peer for UNKNOWN), the target gets the request only.
        static let valid: [ReceiveVector] = [
            .init(
                "V1-TCP4", ascii("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"), "192.168.0.1:56324"),
            .init("V1-TCP4-go", ascii("PROXY TCP4 127.0.0.1 127.0.0.1 65533 65533\r\n"), "127.0.0.1:65533"),
            .init("V1-TCP6", ascii("PROXY TCP6 ::1 ::1 65533 65533\r\n"), "[::1]:65533"),
            // An IPv4-mapped source is logged as IPv4 (Sluice unmaps it, as its sockets do).
            .init(
                "V1-TCP6-mapped", ascii("PROXY TCP6 ::ffff:127.0.0.1 ::ffff:127.0.0.1 65533 65533\r\n"),
                "127.0.0.1:65533"),
            .init(
                "V1-MAX4", ascii("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"),
                "255.255.255.255:65535"),
            .init(
                "V1-MAX6",
                ascii(
                    "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"
                ), "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"),
            .init("V1-UNKNOWN", ascii("PROXY UNKNOWN\r\n"), nil),
            .init("V1-UNKNOWN-addrs", ascii("PROXY UNKNOWN 127.0.0.1 127.0.0.1 99999 99999\r\n"), nil),
            .init("V1-port0", ascii("PROXY TCP4 10.0.0.1 10.0.0.2 0 0\r\n"), "10.0.0.1:0"),
        ]

        @Test(arguments: valid)
        func validLineIsConsumedAndNamesTheClient(_ vector: ReceiveVector) throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(to: [target.target])
            let run = try runValid(vector.bytes + httpRequest, through: sluice, to: target)
            expectAccepted(run, payload: httpRequest, client: vector.expected, sluice: sluice, target: target)
        }

        /// §4.2: every invalid v1 line (each id, each variant). The connection is closed at once,
        /// nothing is dialled, the warning names the rule broken.
        static let invalid: [ReceiveVector] = [
            .init("INV1-LF", ascii("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\n"), "v1 line must end with CRLF"),
            .init("INV1-LF-empty", ascii("PROXY \n"), "v1 line must end with CRLF"),
            .init("INV1-CR-X", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 80 443\rX\n"), "v1 line must end with CRLF"),
            .init("INV1-empty", ascii("PROXY \r\n"), "v1 unknown protocol"),
            .init("INV1-empty-SOMETHING", ascii("PROXY SOMETHING\r\n"), "v1 unknown protocol"),
            .init("INV1-case", ascii("PROXY tcp4 1.2.3.4 5.6.7.8 80 443\r\n"), "v1 unknown protocol"),
            .init("INV1-2sp-address", ascii("PROXY TCP4  1.2.3.4 5.6.7.8 80 443\r\n"), "v1 invalid address"),
            .init("INV1-2sp-port", ascii("PROXY TCP4 1.2.3.4 5.6.7.8  443\r\n"), "v1 invalid port"),
            .init("INV1-extra", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 80 443 extra\r\n"), "v1 unexpected data after ports"),
            .init("INV1-missing", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 80\r\n"), "v1 missing field"),
            .init("INV1-ip-text", ascii("PROXY TCP4 invalid invalid 65533 65533\r\n"), "v1 invalid address"),
            .init("INV1-ip-256", ascii("PROXY TCP4 256.1.1.1 1.1.1.1 80 443\r\n"), "v1 invalid address"),
            .init("INV1-ip-3octets", ascii("PROXY TCP4 1.2.3 5.6.7.8 80 443\r\n"), "v1 invalid address"),
            .init("INV1-lead0-ip", ascii("PROXY TCP4 01.2.3.4 5.6.7.8 80 443\r\n"), "v1 invalid address"),
            .init("INV1-lead0-port", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 080 443\r\n"), "v1 invalid port"),
            .init("INV1-sign", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 +80 443\r\n"), "v1 invalid port"),
            .init("INV1-port-99999", ascii("PROXY TCP4 127.0.0.1 127.0.0.1 99999 99999\r\n"), "v1 port out of range"),
            .init("INV1-port-65536", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 65536 80\r\n"), "v1 port out of range"),
            .init(
                "INV1-fam-v6-in-TCP4", ascii("PROXY TCP4 ::1 ::1 65533 65533\r\n"),
                "v1 address does not match protocol family"),
            .init(
                "INV1-fam-mapped-in-TCP4", ascii("PROXY TCP4 ::ffff:127.0.0.1 ::ffff:127.0.0.1 65533 65533\r\n"),
                "v1 address does not match protocol family"),
            .init(
                "INV1-fam6-v4-in-TCP6", ascii("PROXY TCP6 192.0.2.1 192.0.2.2 1234 5678\r\n"),
                "v1 address does not match protocol family"),
            .init(
                "INV1-fam6-mixed", ascii("PROXY TCP6 2001:db8::1 192.0.2.1 51512 22\r\n"),
                "v1 address does not match protocol family"),
            .init("INV1-zone", ascii("PROXY TCP6 fe80::1%eth0 fe80::2 80 443\r\n"), "v1 invalid address"),
            .init(
                "INV1-long",
                ascii(
                    "PROXY UNKNOWN 1234:5678:9abc:def0:cafe:babe:dead:2bad 1234:5678:9abc:def0:cafe:babe:dead:2bad 65533 65533 \r\n"
                ), "v1 header too long"),
            .init("INV1-nocrlf", ascii("PROXY TCP4 " + String(repeating: "A", count: 200)), "v1 header too long"),
        ]

        @Test(arguments: invalid)
        func invalidLineClosesBeforeDialling(_ vector: ReceiveVector) throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(to: [target.target])
            try expectRejected(vector.bytes + httpRequest, reason: vector.expected!, sluice: sluice, target: target)
        }

        /// INV1-long is exactly 108 bytes; the vector is only meaningful at that length.
        @Test func longVectorIs108Bytes() {
            #expect(Self.invalid.first { $0.id == "INV1-long" }?.bytes.count == 108)
            #expect(Self.valid.first { $0.id == "V1-MAX6" }?.bytes.count == 104)
            #expect(Self.valid.first { $0.id == "V1-MAX4" }?.bytes.count == 56)
        }

        /// INV1-trunc: a complete-looking line without CRLF, then FIN: closed, warned, never dialled.
        @Test func truncatedLineThenFINIsRejected() throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(to: [target.target])
            try expectRejected(
                ascii("PROXY TCP4 127.0.0.1 127.0.0.1 65533 65533"), reason: "connection closed inside the header",
                sluice: sluice, target: target, thenFIN: true)
        }

        /// INV1-glued and `PROXY\r\n`: the first six bytes are not `PROXY ` (with its space), so in
        /// optional mode they are no header at all: every byte reaches the target as payload at once,
        /// the client is the real peer, no warning.
        @Test(arguments: [
            ReceiveVector("INV1-glued-junk", ascii("PROXYjunk TCP4 1.2.3.4 5.6.7.8 80 443\r\n"), nil),
            ReceiveVector("INV1-glued-TCP4", ascii("PROXYTCP4 1.2.3.4 5.6.7.8 80 443\r\n"), nil),
            ReceiveVector("INV1-empty-nospace", ascii("PROXY\r\n"), nil),
        ])
        func gluedSignatureIsPlainPayload(_ vector: ReceiveVector) throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(to: [target.target])
            let started = Monotonic.now
            let run = try runValid(vector.bytes + httpRequest, through: sluice, to: target)
            #expect(
                TimingBound.isWellBefore(started.elapsedSeconds, deadline: headerDeadline),
                "took \(started.elapsedSeconds) s (header deadline \(headerDeadline) s)")
            expectAccepted(run, payload: vector.bytes + httpRequest, client: nil, sluice: sluice, target: target)
        }
    }
}
