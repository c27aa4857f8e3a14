// Writes a document back as text: block-style YAML (two-space indentation) or JSON indented like
// Go's `json.Encoder.SetIndent("", "  ")`. Either reads back, through `DocumentNode.parse`, to a
// node with the same content.

extension DocumentNode {
    /// The node as YAML or JSON text, ending with a newline. Strings are quoted whenever the plain
    /// form would read back as something else (`"1"`, `"true"`, `":8080"`). Non-finite floats,
    /// which neither format reads back as numbers, are written as strings.
    public func formatted(as format: DocumentFormat) -> String {
        var out = ""
        switch format {
        case .json:
            writeJSON(to: &out, indent: 0)
        case .yaml:
            switch value {
            case .mapping(let entries) where !entries.isEmpty: writeYAMLEntries(entries, to: &out, indent: 0)
            case .sequence(let items) where !items.isEmpty: writeYAMLItems(items, to: &out, indent: 0)
            default: writeYAMLScalar(to: &out)
            }
        }
        if !out.hasSuffix("\n") { out += "\n" }
        return out
    }

    // MARK: YAML

    private func writeYAMLEntries(_ entries: [DocumentEntry], to out: inout String, indent: Int) {
        for entry in entries {
            out += String(repeating: " ", count: indent)
            out += Self.yamlScalar(entry.key)
            out += ":"
            entry.value.writeYAMLValue(to: &out, indent: indent)
        }
    }

    private func writeYAMLItems(_ items: [DocumentNode], to out: inout String, indent: Int) {
        for item in items {
            out += String(repeating: " ", count: indent) + "-"
            switch item.value {
            case .mapping(let entries) where !entries.isEmpty:
                // `- key: value`, the other keys aligned under the first.
                out += " "
                var rest = ""
                writeYAMLEntries(entries, to: &rest, indent: indent + 2)
                // Scalars, not Characters: a key may start with a combining mark, which the
                // space before it would otherwise absorb.
                out.unicodeScalars.append(contentsOf: rest.unicodeScalars.dropFirst(indent + 2))
            case .sequence(let items) where !items.isEmpty:
                out += "\n"
                writeYAMLItems(items, to: &out, indent: indent + 2)
            default:
                out += " "
                item.writeYAMLScalar(to: &out)
                out += "\n"
            }
        }
    }

    /// After `key:`: a scalar on the same line, a collection on the following lines.
    private func writeYAMLValue(to out: inout String, indent: Int) {
        switch value {
        case .mapping(let entries) where !entries.isEmpty:
            out += "\n"
            writeYAMLEntries(entries, to: &out, indent: indent + 2)
        case .sequence(let items) where !items.isEmpty:
            out += "\n"
            writeYAMLItems(items, to: &out, indent: indent + 2)
        default:
            out += " "
            writeYAMLScalar(to: &out)
            out += "\n"
        }
    }

    private func writeYAMLScalar(to out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .float(let f): out += f.isFinite ? String(f) : Self.quoted(String(f))
        case .string(let s): out += Self.yamlScalar(s)
        case .sequence: out += "[]"
        case .mapping: out += "{}"
        }
    }

    /// `text` plain when it reads back as the same string, else double-quoted.
    static func yamlScalar(_ text: String) -> String {
        isPlainSafe(text) ? text : quoted(text)
    }

    /// Whether `text`, written plain in a block context, reads back as exactly this string.
    static func isPlainSafe(_ text: String) -> Bool {
        let utf8 = Array(text.utf8)
        guard let first = utf8.first, let last = utf8.last else { return false }
        guard case .string = DocumentParser.resolvePlain(text) else { return false }
        // Indicators (YAML 1.2 §5.3) and leading or trailing blanks.
        if "-?:,[]{}#&*!|>'\"%@` ".utf8.contains(first) || last == YAMLByte.space || last == YAMLByte.colon {
            return false
        }
        if text.hasPrefix("...") { return false }
        for (i, b) in utf8.enumerated() {
            if b < 0x20 || b == 0x7F { return false }
            if b == YAMLByte.colon && utf8[i + 1] == YAMLByte.space { return false }
            if b == YAMLByte.hash && utf8[i - 1] == YAMLByte.space { return false }
        }
        return !text.unicodeScalars.contains(where: needsEscape)
    }

    /// Characters written as `\uXXXX`: controls, YAML's extra line breaks, the byte order mark and
    /// the non-characters YAML does not allow raw.
    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        return v < 0x20 || v == 0x7F || (0x80...0x9F).contains(v)
            || [0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF].contains(v)
    }

    /// A double-quoted string with the escapes both YAML and JSON read.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where needsEscape(scalar):
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    // MARK: JSON

    private func writeJSON(to out: inout String, indent: Int) {
        let inner = String(repeating: "  ", count: indent + 1)
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .float(let f): out += f.isFinite ? String(f) : Self.quoted(String(f))
        case .string(let s): out += Self.quoted(s)
        case .sequence(let items):
            guard !items.isEmpty else {
                out += "[]"
                return
            }
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += inner
                item.writeJSON(to: &out, indent: indent + 1)
                out += i == items.count - 1 ? "\n" : ",\n"
            }
            out += String(repeating: "  ", count: indent) + "]"
        case .mapping(let entries):
            guard !entries.isEmpty else {
                out += "{}"
                return
            }
            out += "{\n"
            for (i, entry) in entries.enumerated() {
                out += inner + Self.quoted(entry.key) + ": "
                entry.value.writeJSON(to: &out, indent: indent + 1)
                out += i == entries.count - 1 ? "\n" : ",\n"
            }
            out += String(repeating: "  ", count: indent) + "}"
        }
    }
}
