// Tests for the PROXY header encoder: the sender cases of proxy-protocol.md §4.6, byte-exact output for
// the §4.1/§4.3 vectors it can produce, TLV limits and buffer sizing.
import Sluice
import Testing

/// Encodes into a large buffer and returns the written bytes.
func encodeV1(_ source: SocketAddress?, _ destination: SocketAddress?) throws -> [UInt8] {
    var buffer = [UInt8](repeating: 0xAA, count: ProxyEncoder.maxV1Length)
    let n = try buffer.withUnsafeMutableBytes {
        try ProxyEncoder.writeV1(source: source, destination: destination, into: $0)
    }
    return Array(buffer[..<n])
}

func encodeV2(
    _ source: SocketAddress?, _ destination: SocketAddress?, _ tlvs: ProxyEncodeTLVs = .none
) throws -> [UInt8] {
    var buffer = [UInt8](repeating: 0xAA, count: 16 + 65535)
    let n = try buffer.withUnsafeMutableBytes {
        try ProxyEncoder.writeV2(source: source, destination: destination, tlvs: tlvs, into: $0)
    }
    return Array(buffer[..<n])
}

@Suite struct ProxyEncoderTests {
    /// v1 lines: S-v1-v4, S-mixed-family, S-unknown, and the §4.1 vectors the encoder can produce.
    @Test(arguments: [
        ("S-v1-v4", "192.0.2.1:51512", "198.51.100.1:443", "PROXY TCP4 192.0.2.1 198.51.100.1 51512 443\r\n"),
        ("V1-TCP4", "192.168.0.1:56324", "192.168.0.11:443", "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"),
        ("V1-TCP6", "[::1]:65533", "[::1]:65533", "PROXY TCP6 ::1 ::1 65533 65533\r\n"),
        (
            "V1-MAX4", "255.255.255.255:65535", "255.255.255.255:65535",
            "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"
        ),
        ("V1-port0", "10.0.0.1:0", "10.0.0.2:0", "PROXY TCP4 10.0.0.1 10.0.0.2 0 0\r\n"),
        (
            "S-mixed-v4-v6", "192.0.2.1:51512", "[2001:db8::1]:443",
            "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::1 51512 443\r\n"
        ),
        (
            "S-mixed-v6-v4", "[2001:db8::1]:51512", "192.0.2.1:22",
            "PROXY TCP6 2001:db8::1 ::ffff:192.0.2.1 51512 22\r\n"
        ),
        (
            "canonical", "[2001:DB8:0:0:0:0:0:AB]:1", "[fe80:0:0:1:0:0:0:0]:2",
            "PROXY TCP6 2001:db8::ab fe80:0:0:1:: 1 2\r\n"
        ),
        (
            "mapped-kept", "[::ffff:10.0.0.1]:1", "[::ffff:10.0.0.2]:2",
            "PROXY TCP6 ::ffff:10.0.0.1 ::ffff:10.0.0.2 1 2\r\n"
        ),
    ])
    func v1Line(id: String, source: String, destination: String, line: String) throws {
        let bytes = try encodeV1(sa(source), sa(destination))
        #expect(bytes == ascii(line), "\(id)")
        #expect(bytes.count <= ProxyEncoder.maxV1Length)
        // What we send, we accept.
        if case .header(let header, let consumed) = ProxyParser().parse(bytes) {
            #expect(consumed == bytes.count)
            #expect(header.addresses != .none)
        } else {
            Issue.record("\(id) does not parse")
        }
    }

    /// S-unknown / S-healthcheck: no usable address gives `PROXY UNKNOWN` and v2 LOCAL.
    @Test func noAddress() throws {
        #expect(try encodeV1(nil, sa("1.2.3.4:5")) == ascii("PROXY UNKNOWN\r\n"))
        #expect(try encodeV1(sa("1.2.3.4:5"), nil) == ascii("PROXY UNKNOWN\r\n"))
        #expect(try encodeV2(nil, nil) == hex("0d0a0d0a000d0a515549540a20000000"))
        // icgood test_pack_not_proxied: LOCAL with a CRC32C.
        #expect(
            try encodeV2(nil, nil, ProxyEncodeTLVs(crc32c: true))
                == hex("0d0a0d0a000d0a515549540a20000007030004a9b87e8f"))
    }

    /// v2 byte-exact output for the §4.3 vectors made of addresses, AUTHORITY and CRC32C.
    @Test(arguments: [
        (
            "V2-TCP4", "127.0.0.1:42", "127.0.0.1:1337", ProxyEncodeTLVs.none,
            "0d0a0d0a000d0a515549540a2111000c7f0000017f000001002a0539"
        ),
        (
            "V2-TCP4-AUTH", "127.0.0.1:42", "127.0.0.1:1337", ProxyEncodeTLVs(authority: "12345"),
            "0d0a0d0a000d0a515549540a211100147f0000017f000001002a05390200053132333435"
        ),
        (
            "V2-TCP6", "[2001:db8::1]:51512", "[2001:db8::2]:443", .none,
            "0d0a0d0a000d0a515549540a2121002420010db800000000000000000000000120010db8000000000000000000000002c93801bb"
        ),
        (
            "V2-TCP4-CRC", "192.168.1.10:50000", "10.0.0.5:8443", ProxyEncodeTLVs(crc32c: true),
            "0d0a0d0a000d0a515549540a21110013c0a8010a0a000005c35020fb030004a912a201"
        ),
        (
            "V2-TCP4-CRC-py", "0.0.0.0:0", "127.0.0.1:25", ProxyEncodeTLVs(crc32c: true),
            "0d0a0d0a000d0a515549540a21110013000000007f0000010000001903000425c91172"
        ),
        // S-mixed-family (HAProxy bd8bf6710 copied the wrong port): v4 source mapped, both ports intact.
        (
            "S-mixed-family", "192.0.2.1:51512", "[2001:db8::1]:443", .none,
            "0d0a0d0a000d0a515549540a21210024 00000000000000000000ffffc0000201 20010db8000000000000000000000001 c938 01bb"
        ),
        (
            "all-tlvs", "10.0.0.1:1", "10.0.0.2:2",
            ProxyEncodeTLVs(alpn: ascii("h2"), authority: "a.b", uniqueID: [9, 8], noopPadding: 2, crc32c: false),
            "0d0a0d0a000d0a515549540a21110021 0a0000010a000002 00010002 010002 6832 020003 612e62 050002 0908 040002 0000"
        ),
    ])
    func v2Header(id: String, source: String, destination: String, tlvs: ProxyEncodeTLVs, expected: String) throws {
        let bytes = try encodeV2(sa(source), sa(destination), tlvs)
        #expect(bytes == hex(expected), "\(id)")
        #expect(try ProxyEncoder.v2Length(source: sa(source), destination: sa(destination), tlvs: tlvs) == bytes.count)
    }

    /// S-v2-len: `len` counts addresses and every TLV; the CRC is computed last over all of it.
    @Test func v2WithEveryTLVParsesBack() throws {
        let tlvs = ProxyEncodeTLVs(
            alpn: ascii("http/1.1"), authority: "例え.jp", uniqueID: Array(0..<128), noopPadding: 5, crc32c: true)
        let bytes = try encodeV2(sa("[2001:db8::7]:1000"), sa("192.0.2.9:2000"), tlvs)
        guard case .header(let header, let consumed) = ProxyParser().parse(bytes + ascii("payload")) else {
            Issue.record()
            return
        }
        #expect(consumed == bytes.count)
        #expect(bytes.count == 16 + 36 + 11 + (3 + 9) + 131 + 8 + 7)  // "例え.jp" is 9 bytes of UTF-8
        #expect(header.addresses == inet("[2001:db8::7]:1000", "[::ffff:192.0.2.9]:2000"))
        guard case .crc32c(let crc) = header.tlvs.last else { Issue.record(); return }
        #expect(
            header.tlvs == [
                .alpn(ascii("http/1.1")), .authority("例え.jp"), .uniqueID(Array(0..<128)), .noop(count: 5), .crc32c(crc),
            ])
        #expect(header.authority == "例え.jp" && header.uniqueID == Array(0..<128) && header.alpn == ascii("http/1.1"))
    }

    /// HAProxy 2d74dd7e9 (CRC TLV at the buffer's end): an exact-size buffer works, one byte less throws
    /// and writes nothing past the end.
    @Test func bufferSizing() throws {
        let tlvs = ProxyEncodeTLVs(authority: "example.com", crc32c: true)
        let needed = try ProxyEncoder.v2Length(source: sa("1.2.3.4:1"), destination: sa("5.6.7.8:2"), tlvs: tlvs)
        #expect(needed == 28 + 14 + 7)
        var buffer = [UInt8](repeating: 0xAA, count: needed + 1)
        let n = try buffer.withUnsafeMutableBytes {
            try ProxyEncoder.writeV2(
                source: sa("1.2.3.4:1"), destination: sa("5.6.7.8:2"), tlvs: tlvs,
                into: UnsafeMutableRawBufferPointer(rebasing: $0[..<needed]))
        }
        #expect(n == needed && buffer[needed] == 0xAA)
        _ = buffer.withUnsafeMutableBytes { raw in
            #expect(throws: ProxyEncodeError.bufferTooSmall(needed: needed)) {
                try ProxyEncoder.writeV2(
                    source: sa("1.2.3.4:1"), destination: sa("5.6.7.8:2"), tlvs: tlvs,
                    into: UnsafeMutableRawBufferPointer(rebasing: raw[..<(needed - 1)]))
            }
        }
        // v1 into a buffer that fits the line but not the 107-byte worst case, then one that is too small.
        var small = [UInt8](repeating: 0, count: 16)
        let written = try small.withUnsafeMutableBytes {
            try ProxyEncoder.writeV1(source: nil, destination: nil, into: $0)
        }
        #expect(Array(small[..<written]) == ascii("PROXY UNKNOWN\r\n"))
        small.withUnsafeMutableBytes { raw in
            #expect(throws: ProxyEncodeError.bufferTooSmall(needed: 45)) {
                try ProxyEncoder.writeV1(source: sa("192.0.2.1:51512"), destination: sa("198.51.100.1:443"), into: raw)
            }
            #expect(throws: ProxyEncodeError.bufferTooSmall(needed: 16)) {
                try ProxyEncoder.writeV2(
                    source: nil, destination: nil, into: UnsafeMutableRawBufferPointer(rebasing: raw[..<0]))
            }
        }
    }

    @Test(arguments: [
        (ProxyEncodeTLVs(authority: String(repeating: "a", count: 256)), ProxyEncodeError.authorityTooLong),
        (ProxyEncodeTLVs(uniqueID: [UInt8](repeating: 1, count: 129)), .uniqueIDTooLong),
        (ProxyEncodeTLVs(noopPadding: -1), .invalidPadding),
        (ProxyEncodeTLVs(alpn: [UInt8](repeating: 1, count: 65535 - 12 - 3 + 1)), .lengthExceedsLimit),
        (ProxyEncodeTLVs(alpn: [UInt8](repeating: 1, count: 40000), noopPadding: 30000), .lengthExceedsLimit),
    ])
    func tlvLimits(tlvs: ProxyEncodeTLVs, error: ProxyEncodeError) {
        #expect(throws: error) { try encodeV2(sa("1.2.3.4:1"), sa("5.6.7.8:2"), tlvs) }
    }

    /// The limits themselves are accepted, and the largest `len` (65535) parses with a 65535 cap.
    @Test func tlvLimitsInclusive() throws {
        let edge = ProxyEncodeTLVs(
            authority: String(repeating: "a", count: 255), uniqueID: [UInt8](repeating: 1, count: 128))
        #expect(try encodeV2(sa("1.2.3.4:1"), sa("5.6.7.8:2"), edge).count == 28 + 258 + 131)
        let biggest = try encodeV2(
            sa("1.2.3.4:1"), sa("5.6.7.8:2"), ProxyEncodeTLVs(alpn: [UInt8](repeating: 1, count: 65520)))
        #expect(biggest.count == 65551)
        #expect(ProxyParser().parse(biggest) == .invalid(.v2LengthExceedsLimit))
        guard case .header(_, 65551) = ProxyParser(maxV2Length: 65535).parse(biggest) else { Issue.record(); return }
    }

    /// S-nginx-cap: nginx ≤ 1.23.1 takes at most 107 bytes of v2; the length helper lets a sender check.
    @Test func nginxCapCheck() throws {
        let fits = try ProxyEncoder.v2Length(
            source: sa("1.2.3.4:1"), destination: sa("5.6.7.8:2"),
            tlvs: ProxyEncodeTLVs(authority: String(repeating: "x", count: 76)))
        #expect(fits == 107)
        let v6 = try ProxyEncoder.v2Length(
            source: sa("[::1]:1"), destination: sa("[::1]:2"), tlvs: ProxyEncodeTLVs(crc32c: true))
        #expect(v6 == 52 + 7)
    }

    @Test func errorDescriptions() {
        #expect(ProxyEncodeError.bufferTooSmall(needed: 28).description == "buffer too small for header (28 bytes)")
        #expect(ProxyEncodeError.lengthExceedsLimit.description == "v2 length exceeds 65535")
    }
}
