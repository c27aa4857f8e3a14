// Tests for the PROXY v2 parser: every vector of proxy-protocol.md §4.3 and §4.4, the v2 framing cases
// of §4.5, the `len` cap, LOCAL and the family/transport rules.
import Sluice
import Testing

@Suite struct ProxyParserV2Tests {
    let parser = ProxyParser()

    static let tcp4 = hex("0d0a0d0a000d0a515549540a 21 11 000c 7f000001 7f000001 002a 0539")
    static let tcp4Auth = hex("0d0a0d0a000d0a515549540a211100147f0000017f000001002a05390200053132333435")
    static let sslAlpnAuth = hex(
        "0d0a0d0a000d0a515549540a2111004acb007107c63364019c4001bb010002683202000b6578616d706c652e636f6d20002801"
            + "00000000210007544c5376312e33230016544c535f4145535f3235365f47434d5f534841333834")
    static let unix =
        hex("0d0a0d0a000d0a515549540a213100d8") + ascii("/tmp/src.sock") + [UInt8](repeating: 0, count: 95)
        + ascii("/tmp/dst.sock") + [UInt8](repeating: 0, count: 95)

    /// §4.3, each with its exact header and length.
    static let valid: [ParseCase] = [
        ParseCase("V2-TCP4", tcp4, .header(v2Stream("127.0.0.1:42", "127.0.0.1:1337"), consumed: 28)),
        ParseCase(
            "V2-TCP4-AUTH", tcp4Auth,
            .header(v2Stream("127.0.0.1:42", "127.0.0.1:1337", tlvs: [.authority("12345")]), consumed: 36)),
        ParseCase(
            "V2-TCP6",
            hex(
                "0d0a0d0a000d0a515549540a2121002420010db800000000000000000000000120010db8000000000000000000000002c93801bb"
            ), .header(v2Stream("[2001:db8::1]:51512", "[2001:db8::2]:443"), consumed: 52)),
        ParseCase("V2-LOCAL", hex("0d0a0d0a000d0a515549540a20000000"), .header(v2Local(), consumed: 16)),
        ParseCase(
            "V2-LOCAL-CRC", hex("0d0a0d0a000d0a515549540a20000007030004a9b87e8f"),
            .header(v2Local(tlvs: [.crc32c(0xa9b8_7e8f)]), consumed: 23)),
        ParseCase(
            "V2-LOCAL-TCP4-ADDR", hex("0d0a0d0a000d0a515549540a2011000c0a0000010a00000203e807d0"),
            .header(v2Local(family: .inet, transport: .stream), consumed: 28)),
        ParseCase(
            "V2-PROXY-UNSPEC", hex("0d0a0d0a000d0a515549540a21000000"),
            .header(
                ProxyHeader(version: .v2, command: .proxy, family: .unspec, transport: .unspec, addresses: .none),
                consumed: 16)),
        ParseCase(
            "V2-PROXY-UNSPEC-CRC", hex("0d0a0d0a000d0a515549540a210000070300043ec9894e"),
            .header(
                ProxyHeader(
                    version: .v2, command: .proxy, family: .unspec, transport: .unspec, addresses: .none,
                    tlvs: [.crc32c(0x3ec9_894e)]), consumed: 23)),
        ParseCase(
            "V2-TCP4-CRC-py", hex("0d0a0d0a000d0a515549540a21110013000000007f0000010000001903000425c91172"),
            .header(v2Stream("0.0.0.0:0", "127.0.0.1:25", tlvs: [.crc32c(0x25c9_1172)]), consumed: 35)),
        ParseCase(
            "V2-TCP4-CRC", hex("0d0a0d0a000d0a515549540a21110013c0a8010a0a000005c35020fb030004a912a201"),
            .header(v2Stream("192.168.1.10:50000", "10.0.0.5:8443", tlvs: [.crc32c(0xa912_a201)]), consumed: 35)),
        ParseCase(
            "V2-SSL-ALPN-AUTH", sslAlpnAuth,
            .header(
                v2Stream(
                    "203.0.113.7:40000", "198.51.100.1:443",
                    tlvs: [
                        .alpn(ascii("h2")), .authority("example.com"),
                        .ssl(
                            ProxySSL(client: 0x01, verify: 0, version: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384")),
                    ]), consumed: 90)),
        ParseCase(
            "V2-EMPTY-TLV", hex("0d0a0d0a000d0a515549540a2111000f7f0000017f00000100010002f00000"),
            .header(v2Stream("127.0.0.1:1", "127.0.0.1:2", tlvs: [.unknown(type: 0xF0, value: [])]), consumed: 31)),
        ParseCase(
            "V2-UNIX", unix,
            .header(
                ProxyHeader(
                    version: .v2, command: .proxy, family: .unix, transport: .stream,
                    addresses: .unix(source: ascii("/tmp/src.sock"), destination: ascii("/tmp/dst.sock"))),
                consumed: 232)),
        ParseCase(
            "V2-UDP4", hex("0d0a0d0a000d0a515549540a2112000cc0000201c000020214e90035"),
            .header(
                ProxyHeader(
                    version: .v2, command: .proxy, family: .inet, transport: .dgram,
                    addresses: inet("192.0.2.1:5353", "192.0.2.2:53")), consumed: 28)),
    ]

    @Test(arguments: valid)
    func validHeader(_ vector: ParseCase) {
        #expect(parser.parse(vector.input) == vector.expected)
        // T-payload-v2 / T-stray-after: bytes after the header are payload, never TLVs.
        let withPayload = vector.input + ascii("GET / HTTP/1.1\r\n\r\n") + hex("0200053534333231")
        #expect(parser.parse(withPayload) == vector.expected)
        // T-split: one byte at a time gives the same header, decided at its last byte.
        let (result, at) = parseTrickled(withPayload)
        #expect(result == vector.expected)
        #expect(at == vector.input.count)
    }

    /// Which vectors carry a client address, and which fall back to the real socket addresses (§2.2).
    @Test(
        arguments: zip(
            valid, [false, false, false, true, true, true, true, true, false, false, false, false, true, true]))
    func realAddressFallback(_ vector: ParseCase, usesReal: Bool) {
        guard case .header(let header, _) = vector.expected else { Issue.record(); return }
        #expect(header.usesRealAddresses == usesReal)
        #expect((header.source == nil) == usesReal)
        #expect((header.destination == nil) == usesReal)
    }

    static func withByte12(_ versionCommand: UInt8, _ fam: UInt8 = 0x11) -> [UInt8] {
        v2Signature + [versionCommand, fam] + hex("000c7f0000017f000001002a0539")
    }

    /// §4.4, each with its named reason (or `.notProxy` for a broken signature, in auto-detect).
    static let invalid: [ParseCase] = [
        ParseCase("BAD-SIG", hex("0d0a0d0a000d0a515549540b 2111000c7f0000017f000001002a0539"), .notProxy),
        ParseCase("BAD-VER-1", withByte12(0x11), .invalid(.v2UnsupportedVersion)),
        ParseCase("BAD-VER-3", withByte12(0x31), .invalid(.v2UnsupportedVersion)),
        ParseCase("BAD-CMD-2", withByte12(0x22), .invalid(.v2InvalidCommand)),
        ParseCase("BAD-FAM-4", withByte12(0x21, 0x41), .invalid(.v2InvalidFamily)),
        ParseCase("BAD-PROTO-3", withByte12(0x21, 0x13), .invalid(.v2InvalidTransport)),
        ParseCase(
            "SHORT-LEN", hex("0d0a0d0a000d0a515549540a211100047f000001"), .invalid(.v2LengthTooShortForAddresses)),
        ParseCase("LEN0-ADDR", hex("0d0a0d0a000d0a515549540a21120000"), .invalid(.v2LengthTooShortForAddresses)),
        ParseCase(
            "TLV-HDR-TRUNC", hex("0d0a0d0a000d0a515549540a2111000e7f0000017f000001002a05390200"),
            .invalid(.v2TLVHeaderTruncated)),
        ParseCase(
            "TLV-LEN-EXCEEDS", hex("0d0a0d0a000d0a515549540a211100147f0000017f000001002a053902000a3132333435"),
            .invalid(.v2TLVExceedsLength)),
        ParseCase(
            "CRC-MISMATCH", hex("0d0a0d0a000d0a515549540a21110013c0a8010a0a000005c35020fb030004a912a200"),
            .invalid(.v2CRC32CMismatch)),
        ParseCase("CRC-BAD-py", hex("0d0a0d0a000d0a515549540a20000007030004a9b8218f"), .invalid(.v2CRC32CMismatch)),
        ParseCase(
            "CRC-LEN-2", hex("0d0a0d0a000d0a515549540a211100117f0000017f000001002a05390300020505"),
            .invalid(.v2CRC32CBadLength)),
        ParseCase(
            "AUTH-256",
            hex("0d0a0d0a000d0a515549540a2111010f7f0000017f000001002a0539 020100")
                + [UInt8](repeating: 0x61, count: 256),
            .invalid(.v2AuthorityTooLong)),
        ParseCase(
            "UID-129",
            hex("0d0a0d0a000d0a515549540a211100907f0000017f000001002a0539 050081") + [UInt8](repeating: 7, count: 129),
            .invalid(.v2UniqueIDTooLong)),
        ParseCase(
            "LEN-FFFF", hex("0d0a0d0a000d0a515549540a2111ffff7f0000017f000001002a0539"), .invalid(.v2LengthExceedsLimit)
        ),
        ParseCase("TRUNC-EOF", Array(tcp4Auth.dropLast(3)), .needMore(atLeast: 3)),
        // Beyond §4.4: the other named reasons.
        ParseCase("INET-transport-UNSPEC", withByte12(0x21, 0x10), .invalid(.v2InvalidFamilyTransport)),
        ParseCase("UNSPEC-STREAM", withByte12(0x21, 0x01), .invalid(.v2InvalidFamilyTransport)),
        ParseCase("LOCAL-bad-fam", withByte12(0x20, 0x51), .invalid(.v2InvalidFamily)),
        ParseCase(
            "SSL-short", hex("0d0a0d0a000d0a515549540a21000007 200004 01000000"), .invalid(.v2SSLTooShort)),
        ParseCase(
            "SSL-sub-exceeds", hex("0d0a0d0a000d0a515549540a2100000b 200008 0100000000 210009"),
            .invalid(.v2SSLSubTLVExceedsLength)),
        ParseCase(
            "SSL-sub-truncated", hex("0d0a0d0a000d0a515549540a2100000a 200007 0100000000 2100"),
            .invalid(.v2SSLSubTLVExceedsLength)),
        ParseCase("UNIX-short", hex("0d0a0d0a000d0a515549540a213200d7"), .invalid(.v2LengthTooShortForAddresses)),
        ParseCase("TCP6-short", hex("0d0a0d0a000d0a515549540a21210023"), .invalid(.v2LengthTooShortForAddresses)),
    ]

    @Test(arguments: invalid)
    func invalidHeader(_ vector: ParseCase) {
        #expect(parser.parse(vector.input) == vector.expected)
        #expect(parseTrickled(vector.input).0 == vector.expected)
    }

    /// §2.7: `len` above the cap is rejected from the 16-byte fixed part, before the rest arrives.
    @Test func lengthCapDecidedFromFixedPart() {
        let fixed = hex("0d0a0d0a000d0a515549540a2111ffff")
        #expect(parser.parse(fixed) == .invalid(.v2LengthExceedsLimit))
        #expect(parser.parse(Array(fixed.dropLast())) == .needMore(atLeast: 1))
        // Configured up to 65535, the same bytes wait for the whole header.
        let wide = ProxyParser(maxV2Length: 65535)
        #expect(wide.parse(fixed) == .needMore(atLeast: 65535))
        #expect(wide.maxHeaderLength == 65551)
        #expect(parser.maxHeaderLength == 16 + 4096)
        #expect(ProxyParser(maxV2Length: 0).maxHeaderLength == 107)
    }

    /// go TestParseV2MaxHeaderSizeBoundary: len == 4096 is accepted, 4097 is not.
    @Test(arguments: [(4096, true), (4097, false), (12, true)])
    func lengthCapBoundary(length: Int, accepted: Bool) {
        // TCP4 then one NOOP TLV filling the rest.
        let padding = length - 12 - 3
        var bytes =
            v2Signature + [0x21, 0x11, UInt8(length >> 8), UInt8(length & 0xFF)] + hex("7f0000017f000001002a0539")
        if padding >= 0 {
            bytes += [0x04, UInt8(padding >> 8), UInt8(padding & 0xFF)] + [UInt8](repeating: 0, count: padding)
        }
        let expected = v2Stream("127.0.0.1:42", "127.0.0.1:1337", tlvs: padding >= 0 ? [.noop(count: padding)] : [])
        #expect(
            parser.parse(bytes)
                == (accepted ? .header(expected, consumed: 16 + length) : .invalid(.v2LengthExceedsLimit)))
    }

    /// T-split-sig: a 9-byte prefix of the signature waits; the rest completes the header.
    @Test func splitSignature() {
        #expect(parser.parse(Array(Self.tcp4[..<9])) == .needMore(atLeast: 7))
        #expect(parser.parse(Array(Self.tcp4[..<16])) == .needMore(atLeast: 12))
        #expect(parser.parse(v2Signature) == .needMore(atLeast: 4))
        #expect(parser.parse([0x0D, 0x0A, 0x0D, 0x0B]) == .notProxy)
    }

    /// §2.2: LOCAL skips exactly `len` bytes whatever its family says, even when the block does not fit.
    @Test func localSkipsLength() {
        let short = hex("0d0a0d0a000d0a515549540a20110004 01020304") + ascii("payload")
        #expect(parser.parse(short) == .header(v2Local(family: .inet, transport: .stream), consumed: 20))
        let withTLV = hex("0d0a0d0a000d0a515549540a2011000f 0a0000010a00000203e807d0 040000")
        #expect(
            parser.parse(withTLV)
                == .header(v2Local(family: .inet, transport: .stream, tlvs: [.noop(count: 0)]), consumed: 31))
        let udp6 = hex("0d0a0d0a000d0a515549540a20220000")
        #expect(parser.parse(udp6) == .header(v2Local(family: .inet6, transport: .dgram), consumed: 16))
    }

    @Test func datagramAndUnixVariants() {
        let udp6 =
            hex("0d0a0d0a000d0a515549540a2122002400000000000000000000000000000001") + [UInt8](repeating: 0, count: 16)
            + hex("00350035")
        guard case .header(let header, 52) = parser.parse(udp6) else { Issue.record(); return }
        #expect(header.transport == .dgram && header.usesRealAddresses)
        #expect(header.addresses == inet("[::1]:53", "[::]:53"))
        // An abstract UNIX name keeps its leading NUL; only trailing padding goes.
        let abstract =
            hex("0d0a0d0a000d0a515549540a213200d8") + [0] + ascii("sock") + [UInt8](repeating: 0, count: 103)
            + [UInt8](repeating: 0, count: 108)
        #expect(
            parser.parse(abstract)
                == .header(
                    ProxyHeader(
                        version: .v2, command: .proxy, family: .unix, transport: .dgram,
                        addresses: .unix(source: [0] + ascii("sock"), destination: [])), consumed: 232))
    }
}
