// Property tests for the PROXY codec with a seeded SplitMix64: encode → parse round trips, strict
// prefixes need more, single-byte corruptions never pass for the original, trickled = whole.
import Sluice
import Testing

@Suite struct ProxyPropertyTests {
    static let parser = ProxyParser()

    /// IPv4, IPv6 with zero runs (to exercise `::`), or IPv4-mapped IPv6, with a random port.
    static func randomAddress(_ random: inout SplitMix64) -> SocketAddress {
        let port = UInt16.random(in: 0...65535, using: &random)
        switch random.next() % 3 {
        case 0:
            return SocketAddress(.v4(IPv4Address(UInt32.random(in: 0...UInt32.max, using: &random))), port: port)
        case 1:
            var halves: [UInt64] = [0, 0]
            for group in 0..<8 where random.next() % 5 < 3 {
                halves[group / 4] |=
                    UInt64(UInt16.random(in: 0...0xFFFF, using: &random)) << (UInt64(3 - group % 4) * 16)
            }
            return SocketAddress(.v6(IPv6Address(high: halves[0], low: halves[1])), port: port)
        default:
            let v4 = IPv4Address(UInt32.random(in: 0...UInt32.max, using: &random))
            return SocketAddress(.v6(IPv6Address(mapping: v4)), port: port)
        }
    }

    static let authorityPieces = ["a", "z", "0", "9", ".", "-", "é", "例", "🙂", "\u{0}"]

    static func randomTLVs(_ random: inout SplitMix64) -> ProxyEncodeTLVs {
        var tlvs = ProxyEncodeTLVs()
        if random.next() % 2 == 0 { tlvs.alpn = randomBytes(&random, upTo: 24) }
        if random.next() % 2 == 0 {
            let limit = Int.random(in: 0...255, using: &random)
            var text = ""
            while true {
                let piece = authorityPieces.randomElement(using: &random)!
                if text.utf8.count + piece.utf8.count > limit { break }
                text += piece
            }
            tlvs.authority = text
        }
        if random.next() % 2 == 0 { tlvs.uniqueID = randomBytes(&random, upTo: 128) }
        if random.next() % 3 == 0 { tlvs.noopPadding = Int.random(in: 0...40, using: &random) }
        tlvs.crc32c = random.next() % 2 == 0
        return tlvs
    }

    static func randomBytes(_ random: inout SplitMix64, upTo limit: Int) -> [UInt8] {
        (0..<Int.random(in: 0...limit, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
    }

    /// The addresses a header says after encoding: mixed families become IPv6 with the IPv4 side mapped.
    static func encodedAddresses(_ source: SocketAddress, _ destination: SocketAddress) -> (ProxyFamily, ProxyAddresses)
    {
        if source.ip.isIPv4 && destination.ip.isIPv4 { return (.inet, .inet(source: source, destination: destination)) }
        return (
            .inet6,
            .inet(
                source: SocketAddress(.v6(source.ip.asIPv6), port: source.port),
                destination: SocketAddress(.v6(destination.ip.asIPv6), port: destination.port))
        )
    }

    /// The header `writeV2` should produce; `crc` is the value read back (checked separately).
    static func expectedV2(
        _ source: SocketAddress?, _ destination: SocketAddress?, _ tlvs: ProxyEncodeTLVs, crc: UInt32?
    )
        -> ProxyHeader
    {
        var list: [ProxyTLV] = []
        if let alpn = tlvs.alpn { list.append(.alpn(alpn)) }
        if let authority = tlvs.authority { list.append(.authority(authority)) }
        if let uniqueID = tlvs.uniqueID { list.append(.uniqueID(uniqueID)) }
        if let padding = tlvs.noopPadding { list.append(.noop(count: padding)) }
        if tlvs.crc32c { list.append(.crc32c(crc ?? 0)) }
        guard let source, let destination else { return v2Local(tlvs: list) }
        let (family, addresses) = encodedAddresses(source, destination)
        return ProxyHeader(
            version: .v2, command: .proxy, family: family, transport: .stream, addresses: addresses, tlvs: list)
    }

    static func expectedV1(_ source: SocketAddress?, _ destination: SocketAddress?) -> ProxyHeader {
        guard let source, let destination else { return v1Unknown }
        let (family, addresses) = encodedAddresses(source, destination)
        return ProxyHeader(version: .v1, command: .proxy, family: family, transport: .stream, addresses: addresses)
    }

    /// A random header: its bytes, the header they encode, and the byte range of any NOOP value.
    static func randomHeader(
        _ random: inout SplitMix64
    ) throws -> (bytes: [UInt8], header: ProxyHeader, noop: Range<Int>) {
        let source = random.next() % 10 == 0 ? nil : randomAddress(&random)
        let destination = random.next() % 10 == 0 ? nil : randomAddress(&random)
        if random.next() % 3 == 0 { return (try encodeV1(source, destination), expectedV1(source, destination), 0..<0) }
        let tlvs = randomTLVs(&random)
        let bytes = try encodeV2(source, destination, tlvs)
        var crc: UInt32?
        if tlvs.crc32c {
            // The CRC is checked independently: over the header with its 4 value bytes zeroed.
            let sent =
                UInt32(bytes[bytes.count - 4]) << 24 | UInt32(bytes[bytes.count - 3]) << 16
                | UInt32(bytes[bytes.count - 2]) << 8 | UInt32(bytes[bytes.count - 1])
            #expect(CRC32C.checksum(Array(bytes.dropLast(4)) + [0, 0, 0, 0]) == sent)
            crc = sent
        }
        let noopEnd = bytes.count - (tlvs.crc32c ? 7 : 0)
        return (bytes, expectedV2(source, destination, tlvs, crc: crc), (noopEnd - (tlvs.noopPadding ?? 0))..<noopEnd)
    }

    @Test func encodeThenParseRoundTrips() throws {
        var random = SplitMix64(seed: 0x5107_CE01)
        for _ in 0..<3000 {
            let (bytes, header, _) = try Self.randomHeader(&random)
            let payload = Self.randomBytes(&random, upTo: 16)
            #expect(Self.parser.parse(bytes + payload) == .header(header, consumed: bytes.count))
            #expect(bytes.count <= Self.parser.maxHeaderLength)
        }
    }

    /// Every strict prefix answers `.needMore`, with a lower bound the full header respects.
    @Test func strictPrefixesNeedMore() throws {
        var random = SplitMix64(seed: 0x9EF1_0001)
        for _ in 0..<400 {
            let (bytes, _, _) = try Self.randomHeader(&random)
            bytes.withUnsafeBytes { raw in
                for length in 0..<bytes.count {
                    let result = Self.parser.parse(UnsafeRawBufferPointer(rebasing: raw[..<length]))
                    guard case .needMore(let atLeast) = result else {
                        Issue.record("prefix \(length) of \(bytes.count): \(result)")
                        return
                    }
                    #expect(atLeast >= 1 && length + atLeast <= bytes.count)
                }
            }
        }
    }

    /// Changing any one byte never yields the original header (except where the spec makes the byte
    /// irrelevant: hex letter case in v1, NOOP padding without a CRC), never crashes, and a broken
    /// signature gives `.notProxy`. Trickling the corrupted bytes gives the same answer as all at once.
    @Test func singleByteCorruption() throws {
        var random = SplitMix64(seed: 0xBAD_B17E)
        var outcomes = [0, 0, 0, 0]  // needMore, notProxy, header, invalid
        for round in 0..<250 {
            let (bytes, header, noop) = try Self.randomHeader(&random)
            let signatureLength = header.version == .v1 ? 6 : 12
            for position in 0..<bytes.count {
                var corrupted = bytes
                corrupted[position] = bytes[position] &+ UInt8.random(in: 1...255, using: &random)
                let result = Self.parser.parse(corrupted)
                switch result {
                case .needMore: outcomes[0] += 1
                case .notProxy: outcomes[1] += 1
                case .header(let parsed, let consumed):
                    outcomes[2] += 1
                    #expect(consumed <= corrupted.count)
                    if parsed == header && consumed == bytes.count {
                        let old = bytes[position]
                        let caseFlip =
                            header.version == .v1 && (0x61...0x66).contains(old) && corrupted[position] == old - 0x20
                        #expect(caseFlip || noop.contains(position), "corrupting byte \(position) kept the header")
                    }
                case .invalid: outcomes[3] += 1
                }
                #expect((result == .notProxy) == (position < signatureLength), "byte \(position): \(result)")
                if round % 8 == 0, !result.isNeedMore { #expect(parseTrickled(corrupted).0 == result) }
            }
        }
        // Every kind of answer shows up, so the corruptions reach every branch.
        #expect(outcomes.allSatisfy { $0 > 0 }, "\(outcomes)")
    }

    /// Growing prefixes give the same answer as the whole input, decided at the header's last byte.
    @Test func trickledEqualsWhole() throws {
        var random = SplitMix64(seed: 0x7121_C4ED)
        for _ in 0..<300 {
            let (bytes, header, _) = try Self.randomHeader(&random)
            let input = bytes + Self.randomBytes(&random, upTo: 8)
            let (result, at) = parseTrickled(input)
            #expect(result == .header(header, consumed: bytes.count))
            #expect(at == bytes.count)
        }
    }
}
