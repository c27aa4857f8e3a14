// The document model shared by the YAML and JSON readers: nodes with a source position, the parse
// error, and the two formats. Self-contained (no other Sluice file needed), so the fuzzer builds it alone.

/// Where something is in a document: 1-based line and column (columns count characters, not
/// bytes) and the 0-based byte offset.
public struct SourcePosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var offset: Int

    /// Memberwise.
    public init(line: Int, column: Int, offset: Int) {
        self.line = line
        self.column = column
        self.offset = offset
    }

    /// The start of a document.
    public static let start = SourcePosition(line: 1, column: 1, offset: 0)

    /// `line:column`, as compilers and YAML tools print it.
    public var description: String { "\(line):\(column)" }

    public static func < (lhs: SourcePosition, rhs: SourcePosition) -> Bool { lhs.offset < rhs.offset }
}

/// The two text formats a configuration can be written in.
public enum DocumentFormat: String, Sendable, Equatable, CaseIterable {
    /// The YAML subset GOST configurations use; it reads every JSON document too.
    case yaml
    /// Strict RFC 8259 JSON.
    case json
}

/// One node of a parsed document: a scalar, a sequence or a mapping, with where it starts.
public struct DocumentNode: Sendable, Equatable {
    /// What the node holds. Plain YAML scalars are resolved as YAML 1.2's core schema does
    /// (`~`/`null`, `true`/`false`, decimal/`0x`/`0o` integers, floats); quoted ones are strings.
    public enum Value: Sendable, Equatable {
        case null
        case bool(Bool)
        case int(Int)
        case float(Double)
        case string(String)
        case sequence([DocumentNode])
        /// Entries in document order; keys are unique.
        case mapping([DocumentEntry])
    }

    public var value: Value
    /// Where the node starts (its first character; a collection's `[`, `{`, first `-` or first key).
    public var position: SourcePosition
    /// A scalar's text as written (plain: `0123`, `1.0`, `true`) or unescaped (quoted); empty for
    /// collections. String-typed settings read this, so `password: 0123` keeps its leading zero.
    public var text: String

    /// Memberwise; `text` defaults to the value's own text.
    public init(_ value: Value, at position: SourcePosition = .start, text: String? = nil) {
        self.value = value
        self.position = position
        self.text = text ?? value.defaultText
    }

    /// Whether two nodes hold the same values, ignoring positions and source spellings.
    public func hasSameContent(as other: DocumentNode) -> Bool {
        switch (value, other.value) {
        case (.sequence(let a), .sequence(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.hasSameContent(as: $1) }
        case (.mapping(let a), .mapping(let b)):
            return a.count == b.count
                && zip(a, b).allSatisfy { $0.key == $1.key && $0.value.hasSameContent(as: $1.value) }
        default:
            return value == other.value
        }
    }

    /// A short name of the node's kind for messages: "a mapping", "a list", "text", …
    public var kindDescription: String {
        switch value {
        case .null: "nothing (null)"
        case .bool: "a boolean"
        case .int: "an integer"
        case .float: "a number"
        case .string: "text"
        case .sequence: "a list"
        case .mapping: "a mapping"
        }
    }
}

extension DocumentNode.Value {
    /// The canonical text of a scalar; empty for collections.
    var defaultText: String {
        switch self {
        case .null: "null"
        case .bool(let b): b ? "true" : "false"
        case .int(let i): String(i)
        case .float(let f): String(f)
        case .string(let s): s
        case .sequence, .mapping: ""
        }
    }
}

/// A key and its value in a mapping. Keys are scalars, kept as the text written.
public struct DocumentEntry: Sendable, Equatable {
    public var key: String
    public var keyPosition: SourcePosition
    public var value: DocumentNode

    /// Memberwise.
    public init(key: String, keyPosition: SourcePosition = .start, value: DocumentNode) {
        self.key = key
        self.keyPosition = keyPosition
        self.value = value
    }
}

/// Why a text is not a document this reader accepts, and where.
public struct DocumentError: Error, Sendable, Equatable, CustomStringConvertible {
    public var position: SourcePosition
    public var message: String

    /// Memberwise.
    public init(position: SourcePosition, message: String) {
        self.position = position
        self.message = message
    }

    /// `line:column: message`.
    public var description: String { "\(position): \(message)" }
}

extension DocumentNode {
    /// Parses one document. YAML: the subset GOST configurations use (block and flow collections,
    /// plain and quoted scalars, comments), so also every JSON document; anchors, aliases, tags,
    /// block scalars and a second document are refused by name. JSON: strict RFC 8259 (no
    /// trailing commas, no comments, no duplicate keys). Input must be UTF-8; nesting is limited
    /// to 512 levels.
    public static func parse(_ bytes: [UInt8], format: DocumentFormat) throws(DocumentError) -> DocumentNode {
        var parser = DocumentParser(bytes: bytes, json: format == .json)
        return try parser.parseDocument()
    }

    /// Parses UTF-8 text; see `parse(_:format:)`.
    public static func parse(_ text: String, format: DocumentFormat) throws(DocumentError) -> DocumentNode {
        try parse(Array(text.utf8), format: format)
    }
}
