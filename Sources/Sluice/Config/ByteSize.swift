// Byte sizes in metadata (`reply=1MiB`, `64KiB`, `10MB`, `4096`): the text form, its units, and the
// typed getter. Decimal units are powers of 1000 and binary ones of 1024, as go-humanize reads them.

/// Parses byte-size text.
public enum ByteSize {
    /// The bytes `text` stands for: a decimal integer, optionally followed (after optional spaces)
    /// by a unit, in any case: `B`; `k`/`kB`, `M`/`MB`, `G`/`GB`, `T`/`TB` (powers of 1000);
    /// `Ki`/`KiB`, `Mi`/`MiB`, `Gi`/`GiB`, `Ti`/`TiB` (powers of 1024). Nil for anything else,
    /// for a sign or a fraction, and for a value past `Int64.max`.
    public static func parse(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        var index = 0
        var value: Int64 = 0
        while index < bytes.count, (0x30...0x39).contains(bytes[index]) {
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int64(bytes[index] - 0x30))
            guard !o1, !o2 else { return nil }
            value = sum
            index += 1
        }
        guard index > 0 else { return nil }
        while index < bytes.count, bytes[index] == 0x20 { index += 1 }
        let unit = String(decoding: bytes[index...], as: UTF8.self).lowercased()
        guard let multiplier = multipliers[unit] else { return nil }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : product
    }

    /// Unit (lowercased) → bytes.
    private static let multipliers: [String: Int64] = {
        var table: [String: Int64] = ["": 1, "b": 1]
        for (power, letter) in ["k", "m", "g", "t"].enumerated() {
            var decimal: Int64 = 1
            var binary: Int64 = 1
            for _ in 0...power {
                decimal *= 1000
                binary *= 1024
            }
            table[letter] = decimal
            table[letter + "b"] = decimal
            table[letter + "i"] = binary
            table[letter + "ib"] = binary
        }
        return table
    }()
}

extension Metadata {
    /// A byte count ≥ 0: an integer, an integral float, or text `ByteSize.parse` reads (`1MiB`).
    public func byteSize(_ keys: String...) throws(MetadataError) -> Int64? {
        var found: (String, MetadataValue)?
        for key in keys {
            if let value = self[key] {
                found = (key, value)
                break
            }
        }
        guard let (key, value) = found else { return nil }
        let error = MetadataError(
            key: key, value: value.text ?? "[container]", expected: "a byte size such as 4096, 64KiB, 1MiB or 10MB")
        switch value {
        case .int(let i):
            guard i >= 0 else { throw error }
            return Int64(i)
        case .float(let f):
            guard f >= 0, f == f.rounded(), let i = Int64(exactly: f) else { throw error }
            return i
        case .string(let s):
            guard let size = ByteSize.parse(trimSpace(s)) else { throw error }
            return size
        case .bool, .list, .map: throw error
        }
    }
}
