// The libFuzzer entry for the YAML/JSON document reader. scripts/fuzz compiles it with swiftc together
// with Sources/Sluice/Config/File/Document/*.swift; each input is read both ways and checked against oracles.

/// Reads `data` as YAML and as JSON and checks every oracle.
@_cdecl("LLVMFuzzerTestOneInput")
public func documentParserFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let yaml = DocumentOracles.check(bytes, format: .yaml)
    let json = DocumentOracles.check(bytes, format: .json)
    // YAML reads every JSON document to the same value, except where YAML's character rules are
    // stricter than JSON's: tabs and bare carriage returns as whitespace, DEL and C1 controls, U+FFFE/F.
    if let json, DocumentOracles.withinYAMLCharacters(bytes) {
        guard let yaml else { DocumentOracles.fail("JSON document is not YAML") }
        DocumentOracles.require(yaml.hasSameContent(as: json), "JSON and YAML read different values")
    }
    return 0
}

enum DocumentOracles {
    /// Parses; on success every position matches its offset and the node written as YAML and as
    /// JSON reads back with the same content; on failure the position lies within the input and
    /// matches its offset. Returns the node.
    static func check(_ bytes: [UInt8], format: DocumentFormat) -> DocumentNode? {
        let result = Result { () throws(DocumentError) in try DocumentNode.parse(bytes, format: format) }
        switch (result, Result { () throws(DocumentError) in try DocumentNode.parse(bytes, format: format) }) {
        case (.success(let a), .success(let b)): require(a == b, "parse is not deterministic")
        case (.failure(let a), .failure(let b)): require(a == b, "errors are not deterministic")
        default: fail("parse is not deterministic")
        }
        switch result {
        case .failure(let error):
            checkPosition(error.position, positions(of: bytes))
            return nil
        case .success(let node):
            checkPositions(node, positions(of: bytes))
            for output in DocumentFormat.allCases {
                let text = node.formatted(as: output)
                do {
                    let back = try DocumentNode.parse(text, format: output)
                    require(back.hasSameContent(as: node), "\(output) output reads back differently:\n\(text)")
                } catch {
                    fail("\(output) output does not read back (\(error)):\n\(text)")
                }
            }
            return node
        }
    }

    /// The expected line and column of every offset (one pass): the line is one more than the line
    /// feeds before the offset, the column one more than the characters (UTF-8 lead bytes) between
    /// the line start and it.
    static func positions(of bytes: [UInt8]) -> [(line: Int, column: Int)] {
        var table: [(line: Int, column: Int)] = [(1, 1)]
        table.reserveCapacity(bytes.count + 1)
        var (line, column) = (1, 1)
        for b in bytes {
            if b == 0x0A {
                (line, column) = (line + 1, 1)
            } else if b & 0xC0 != 0x80 {
                column += 1
            }
            table.append((line, column))
        }
        return table
    }

    static func checkPosition(_ position: SourcePosition, _ table: [(line: Int, column: Int)]) {
        require(
            position.offset >= 0 && position.offset < table.count, "offset \(position.offset) of \(table.count - 1)")
        let expected = table[position.offset]
        require(
            position.line == expected.line && position.column == expected.column,
            "position \(position) for offset \(position.offset), expected \(expected.line):\(expected.column)")
    }

    /// Every node's and key's position agrees with its offset.
    static func checkPositions(_ node: DocumentNode, _ table: [(line: Int, column: Int)]) {
        checkPosition(node.position, table)
        switch node.value {
        case .sequence(let items): for item in items { checkPositions(item, table) }
        case .mapping(let entries):
            for entry in entries {
                checkPosition(entry.keyPosition, table)
                checkPositions(entry.value, table)
            }
        default: break
        }
    }

    /// No tab, carriage return, DEL, C1 control (C2 80–C2 9F) or U+FFFE/U+FFFF (EF BF BE/BF).
    static func withinYAMLCharacters(_ bytes: [UInt8]) -> Bool {
        for (i, b) in bytes.enumerated() {
            if b == 0x09 || b == 0x0D || b == 0x7F { return false }
            if b == 0xC2, i + 1 < bytes.count, (0x80...0x9F).contains(bytes[i + 1]) { return false }
            if b == 0xEF, i + 2 < bytes.count, bytes[i + 1] == 0xBF, bytes[i + 2] >= 0xBE { return false }
        }
        return true
    }

    static func require(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fail(message()) }
    }

    static func fail(_ message: String) -> Never {
        fatalError("fuzz oracle: \(message)")
    }
}
