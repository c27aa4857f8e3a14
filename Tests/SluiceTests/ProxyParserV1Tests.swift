// Tests for the PROXY v1 parser: every vector of proxy-protocol.md §4.1 and §4.2, the v1 framing cases
// of §4.5, and detection of plain payload by the "PROXY " prefix.
import Sluice
import Testing

@Suite struct ProxyParserV1Tests {
    let parser = ProxyParser()

    /// §4.1: header text, the payload that follows it, the expected header and its exact length.
    struct Valid: Sendable, CustomTestStringConvertible {
        let id: String
        let header: String
        let payload: String
        let expected: ProxyHeader
        let length: Int
        var testDescription: String { id }
    }

    static let valid: [Valid] = [
        Valid(
            id: "V1-TCP4", header: "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
            payload: "GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n",
            expected: v1Stream("192.168.0.1:56324", "192.168.0.11:443", family: .inet), length: 47),
        Valid(
            id: "V1-TCP4-go", header: "PROXY TCP4 127.0.0.1 127.0.0.1 65533 65533\r\n", payload: "GET /",
            expected: v1Stream("127.0.0.1:65533", "127.0.0.1:65533", family: .inet), length: 44),
        Valid(
            id: "V1-TCP6", header: "PROXY TCP6 ::1 ::1 65533 65533\r\n", payload: "GET /",
            expected: v1Stream("[::1]:65533", "[::1]:65533", family: .inet6), length: 32),
        Valid(
            id: "V1-TCP6-mapped", header: "PROXY TCP6 ::ffff:127.0.0.1 ::ffff:127.0.0.1 65533 65533\r\n",
            payload: "GET /",
            expected: v1Stream("[::ffff:127.0.0.1]:65533", "[::ffff:127.0.0.1]:65533", family: .inet6),
            length: 58),
        Valid(
            id: "V1-MAX4", header: "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n", payload: "",
            expected: v1Stream("255.255.255.255:65535", "255.255.255.255:65535", family: .inet), length: 56),
        Valid(id: "V1-UNKNOWN", header: "PROXY UNKNOWN\r\n", payload: "", expected: v1Unknown, length: 15),
        Valid(
            id: "V1-UNKNOWN-addrs", header: "PROXY UNKNOWN 127.0.0.1 127.0.0.1 99999 99999\r\n", payload: "x",
            expected: v1Unknown, length: 47),
        Valid(
            id: "V1-port0", header: "PROXY TCP4 10.0.0.1 10.0.0.2 0 0\r\n", payload: "",
            expected: v1Stream("10.0.0.1:0", "10.0.0.2:0", family: .inet), length: 34),
        // Not in §4.1: the 104-byte TCP6 maximum (the "V1-MAX6" of T-split-v1), with upper-case hex.
        Valid(
            id: "V1-MAX6",
            header:
                "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF 65535 65535\r\n",
            payload: "",
            expected: v1Stream(
                "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
                family: .inet6), length: 104),
    ]

    @Test(arguments: valid)
    func validLine(_ vector: Valid) {
        let input = ascii(vector.header + vector.payload)
        #expect(vector.header.utf8.count == vector.length)
        #expect(parser.parse(input) == .header(vector.expected, consumed: vector.length))
        // The same answer when the bytes trickle in, decided exactly at the LF.
        let (trickled, at) = parseTrickled(input)
        #expect(trickled == .header(vector.expected, consumed: vector.length))
        #expect(at == vector.length)
    }

    @Test func addressesInUse() {
        guard case .header(let tcp4, _) = parser.parse(ascii(Self.valid[0].header)) else { Issue.record(); return }
        #expect(!tcp4.usesRealAddresses)
        #expect(tcp4.source == sa("192.168.0.1:56324"))
        #expect(tcp4.destination == sa("192.168.0.11:443"))
        // §2.1: UNKNOWN means "use the real socket addresses".
        guard case .header(let unknown, _) = parser.parse(ascii("PROXY UNKNOWN\r\n")) else { Issue.record(); return }
        #expect(unknown.usesRealAddresses)
        #expect(unknown.source == nil && unknown.destination == nil)
    }

    static let invalid: [ParseCase] = [
        ParseCase("INV1-LF", ascii("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\n"), .invalid(.v1MissingCRLF)),
        ParseCase("INV1-LF-go", ascii("PROXY \n"), .invalid(.v1MissingCRLF)),
        ParseCase("INV1-CR-X", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 80 443\rX\n"), .invalid(.v1MissingCRLF)),
        ParseCase("INV1-empty-space", ascii("PROXY \r\n"), .invalid(.v1UnknownProtocol)),
        // Detection keys on "PROXY " with its space, so this one is plain payload (auto-detect).
        ParseCase("INV1-empty-nospace", ascii("PROXY\r\n"), .notProxy),
        ParseCase("INV1-empty-something", ascii("PROXY SOMETHING\r\n"), .invalid(.v1UnknownProtocol)),
        ParseCase("INV1-case", ascii("PROXY tcp4 1.2.3.4 5.6.7.8 80 443\r\n"), .invalid(.v1UnknownProtocol)),
        ParseCase("INV1-2sp-addr", ascii("PROXY TCP4  1.2.3.4 5.6.7.8 80 443\r\n"), .invalid(.v1InvalidAddress)),
        ParseCase("INV1-2sp-port", ascii("PROXY TCP4 1.2.3.4 5.6.7.8  443\r\n"), .invalid(.v1InvalidPort)),
        ParseCase("INV1-extra", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 80 443 extra\r\n"), .invalid(.v1TrailingData)),
        ParseCase("INV1-glued-junk", ascii("PROXYjunk TCP4 1.2.3.4 5.6.7.8 80 443\r\n"), .notProxy),
        ParseCase("INV1-glued-TCP4", ascii("PROXYTCP4 1.2.3.4 5.6.7.8 80 443\r\n"), .notProxy),
        ParseCase("INV1-ip-word", ascii("PROXY TCP4 invalid invalid 65533 65533\r\n"), .invalid(.v1InvalidAddress)),
        ParseCase("INV1-ip-256", ascii("PROXY TCP4 256.1.1.1 1.1.1.1 80 443\r\n"), .invalid(.v1InvalidAddress)),
        ParseCase("INV1-ip-3oct", ascii("PROXY TCP4 1.2.3 5.6.7.8 80 443\r\n"), .invalid(.v1InvalidAddress)),
        ParseCase("INV1-lead0-ip", ascii("PROXY TCP4 01.2.3.4 5.6.7.8 80 443\r\n"), .invalid(.v1InvalidAddress)),
        ParseCase("INV1-lead0-port", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 080 443\r\n"), .invalid(.v1InvalidPort)),
        ParseCase("INV1-sign", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 +80 443\r\n"), .invalid(.v1InvalidPort)),
        ParseCase(
            "INV1-port-99999", ascii("PROXY TCP4 127.0.0.1 127.0.0.1 99999 99999\r\n"), .invalid(.v1PortOutOfRange)),
        ParseCase("INV1-port-65536", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 65536 80\r\n"), .invalid(.v1PortOutOfRange)),
        ParseCase("INV1-fam-v6", ascii("PROXY TCP4 ::1 ::1 65533 65533\r\n"), .invalid(.v1AddressFamilyMismatch)),
        ParseCase(
            "INV1-fam-mapped", ascii("PROXY TCP4 ::ffff:127.0.0.1 ::ffff:127.0.0.1 65533 65533\r\n"),
            .invalid(.v1AddressFamilyMismatch)),
        ParseCase(
            "INV1-fam6-both", ascii("PROXY TCP6 192.0.2.1 192.0.2.2 1234 5678\r\n"), .invalid(.v1AddressFamilyMismatch)),
        ParseCase(
            "INV1-fam6-dst", ascii("PROXY TCP6 2001:db8::1 192.0.2.1 51512 22\r\n"), .invalid(.v1AddressFamilyMismatch)),
        ParseCase("INV1-zone", ascii("PROXY TCP6 fe80::1%eth0 fe80::2 80 443\r\n"), .invalid(.v1InvalidAddress)),
        ParseCase(
            "INV1-long",
            ascii(
                "PROXY UNKNOWN 1234:5678:9abc:def0:cafe:babe:dead:2bad 1234:5678:9abc:def0:cafe:babe:dead:2bad 65533 65533 \r\n"
            ), .invalid(.v1TooLong)),
        ParseCase("INV1-nocrlf", ascii("PROXY TCP4 " + String(repeating: "A", count: 200)), .invalid(.v1TooLong)),
        ParseCase("INV1-trunc", ascii("PROXY TCP4 127.0.0.1 127.0.0.1 65533 65533"), .needMore(atLeast: 2)),
        // Beyond §4.2: the remaining named reasons.
        ParseCase("missing-port", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 80\r\n"), .invalid(.v1MissingField)),
        ParseCase("missing-all", ascii("PROXY TCP4\r\n"), .invalid(.v1MissingField)),
        ParseCase("trailing-space", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 80 443 \r\n"), .invalid(.v1TrailingData)),
        ParseCase("port-6-digits", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 123456 80\r\n"), .invalid(.v1PortOutOfRange)),
        ParseCase("port-hex", ascii("PROXY TCP4 1.2.3.4 5.6.7.8 80 4a3\r\n"), .invalid(.v1InvalidPort)),
        ParseCase("unknown-glued", ascii("PROXY UNKNOWNX\r\n"), .invalid(.v1UnknownProtocol)),
        ParseCase("udp4", ascii("PROXY UDP4 1.2.3.4 5.6.7.8 80 443\r\n"), .invalid(.v1UnknownProtocol)),
        ParseCase("unknown-lf", ascii("PROXY UNKNOWN\n"), .invalid(.v1MissingCRLF)),
        ParseCase("unknown-inner-cr", ascii("PROXY UNKNOWN a\rb\r\n"), .invalid(.v1MissingCRLF)),
        ParseCase("tab", ascii("PROXY TCP4\t1.2.3.4 5.6.7.8 80 443\r\n"), .invalid(.v1UnknownProtocol)),
        ParseCase("brackets", ascii("PROXY TCP6 [::1] ::1 80 443\r\n"), .invalid(.v1InvalidAddress)),
    ]

    @Test(arguments: invalid)
    func invalidLine(_ vector: ParseCase) {
        #expect(parser.parse(vector.input) == vector.expected)
        // Byte by byte gives the same answer (T-split for failures too).
        #expect(parseTrickled(vector.input).0 == vector.expected)
    }

    /// §2.1 / CVE-2021-23351: without CRLF the parser answers at 107 bytes, never later.
    @Test(arguments: [
        ParseCase(
            "T-v1-nocrlf", ascii("PROXY TCP4 " + String(repeating: "A", count: 100 * 1024)), .invalid(.v1TooLong)),
        ParseCase(
            "INV1-long",
            ascii(
                "PROXY UNKNOWN 1234:5678:9abc:def0:cafe:babe:dead:2bad 1234:5678:9abc:def0:cafe:babe:dead:2bad 65533 65533 \r\n"
            ), .invalid(.v1TooLong)),
    ])
    func tooLongDecidedAt107(_ vector: ParseCase) {
        let input = vector.input
        #expect(parser.parse(input) == vector.expected)
        #expect(parser.parse(Array(input[..<106])) == .needMore(atLeast: 1))
        #expect(parser.parse(Array(input[..<107])) == .invalid(.v1TooLong))
        let (result, at) = parseTrickled(input)
        #expect(result == .invalid(.v1TooLong))
        #expect(at == 107)
        #expect(parser.maxHeaderLength >= 107)
    }

    /// The 107-byte worst case (§2.1) is accepted: the LF is byte 107.
    @Test func longestUnknownLine() {
        let line =
            "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"
        #expect(line.utf8.count == 107)
        #expect(parser.parse(ascii(line)) == .header(v1Unknown, consumed: 107))
    }

    /// §1.4 / §4.5: detection by prefix. A strict prefix of "PROXY " waits; the first differing byte makes
    /// all bytes payload.
    static let detection: [ParseCase] = [
        ParseCase("T-empty-close", [], .needMore(atLeast: 15)),
        ParseCase("T-plain-short-P", ascii("P"), .needMore(atLeast: 14)),
        ParseCase("T-prefix-timeout", ascii("PROX"), .needMore(atLeast: 11)),
        ParseCase("sig-complete", ascii("PROXY "), .needMore(atLeast: 9)),
        ParseCase("T-plain-POST", ascii("PO"), .notProxy),
        ParseCase("T-plain-http", ascii("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), .notProxy),
        ParseCase("T-plain-tls", [0x16, 0x03, 0x01, 0x02, 0x00], .notProxy),
        ParseCase("ssh", ascii("SSH-2.0-OpenSSH_9.2\r\n"), .notProxy),
        ParseCase("lowercase", ascii("proxy TCP4 1.2.3.4 5.6.7.8 80 443\r\n"), .notProxy),
        ParseCase("cr-pending", ascii("PROXY UNKNOWN\r"), .needMore(atLeast: 1)),
        ParseCase("line-pending", ascii("PROXY UNKNOWN"), .needMore(atLeast: 2)),
    ]

    @Test(arguments: detection)
    func detectionByPrefix(_ vector: ParseCase) {
        #expect(parser.parse(vector.input) == vector.expected)
    }

    /// T-plain-POST: decided after two bytes; T-v1-short-serverfirst: a short line is a header at once.
    @Test func decidedEarly() {
        let (post, at) = parseTrickled(ascii("POST / HTTP/1.1\r\n"))
        #expect(post == .notProxy)
        #expect(at == 2)
        let short = ascii("PROXY TCP4 1.1.1.1 2.2.2.2 1 2\r\n")
        #expect(parser.parse(short) == .header(v1Stream("1.1.1.1:1", "2.2.2.2:2", family: .inet), consumed: 32))
    }

    /// T-split-v1: the 104-byte TCP6 line split as `PROX` / `Y TCP6 ffff` / rest.
    @Test func splitLine() {
        let line = ascii(Self.valid.last!.header)
        #expect(parser.parse(Array(line[..<4])) == .needMore(atLeast: 11))
        #expect(parser.parse(Array(line[..<15])) == .needMore(atLeast: 2))
        #expect(parser.parse(line) == .header(Self.valid.last!.expected, consumed: 104))
    }

    /// A second "PROXY" line right after the first is payload: the parser stops at the first CRLF.
    @Test func secondHeaderIsPayload() {
        let input = ascii("PROXY TCP4 1.1.1.1 2.2.2.2 1 2\r\nPROXY TCP4 3.3.3.3 4.4.4.4 3 4\r\n")
        #expect(parser.parse(input) == .header(v1Stream("1.1.1.1:1", "2.2.2.2:2", family: .inet), consumed: 32))
    }

    @Test func errorDescriptions() {
        #expect(ProxyHeaderError.v1PortOutOfRange.description == "v1 port out of range")
        #expect(ProxyHeaderError.v1TooLong.description == "v1 header too long")
        #expect(ProxyHeaderError.v1MissingCRLF.description == "v1 line must end with CRLF")
        let phrases = ProxyHeaderError.allCases.map(\.description)
        #expect(Set(phrases).count == phrases.count)
        #expect(phrases.allSatisfy { $0 == $0.lowercased() || $0.contains("CRLF") })
    }
}
