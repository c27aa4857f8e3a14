// IP addresses: strict text parsing (no leading zeros, no zone ids) and canonical RFC 5952 text,
// both working on raw bytes so the PROXY codec and the log writer never allocate.

/// An IPv4 address; `value` holds the four octets big-endian (a.b.c.d = a << 24 | … | d).
public struct IPv4Address: Hashable, Sendable, Comparable {
    public var value: UInt32
    public init(_ value: UInt32) { self.value = value }
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }
    public static func < (l: Self, r: Self) -> Bool { l.value < r.value }

    /// Longest text form: "255.255.255.255".
    public static let maxTextLength = 15
}

/// An IPv6 address as two big-endian halves (`high` holds bytes 0–7).
public struct IPv6Address: Hashable, Sendable {
    public var high: UInt64
    public var low: UInt64
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    public static let loopback = IPv6Address(high: 0, low: 1)
    public static let any = IPv6Address(high: 0, low: 0)

    /// The 16-bit group `index` (0–7), as written in text.
    @inline(__always) public func group(_ index: Int) -> UInt16 {
        let half = index < 4 ? high : low
        return UInt16(truncatingIfNeeded: half >> (UInt64(3 - index % 4) * 16))
    }

    /// `::ffff:a.b.c.d` for an IPv4 address.
    public init(mapping v4: IPv4Address) {
        high = 0
        low = 0xffff_0000_0000 | UInt64(v4.value)
    }

    /// The IPv4 address inside `::ffff:a.b.c.d`, or nil.
    public var mappedIPv4: IPv4Address? {
        guard high == 0, low >> 32 == 0xffff else { return nil }
        return IPv4Address(UInt32(truncatingIfNeeded: low))
    }

    /// Longest canonical text form: eight four-digit groups.
    public static let maxTextLength = 45
}

/// An IPv4 or IPv6 address.
public enum IPAddress: Hashable, Sendable {
    case v4(IPv4Address)
    case v6(IPv6Address)

    /// IPv4-mapped IPv6 addresses become IPv4, as Go (and so GOST) shows them.
    public var unmapped: IPAddress {
        if case .v6(let v6) = self, let v4 = v6.mappedIPv4 { return .v4(v4) }
        return self
    }

    /// The same address as IPv6 (`::ffff:a.b.c.d` for IPv4).
    public var asIPv6: IPv6Address {
        switch self {
        case .v4(let v4): IPv6Address(mapping: v4)
        case .v6(let v6): v6
        }
    }

    public var isIPv4: Bool {
        if case .v4 = self { return true }
        return false
    }
}

// MARK: - Parsing

extension IPv4Address {
    /// Parses dotted-quad text strictly: four decimal octets 0–255, no leading zeros, no signs.
    public init?(text: UnsafeRawBufferPointer) {
        var result: UInt32 = 0
        var octets = 0
        var index = 0
        let count = text.count
        while true {
            guard index < count else { return nil }
            let start = index
            var octet: UInt32 = 0
            while index < count, index - start < 4 {
                let byte = text[index]
                guard byte >= 0x30, byte <= 0x39 else { break }
                octet = octet * 10 + UInt32(byte - 0x30)
                index += 1
            }
            let digits = index - start
            if digits == 0 || digits > 3 || octet > 255 { return nil }
            if digits > 1 && text[start] == 0x30 { return nil }  // leading zero: octal ambiguity
            result = result << 8 | octet
            octets += 1
            if octets == 4 { break }
            guard index < count, text[index] == 0x2E else { return nil }
            index += 1
        }
        guard index == count else { return nil }
        value = result
    }

    public init?(_ text: String) {
        var text = text
        guard let parsed = text.withUTF8({ IPv4Address(text: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = parsed
    }
}

extension IPv6Address {
    /// Parses IPv6 text: hex groups of 1–4 digits (either case), at most one `::`, an optional
    /// trailing dotted quad; no zone ids, no brackets.
    public init?(text: UnsafeRawBufferPointer) {
        var words: (UInt64, UInt64) = (0, 0)  // storage for eight UInt16 groups, in text order
        let ok = withUnsafeMutableBytes(of: &words) { raw -> Bool in
            let groups = raw.bindMemory(to: UInt16.self)
            return IPv6Address.parseGroups(text, into: groups)
        }
        guard ok else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        withUnsafeBytes(of: words) { raw in
            for i in 0..<4 { high = high << 16 | UInt64(raw.load(fromByteOffset: i * 2, as: UInt16.self)) }
            for i in 4..<8 { low = low << 16 | UInt64(raw.load(fromByteOffset: i * 2, as: UInt16.self)) }
        }
        self.high = high
        self.low = low
    }

    /// Fills the eight `groups` from `text`; false when the text is not IPv6.
    private static func parseGroups(
        _ text: UnsafeRawBufferPointer, into groups: UnsafeMutableBufferPointer<UInt16>
    ) -> Bool {
        let count = text.count
        guard count >= 2 else { return false }
        var parsed = 0
        var gap = -1  // index in `groups` where `::` stands
        var index = 0
        if text[0] == 0x3A {
            guard text[1] == 0x3A else { return false }
            gap = 0
            index = 2
        }
        while index < count {
            guard parsed < 8 else { return false }
            let start = index
            var value: UInt32 = 0
            while index < count, index - start < 5, let nibble = hexValue(text[index]) {
                value = value << 4 | UInt32(nibble)
                index += 1
            }
            if index < count, text[index] == 0x2E {
                // An embedded dotted quad fills the last 32 bits.
                guard parsed <= 6,
                    let v4 = IPv4Address(text: UnsafeRawBufferPointer(rebasing: text[start..<count]))
                else { return false }
                groups[parsed] = UInt16(truncatingIfNeeded: v4.value >> 16)
                groups[parsed + 1] = UInt16(truncatingIfNeeded: v4.value)
                parsed += 2
                break
            }
            let digits = index - start
            guard digits >= 1, digits <= 4 else { return false }
            groups[parsed] = UInt16(value)
            parsed += 1
            if index == count { break }
            guard text[index] == 0x3A else { return false }
            index += 1
            if index < count, text[index] == 0x3A {
                guard gap == -1 else { return false }
                gap = parsed
                index += 1
            } else if index == count {
                return false  // a single trailing colon
            }
        }
        if gap == -1 { return parsed == 8 }
        guard parsed < 8 else { return false }  // `::` stands for at least one group
        // Move the groups after the gap to the end, back to front, and zero the gap.
        let tail = parsed - gap
        for i in stride(from: tail - 1, through: 0, by: -1) { groups[8 - tail + i] = groups[gap + i] }
        for i in gap..<(8 - tail) { groups[i] = 0 }
        return true
    }

    public init?(_ text: String) {
        var text = text
        guard let parsed = text.withUTF8({ IPv6Address(text: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = parsed
    }
}

@inline(__always) func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case 0x30...0x39: byte - 0x30
    case 0x61...0x66: byte - 0x61 + 10
    case 0x41...0x46: byte - 0x41 + 10
    default: nil
    }
}

extension IPAddress {
    /// Parses either family; IPv6 text must not carry brackets.
    public init?(text: UnsafeRawBufferPointer) {
        if let v4 = IPv4Address(text: text) {
            self = .v4(v4)
        } else if let v6 = IPv6Address(text: text) {
            self = .v6(v6)
        } else {
            return nil
        }
    }

    public init?(_ text: String) {
        var text = text
        guard let parsed = text.withUTF8({ IPAddress(text: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = parsed
    }
}

// MARK: - Formatting

/// Writes the decimal digits of `value` at `out`; returns how many bytes it wrote.
@inline(__always)
func writeDecimal(_ value: UInt64, to out: UnsafeMutablePointer<UInt8>) -> Int {
    if value < 10 {
        out[0] = 0x30 &+ UInt8(value)
        return 1
    }
    var digits = 0
    var rest = value
    while rest > 0 {
        digits += 1
        rest /= 10
    }
    rest = value
    for i in stride(from: digits - 1, through: 0, by: -1) {
        out[i] = 0x30 &+ UInt8(rest % 10)
        rest /= 10
    }
    return digits
}

private let hexDigits: StaticString = "0123456789abcdef"

extension IPv4Address: CustomStringConvertible {
    /// Writes "a.b.c.d" at `out` (at least `maxTextLength` bytes); returns the length.
    public func write(to out: UnsafeMutablePointer<UInt8>) -> Int {
        var n = 0
        for shift in stride(from: 24, through: 0, by: -8) {
            if shift != 24 {
                out[n] = 0x2E
                n += 1
            }
            n += writeDecimal(UInt64((value >> UInt32(shift)) & 0xff), to: out + n)
        }
        return n
    }

    public var description: String { formatText(Self.maxTextLength) { write(to: $0) } }
}

extension IPv6Address: CustomStringConvertible {
    /// Writes RFC 5952 text at `out` (at least `maxTextLength` bytes): lowercase, no leading zeros,
    /// the longest run (first on a tie) of two or more zero groups as `::`, and `::ffff:a.b.c.d` for
    /// IPv4-mapped addresses. Returns the length.
    public func write(to out: UnsafeMutablePointer<UInt8>) -> Int {
        if let v4 = mappedIPv4 {
            let prefix: StaticString = "::ffff:"
            prefix.withUTF8Buffer { for (i, b) in $0.enumerated() { out[i] = b } }
            return prefix.utf8CodeUnitCount + v4.write(to: out + prefix.utf8CodeUnitCount)
        }
        var bestStart = -1
        var bestLength = 0
        var runStart = -1
        for i in 0..<9 {
            if i < 8, group(i) == 0 {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                if i - runStart > bestLength {
                    bestStart = runStart
                    bestLength = i - runStart
                }
                runStart = -1
            }
        }
        if bestLength < 2 { bestStart = -1 }
        var n = 0
        var i = 0
        while i < 8 {
            if i == bestStart {
                out[n] = 0x3A
                out[n + 1] = 0x3A
                n += 2
                i += bestLength
                continue
            }
            if i > 0 && i != bestStart + bestLength {
                out[n] = 0x3A
                n += 1
            }
            let g = group(i)
            var started = false
            for shift in stride(from: 12, through: 0, by: -4) {
                let nibble = Int((g >> UInt16(shift)) & 0xf)
                if nibble != 0 || started || shift == 0 {
                    started = true
                    out[n] = hexDigits.withUTF8Buffer { $0[nibble] }
                    n += 1
                }
            }
            i += 1
        }
        return n
    }

    public var description: String { formatText(Self.maxTextLength) { write(to: $0) } }
}

extension IPAddress: CustomStringConvertible {
    public static let maxTextLength = IPv6Address.maxTextLength

    /// Writes the canonical text (no brackets); returns the length.
    public func write(to out: UnsafeMutablePointer<UInt8>) -> Int {
        switch self {
        case .v4(let a): a.write(to: out)
        case .v6(let a): a.write(to: out)
        }
    }

    public var description: String { formatText(Self.maxTextLength) { write(to: $0) } }
}

/// Builds a `String` from a writer that fills at most `capacity` bytes.
func formatText(_ capacity: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) -> String {
    String(unsafeUninitializedCapacity: capacity) { buffer in body(buffer.baseAddress!) }
}
