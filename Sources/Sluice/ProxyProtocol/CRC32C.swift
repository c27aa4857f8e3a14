// CRC32C (Castagnoli, RFC 4960 appendix B) for the PROXY v2 checksum TLV (spec §2.2.3): table-driven,
// eight bytes per step ("slicing-by-8"), in plain Swift so the fuzz build compiles it without the shim.

/// The Castagnoli CRC: reflected polynomial 0x82F63B78, initial value and final XOR 0xFFFFFFFF.
/// `checksum("123456789") == 0xE3069283`.
public enum CRC32C {
    /// The CRC32C of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        ~update(0xFFFF_FFFF, bytes)
    }

    /// The CRC32C of `bytes` as if the bytes in `zeroed` were 0: what a PROXY v2 receiver computes
    /// over a header without copying it to clear the CRC field.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, zeroing zeroed: Range<Int>) -> UInt32 {
        precondition(zeroed.lowerBound >= 0 && zeroed.upperBound <= bytes.count)
        var crc = update(0xFFFF_FFFF, UnsafeRawBufferPointer(rebasing: bytes[..<zeroed.lowerBound]))
        crc = updateZeros(crc, count: zeroed.count)
        crc = update(crc, UnsafeRawBufferPointer(rebasing: bytes[zeroed.upperBound...]))
        return ~crc
    }

    /// The CRC32C of an array (tests and callers without a buffer).
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    /// Runs the register `crc` (not inverted) over `bytes`.
    static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        let count = bytes.count
        guard count > 0 else { return crc }
        return crc32cTables.withUnsafeBufferPointer { table -> UInt32 in
            var crc = crc
            var index = 0
            while count - index >= 8 {
                // Fold the register into the first four bytes, then look up each byte in the table for
                // its distance from the end of the 8-byte block.
                let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self).littleEndian ^ UInt64(crc)
                crc =
                    table[7 &* 256 &+ Int(word & 0xFF)] ^ table[6 &* 256 &+ Int((word >> 8) & 0xFF)]
                    ^ table[5 &* 256 &+ Int((word >> 16) & 0xFF)] ^ table[4 &* 256 &+ Int((word >> 24) & 0xFF)]
                    ^ table[3 &* 256 &+ Int((word >> 32) & 0xFF)] ^ table[2 &* 256 &+ Int((word >> 40) & 0xFF)]
                    ^ table[256 &+ Int((word >> 48) & 0xFF)] ^ table[Int(word >> 56)]
                index &+= 8
            }
            while index < count {
                crc = table[Int((crc ^ UInt32(bytes[index])) & 0xFF)] ^ (crc >> 8)
                index &+= 1
            }
            return crc
        }
    }

    /// Runs the register over `count` zero bytes.
    static func updateZeros(_ crc: UInt32, count: Int) -> UInt32 {
        crc32cTables.withUnsafeBufferPointer { table -> UInt32 in
            var crc = crc
            for _ in 0..<count { crc = table[Int(crc & 0xFF)] ^ (crc >> 8) }
            return crc
        }
    }
}

/// Eight 256-entry tables: table k gives the CRC of a byte followed by k zero bytes.
private let crc32cTables: [UInt32] = {
    var tables = [UInt32](repeating: 0, count: 8 * 256)
    for byte in 0..<256 {
        var crc = UInt32(byte)
        for _ in 0..<8 { crc = (crc >> 1) ^ ((crc & 1) != 0 ? 0x82F6_3B78 : 0) }
        tables[byte] = crc
    }
    for k in 1..<8 {
        for byte in 0..<256 {
            let previous = tables[(k - 1) * 256 + byte]
            tables[k * 256 + byte] = (previous >> 8) ^ tables[Int(previous & 0xFF)]
        }
    }
    return tables
}()
