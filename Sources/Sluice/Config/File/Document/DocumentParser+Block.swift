// YAML's block structure: the document, indentation, `key: value` mappings and `- item` sequences
// (including `- key: value` items and sequences that sit at their key's indentation).

extension DocumentParser {
    /// An indentation no line reaches: scalars parsed with it end on their first line.
    static let singleLine = Int.max / 2

    /// Where a value sits: it decides what may follow an indicator on the same line.
    enum Slot {
        case mappingValue, sequenceItem
    }

    mutating func parseYAMLDocument() throws(DocumentError) -> DocumentNode {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }  // a byte order mark
        guard try skipToContentLine(includingCurrent: true) else {
            return DocumentNode(.null, at: nodePosition(index), text: "")
        }
        if byte(index) == UInt8(ascii: "%") && byteColumn(index) == 0 {
            throw fail("directives (%YAML, %TAG) are not supported")
        }
        var root: DocumentNode
        if isDocumentMarker(index) && bytes[index] == YAMLByte.minus {
            // An explicit start; a scalar or flow collection may follow on the same line.
            let marker = index
            index += 3
            skipSpacesAndTabs()
            if let b = byte(index), b != YAMLByte.lf, b != YAMLByte.cr, !isCommentStart(index) {
                root = try parseInlineNode(parentIndent: -1)
                try finishLine()
            } else if try skipToContentLine(), !isDocumentMarker(index) {
                root = try parseBlockNode(column: byteColumn(index), parentIndent: -1)
                try finishLine()
            } else {
                root = DocumentNode(.null, at: nodePosition(marker + 3), text: "")
                if !atEnd { index = marker + 3 }
                skipToLineEnd()
            }
        } else {
            try refuseDocumentEnd()
            root = try parseBlockNode(column: byteColumn(index), parentIndent: -1)
            try finishLine()
        }
        if try skipToContentLine() {
            if isDocumentMarker(index) && bytes[index] == YAMLByte.minus {
                throw fail("a second document (---) is not supported: a configuration is one document")
            }
            try refuseDocumentEnd()
            if byteColumn(index) < byteColumn(root.position.offset) {
                throw fail(
                    "unexpected text: this line is indented less than the top level of the document"
                        + " (column \(root.position.column))")
            }
            throw fail("unexpected text after the document's top-level value")
        }
        return root
    }

    func refuseDocumentEnd() throws(DocumentError) {
        if isDocumentMarker(index) && bytes[index] == YAMLByte.dot {
            throw fail("the document end marker (...) is not supported")
        }
    }

    /// From a line whose rest is blank or a comment, moves to the first non-space character of
    /// the next line with content; false at the end of the input. `includingCurrent` starts at
    /// the current position instead (which must be the start of a line). A tab in the
    /// indentation of a line with content is an error.
    mutating func skipToContentLine(includingCurrent: Bool = false) throws(DocumentError) -> Bool {
        if !includingCurrent {
            skipToLineEnd()
            guard !atEnd else { return false }
            consumeLineBreak()
        }
        while true {
            var tab: Int?
            while let b = byte(index), b == YAMLByte.space || b == YAMLByte.tab {
                if b == YAMLByte.tab && tab == nil { tab = index }
                index += 1
            }
            guard let b = byte(index) else { return false }
            if b == YAMLByte.lf || b == YAMLByte.cr || b == YAMLByte.hash {
                skipToLineEnd()
                guard !atEnd else { return false }
                consumeLineBreak()
                continue
            }
            if let tab {
                throw fail("a tab character is used for indentation; YAML indents with spaces only", at: tab)
            }
            return true
        }
    }

    /// After a node: only blanks and a comment may follow on its line. Leaves `index` at the
    /// line break (or the end).
    mutating func finishLine() throws(DocumentError) {
        skipSpacesAndTabs()
        guard let b = byte(index), b != YAMLByte.lf, b != YAMLByte.cr else { return }
        if isCommentStart(index) {
            skipToLineEnd()
            return
        }
        if b == YAMLByte.hash { throw fail("a comment needs a space before '#'") }
        if b == YAMLByte.colon {
            throw fail(
                "unexpected ':'; a nested mapping starts on its own line, indented under its key"
                    + " (or quote a value that contains ': ')")
        }
        throw fail("unexpected text after the value; check the indentation, or quote the value")
    }

    /// `-` followed by a blank: a block sequence item.
    var atSequenceIndicator: Bool { byte(index) == YAMLByte.minus && isBlankOrEnd(index + 1) }

    /// The value after `key:` or `- `, on the same line or on the following, more indented lines.
    mutating func parseValue(parentIndent: Int, slot: Slot) throws(DocumentError) -> DocumentNode {
        skipSpacesAndTabs()
        if atEnd || isLineBreak(index) || isCommentStart(index) {
            let mark = index
            let here = nodePosition(index)
            if try skipToContentLine(), !isDocumentMarker(index) {
                let indent = byteColumn(index)
                if indent > parentIndent {
                    return try parseBlockNode(column: indent, parentIndent: parentIndent)
                }
                // `key:` followed by `- item` lines at the key's own indentation (YAML 1.2 §8.2.3).
                if indent == parentIndent && slot == .mappingValue && atSequenceIndicator {
                    return try parseBlockSequence(column: indent, indentless: true)
                }
            }
            index = mark
            return DocumentNode(.null, at: here, text: "")
        }
        if slot == .mappingValue {
            if atSequenceIndicator {
                throw fail("a list cannot start on the same line as its key; put '- ' on the next line")
            }
            if lineHasImplicitKey() {
                throw fail(
                    "a nested mapping cannot start on the same line as its key; put it on the next line,"
                        + " indented (or quote a value that contains ': ')")
            }
            return try parseInlineNode(parentIndent: parentIndent)
        }
        // `- - item` and `- key: value` start a collection right after the indicator.
        return try parseBlockNode(column: byteColumn(index), parentIndent: parentIndent)
    }

    /// A node whose first character is at byte column `column`: a sequence, a mapping, or a
    /// scalar or flow collection (continued on lines indented more than `parentIndent`).
    mutating func parseBlockNode(column: Int, parentIndent: Int) throws(DocumentError) -> DocumentNode {
        if atSequenceIndicator { return try parseBlockSequence(column: column, indentless: false) }
        if lineHasImplicitKey() { return try parseBlockMapping(column: column) }
        return try parseInlineNode(parentIndent: parentIndent)
    }

    /// A scalar or a flow collection in a block context.
    mutating func parseInlineNode(parentIndent: Int) throws(DocumentError) -> DocumentNode {
        switch byte(index) {
        case YAMLByte.openBrace: return try parseFlowMapping(parentIndent: parentIndent)
        case YAMLByte.openBracket: return try parseFlowSequence(parentIndent: parentIndent)
        case YAMLByte.quote: return try parseDoubleQuoted(parentIndent: parentIndent)
        case YAMLByte.apostrophe: return try parseSingleQuoted(parentIndent: parentIndent)
        default:
            try checkPlainStart(inFlow: false)
            return try parsePlainScalar(parentIndent: parentIndent, inFlow: false)
        }
    }

    mutating func parseBlockSequence(column: Int, indentless: Bool) throws(DocumentError) -> DocumentNode {
        try enter()
        defer { depth -= 1 }
        let start = nodePosition(index)
        var items: [DocumentNode] = []
        while true {
            index += 1  // the '-'
            if tabBeforeContent() {
                var i = index
                while byte(i) == YAMLByte.space { i += 1 }
                throw fail("a tab character is used for indentation; YAML indents with spaces only", at: i)
            }
            items.append(try parseValue(parentIndent: column, slot: .sequenceItem))
            guard let next = try nextBlockLine(column: column) else { break }
            if next.indent > column {
                throw fail("bad indentation: expected a list item ('- ') at column \(column + 1)")
            }
            guard atSequenceIndicator else {
                if indentless {
                    index = next.mark
                    break
                }
                throw fail("expected a list item ('- ') at column \(column + 1), as the items above")
            }
        }
        return DocumentNode(.sequence(items), at: start)
    }

    /// After an entry of the block at `column`: finishes the entry's line and moves to the next content
    /// line, returning its indentation and where the entry's line ended (`mark`). Nil, with `index` back
    /// at `mark`, when the block ends there: end of input, a document marker, or a shallower line.
    mutating func nextBlockLine(column: Int) throws(DocumentError) -> (indent: Int, mark: Int)? {
        try finishLine()
        let mark = index
        guard try skipToContentLine() else {
            index = mark
            return nil
        }
        let indent = byteColumn(index)
        if isDocumentMarker(index) || indent < column {
            index = mark
            return nil
        }
        return (indent, mark)
    }

    /// After `-`: spaces, then a tab, then content on the same line.
    func tabBeforeContent() -> Bool {
        var i = index
        while byte(i) == YAMLByte.space { i += 1 }
        guard byte(i) == YAMLByte.tab else { return false }
        while let b = byte(i), b == YAMLByte.space || b == YAMLByte.tab { i += 1 }
        return !(byte(i) == nil || isLineBreak(i) || isCommentStart(i))
    }

    mutating func parseBlockMapping(column: Int) throws(DocumentError) -> DocumentNode {
        try enter()
        defer { depth -= 1 }
        let start = nodePosition(index)
        var entries: [DocumentEntry] = []
        var seen: [String: SourcePosition] = [:]
        while true {
            let keyOffset = index
            let key = try parseImplicitKey()
            let keyPosition = nodePosition(keyOffset)
            if let first = seen[key] {
                throw fail("duplicate key \"\(key)\" (first at \(first))", at: keyOffset)
            }
            seen[key] = keyPosition
            let value = try parseValue(parentIndent: column, slot: .mappingValue)
            entries.append(DocumentEntry(key: key, keyPosition: keyPosition, value: value))
            guard let indent = try nextBlockLine(column: column)?.indent else { break }
            if indent > column {
                throw fail(
                    "bad indentation: this line is indented more than the keys of its mapping"
                        + " (column \(column + 1))")
            }
            if atSequenceIndicator {
                throw fail("expected a key at column \(column + 1), found a list item ('- ')")
            }
            guard lineHasImplicitKey() else {
                throw fail("expected a key (key: value) at column \(column + 1)")
            }
        }
        return DocumentNode(.mapping(entries), at: start)
    }

    /// Whether the current line, from `index`, starts with `key:` (a plain or one-line quoted
    /// scalar, then `:` and a blank). `: ` alone counts, so that the key parser reports it.
    func lineHasImplicitKey() -> Bool {
        var i = index
        guard let first = byte(i) else { return false }
        if first == YAMLByte.quote || first == YAMLByte.apostrophe {
            i += 1
            while true {
                guard let b = byte(i), b != YAMLByte.lf, b != YAMLByte.cr else { return false }
                if first == YAMLByte.quote && b == YAMLByte.backslash {
                    if isLineBreak(i + 1) { return false }
                    i += 2
                    continue
                }
                if b == first {
                    if first == YAMLByte.apostrophe && byte(i + 1) == YAMLByte.apostrophe {
                        i += 2
                        continue
                    }
                    i += 1
                    break
                }
                i += 1
            }
            while let b = byte(i), b == YAMLByte.space || b == YAMLByte.tab { i += 1 }
            return byte(i) == YAMLByte.colon && isBlankOrEnd(i + 1)
        }
        if first == YAMLByte.openBrace || first == YAMLByte.openBracket { return false }
        while let b = byte(i), b != YAMLByte.lf, b != YAMLByte.cr {
            if b == YAMLByte.colon && isBlankOrEnd(i + 1) { return true }
            if i > index && isCommentStart(i) { return false }
            i += 1
        }
        return false
    }

    /// A block mapping key and its `:`.
    mutating func parseImplicitKey() throws(DocumentError) -> String {
        let key: String
        switch byte(index) {
        case YAMLByte.quote: key = try parseDoubleQuoted(parentIndent: Self.singleLine).text
        case YAMLByte.apostrophe: key = try parseSingleQuoted(parentIndent: Self.singleLine).text
        default:
            if byte(index) == YAMLByte.question && isBlankOrEnd(index + 1) {
                throw fail("complex keys ('? ') are not supported")
            }
            if byte(index) == YAMLByte.colon { throw fail("a key is missing before ':'") }
            try checkPlainStart(inFlow: false)
            // A key is one line: no following line is indented enough to continue it.
            key = try parsePlainScalar(parentIndent: Self.singleLine, inFlow: false).text
        }
        skipSpacesAndTabs()
        guard byte(index) == YAMLByte.colon, isBlankOrEnd(index + 1) else { throw fail("expected ':' after the key") }
        index += 1
        return key
    }
}
