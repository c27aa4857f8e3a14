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
            checkPosition(error.position, in: bytes)
            return nil
        case .success(let node):
            checkPositions(node, in: bytes)
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

    /// Line and column agree with the offset: the line is one more than the line feeds before it,
    /// the column one more than the characters (UTF-8 lead bytes) between the line start and it.
    static func checkPosition(_ position: SourcePosition, in bytes: [UInt8]) {
        require(position.offset >= 0 && position.offset <= bytes.count, "offset \(position.offset) of \(bytes.count)")
        let before = bytes[..<position.offset]
        let line = before.filter { $0 == 0x0A }.count + 1
        let lineStart = (before.lastIndex(of: 0x0A) ?? -1) + 1
        let column = bytes[lineStart..<position.offset].filter { $0 & 0xC0 != 0x80 }.count + 1
        require(
            position.line == line && position.column == column, "position \(position) for offset \(position.offset)")
    }

    /// Every node's and key's position agrees with its offset.
    static func checkPositions(_ node: DocumentNode, in bytes: [UInt8]) {
        checkPosition(node.position, in: bytes)
        switch node.value {
        case .sequence(let items): for item in items { checkPositions(item, in: bytes) }
        case .mapping(let entries):
            for entry in entries {
                checkPosition(entry.keyPosition, in: bytes)
                checkPositions(entry.value, in: bytes)
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
