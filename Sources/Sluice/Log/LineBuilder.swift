// LineBuilder: builds GOST-style JSON log lines (keys sorted, logrus time format) into one reusable
// raw buffer. The keys are a fixed set whose order is their sort order, so a line is written by
// walking the keys once: no sorting, no per-byte array appends, no String building except for
// error texts.
import Glibc

/// The keys a log line may carry, declared in sorted (byte) order: the raw value is the rank.
public enum LogKey: Int, CaseIterable, Sendable {
    case client, dst, duration, handler, host, inputBytes, kind, level, listener, local, msg, network, node
    case outputBytes, reason, remote, service, sid, src, time, user

    /// The key's JSON text, quotes and colon included (`"client":`).
    var quoted: StaticString {
        switch self {
        case .client: "\"client\":"
        case .dst: "\"dst\":"
        case .duration: "\"duration\":"
        case .handler: "\"handler\":"
        case .host: "\"host\":"
        case .inputBytes: "\"inputBytes\":"
        case .kind: "\"kind\":"
        case .level: "\"level\":"
        case .listener: "\"listener\":"
        case .local: "\"local\":"
        case .msg: "\"msg\":"
        case .network: "\"network\":"
        case .node: "\"node\":"
        case .outputBytes: "\"outputBytes\":"
        case .reason: "\"reason\":"
        case .remote: "\"remote\":"
        case .service: "\"service\":"
        case .sid: "\"sid\":"
        case .src: "\"src\":"
        case .time: "\"time\":"
        case .user: "\"user\":"
        }
    }
}

/// Text escaped for JSON once and kept for the life of the process: the names a service logs on every
/// line (service, handler, listener, node, target), written without escaping or reference counting.
public struct LogText: @unchecked Sendable {
    let base: UnsafeMutablePointer<UInt8>
    let count: Int

    /// Escapes `text`; the bytes are never freed (services live as long as the process).
    public init(_ text: String) {
        var builder = LineBuilder()
        defer { builder.deallocate() }
        builder.putEscaped(text)
        count = builder.count
        base = .allocate(capacity: max(count, 1))
        base.update(from: builder.output.bindMemory(to: UInt8.self).baseAddress!, count: count)
    }
}

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
    case flowText(SocketAddress, StaticString, LogText)
    /// Pre-escaped text.
    case escaped(LogText)
    case sid(SessionID)
}

/// Collects the fields of one line, then writes them in key order as one JSON object.
public struct LineBuilder {
    private var values: [LogValue]
    private var present: UInt32 = 0
    /// The finished lines not yet handed on.
    private var buffer: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    public private(set) var count = 0

    public init() {
        values = Array(repeating: .integer(0), count: LogKey.allCases.count)
        capacity = 64 * 1024
        buffer = .allocate(capacity: capacity)
    }

    /// Frees the buffer (the builder's owner calls this when it goes away).
    public func deallocate() { buffer.deallocate() }

    /// The finished lines, for handing to the sink.
    public var output: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: buffer, count: count) }

    /// Starts a new line, forgetting the fields of the last one.
    @inline(__always)
    public mutating func begin() { present = 0 }

    /// Sets a field (a later value for the same key replaces the earlier one).
    @inline(__always)
    public mutating func add(_ key: LogKey, _ value: LogValue) {
        values[key.rawValue] = value
        present |= 1 << UInt32(key.rawValue)
    }

    /// Appends the line (with `level`, `time` and a newline) to the output.
    public mutating func write(level: LogLevel, wall: Int64, clock: inout LogClock) {
        add(.level, .literal(level.staticName))
        present |= 1 << UInt32(LogKey.time.rawValue)
        reserve(4096)
        put(0x7B)
        var first = true
        var rest = present
        while rest != 0 {
            let rank = rest.trailingZeroBitCount
            rest &= rest - 1
            if !first { put(0x2C) }
            first = false
            let key = LogKey(rawValue: rank)!
            put(key.quoted)
            if key == .time {
                put(0x22)
                reserve(48)
                count += clock.write(wall: wall, into: buffer + count)
                put(0x22)
            } else {
                writeValue(values[rank])
            }
        }
        put(0x7D)
        put(0x0A)
    }

    /// Convenience for one-off lines: the finished line as a String.
    public mutating func finish(level: LogLevel, clock: inout LogClock) -> String {
        clearOutput()
        write(level: level, wall: wallNanoseconds(), clock: &clock)
        return String(decoding: output, as: UTF8.self)
    }

    /// Forgets the written lines (after they were handed to the sink).
    public mutating func clearOutput() { count = 0 }

    // MARK: - Writing

    /// Makes room for `more` bytes.
    private mutating func reserve(_ more: Int) {
        guard count + more > capacity else { return }
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: max(capacity * 2, count + more))
        grown.update(from: buffer, count: count)
        buffer.deallocate()
        buffer = grown
        capacity = max(capacity * 2, count + more)
    }

    @inline(__always) private mutating func put(_ byte: UInt8) {
        reserve(1)
        buffer[count] = byte
        count += 1
    }

    @inline(__always) private mutating func put(_ text: StaticString) {
        reserve(text.utf8CodeUnitCount)
        (buffer + count).update(from: text.utf8Start, count: text.utf8CodeUnitCount)
        count += text.utf8CodeUnitCount
    }

    private mutating func writeValue(_ value: LogValue) {
        switch value {
        case .text(let s):
            put(0x22)
            putEscaped(s)
            put(0x22)
        case .literal(let s):
            put(0x22)
            put(s)
            put(0x22)
        case .address(let a):
            put(0x22)
            putAddress(a)
            put(0x22)
        case .integer(let v):
            reserve(21)
            if v < 0 {
                buffer[count] = 0x2D
                count += 1
            }
            count += writeDecimal(v.magnitude, to: buffer + count)
        case .flow(let a, let arrow, let b):
            put(0x22)
            putAddress(a)
            put(0x20)
            put(arrow)
            put(0x20)
            putAddress(b)
            put(0x22)
        case .flowText(let a, let arrow, let b):
            put(0x22)
            putAddress(a)
            put(0x20)
            put(arrow)
            put(0x20)
            put(b)
            put(0x22)
        case .escaped(let text):
            put(0x22)
            put(text)
            put(0x22)
        case .sid(let id):
            reserve(SessionID.textLength + 2)
            put(0x22)
            id.write(to: buffer + count)
            count += SessionID.textLength
            put(0x22)
        }
    }

    @inline(__always) private mutating func put(_ text: LogText) {
        reserve(text.count)
        (buffer + count).update(from: text.base, count: text.count)
        count += text.count
    }

    @inline(__always) private mutating func putAddress(_ a: SocketAddress) {
        reserve(SocketAddress.maxTextLength)
        count += a.write(to: buffer + count)
    }

    /// JSON string escaping: quote, backslash and control characters; everything else as is.
    mutating func putEscaped(_ s: String) {
        var s = s
        s.withUTF8 { bytes in
            reserve(bytes.count * 6)
            for byte in bytes {
                switch byte {
                case 0x22, 0x5C:
                    buffer[count] = 0x5C
                    buffer[count + 1] = byte
                    count += 2
                case 0x0A, 0x0D, 0x09:
                    buffer[count] = 0x5C
                    buffer[count + 1] = byte == 0x0A ? 0x6E : byte == 0x0D ? 0x72 : 0x74
                    count += 2
                case 0..<0x20:
                    let hex: StaticString = "0123456789abcdef"
                    buffer[count] = 0x5C
                    buffer[count + 1] = 0x75
                    buffer[count + 2] = 0x30
                    buffer[count + 3] = 0x30
                    buffer[count + 4] = hex.utf8Start[Int(byte >> 4)]
                    buffer[count + 5] = hex.utf8Start[Int(byte & 0xf)]
                    count += 6
                default:
                    buffer[count] = byte
                    count += 1
                }
            }
        }
    }
}

/// The local time of day for log lines, recomputed once per second.
public struct LogClock {
    private var second: Int64 = -1
    private var prefix: (UInt64, UInt64, UInt64) = (0, 0, 0)  // "2006-01-02T15:04:05" (19 bytes)
    private var zone: (UInt64, UInt64) = (0, 0)  // "Z" or "+08:00"
    private var zoneLength = 0

    public init() {}

    /// Writes `2006-01-02T15:04:05.000Z07:00` for `wall` (ns since the epoch) at `out` (at least 29
    /// bytes); returns the length.
    public mutating func write(wall: Int64, into out: UnsafeMutablePointer<UInt8>) -> Int {
        let seconds = wall / nanosecondsPerSecond
        if seconds != second { refresh(seconds) }
        withUnsafeBytes(of: prefix) { out.update(from: $0.bindMemory(to: UInt8.self).baseAddress!, count: 19) }
        let millis = Int((wall % nanosecondsPerSecond) / nanosecondsPerMillisecond)
        out[19] = 0x2E
        out[20] = UInt8(0x30 + millis / 100)
        out[21] = UInt8(0x30 + millis / 10 % 10)
        out[22] = UInt8(0x30 + millis % 10)
        withUnsafeBytes(of: zone) {
            (out + 23).update(from: $0.bindMemory(to: UInt8.self).baseAddress!, count: zoneLength)
        }
        return 23 + zoneLength
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
