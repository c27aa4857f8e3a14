// LineBuilder: builds one GOST-style JSON log line (keys sorted, logrus time format) into a
// reusable byte buffer. Values are written straight from addresses and integers: no String
// building on the connection path except for error texts.
import Glibc

/// A log field value.
public enum LogValue {
    /// Free text, JSON-escaped.
    case text(String)
    /// A constant known to need no escaping.
    case literal(StaticString)
    case address(SocketAddress)
    case integer(Int64)
    /// `"<a> <arrow> <b>"`, GOST's connection message shape (e.g. `1.2.3.4:5 <> 6.7.8.9:10`).
    case flow(SocketAddress, StaticString, SocketAddress)
    /// `"<a> <arrow> <text>"` where the far side is a name (e.g. `1.2.3.4:5 <-> example.com:80`).
    case flowText(SocketAddress, StaticString, String)
    case sid(SessionID)
}

/// The local time of day for log lines, recomputed once per second.
public struct LogClock {
    private var second: Int64 = -1
    private var prefix: (UInt64, UInt64, UInt64) = (0, 0, 0)  // "2006-01-02T15:04:05" (19 bytes)
    private var zone: (UInt64, UInt64) = (0, 0)  // "Z" or "+08:00"
    private var zoneLength = 0

    public init() {}

    /// Writes `2006-01-02T15:04:05.000Z07:00` for `wall` (ns since the epoch) into `out`.
    public mutating func write(wall: Int64, into out: inout [UInt8]) {
        let seconds = wall / nanosecondsPerSecond
        if seconds != second { refresh(seconds) }
        withUnsafeBytes(of: prefix) { out.append(contentsOf: $0.prefix(19)) }
        let millis = Int((wall % nanosecondsPerSecond) / nanosecondsPerMillisecond)
        out.append(0x2E)
        out.append(UInt8(0x30 + millis / 100))
        out.append(UInt8(0x30 + millis / 10 % 10))
        out.append(UInt8(0x30 + millis % 10))
        withUnsafeBytes(of: zone) { out.append(contentsOf: $0.prefix(zoneLength)) }
    }

    private mutating func refresh(_ seconds: Int64) {
        second = seconds
        var t = time_t(seconds)
        var parts = tm()
        localtime_r(&t, &parts)
        // "2006-01-02T15:04:05", written straight into the tuple (no array: this runs every second).
        withUnsafeMutableBytes(of: &prefix) { raw in
            func put(_ offset: Int, _ value: Int, digits: Int) {
                var v = value
                for d in stride(from: digits - 1, through: 0, by: -1) {
                    raw[offset + d] = UInt8(0x30 + v % 10)
                    v /= 10
                }
            }
            put(0, Int(parts.tm_year) + 1900, digits: 4)
            raw[4] = 0x2D
            put(5, Int(parts.tm_mon) + 1, digits: 2)
            raw[7] = 0x2D
            put(8, Int(parts.tm_mday), digits: 2)
            raw[10] = 0x54
            put(11, Int(parts.tm_hour), digits: 2)
            raw[13] = 0x3A
            put(14, Int(parts.tm_min), digits: 2)
            raw[16] = 0x3A
            put(17, Int(parts.tm_sec), digits: 2)
        }
        // "Z" for UTC, else "+08:00".
        let offset = Int(parts.tm_gmtoff)
        withUnsafeMutableBytes(of: &zone) { raw in
            if offset == 0 {
                raw[0] = 0x5A
                zoneLength = 1
                return
            }
            let minutes = abs(offset) / 60
            raw[0] = offset < 0 ? 0x2D : 0x2B
            raw[1] = UInt8(0x30 + minutes / 600)
            raw[2] = UInt8(0x30 + minutes / 60 % 10)
            raw[3] = 0x3A
            raw[4] = UInt8(0x30 + minutes % 60 / 10)
            raw[5] = UInt8(0x30 + minutes % 10)
            zoneLength = 6
        }
    }
}

/// Collects the fields of one line, then writes them sorted by key as one JSON object.
public struct LineBuilder {
    private var keys: [StaticString] = []
    private var values: [LogValue] = []
    private var order: [Int] = []
    public private(set) var output: [UInt8] = []

    public init() {
        keys.reserveCapacity(24)
        values.reserveCapacity(24)
        order.reserveCapacity(24)
        output.reserveCapacity(1024)
    }

    /// Starts a new line, forgetting the fields of the last one.
    public mutating func begin() {
        keys.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
    }

    public mutating func add(_ key: StaticString, _ value: LogValue) {
        keys.append(key)
        values.append(value)
    }

    /// Appends the line (with `level`, `time` and a newline) to `output`.
    public mutating func write(level: LogLevel, wall: Int64, clock: inout LogClock) {
        order.removeAll(keepingCapacity: true)
        add("level", .literal(level.staticName))
        add("time", .integer(0))
        var i = 0
        while i < keys.count {
            // Insertion sort: lines have about fifteen fields, mostly added in order.
            var j = order.count
            order.append(i)
            while j > 0 && Self.less(keys[i], keys[order[j - 1]]) {
                order[j] = order[j - 1]
                j -= 1
            }
            order[j] = i
            i += 1
        }
        output.append(0x7B)
        var n = 0
        while n < order.count {
            let i = order[n]
            if n > 0 { output.append(0x2C) }
            n += 1
            output.append(0x22)
            keys[i].withUTF8Buffer { output.append(contentsOf: $0) }
            output.append(0x22)
            output.append(0x3A)
            if keys[i].utf8CodeUnitCount == 4 && Self.same(keys[i], "time") {
                output.append(0x22)
                clock.write(wall: wall, into: &output)
                output.append(0x22)
            } else {
                writeValue(values[i])
            }
        }
        output.append(0x7D)
        output.append(0x0A)
    }

    /// Convenience for one-off lines: the finished line as a String.
    public mutating func finish(level: LogLevel, clock: inout LogClock) -> String {
        output.removeAll(keepingCapacity: true)
        write(level: level, wall: wallNanoseconds(), clock: &clock)
        return String(decoding: output, as: UTF8.self)
    }

    /// Forgets the written lines (after they were handed to the sink).
    public mutating func clearOutput() { output.removeAll(keepingCapacity: true) }

    private mutating func writeValue(_ value: LogValue) {
        switch value {
        case .text(let s):
            output.append(0x22)
            appendEscaped(s)
            output.append(0x22)
        case .literal(let s):
            output.append(0x22)
            s.withUTF8Buffer { output.append(contentsOf: $0) }
            output.append(0x22)
        case .address(let a):
            output.append(0x22)
            appendAddress(a)
            output.append(0x22)
        case .integer(let v):
            appendInteger(v)
        case .flow(let a, let arrow, let b):
            output.append(0x22)
            appendAddress(a)
            output.append(0x20)
            arrow.withUTF8Buffer { output.append(contentsOf: $0) }
            output.append(0x20)
            appendAddress(b)
            output.append(0x22)
        case .sid(let id):
            output.append(0x22)
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: SessionID.textLength) { buffer in
                id.write(to: buffer.baseAddress!)
                output.append(contentsOf: buffer)
            }
            output.append(0x22)
        case .flowText(let a, let arrow, let b):
            output.append(0x22)
            appendAddress(a)
            output.append(0x20)
            arrow.withUTF8Buffer { output.append(contentsOf: $0) }
            output.append(0x20)
            appendEscaped(b)
            output.append(0x22)
        }
    }

    private mutating func appendAddress(_ a: SocketAddress) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: SocketAddress.maxTextLength) { buffer in
            let n = a.write(to: buffer.baseAddress!)
            output.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[..<n]))
        }
    }

    private mutating func appendInteger(_ v: Int64) {
        if v < 0 {
            output.append(0x2D)
            appendUnsigned(UInt64(0 &- v))  // magnitude; Int64.min wraps to its own magnitude
        } else {
            appendUnsigned(UInt64(v))
        }
    }

    private mutating func appendUnsigned(_ v: UInt64) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buffer in
            let n = writeDecimal(v, to: buffer.baseAddress!)
            output.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[..<n]))
        }
    }

    private mutating func appendEscaped(_ s: String) {
        for byte in s.utf8 {
            switch byte {
            case 0x22: output.append(contentsOf: [0x5C, 0x22])
            case 0x5C: output.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: output.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: output.append(contentsOf: [0x5C, 0x72])
            case 0x09: output.append(contentsOf: [0x5C, 0x74])
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                output.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xf)]])
            default: output.append(byte)
            }
        }
    }

    private static func less(_ a: StaticString, _ b: StaticString) -> Bool {
        let n = min(a.utf8CodeUnitCount, b.utf8CodeUnitCount)
        let c = memcmp(a.utf8Start, b.utf8Start, n)
        return c < 0 || (c == 0 && a.utf8CodeUnitCount < b.utf8CodeUnitCount)
    }

    private static func same(_ a: StaticString, _ b: StaticString) -> Bool {
        a.utf8CodeUnitCount == b.utf8CodeUnitCount && memcmp(a.utf8Start, b.utf8Start, a.utf8CodeUnitCount) == 0
    }
}
