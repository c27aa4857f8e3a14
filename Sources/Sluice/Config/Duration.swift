// Go-style durations: parsing like `time.ParseDuration` ("300ms", "1.5h", "2h45m") and formatting
// like `time.Duration.String`, on Int64 nanoseconds (Swift's own `Duration` is a different type).

/// Go's duration text forms over `Int64` nanoseconds.
public enum GoDuration {
    /// One of each unit, in nanoseconds.
    public static let nanosecond: Int64 = 1
    public static let microsecond: Int64 = 1_000
    public static let millisecond: Int64 = 1_000_000
    public static let second: Int64 = 1_000_000_000
    public static let minute: Int64 = 60 * second
    public static let hour: Int64 = 60 * minute
    /// The longest duration a configuration may give (a year, either sign). Deadlines are
    /// `now + duration`; with this bound they stay centuries away from Int64's end.
    public static let longestConfigured: Int64 = 8760 * hour

    /// `now + duration`, saturating at `Int64.max` (a deadline that never comes) and at 1 (never 0,
    /// which means "no deadline").
    @inline(__always)
    public static func deadline(after now: Int64, _ duration: Int64) -> Int64 {
        let (sum, overflow) = now.addingReportingOverflow(duration)
        if overflow { return duration > 0 ? Int64.max : 1 }
        return max(sum, 1)
    }

    /// Why a text is not a duration; `message` reads like Go's (`time: missing unit in duration "5"`).
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        public init(message: String) { self.message = message }
        public var description: String { message }
    }

    /// Parses `[-+]?([0-9]*(\.[0-9]*)?unit)+` with units ns, us (µs, μs), ms, s, m, h, or a bare "0",
    /// exactly as Go's `time.ParseDuration` does, overflow checks included.
    public static func parse(_ text: String) throws(ParseError) -> Int64 {
        let invalid = ParseError(message: "time: invalid duration \"\(text)\"")
        var s = Array(text.utf8)[...]
        var negative = false
        if let sign = s.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") {
            negative = sign == UInt8(ascii: "-")
            s = s.dropFirst()
        }
        if s.elementsEqual("0".utf8) { return 0 }
        if s.isEmpty { throw invalid }
        let limit: UInt64 = 1 << 63
        var total: UInt64 = 0
        while let first = s.first {
            guard first == UInt8(ascii: ".") || isDigit(first) else { throw invalid }
            // The integer part.
            var whole: UInt64 = 0
            var pre = false
            while let c = s.first, isDigit(c) {
                guard whole <= limit / 10 else { throw invalid }
                whole = whole * 10 + UInt64(c - UInt8(ascii: "0"))
                guard whole <= limit else { throw invalid }
                s = s.dropFirst()
                pre = true
            }
            // The fraction; digits beyond what fits are dropped, as Go does.
            var fraction: UInt64 = 0
            var scale: Double = 1
            var post = false
            if s.first == UInt8(ascii: ".") {
                s = s.dropFirst()
                var overflow = false
                while let c = s.first, isDigit(c) {
                    s = s.dropFirst()
                    post = true
                    if overflow { continue }
                    if fraction > (limit - 1) / 10 {
                        overflow = true
                        continue
                    }
                    let next = fraction * 10 + UInt64(c - UInt8(ascii: "0"))
                    if next > limit {
                        overflow = true
                        continue
                    }
                    fraction = next
                    scale *= 10
                }
            }
            guard pre || post else { throw invalid }
            // The unit: everything up to the next digit or dot.
            var unitEnd = s.startIndex
            while unitEnd < s.endIndex, s[unitEnd] != UInt8(ascii: "."), !isDigit(s[unitEnd]) { unitEnd += 1 }
            let unitText = String(decoding: s[s.startIndex..<unitEnd], as: UTF8.self)
            guard !unitText.isEmpty else {
                throw ParseError(message: "time: missing unit in duration \"\(text)\"")
            }
            guard let unit = units[unitText] else {
                throw ParseError(message: "time: unknown unit \"\(unitText)\" in duration \"\(text)\"")
            }
            s = s[unitEnd...]
            guard whole <= limit / unit else { throw invalid }
            var value = whole * unit
            if fraction > 0 {
                value += UInt64(Double(fraction) * (Double(unit) / scale))
                guard value <= limit else { throw invalid }
            }
            let (sum, overflow) = total.addingReportingOverflow(value)
            guard !overflow, sum <= limit else { throw invalid }
            total = sum
        }
        if negative { return Int64(bitPattern: 0 &- total) }
        guard total <= limit - 1 else { throw invalid }
        return Int64(total)
    }

    /// GOST's metadata reading (`GetDuration`): Go duration text, and when that fails or gives
    /// zero, a plain integer counts seconds ("10" is 10s). Nil when it is neither.
    public static func parseMetadata(_ text: String) -> Int64? {
        if let value = try? parse(text), value != 0 { return value }
        guard let seconds = Int64(text) else { return nil }
        let (product, overflow) = seconds.multipliedReportingOverflow(by: second)
        return overflow ? nil : product
    }

    /// Formats like Go's `Duration.String`: "0s", "1.5s", "300ms", "2h45m0s", "-1µs".
    public static func format(_ nanoseconds: Int64) -> String {
        let negative = nanoseconds < 0
        var u = nanoseconds.magnitude
        var text: String
        if u < UInt64(second) {
            // Under a second: the largest unit below it, with a fraction.
            if u == 0 { return "0s" }
            let unit: String
            let precision: Int
            if u < UInt64(microsecond) {
                (unit, precision) = ("ns", 0)
            } else if u < UInt64(millisecond) {
                (unit, precision) = ("µs", 3)
            } else {
                (unit, precision) = ("ms", 6)
            }
            let (whole, fraction) = split(u, precision: precision)
            text = String(whole) + fraction + unit
        } else {
            let (seconds, fraction) = split(u, precision: 9)
            u = seconds
            text = String(u % 60) + fraction + "s"
            u /= 60
            if u > 0 {
                text = String(u % 60) + "m" + text
                u /= 60
                if u > 0 { text = String(u) + "h" + text }
            }
        }
        return negative ? "-" + text : text
    }

    /// `value / 10^precision` and its fraction as ".ddd" without trailing zeros ("" when zero).
    private static func split(_ value: UInt64, precision: Int) -> (UInt64, String) {
        var v = value
        var digits: [Character] = []
        var printing = false
        for _ in 0..<precision {
            let digit = v % 10
            printing = printing || digit != 0
            if printing { digits.append(Character(String(digit))) }
            v /= 10
        }
        return (v, digits.isEmpty ? "" : "." + String(digits.reversed()))
    }

    private static let units: [String: UInt64] = [
        "ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
        "m": 60_000_000_000, "h": 3_600_000_000_000,
    ]
}

@inline(__always) func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
