// Scalars for DocumentParser: quoted strings with YAML's or JSON's escapes and line folding, plain
// YAML scalars and their core-schema types, and JSON's literals and numbers.

extension DocumentParser {
    // MARK: Quoted scalars

    /// A `"…"` scalar starting at its quote. YAML escapes (§5.7) or JSON's; line breaks fold to a
    /// space (YAML only; JSON refuses raw control characters).
    mutating func parseDoubleQuoted(parentIndent: Int) throws(DocumentError) -> DocumentNode {
        let start = index
        index += 1
        var out: [UInt8] = []
        // Unescaped spaces and tabs at the end of `out`, which a line fold removes.
        var trailingWhite = 0
        while true {
            guard let b = byte(index) else {
                throw fail("unterminated double-quoted string", at: start)
            }
            switch b {
            case YAMLByte.quote:
                index += 1
                return DocumentNode(.string(String(decoding: out, as: UTF8.self)), at: nodePosition(start))
            case YAMLByte.backslash:
                if !json && isLineBreak(index + 1) {
                    // An escaped line break joins the lines without a space.
                    index += 1
                    consumeLineBreak()
                    try skipContinuationIndent(parentIndent: parentIndent, opener: start)
                    trailingWhite = 0
                    continue
                }
                try appendEscape(to: &out)
                trailingWhite = 0
            case YAMLByte.lf, YAMLByte.cr:
                if json { throw fail("unescaped control character in a string") }
                out.removeLast(trailingWhite)
                trailingWhite = 0
                try foldLines(into: &out, parentIndent: parentIndent, opener: start)
            case 0..<0x20:
                if json || b != YAMLByte.tab { throw fail("unescaped control character in a string") }
                out.append(b)
                trailingWhite += 1
                index += 1
            default:
                out.append(b)
                trailingWhite = b == YAMLByte.space ? trailingWhite + 1 : 0
                index += 1
            }
        }
    }

    /// A `'…'` scalar (YAML): `''` is a quote; line breaks fold as in `"…"`.
    mutating func parseSingleQuoted(parentIndent: Int) throws(DocumentError) -> DocumentNode {
        let start = index
        index += 1
        var out: [UInt8] = []
        var trailingWhite = 0
        while true {
            guard let b = byte(index) else {
                throw fail("unterminated single-quoted string", at: start)
            }
            switch b {
            case YAMLByte.apostrophe:
                if byte(index + 1) == YAMLByte.apostrophe {
                    out.append(b)
                    index += 2
                    trailingWhite = 0
                    continue
                }
                index += 1
                return DocumentNode(.string(String(decoding: out, as: UTF8.self)), at: nodePosition(start))
            case YAMLByte.lf, YAMLByte.cr:
                out.removeLast(trailingWhite)
                trailingWhite = 0
                try foldLines(into: &out, parentIndent: parentIndent, opener: start)
            default:
                out.append(b)
                trailingWhite = b == YAMLByte.space || b == YAMLByte.tab ? trailingWhite + 1 : 0
                index += 1
            }
        }
    }

    /// At a line break inside a quoted scalar: one break becomes a space, each further (empty)
    /// line a newline (YAML 1.2 §6.5); the next line's leading whitespace is dropped.
    mutating func foldLines(into out: inout [UInt8], parentIndent: Int, opener: Int) throws(DocumentError) {
        var breaks = 0
        while isLineBreak(index) {
            consumeLineBreak()
            breaks += 1
            try skipContinuationIndent(parentIndent: parentIndent, opener: opener)
        }
        if breaks == 1 {
            out.append(YAMLByte.space)
        } else {
            out.append(contentsOf: repeatElement(YAMLByte.lf, count: breaks - 1))
        }
    }

    /// The leading whitespace of a line that continues a quoted scalar, which must be indented
    /// more than its block and must not be a document marker.
    mutating func skipContinuationIndent(parentIndent: Int, opener: Int) throws(DocumentError) {
        let lineStart = index
        while byte(index) == YAMLByte.space { index += 1 }
        let spaces = index - lineStart
        skipSpacesAndTabs()
        guard let b = byte(index), b != YAMLByte.lf, b != YAMLByte.cr else { return }
        if isDocumentMarker(lineStart) {
            throw fail(
                "unterminated quoted string (opened at \(position(opener))) before a document marker", at: lineStart)
        }
        if spaces <= parentIndent {
            throw fail(
                "unterminated quoted string (opened at \(position(opener))): a continuation line must be"
                    + " indented more than column \(parentIndent + 1)", at: index)
        }
    }

    /// One escape sequence, starting at the backslash, appended as UTF-8.
    mutating func appendEscape(to out: inout [UInt8]) throws(DocumentError) {
        let start = index
        guard let code = byte(index + 1) else { throw fail("unterminated escape") }
        index += 2
        let simple: UInt8? =
            switch code {
            case YAMLByte.quote: YAMLByte.quote
            case YAMLByte.backslash: YAMLByte.backslash
            case 0x2F: 0x2F  // /
            case UInt8(ascii: "b"): 0x08
            case UInt8(ascii: "f"): 0x0C
            case UInt8(ascii: "n"): YAMLByte.lf
            case UInt8(ascii: "r"): YAMLByte.cr
            case UInt8(ascii: "t"): YAMLByte.tab
            default: nil
            }
        if let simple {
            out.append(simple)
            return
        }
        var scalar: UInt32
        switch code {
        case UInt8(ascii: "u"):
            scalar = try parseHex(4, escapeStart: start)
            if (0xD800...0xDBFF).contains(scalar) {
                guard byte(index) == YAMLByte.backslash, byte(index + 1) == UInt8(ascii: "u") else {
                    throw fail("lone high surrogate", at: start)
                }
                index += 2
                let low = try parseHex(4, escapeStart: start)
                guard (0xDC00...0xDFFF).contains(low) else { throw fail("invalid surrogate pair", at: start) }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw fail("lone low surrogate", at: start)
            }
        case _ where json:
            throw fail("invalid escape '\\\(Unicode.Scalar(code))'", at: start)
        case UInt8(ascii: "0"): scalar = 0
        case UInt8(ascii: "a"): scalar = 0x07
        case UInt8(ascii: "v"): scalar = 0x0B
        case UInt8(ascii: "e"): scalar = 0x1B
        case YAMLByte.space: scalar = 0x20
        case YAMLByte.tab: scalar = 0x09
        case UInt8(ascii: "N"): scalar = 0x85
        case UInt8(ascii: "_"): scalar = 0xA0
        case UInt8(ascii: "L"): scalar = 0x2028
        case UInt8(ascii: "P"): scalar = 0x2029
        case UInt8(ascii: "x"): scalar = try parseHex(2, escapeStart: start)
        case UInt8(ascii: "U"):
            scalar = try parseHex(8, escapeStart: start)
        default:
            let shown = code < 0x80 && code >= 0x20 ? String(Unicode.Scalar(code)) : Self.hex(UInt32(code))
            throw fail("invalid escape '\\\(shown)'", at: start)
        }
        guard let value = Unicode.Scalar(scalar) else {
            throw fail("escape \(Self.hex(scalar)) is not a Unicode scalar", at: start)
        }
        out.append(contentsOf: String(Character(value)).utf8)
    }

    mutating func parseHex(_ count: Int, escapeStart: Int) throws(DocumentError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<count {
            guard let b = byte(index), let digit = YAMLByte.hexValue(b) else {
                throw fail("expected \(count) hex digits in the escape", at: escapeStart)
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    // MARK: Plain scalars (YAML)

    /// Refuses what cannot start a plain scalar, naming the YAML feature it would start.
    func checkPlainStart(inFlow: Bool) throws(DocumentError) {
        guard let b = byte(index) else { throw fail("unexpected end of text, expected a value") }
        switch b {
        case UInt8(ascii: "&"): throw fail("anchors (&name) are not supported")
        case UInt8(ascii: "*"): throw fail("aliases (*name) are not supported")
        case UInt8(ascii: "!"): throw fail("tags (!tag) are not supported")
        case UInt8(ascii: "|"), UInt8(ascii: ">"):
            throw fail(
                "block scalars (| and >) are not supported; write the text in double quotes, with \\n for line breaks")
        case UInt8(ascii: "%"): throw fail("directives (%) are not supported")
        case UInt8(ascii: "@"), UInt8(ascii: "`"):
            throw fail("'\(Unicode.Scalar(b))' is reserved and cannot start a value; quote the value")
        case YAMLByte.comma, YAMLByte.closeBracket, YAMLByte.closeBrace:
            throw fail("unexpected '\(Unicode.Scalar(b))'")
        case YAMLByte.hash: throw fail("a comment needs a space before '#'")
        case YAMLByte.question where isBlankOrEnd(index + 1):
            throw fail("complex keys ('? ') are not supported")
        case YAMLByte.minus where isBlankOrEnd(index + 1) && inFlow:
            throw fail("a block sequence ('- ') cannot appear inside [ ] or { }")
        case YAMLByte.colon where isBlankOrEnd(index + 1) || (inFlow && isFlowValueEnd(index + 1)):
            throw fail("a key is missing before ':'")
        default: return
        }
    }

    /// A plain scalar: up to `: ` or ` #` (and `,[]{}` in a flow context), continued on following
    /// lines indented more than `parentIndent`, which fold into one line (YAML 1.2 §7.3.3).
    mutating func parsePlainScalar(parentIndent: Int, inFlow: Bool) throws(DocumentError) -> DocumentNode {
        let start = index
        var out: [UInt8] = []
        while true {
            // One line's part.
            let segmentStart = index
            var stoppedAtLineEnd = false
            while let b = byte(index) {
                if b == YAMLByte.lf || b == YAMLByte.cr {
                    stoppedAtLineEnd = true
                    break
                }
                if b == YAMLByte.colon && (isBlankOrEnd(index + 1) || (inFlow && isFlowValueEnd(index + 1))) { break }
                if b == YAMLByte.hash && index > segmentStart && isCommentStart(index) { break }
                if inFlow && YAMLByte.isFlowIndicator(b) { break }
                index += 1
            }
            if atEnd { stoppedAtLineEnd = true }
            var segmentEnd = index
            while segmentEnd > segmentStart
                && (bytes[segmentEnd - 1] == YAMLByte.space || bytes[segmentEnd - 1] == YAMLByte.tab)
            {
                segmentEnd -= 1
            }
            out.append(contentsOf: bytes[segmentStart..<segmentEnd])
            guard stoppedAtLineEnd, let breaks = continuationBreaks(parentIndent: parentIndent, inFlow: inFlow)
            else { break }
            if breaks == 1 {
                out.append(YAMLByte.space)
            } else {
                out.append(contentsOf: repeatElement(YAMLByte.lf, count: breaks - 1))
            }
        }
        let text = String(decoding: out, as: UTF8.self)
        return DocumentNode(Self.resolvePlain(text), at: nodePosition(start), text: text)
    }

    /// At the end of a plain scalar's line: when the scalar continues on a later line, moves to
    /// that line's first character and returns the number of line breaks crossed; otherwise
    /// leaves `index` where it was and returns nil.
    mutating func continuationBreaks(parentIndent: Int, inFlow: Bool) -> Int? {
        let mark = index
        var breaks = 0
        while isLineBreak(index) {
            consumeLineBreak()
            breaks += 1
            let lineStart = index
            while byte(index) == YAMLByte.space { index += 1 }
            let spaces = index - lineStart
            let afterSpaces = index
            skipSpacesAndTabs()
            guard let b = byte(index) else { break }
            if b == YAMLByte.lf || b == YAMLByte.cr { continue }
            // A tab in the indentation, a comment, a document marker or a line that is not
            // indented enough ends the scalar; the block parser then reports what is wrong.
            let continues =
                !isCommentStart(index) && !isDocumentMarker(lineStart) && spaces > parentIndent
                && (inFlow
                    ? !YAMLByte.isFlowIndicator(b) && !(b == YAMLByte.colon && isFlowValueEnd(index + 1))
                    : index == afterSpaces)
            if continues { return breaks }
            break
        }
        index = mark
        return nil
    }

    /// YAML 1.2 core schema resolution of a plain scalar, except that `.inf` and `.nan` stay
    /// text (no setting wants them, and they could not be written back as JSON).
    static func resolvePlain(_ text: String) -> DocumentNode.Value {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: break
        }
        let utf8 = Array(text.utf8)
        guard let first = utf8.first,
            YAMLByte.isDigit(first) || first == YAMLByte.minus || first == UInt8(ascii: "+") || first == YAMLByte.dot
        else { return .string(text) }
        if utf8.count > 2, utf8[0] == UInt8(ascii: "0") {
            let radix: Int? =
                switch utf8[1] {
                case UInt8(ascii: "x"): 16
                case UInt8(ascii: "o"): 8
                default: nil
                }
            if let radix {
                if let value = Int(String(decoding: utf8[2...], as: UTF8.self), radix: radix),
                    utf8[2] != YAMLByte.minus,
                    utf8[2] != UInt8(ascii: "+")
                {
                    return .int(value)
                }
                return .string(text)
            }
        }
        guard isCoreNumber(utf8) else { return .string(text) }
        let isInteger = !utf8.contains { $0 == YAMLByte.dot || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
        if isInteger, let value = Int(text) { return .int(value) }
        if let value = Double(text), value.isFinite { return .float(value) }
        return .string(text)
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
    static func isCoreNumber(_ s: [UInt8]) -> Bool {
        var i = 0
        if i < s.count, s[i] == YAMLByte.minus || s[i] == UInt8(ascii: "+") { i += 1 }
        var digits = 0
        while i < s.count, YAMLByte.isDigit(s[i]) {
            i += 1
            digits += 1
        }
        if i < s.count, s[i] == YAMLByte.dot {
            i += 1
            var fraction = 0
            while i < s.count, YAMLByte.isDigit(s[i]) {
                i += 1
                fraction += 1
            }
            if digits == 0 && fraction == 0 { return false }
        } else if digits == 0 {
            return false
        }
        if i < s.count, s[i] == UInt8(ascii: "e") || s[i] == UInt8(ascii: "E") {
            i += 1
            if i < s.count, s[i] == YAMLByte.minus || s[i] == UInt8(ascii: "+") { i += 1 }
            var exponent = 0
            while i < s.count, YAMLByte.isDigit(s[i]) {
                i += 1
                exponent += 1
            }
            if exponent == 0 { return false }
        }
        return i == s.count
    }

    // MARK: JSON scalars

    mutating func parseJSONScalar() throws(DocumentError) -> DocumentNode {
        let start = index
        let b = bytes[index]
        func literal(_ word: String, _ value: DocumentNode.Value) throws(DocumentError) -> DocumentNode {
            let utf8 = Array(word.utf8)
            guard index + utf8.count <= bytes.count, bytes[index..<(index + utf8.count)].elementsEqual(utf8) else {
                throw fail("invalid literal, expected \(word)")
            }
            index += utf8.count
            return DocumentNode(value, at: nodePosition(start))
        }
        switch b {
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case YAMLByte.minus, 0x30...0x39: return try parseJSONNumber()
        default:
            let shown = b >= 0x20 && b < 0x7F ? "'\(Unicode.Scalar(b))'" : Self.hex(UInt32(b))
            throw fail("unexpected character \(shown)")
        }
    }

    /// RFC 8259 §6: integers that fit `Int` are `.int`, everything else `.float`.
    mutating func parseJSONNumber() throws(DocumentError) -> DocumentNode {
        let start = index
        var isInteger = true
        if byte(index) == YAMLByte.minus { index += 1 }
        guard let first = byte(index), YAMLByte.isDigit(first) else { throw fail("expected a digit") }
        if first == UInt8(ascii: "0") {
            index += 1
            if let b = byte(index), YAMLByte.isDigit(b) { throw fail("leading zero in a number") }
        } else {
            while let b = byte(index), YAMLByte.isDigit(b) { index += 1 }
        }
        if byte(index) == YAMLByte.dot {
            isInteger = false
            index += 1
            guard let b = byte(index), YAMLByte.isDigit(b) else { throw fail("expected a digit after '.'") }
            while let b = byte(index), YAMLByte.isDigit(b) { index += 1 }
        }
        if let e = byte(index), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if let s = byte(index), s == UInt8(ascii: "+") || s == YAMLByte.minus { index += 1 }
            guard let b = byte(index), YAMLByte.isDigit(b) else { throw fail("expected an exponent digit") }
            while let b = byte(index), YAMLByte.isDigit(b) { index += 1 }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if isInteger, let value = Int(text) { return DocumentNode(.int(value), at: nodePosition(start), text: text) }
        guard let value = Double(text), value.isFinite else { throw fail("number out of range", at: start) }
        return DocumentNode(.float(value), at: nodePosition(start), text: text)
    }
}
