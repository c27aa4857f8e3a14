// JSONValue: the JSON document model the tests read log lines into, with optional-chaining
// accessors (`json["msg"]?.string`) and a compact serializer for failure messages. Parsing is the
// library's strict JSON reader (`DocumentNode.parse(_:format: .json)`).
import Sluice

/// Why a text is not valid JSON, and where (a byte offset into the UTF-8 text).
public struct JSONError: Error, CustomStringConvertible, Sendable, Equatable {
    public var offset: Int
    public var reason: String

    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

extension JSONValue {
    /// Parses exactly one JSON value (surrounding whitespace allowed). Strict: no trailing commas,
    /// no leading zeros, no unescaped control characters, no lone surrogates, no duplicate keys,
    /// no invalid UTF-8, nesting at most 512 deep.
    public static func parse(_ text: String) throws(JSONError) -> JSONValue {
        try parse(bytes: Array(text.utf8))
    }

    /// Parses UTF-8 bytes; see `parse(_: String)`.
    public static func parse(bytes: [UInt8]) throws(JSONError) -> JSONValue {
        do {
            return JSONValue(try DocumentNode.parse(bytes, format: .json))
        } catch {
            throw JSONError(offset: error.position.offset, reason: error.message)
        }
    }

    /// The same value without positions.
    init(_ node: DocumentNode) {
        switch node.value {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(Int64(i))
        case .float(let f): self = .double(f)
        case .string(let s): self = .string(s)
        case .sequence(let items): self = .array(items.map(JSONValue.init))
        case .mapping(let entries): self = .object(JSONObject(entries.map { ($0.key, JSONValue($0.value)) }))
        }
    }
}

/// A parsed JSON value. Objects keep their keys in document order (so tests can check that a log
/// line's keys are sorted); numbers without a fraction or exponent that fit `Int64` are `.int`.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// Parses `text` strictly (RFC 8259); nil when it is not exactly one JSON value. Use
    /// `JSONValue.parse(_:)` to learn why.
    public init?(_ text: String) {
        guard let value = try? JSONValue.parse(text) else { return nil }
        self = value
    }

    /// The member `key` of an object; nil for a missing key or a non-object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    /// The element `index` of an array; nil when out of range or not an array.
    public subscript(index: Int) -> JSONValue? {
        if case .array(let items) = self, items.indices.contains(index) { return items[index] }
        return nil
    }

    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// An integer value (`.int`, or a `.double` with no fractional part within `Int` range).
    public var int: Int? {
        switch self {
        case .int(let v): return Int(exactly: v)
        case .double(let d): return Int(exactly: d)
        default: return nil
        }
    }

    public var int64: Int64? {
        switch self {
        case .int(let v): return v
        case .double(let d): return Int64(exactly: d)
        default: return nil
        }
    }

    /// Any number as a `Double`.
    public var double: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .double(let d): return d
        default: return nil
        }
    }

    public var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var array: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    public var object: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var isNull: Bool { self == .null }
}

/// A JSON object: its members by key, and the keys in the order the document wrote them.
public struct JSONObject: Sendable, Equatable {
    /// Keys in document order (each once; the strict parser rejects duplicates).
    public private(set) var keys: [String] = []
    /// Members by key.
    public private(set) var members: [String: JSONValue] = [:]

    public init() {}

    public init(_ pairs: [(String, JSONValue)]) {
        for (key, value) in pairs { self[key] = value }
    }

    public var count: Int { keys.count }

    /// Reads a member; setting appends a new key at the end, or replaces the value in place.
    public subscript(key: String) -> JSONValue? {
        get { members[key] }
        set {
            if let newValue {
                if members.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if members.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// True when the keys appear in ascending byte order (how Go's logrus and Sluice write them).
    public var keysAreSorted: Bool {
        zip(keys, keys.dropFirst()).allSatisfy { Array($0.0.utf8).lexicographicallyPrecedes(Array($0.1.utf8)) }
    }
}

extension JSONValue: CustomStringConvertible {
    /// Compact JSON text (keys in document order).
    public var description: String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let v): out += String(v)
        case .double(let d): out += d.isFinite ? "\(d)" : "null"
        case .string(let s): JSONValue.writeString(s, to: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let object):
            out += "{"
            for (i, key) in object.keys.enumerated() {
                if i > 0 { out += "," }
                JSONValue.writeString(key, to: &out)
                out += ":"
                object.members[key]!.write(to: &out)
            }
            out += "}"
        }
    }

    private static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
