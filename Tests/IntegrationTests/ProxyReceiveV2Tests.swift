// Receive: the v2 vectors of proxy-protocol.md §4.3 (valid) and §4.4 (invalid), through the binary.
import Glibc
import Sluice
import TestSupport
import Testing

/// The 12-byte v2 signature, as hex.
let v2Signature = "0d0a0d0a000d0a515549540a"
/// V2-TCP4: 127.0.0.1:42 → 127.0.0.1:1337.
let v2TCP4 = hex(v2Signature + "2111000c 7f000001 7f000001 002a 0539")
/// V2-TCP4-AUTH: V2-TCP4 plus AUTHORITY "12345".
let v2TCP4Auth = hex("0d0a0d0a000d0a515549540a211100147f0000017f000001002a05390200053132333435")
/// V2-SSL-ALPN-AUTH: 203.0.113.7:40000 → 198.51.100.1:443 with ALPN, AUTHORITY and SSL TLVs (90 bytes).
let v2SSLALPNAuth = hex(
    "0d0a0d0a000d0a515549540a2111004acb007107c63364019c4001bb010002683202000b6578616d706c652e636f6d2000280100000000"
        + "210007544c5376312e33230016544c535f4145535f3235365f47434d5f534841333834")

/// A NUL-padded 108-byte AF_UNIX path field.
private func unixPath(_ path: String) -> [UInt8] {
    ascii(path) + [UInt8](repeating: 0, count: 108 - path.utf8.count)
}

/// The address block of V2-TCP4 (127.0.0.1:42 → 127.0.0.1:1337), for building TLV vectors.
private let tcp4Block = "7f000001 7f000001 002a 0539"

extension Integration.ProxyProtocolIntegrationTests {
    @Suite("Receive: v2 vectors (proxy-protocol.md §4.3, §4.4)")
    struct ProxyReceiveV2Tests {
        /// §4.3: every valid v2 vector, each followed in the same write by a request. The client is
        /// the header's source, or the real peer where the spec says so (LOCAL, UNSPEC, UNIX, DGRAM).
        static let valid: [ReceiveVector] = [
            .init("V2-TCP4", v2TCP4, "127.0.0.1:42"),
            .init("V2-TCP4-AUTH", v2TCP4Auth, "127.0.0.1:42"),
            .init(
                "V2-TCP6",
                hex(
                    "0d0a0d0a000d0a515549540a2121002420010db800000000000000000000000120010db8000000000000000000000002c93801bb"
                ), "[2001:db8::1]:51512"),
            .init("V2-LOCAL", hex("0d0a0d0a000d0a515549540a20000000"), nil),
            .init("V2-LOCAL-CRC", hex("0d0a0d0a000d0a515549540a20000007030004a9b87e8f"), nil),
            // LOCAL with an address block (10.0.0.1): the block is skipped, the real peer is used.
            .init("V2-LOCAL-TCP4-ADDR", hex("0d0a0d0a000d0a515549540a2011000c0a0000010a00000203e807d0"), nil),
            .init("V2-PROXY-UNSPEC", hex("0d0a0d0a000d0a515549540a21000000"), nil),
            .init("V2-PROXY-UNSPEC-CRC", hex("0d0a0d0a000d0a515549540a210000070300043ec9894e"), nil),
            .init(
                "V2-TCP4-CRC-py", hex("0d0a0d0a000d0a515549540a21110013000000007f0000010000001903000425c91172"),
                "0.0.0.0:0"),
            .init(
                "V2-TCP4-CRC", hex("0d0a0d0a000d0a515549540a21110013c0a8010a0a000005c35020fb030004a912a201"),
                "192.168.1.10:50000"),
            .init("V2-SSL-ALPN-AUTH", v2SSLALPNAuth, "203.0.113.7:40000"),
            .init("V2-EMPTY-TLV", hex("0d0a0d0a000d0a515549540a2111000f7f0000017f00000100010002f00000"), "127.0.0.1:1"),
            .init(
                "V2-UNIX", hex(v2Signature + "213100d8") + unixPath("/tmp/src.sock") + unixPath("/tmp/dst.sock"), nil),
            .init("V2-UDP4", hex("0d0a0d0a000d0a515549540a2112000cc0000201c000020214e90035"), nil),
        ]

        @Test(arguments: valid)
        func validHeaderIsConsumedAndNamesTheClient(_ vector: ReceiveVector) throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(to: [target.target])
            let run = try runValid(vector.bytes + httpRequest, through: sluice, to: target)
            expectAccepted(run, payload: httpRequest, client: vector.expected, sluice: sluice, target: target)
        }

        /// §4.4: every invalid v2 header. Closed at once, nothing dialled, the warning names the rule.
        static let invalid: [ReceiveVector] = [
            .init("BAD-VER-1", hex(v2Signature + "1111000c" + tcp4Block), "v2 unsupported version"),
            .init("BAD-VER-3", hex(v2Signature + "3111000c" + tcp4Block), "v2 unsupported version"),
            .init("BAD-CMD-2", hex(v2Signature + "2211000c" + tcp4Block), "v2 invalid command"),
            .init("BAD-FAM-4", hex(v2Signature + "2141000c" + tcp4Block), "v2 invalid address family"),
            .init("BAD-PROTO-3", hex(v2Signature + "2113000c" + tcp4Block), "v2 invalid transport"),
            .init("BAD-INET-UNSPEC", hex(v2Signature + "2110000c" + tcp4Block), "v2 invalid family and transport pair"),
            .init("SHORT-LEN", hex("0d0a0d0a000d0a515549540a211100047f000001"), "v2 length too short for addresses"),
            .init("LEN0-ADDR", hex("0d0a0d0a000d0a515549540a21120000"), "v2 length too short for addresses"),
            .init(
                "TLV-HDR-TRUNC", hex("0d0a0d0a000d0a515549540a2111000e7f0000017f000001002a05390200"),
                "v2 truncated tlv header"),
            .init(
                "TLV-LEN-EXCEEDS", hex("0d0a0d0a000d0a515549540a211100147f0000017f000001002a053902000a3132333435"),
                "v2 tlv exceeds header length"),
            .init(
                "CRC-MISMATCH", hex("0d0a0d0a000d0a515549540a21110013c0a8010a0a000005c35020fb030004a912a200"),
                "v2 crc32c mismatch"),
            .init("CRC-BAD-py", hex("0d0a0d0a000d0a515549540a20000007030004a9b8218f"), "v2 crc32c mismatch"),
            .init(
                "CRC-LEN-2", hex("0d0a0d0a000d0a515549540a211100117f0000017f000001002a05390300020505"),
                "v2 crc32c tlv length is not 4"),
            .init(
                "AUTH-256", hex(v2Signature + "2111010f" + tcp4Block + "020100") + [UInt8](repeating: 0x61, count: 256),
                "v2 authority tlv too long"),
            .init(
                "UID-129", hex(v2Signature + "21110090" + tcp4Block + "050081") + [UInt8](repeating: 0x55, count: 129),
                "v2 unique id tlv too long"),
            // len 65535 is over the 4096 cap: rejected as soon as the 16-byte fixed part is in.
            .init(
                "LEN-FFFF", hex("0d0a0d0a000d0a515549540a2111ffff7f0000017f000001002a0539"), "v2 length exceeds limit"),
        ]

        @Test(arguments: invalid)
        func invalidHeaderClosesBeforeDialling(_ vector: ReceiveVector) throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(to: [target.target])
            try expectRejected(vector.bytes + httpRequest, reason: vector.expected!, sluice: sluice, target: target)
        }

        /// The built vectors have the lengths §4.4 gives them (the `len` fields must match).
        @Test func builtVectorsHaveTheirLengths() {
            let byID = Dictionary(uniqueKeysWithValues: Self.invalid.map { ($0.id, $0.bytes.count) })
            #expect(byID["AUTH-256"] == 16 + 12 + 3 + 256)
            #expect(byID["UID-129"] == 16 + 12 + 3 + 129)
            #expect(Self.valid.first { $0.id == "V2-UNIX" }?.bytes.count == 16 + 216)
            #expect(v2SSLALPNAuth.count == 16 + 0x4a)
        }

        /// A v2 header with `len` = NOOP padding up to the given total, 203.0.113.7:40000 → 198.51.100.1:443.
        static func padded(length: Int) -> [UInt8] {
            let padding = length - 12 - 3
            return hex(v2Signature + "2111") + [UInt8(length >> 8), UInt8(length & 0xff)]
                + hex("cb007107 c6336401 9c40 01bb") + [0x04, UInt8(padding >> 8), UInt8(padding & 0xff)]
                + [UInt8](repeating: 0, count: padding)
        }

        /// §2.7: `len` up to the 4096 default cap is accepted (a 4,112-byte header, sniffed whole),
        /// 4097 is rejected as soon as the fixed part arrives.
        @Test func lengthCapIs4096ByDefault() throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(to: [target.target])
            let run = try runValid(Self.padded(length: 4096) + httpRequest, through: sluice, to: target)
            expectAccepted(run, payload: httpRequest, client: "203.0.113.7:40000", sluice: sluice, target: target)
            let other = try RecordingServer()
            try expectRejected(
                Array(Self.padded(length: 4097).prefix(16)), reason: "v2 length exceeds limit", sluice: sluice,
                target: other)
        }

        /// `proxyProtocol.maxLength=36`: V2-TCP6 (len 36) and V2-TCP4-AUTH (len 20) are accepted,
        /// V2-SSL-ALPN-AUTH (len 74) is rejected.
        @Test func lengthCapIsConfigurable() throws {
            let tcp6 = hex(
                "0d0a0d0a000d0a515549540a2121002420010db800000000000000000000000120010db8000000000000000000000002c93801bb"
            )
            for (input, client) in [(tcp6, "[2001:db8::1]:51512"), (v2TCP4Auth, "127.0.0.1:42")] {
                let target = try RecordingServer()
                let sluice = try SluiceProcess.receiving(to: [target.target], query: "proxyProtocol.maxLength=36")
                let run = try runValid(input + httpRequest, through: sluice, to: target)
                expectAccepted(run, payload: httpRequest, client: client, sluice: sluice, target: target)
            }
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(to: [target.target], query: "proxyProtocol.maxLength=36")
            try expectRejected(
                v2SSLALPNAuth + httpRequest, reason: "v2 length exceeds limit", sluice: sluice, target: target)
        }

        /// TRUNC-EOF: V2-TCP4-AUTH without its last 3 bytes, then FIN: closed, warned, never dialled.
        @Test func truncatedHeaderThenFINIsRejected() throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(to: [target.target])
            try expectRejected(
                Array(v2TCP4Auth.dropLast(3)), reason: "connection closed inside the header", sluice: sluice,
                target: target, thenFIN: true)
        }

        /// BAD-SIG: the 12th signature byte is wrong, so in optional mode this is no header: all 28
        /// bytes and the request reach the target at once, the client is the real peer, no warning.
        @Test func badSignatureIsPlainPayload() throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.receiving(to: [target.target])
            let badSignature = hex("0d0a0d0a000d0a515549540b 2111000c7f0000017f000001002a0539")
            let started = Monotonic.now
            let run = try runValid(badSignature + httpRequest, through: sluice, to: target)
            #expect(
                TimingBound.isWellBefore(started.elapsedSeconds, deadline: headerDeadline),
                "took \(started.elapsedSeconds) s (header deadline \(headerDeadline) s)")
            expectAccepted(run, payload: badSignature + httpRequest, client: nil, sluice: sluice, target: target)
        }
    }
}
