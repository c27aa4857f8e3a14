// Metadata: GOST's free-form `metadata` maps (case-insensitive keys, loosely typed values) and the
// typed getters that read them, stricter than GOST's `x/metadata/util` about malformed values.

/// One metadata value, as the command line (always `.string`) or a YAML/JSON file can give it.
public enum MetadataValue: Sendable, Equatable {
    case string(String)
    case int(Int)
    case float(Double)
    case bool(Bool)
    case list([MetadataValue])
    /// A nested map; its keys keep their case and order (e.g. HTTP header names).
    case map([MetadataField])

    /// The value as text for messages and for `Metadata.string`; nil for lists and maps.
    public var text: String? {
        switch self {
        case .string(let s): s
        case .int(let i): String(i)
        case .bool(let b): b ? "true" : "false"
        case .float(let f): Self.formatFloat(f)
        case .list, .map: nil
        }
    }

    /// Like Go's `strconv.FormatFloat(f, 'f', -1, 64)` for the values that matter: 2.0 → "2".
    static func formatFloat(_ f: Double) -> String {
        if f.isFinite, f == f.rounded(), abs(f) < 1e18 { return String(Int64(f)) }
        return String(f)
    }
}

/// A key and its value, in a `Metadata` map or a nested `.map`.
public struct MetadataField: Sendable, Equatable {
    public var key: String
    public var value: MetadataValue
    public init(key: String, value: MetadataValue) {
        self.key = key
        self.value = value
    }
}

/// Why a metadata value could not be read as the wanted type.
public struct MetadataError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The key as the reader asked for it (e.g. "dialTimeout", not the lowercased form).
    public var key: String
    /// The offending value as text ("[list]" / "[map]" for containers).
    public var value: String
    /// What was expected, e.g. "an integer".
    public var expected: String

    public init(key: String, value: String, expected: String) {
        self.key = key
        self.value = value
        self.expected = expected
    }

    public var description: String { "invalid value \"\(value)\" for \(key): expected \(expected)" }
}

/// A metadata map with case-insensitive keys: GOST lowercases every key (`NewMetadata`), so
/// `proxyProtocol`, `proxyprotocol` and `PROXYPROTOCOL` are one key. Insertion order is kept;
/// equality ignores it.
public struct Metadata: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    /// The fields, keys lowercased, each key once.
    public private(set) var fields: [MetadataField] = []

    /// An empty map.
    public init() {}

    /// Builds a map from pairs; when two keys differ only in case, the first one wins.
    public init(_ pairs: [(String, MetadataValue)]) {
        for (key, value) in pairs where self[key] == nil { self[key] = value }
    }

    public init(dictionaryLiteral elements: (String, MetadataValue)...) { self.init(elements) }

    /// Whether the map has no keys.
    public var isEmpty: Bool { fields.isEmpty }
    /// The number of keys.
    public var count: Int { fields.count }

    /// The value for `key`, ignoring case; setting nil removes the key.
    public subscript(key: String) -> MetadataValue? {
        get {
            let key = key.lowercased()
            return fields.first { $0.key == key }?.value
        }
        set {
            let key = key.lowercased()
            let index = fields.firstIndex { $0.key == key }
            switch (index, newValue) {
            case (let i?, let value?): fields[i].value = value
            case (let i?, nil): fields.remove(at: i)
            case (nil, let value?): fields.append(MetadataField(key: key, value: value))
            case (nil, nil): break
            }
        }
    }

    /// Removes `key` and returns its value.
    @discardableResult
    public mutating func removeValue(forKey key: String) -> MetadataValue? {
        let value = self[key]
        self[key] = nil
        return value
    }

    /// Same keys with equal values, in any order.
    public static func == (lhs: Metadata, rhs: Metadata) -> Bool {
        lhs.fields.count == rhs.fields.count && lhs.fields.allSatisfy { rhs[$0.key] == $0.value }
    }

    // MARK: Typed getters. Each takes one or more keys (aliases, first present wins, as GOST's
    // `mdutil.GetXxx(md, keys...)`), returns nil when none is present, and throws when the value
    // is malformed where GOST would silently read 0 / false / "".

    /// The first key present and its value.
    private func lookup(_ keys: [String]) -> (key: String, value: MetadataValue)? {
        for key in keys { if let value = self[key] { return (key, value) } }
        return nil
    }

    /// An integer. Accepts ints, integral floats (a JSON `1` decodes as a float, which GOST's
    /// `GetInt` ignores), decimal strings, and booleans and "true"/"false" as 1/0 (GOST reads the
    /// string "true" as 0, which silently disables a feature).
    public func int(_ keys: String...) throws(MetadataError) -> Int? {
        guard let (key, value) = lookup(keys) else { return nil }
        let error = MetadataError(key: key, value: value.text ?? "[container]", expected: "an integer")
        switch value {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        case .float(let f):
            guard f == f.rounded(), let i = Int(exactly: f) else { throw error }
            return i
        case .string(let s):
            if let i = Int(s) { return i }
            switch s.lowercased() {
            case "true": return 1
            case "false": return 0
            default: throw error
            }
        case .list, .map: throw error
        }
    }

    /// A float: ints, floats and decimal strings.
    public func float(_ keys: String...) throws(MetadataError) -> Double? {
        guard let (key, value) = lookup(keys) else { return nil }
        switch value {
        case .int(let i): return Double(i)
        case .float(let f): return f
        case .string(let s):
            if let f = Double(s), f.isFinite { return f }
        case .bool, .list, .map: break
        }
        throw MetadataError(key: key, value: value.text ?? "[container]", expected: "a number")
    }

    /// A boolean: bools, ints (non-zero is true) and the strings Go's `strconv.ParseBool` takes
    /// (1, t, true, 0, f, false, in any case).
    public func bool(_ keys: String...) throws(MetadataError) -> Bool? {
        guard let (key, value) = lookup(keys) else { return nil }
        switch value {
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .float(let f): return f != 0
        case .string(let s):
            switch s.lowercased() {
            case "1", "t", "true": return true
            case "0", "f", "false": return false
            default: break
            }
        case .list, .map: break
        }
        throw MetadataError(key: key, value: value.text ?? "[container]", expected: "true or false")
    }

    /// A duration in nanoseconds: Go duration text ("10s", "1m30s"), or a number of seconds as
    /// an int, a float or a plain integer string (GOST's `GetDuration`).
    public func duration(_ keys: String...) throws(MetadataError) -> Int64? {
        guard let (key, value) = lookup(keys) else { return nil }
        let error = MetadataError(
            key: key, value: value.text ?? "[container]", expected: "a duration such as 10s, 1m30s or 500ms")
        let ns: Int64
        switch value {
        case .int(let i):
            let (product, overflow) = Int64(i).multipliedReportingOverflow(by: GoDuration.second)
            guard !overflow else { throw error }
            ns = product
        case .float(let f):
            let product = f * Double(GoDuration.second)
            guard product.isFinite, abs(product) < 9.2e18 else { throw error }
            ns = Int64(product)
        case .string(let s):
            guard let parsed = GoDuration.parseMetadata(s) else { throw error }
            ns = parsed
        case .bool, .list, .map: throw error
        }
        // Every deadline is "now + duration": keep configured durations far from Int64's end.
        guard ns.magnitude <= GoDuration.longestConfigured.magnitude else {
            throw MetadataError(
                key: key, value: value.text ?? "[container]",
                expected: "a duration of at most \(GoDuration.format(GoDuration.longestConfigured))")
        }
        return ns
    }

    /// Text: strings as they are, numbers and booleans formatted as Go's `GetString` does.
    public func string(_ keys: String...) throws(MetadataError) -> String? {
        guard let (key, value) = lookup(keys) else { return nil }
        guard let text = value.text else { throw MetadataError(key: key, value: "[container]", expected: "text") }
        return text
    }

    /// A list of strings: a list value, or a comma-separated string (the only form the command
    /// line can give); empty items are dropped and items trimmed.
    public func strings(_ keys: String...) throws(MetadataError) -> [String]? {
        guard let (key, value) = lookup(keys) else { return nil }
        switch value {
        case .list(let items):
            var result: [String] = []
            for item in items {
                guard let text = item.text else {
                    throw MetadataError(key: key, value: "[list]", expected: "a list of strings")
                }
                result.append(text)
            }
            return result
        case .map: throw MetadataError(key: key, value: "[map]", expected: "a list of strings")
        default:
            return value.text!.split(separator: ",").map { trimSpace(String($0)) }.filter { !$0.isEmpty }
        }
    }

    /// A nested map (e.g. connector `header`); its keys keep their case.
    public func map(_ keys: String...) throws(MetadataError) -> [MetadataField]? {
        guard let (key, value) = lookup(keys) else { return nil }
        guard case .map(let fields) = value else {
            throw MetadataError(key: key, value: value.text ?? "[list]", expected: "a map")
        }
        return fields
    }
}

extension MetadataValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .float(value) }
}

/// Trims leading and trailing whitespace, as Go's `strings.TrimSpace`.
func trimSpace(_ text: String) -> String {
    var s = Substring(text)
    while let c = s.first, c.isWhitespace { s = s.dropFirst() }
    while let c = s.last, c.isWhitespace { s = s.dropLast() }
    return String(s)
}
