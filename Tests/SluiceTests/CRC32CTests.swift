// Tests for CRC32C: the check value, RFC 3720 test vectors, the bit-by-bit reference on random data
// (every length around the 8-byte steps), and checksums with a zeroed field.
import Sluice
import Testing

/// proxy-protocol.md §1.3's bit-by-bit reference.
private func referenceCRC32C(_ data: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in data {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = (crc >> 1) ^ ((crc & 1) != 0 ? 0x82F6_3B78 : 0) }
    }
    return crc ^ 0xFFFF_FFFF
}

@Suite struct CRC32CTests {
    @Test(arguments: [
        ("check value", ascii("123456789"), UInt32(0xE306_9283)),
        ("empty", [], 0),
        // RFC 3720 appendix B.4 (iSCSI): 32 bytes of zeros, of ones, incrementing, decrementing.
        ("zeros", [UInt8](repeating: 0, count: 32), 0x8A91_36AA),
        ("ones", [UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
        ("incrementing", (0..<32).map { UInt8($0) }, 0x46DD_794E),
        ("decrementing", (0..<32).reversed().map { UInt8($0) }, 0x113F_DB5C),
    ])
    func knownValues(id: String, data: [UInt8], expected: UInt32) {
        #expect(CRC32C.checksum(data) == expected, "\(id)")
        #expect(referenceCRC32C(data) == expected, "\(id)")
    }

    @Test func matchesReferenceOnRandomData() {
        var random = SplitMix64(seed: 0xC4C3_2C00)
        for length in 0..<300 {
            let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            #expect(CRC32C.checksum(data) == referenceCRC32C(data), "length \(length)")
            // Unaligned starts take the same path.
            if length > 3 {
                let tail = Array(data[3...])
                let viaSlice = data.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[3...])) }
                #expect(viaSlice == referenceCRC32C(tail))
            }
        }
    }

    @Test func zeroedRange() {
        var random = SplitMix64(seed: 7)
        for _ in 0..<200 {
            let length = Int.random(in: 0...200, using: &random)
            let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            let start = Int.random(in: 0...length, using: &random)
            let end = Int.random(in: start...length, using: &random)
            var zeroed = data
            for i in start..<end { zeroed[i] = 0 }
            let crc = data.withUnsafeBytes { CRC32C.checksum($0, zeroing: start..<end) }
            #expect(crc == referenceCRC32C(zeroed))
        }
    }
}
