// TextFormat: `log.format: text`, logrus's TextFormatter as GOST writes it — `time="…" level=info
// msg="…"` and then the other fields sorted, a value quoted only when it needs to be. The reactors
// always build JSON lines; the sink's writer thread converts them, so the data path is the same.

/// Converts Sluice's own flat JSON log lines (string and integer values, no nesting) to logrus text.
public enum TextFormat {
    /// Appends the text form of every line in `json` (newline-terminated lines) to `out`.
    public static func convert(_ json: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        var lineStart = 0
        while lineStart < json.count {
            var lineEnd = lineStart
            while lineEnd < json.count && json[lineEnd] != 0x0A { lineEnd += 1 }
            convertLine(UnsafeRawBufferPointer(rebasing: json[lineStart..<lineEnd]), into: &out)
            lineStart = lineEnd + 1
        }
    }

    /// One `{"key":value,…}` line; anything else is passed through unchanged.
    static func convertLine(_ line: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        guard let fields = fields(of: line) else {
            out.append(contentsOf: line)
            out.append(0x0A)
            return
        }
        // logrus puts time, level and msg first, then the rest in key order (already sorted).
        let first: [[UInt8]] = [Array("time".utf8), Array("level".utf8), Array("msg".utf8)]
        var ordered = first.compactMap { key in fields.first { $0.key == key } }
        ordered += fields.filter { !first.contains($0.key) }
        for (i, field) in ordered.enumerated() {
            if i > 0 { out.append(0x20) }
            out.append(contentsOf: field.key)
            out.append(0x3D)
            if field.quoted && field.raw.count > 2 && !needsQuoting(field.raw.dropFirst().dropLast()) {
                out.append(contentsOf: field.raw.dropFirst().dropLast())
            } else {
                out.append(contentsOf: field.raw)
            }
        }
        out.append(0x0A)
    }

    /// logrus quotes a value unless every byte is a letter, digit or one of `-._/@^+`.
    static func needsQuoting(_ value: ArraySlice<UInt8>) -> Bool {
        !value.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A)
                || b == 0x2D || b == 0x2E || b == 0x5F || b == 0x2F || b == 0x40 || b == 0x5E || b == 0x2B
        }
    }

    /// The fields of a flat JSON object: key bytes, the value as written (a JSON string keeps its
    /// quotes and escapes, which match Go's `%q` for what Sluice logs), and whether it was a string.
    static func fields(of line: UnsafeRawBufferPointer) -> [(key: [UInt8], raw: [UInt8], quoted: Bool)]? {
        guard line.count >= 2, line[0] == 0x7B, line[line.count - 1] == 0x7D else { return nil }
        var fields: [(key: [UInt8], raw: [UInt8], quoted: Bool)] = []
        var i = 1
        while i < line.count - 1 {
            guard line[i] == 0x22, let keyEnd = stringEnd(line, from: i) else { return nil }
            let key = Array(line[(i + 1)..<keyEnd])
            i = keyEnd + 1
            guard i < line.count, line[i] == 0x3A else { return nil }
            i += 1
            let valueStart = i
            let quoted = i < line.count && line[i] == 0x22
            if quoted {
                guard let end = stringEnd(line, from: i) else { return nil }
                i = end + 1
            } else {
                while i < line.count - 1 && line[i] != 0x2C { i += 1 }
            }
            fields.append((key, Array(line[valueStart..<i]), quoted))
            if i < line.count - 1 {
                guard line[i] == 0x2C else { return nil }
                i += 1
            }
        }
        return fields
    }

    /// The index of the quote closing the string that opens at `start`.
    private static func stringEnd(_ line: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var i = start + 1
        while i < line.count {
            if line[i] == 0x5C {
                i += 2
                continue
            }
            if line[i] == 0x22 { return i }
            i += 1
        }
        return nil
    }
}
