// DocumentParser: the one reader behind YAML and JSON. This file holds the shared machinery (input
// checks, positions, whitespace, flow collections); scalars are in DocumentParser+Scalars.swift and
// YAML's block structure (indentation, `key:` and `- `) in DocumentParser+Block.swift.

/// Byte values the parser compares against.
enum YAMLByte {
    static let tab: UInt8 = 0x09
    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22  // "
    static let hash: UInt8 = 0x23  // #
    static let apostrophe: UInt8 = 0x27  // '
    static let comma: UInt8 = 0x2C
    static let minus: UInt8 = 0x2D
    static let dot: UInt8 = 0x2E
    static let colon: UInt8 = 0x3A
    static let question: UInt8 = 0x3F
    static let backslash: UInt8 = 0x5C
    static let openBracket: UInt8 = 0x5B
    static let closeBracket: UInt8 = 0x5D
    static let openBrace: UInt8 = 0x7B
    static let closeBrace: UInt8 = 0x7D

    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    static func isFlowIndicator(_ b: UInt8) -> Bool {
        b == comma || b == openBracket || b == closeBracket || b == openBrace || b == closeBrace
    }
    static func hexValue(_ b: UInt8) -> UInt32? {
        switch b {
        case 0x30...0x39: UInt32(b - 0x30)
        case 0x41...0x46: UInt32(b - 0x41 + 10)
        case 0x61...0x66: UInt32(b - 0x61 + 10)
        default: nil
        }
    }
}

/// A recursive-descent parser over UTF-8 bytes; one instance parses one document.
struct DocumentParser {
    let bytes: [UInt8]
    /// Strict JSON instead of YAML.
    let json: Bool
    var index = 0
    var depth = 0
    /// Offsets where lines start, for turning offsets into line:column.
    let lineStarts: [Int]
    /// The last position `nodePosition` computed.
    var positionCache = SourcePosition.start
    static let maxDepth = 512

    init(bytes: [UInt8], json: Bool) {
        self.bytes = bytes
        self.json = json
        var starts = [0]
        for (i, b) in bytes.enumerated() where b == YAMLByte.lf { starts.append(i + 1) }
        lineStarts = starts
    }

    // MARK: Positions and errors

    /// The line:column of a byte offset (clamped to the input).
    func position(_ offset: Int) -> SourcePosition {
        let offset = min(max(offset, 0), bytes.count)
        var low = 0
        var high = lineStarts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if lineStarts[mid] <= offset { low = mid } else { high = mid - 1 }
        }
        var column = 1
        for i in lineStarts[low]..<offset where bytes[i] & 0xC0 != 0x80 { column += 1 }
        return SourcePosition(line: low + 1, column: column, offset: offset)
    }

    /// `position(_:)` for a node. Nodes are made mostly in document order, so this counts columns
    /// from the previous node's position when both are on one line: a long line (minified JSON)
    /// then costs linear time, not quadratic.
    mutating func nodePosition(_ offset: Int) -> SourcePosition {
        let cached = positionCache
        var result: SourcePosition
        if offset >= cached.offset && offset <= bytes.count && !bytes[cached.offset..<offset].contains(YAMLByte.lf) {
            result = cached
            for i in cached.offset..<offset where bytes[i] & 0xC0 != 0x80 { result.column += 1 }
            result.offset = offset
        } else {
            result = position(offset)
        }
        positionCache = result
        return result
    }

    func fail(_ message: String, at offset: Int? = nil) -> DocumentError {
        DocumentError(position: position(offset ?? index), message: message)
    }

    var atEnd: Bool { index >= bytes.count }

    /// The byte at `i`, or nil past the end.
    func byte(_ i: Int) -> UInt8? { i < bytes.count ? bytes[i] : nil }

    /// Space, tab, a line break or the end of the input at `i`.
    func isBlankOrEnd(_ i: Int) -> Bool {
        guard let b = byte(i) else { return true }
        return b == YAMLByte.space || b == YAMLByte.tab || b == YAMLByte.lf || b == YAMLByte.cr
    }

    func isLineBreak(_ i: Int) -> Bool {
        guard let b = byte(i) else { return false }
        return b == YAMLByte.lf || b == YAMLByte.cr
    }

    /// Bytes from the start of `i`'s line to `i` (the indentation when only spaces precede it).
    func byteColumn(_ i: Int) -> Int {
        var j = i
        while j > 0 && bytes[j - 1] != YAMLByte.lf { j -= 1 }
        return i - j
    }

    mutating func enter() throws(DocumentError) {
        depth += 1
        if depth > Self.maxDepth { throw fail("nesting deeper than \(Self.maxDepth)") }
    }

    // MARK: The document

    mutating func parseDocument() throws(DocumentError) -> DocumentNode {
        try validate()
        if json {
            skipJSONWhitespace()
            let value = try parseFlowNode(parentIndent: -1)
            skipJSONWhitespace()
            guard atEnd else { throw fail("unexpected text after the value") }
            return value
        }
        return try parseYAMLDocument()
    }

    /// Checks the whole input once: valid UTF-8 and, for YAML, only printable characters (YAML
    /// 1.2 §5.1) and no bare carriage return, so the rest of the parser can rely on both.
    func validate() throws(DocumentError) {
        var i = 0
        let n = bytes.count
        while i < n {
            let lead = bytes[i]
            if lead < 0x80 {
                if !json {
                    if lead == YAMLByte.cr && byte(i + 1) != YAMLByte.lf {
                        throw fail("a carriage return must be followed by a line feed", at: i)
                    }
                    if (lead < 0x20 && lead != YAMLByte.tab && lead != YAMLByte.lf && lead != YAMLByte.cr)
                        || lead == 0x7F
                    {
                        throw fail("control character \(Self.hex(UInt32(lead))) is not allowed", at: i)
                    }
                }
                i += 1
                continue
            }
            let (length, minimum, initial): (Int, UInt32, UInt32) =
                switch lead {
                case 0xC2...0xDF: (2, 0x80, UInt32(lead & 0x1F))
                case 0xE0...0xEF: (3, 0x800, UInt32(lead & 0x0F))
                case 0xF0...0xF4: (4, 0x10000, UInt32(lead & 0x07))
                default: (0, 0, 0)
                }
            guard length > 0, i + length <= n else { throw fail("invalid UTF-8", at: i) }
            var value = initial
            for k in 1..<length {
                let next = bytes[i + k]
                guard next & 0xC0 == 0x80 else { throw fail("invalid UTF-8", at: i) }
                value = value << 6 | UInt32(next & 0x3F)
            }
            guard value >= minimum, value <= 0x10FFFF, !(0xD800...0xDFFF).contains(value) else {
                throw fail("invalid UTF-8", at: i)
            }
            if !json && ((0x80...0x9F).contains(value) && value != 0x85 || value == 0xFFFE || value == 0xFFFF) {
                throw fail("control character \(Self.hex(value)) is not allowed", at: i)
            }
            i += length
        }
    }

    /// `U+0001`.
    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    // MARK: Whitespace

    mutating func skipJSONWhitespace() {
        while let b = byte(index), b == YAMLByte.space || b == YAMLByte.tab || b == YAMLByte.lf || b == YAMLByte.cr {
            index += 1
        }
    }

    mutating func skipSpacesAndTabs() {
        while let b = byte(index), b == YAMLByte.space || b == YAMLByte.tab { index += 1 }
    }

    /// A `#` that starts a comment: at the start of a line or after whitespace (YAML 1.2 §6.6).
    func isCommentStart(_ i: Int) -> Bool {
        guard byte(i) == YAMLByte.hash else { return false }
        return i == 0 || bytes[i - 1] == YAMLByte.space || bytes[i - 1] == YAMLByte.tab
            || bytes[i - 1] == YAMLByte.lf
    }

    /// Moves to the line break (or the end) of the current line.
    mutating func skipToLineEnd() {
        while let b = byte(index), b != YAMLByte.lf && b != YAMLByte.cr { index += 1 }
    }

    /// Consumes one line break (LF or CRLF) if there is one.
    mutating func consumeLineBreak() {
        if byte(index) == YAMLByte.cr { index += 1 }
        if byte(index) == YAMLByte.lf { index += 1 }
    }

    /// Whitespace, line breaks and comments inside `[…]`/`{…}`. In YAML, a line that continues
    /// a flow collection must be indented more than the block it sits in (`parentIndent`).
    mutating func skipFlowSpace(parentIndent: Int, opener: Int) throws(DocumentError) {
        if json {
            skipJSONWhitespace()
            return
        }
        while let b = byte(index) {
            if b == YAMLByte.space || b == YAMLByte.tab {
                index += 1
            } else if isCommentStart(index) {
                skipToLineEnd()
            } else if b == YAMLByte.lf || b == YAMLByte.cr {
                consumeLineBreak()
                let lineStart = index
                while byte(index) == YAMLByte.space { index += 1 }
                let spaces = index - lineStart
                skipSpacesAndTabs()
                guard let c = byte(index), c != YAMLByte.lf, c != YAMLByte.cr, !isCommentStart(index) else {
                    continue
                }
                if isDocumentMarker(lineStart) {
                    throw fail(
                        "unterminated \(Self.describe(bytes[opener])) (opened at \(position(opener))) before a document marker",
                        at: lineStart)
                }
                if spaces <= parentIndent {
                    throw fail(
                        "unterminated \(Self.describe(bytes[opener])) (opened at \(position(opener))): this line"
                            + " must be indented more than column \(parentIndent + 1) to continue it",
                        at: index)
                }
            } else {
                return
            }
        }
    }

    static func describe(_ opener: UInt8) -> String { opener == YAMLByte.openBracket ? "'['" : "'{'" }

    /// `---` or `...` at the start of a line, followed by a blank or the end.
    func isDocumentMarker(_ i: Int) -> Bool {
        guard i + 3 <= bytes.count, byteColumn(i) == 0 else { return false }
        let b = bytes[i]
        guard b == YAMLByte.minus || b == YAMLByte.dot, bytes[i + 1] == b, bytes[i + 2] == b else { return false }
        return isBlankOrEnd(i + 3)
    }

    // MARK: Flow nodes (JSON values and YAML `[…]`, `{…}`, quoted and plain scalars)

    /// A node inside a flow collection, or a JSON value.
    mutating func parseFlowNode(parentIndent: Int) throws(DocumentError) -> DocumentNode {
        guard let b = byte(index) else { throw fail("unexpected end of text, expected a value") }
        switch b {
        case YAMLByte.openBrace: return try parseFlowMapping(parentIndent: parentIndent)
        case YAMLByte.openBracket: return try parseFlowSequence(parentIndent: parentIndent)
        case YAMLByte.quote: return try parseDoubleQuoted(parentIndent: parentIndent)
        default: break
        }
        if json { return try parseJSONScalar() }
        if b == YAMLByte.apostrophe { return try parseSingleQuoted(parentIndent: parentIndent) }
        try checkPlainStart(inFlow: true)
        return try parsePlainScalar(parentIndent: parentIndent, inFlow: true)
    }

    mutating func parseFlowSequence(parentIndent: Int) throws(DocumentError) -> DocumentNode {
        try enter()
        defer { depth -= 1 }
        let opener = index
        let start = nodePosition(opener)
        index += 1
        var items: [DocumentNode] = []
        try skipFlowSpace(parentIndent: parentIndent, opener: opener)
        if byte(index) == YAMLByte.closeBracket {
            index += 1
            return DocumentNode(.sequence(items), at: start)
        }
        while true {
            items.append(try parseFlowNode(parentIndent: parentIndent))
            try skipFlowSpace(parentIndent: parentIndent, opener: opener)
            guard let b = byte(index) else {
                throw fail("unterminated array (opened at \(position(opener))): expected ',' or ']'")
            }
            if b == YAMLByte.comma {
                index += 1
                try skipFlowSpace(parentIndent: parentIndent, opener: opener)
                // YAML allows a trailing comma; JSON does not (the next value fails to parse).
                if !json && byte(index) == YAMLByte.closeBracket {
                    index += 1
                    break
                }
                continue
            }
            if b == YAMLByte.closeBracket {
                index += 1
                break
            }
            if !json && b == YAMLByte.colon {
                throw fail("a key: value pair inside [ ] is not supported; use { } for a mapping")
            }
            throw fail("expected ',' or ']'")
        }
        return DocumentNode(.sequence(items), at: start)
    }

    mutating func parseFlowMapping(parentIndent: Int) throws(DocumentError) -> DocumentNode {
        try enter()
        defer { depth -= 1 }
        let opener = index
        let start = nodePosition(opener)
        index += 1
        var entries: [DocumentEntry] = []
        var seen: [String: SourcePosition] = [:]
        try skipFlowSpace(parentIndent: parentIndent, opener: opener)
        if byte(index) == YAMLByte.closeBrace {
            index += 1
            return DocumentNode(.mapping(entries), at: start)
        }
        while true {
            let keyOffset = index
            let key = try parseFlowKey(parentIndent: parentIndent)
            let keyPosition = nodePosition(keyOffset)
            if let first = seen[key] {
                throw fail("duplicate key \"\(key)\" (first at \(first))", at: keyOffset)
            }
            seen[key] = keyPosition
            try skipFlowSpace(parentIndent: parentIndent, opener: opener)
            var value = DocumentNode(.null, at: keyPosition, text: "")
            if byte(index) == YAMLByte.colon {
                index += 1
                try skipFlowSpace(parentIndent: parentIndent, opener: opener)
                // YAML: `{a: }` and `{a:, b: 1}` give a null value.
                if json || (byte(index) != YAMLByte.comma && byte(index) != YAMLByte.closeBrace) {
                    value = try parseFlowNode(parentIndent: parentIndent)
                }
            } else if json {
                throw fail(atEnd ? "unterminated object (opened at \(position(opener)))" : "expected ':'")
            }
            entries.append(DocumentEntry(key: key, keyPosition: keyPosition, value: value))
            try skipFlowSpace(parentIndent: parentIndent, opener: opener)
            guard let b = byte(index) else {
                throw fail("unterminated object (opened at \(position(opener))): expected ',' or '}'")
            }
            if b == YAMLByte.comma {
                index += 1
                try skipFlowSpace(parentIndent: parentIndent, opener: opener)
                if !json && byte(index) == YAMLByte.closeBrace {
                    index += 1
                    break
                }
                continue
            }
            if b == YAMLByte.closeBrace {
                index += 1
                break
            }
            throw fail("expected ',' or '}'")
        }
        return DocumentNode(.mapping(entries), at: start)
    }

    /// A key inside `{…}`: a string in JSON; a plain or quoted scalar in YAML.
    mutating func parseFlowKey(parentIndent: Int) throws(DocumentError) -> String {
        guard let b = byte(index) else { throw fail("unexpected end of text, expected a key") }
        if json {
            guard b == YAMLByte.quote else { throw fail("expected a key") }
            return try parseDoubleQuoted(parentIndent: parentIndent).text
        }
        switch b {
        case YAMLByte.openBrace, YAMLByte.openBracket:
            throw fail("a key must be a scalar, not a collection")
        case YAMLByte.comma, YAMLByte.closeBrace, YAMLByte.closeBracket:
            throw fail("expected a key")
        case YAMLByte.quote: return try parseDoubleQuoted(parentIndent: parentIndent).text
        case YAMLByte.apostrophe: return try parseSingleQuoted(parentIndent: parentIndent).text
        default:
            if b == YAMLByte.colon && isFlowValueEnd(index + 1) { throw fail("a key is missing before ':'") }
            try checkPlainStart(inFlow: true)
            return try parsePlainScalar(parentIndent: parentIndent, inFlow: true).text
        }
    }

    /// After `:` in a flow context: a blank, the end or a flow indicator ends a plain scalar.
    func isFlowValueEnd(_ i: Int) -> Bool {
        isBlankOrEnd(i) || YAMLByte.isFlowIndicator(bytes[i])
    }
}
