// Tests for the document reader: the YAML subset (block and flow collections, scalars and their
// types, comments, folding), strict JSON, the errors and their line:column, and the emitters.
import Sluice
import Testing

/// A node as compact text that shows types: `{a:1,b:["x",null,1.5,true]}`; strings quoted.
func render(_ node: DocumentNode) -> String {
    switch node.value {
    case .null: "null"
    case .bool(let b): b ? "true" : "false"
    case .int(let i): String(i)
    case .float(let f): String(f)
    case .string(let s): "\"" + s.replacing("\n", with: "\\n") + "\""
    case .sequence(let items): "[" + items.map(render).joined(separator: ",") + "]"
    case .mapping(let entries): "{" + entries.map { "\($0.key):\(render($0.value))" }.joined(separator: ",") + "}"
    }
}

private func yaml(_ text: String) throws -> String { render(try checkedParse(text, .yaml)) }
private func json(_ text: String) throws -> String { render(try checkedParse(text, .json)) }

/// Parses, and checks that every node's and key's line:column agrees with its byte offset.
private func checkedParse(_ text: String, _ format: DocumentFormat) throws -> DocumentNode {
    let bytes = Array(text.utf8)
    let node = try DocumentNode.parse(bytes, format: format)
    func expected(_ offset: Int) -> SourcePosition {
        let before = bytes[..<offset]
        let lineStart = (before.lastIndex(of: 0x0A) ?? -1) + 1
        let column = bytes[lineStart..<offset].filter { $0 & 0xC0 != 0x80 }.count + 1
        return SourcePosition(line: before.filter { $0 == 0x0A }.count + 1, column: column, offset: offset)
    }
    func check(_ node: DocumentNode) {
        #expect(node.position == expected(node.position.offset), "\(render(node)) in \(text)")
        switch node.value {
        case .sequence(let items): items.forEach(check)
        case .mapping(let entries):
            for entry in entries {
                #expect(entry.keyPosition == expected(entry.keyPosition.offset), "key \(entry.key) in \(text)")
                check(entry.value)
            }
        default: break
        }
    }
    check(node)
    return node
}

/// The error of parsing `text`, as `line:column: message`; nil when it parses.
func parseFailure(_ text: String, _ format: DocumentFormat = .yaml) -> String? {
    do {
        _ = try DocumentNode.parse(text, format: format)
        return nil
    } catch {
        return error.description
    }
}

@Suite struct YAMLParserTests {
    @Test(
        arguments: [
            // Block mappings and sequences.
            ("a: 1", "{a:1}"), ("a: b\nc: d\n", "{a:\"b\",c:\"d\"}"),
            ("a:\n  b:\n    c: 1\n  d: 2\ne: 3", "{a:{b:{c:1},d:2},e:3}"),
            ("- a\n- b", "[\"a\",\"b\"]"), ("key:\n- a\n- b\nnext: 1", "{key:[\"a\",\"b\"],next:1}"),
            ("key:\n  - a\n  - b", "{key:[\"a\",\"b\"]}"),
            ("- name: x\n  addr: y\n- name: z", "[{name:\"x\",addr:\"y\"},{name:\"z\"}]"),
            ("-   name: x\n    addr: y", "[{name:\"x\",addr:\"y\"}]"),
            ("- - a\n  - b\n- c", "[[\"a\",\"b\"],\"c\"]"), ("-\n  a: 1\n-\n- x", "[{a:1},null,\"x\"]"),
            ("a:\nb: 1", "{a:null,b:1}"), ("a: ~\nb: null\nc: Null", "{a:null,b:null,c:null}"),
            ("  a: 1\n  b: 2", "{a:1,b:2}"), ("a b: c d", "{a b:\"c d\"}"),
            ("url: http://x:80/y?a=b#frag", "{url:\"http://x:80/y?a=b#frag\"}"), ("a: -1", "{a:-1}"),
            ("a: -x", "{a:\"-x\"}"), ("a: b:c", "{a:\"b:c\"}"), ("a:\tb", "{a:\"b\"}"),
            // Scalars: YAML 1.2 core schema, with .inf/.nan and 1_000 left as text.
            (
                "[true, False, TRUE, yes, 0x1F, 0o17, 0123, 1.5, 1e3, .5, -3, +3, 1_000, .inf, .nan, 10s, 1.0, 1.]",
                "[true,false,true,\"yes\",31,15,123,1.5,1000.0,0.5,-3,3,\"1_000\",\".inf\",\".nan\",\"10s\",1.0,1.0]"
            ),
            ("a: 99999999999999999999", "{a:1e+20}"), ("a: 0x", "{a:\"0x\"}"), ("a: 0x-1", "{a:\"0x-1\"}"),
            // Comments.
            ("# c\na: 1 # x\n# y\n  # z\nb: '#no'", "{a:1,b:\"#no\"}"), ("a: b#c", "{a:\"b#c\"}"),
            ("a: 1\n\t# a comment after a tab\nb: 2", "{a:1,b:2}"),
            // Quoted scalars: escapes, folding, keys.
            ("a: \"x\\ty\\u00e9\\n\\x41\\U0001F600\\\\\\\"\"", "{a:\"x\ty\u{e9}\\nA\u{1F600}\\\"\"}"),
            ("a: 'it''s \"x\"'", "{a:\"it's \"x\"\"}"), ("a: \"one\n  two\n\n  three\"", "{a:\"one two\\nthree\"}"),
            ("a: \"one \\\n  two\"", "{a:\"one two\"}"), ("a: \"one\\\n  two\"", "{a:\"onetwo\"}"),
            ("a: 'x  \n   y'", "{a:\"x y\"}"), ("\"a:b\": c\n'd': e", "{a:b:\"c\",d:\"e\"}"),
            ("a: \"1\"\nb: '2'\nc: \"\"", "{a:\"1\",b:\"2\",c:\"\"}"),
            // Plain scalars over several lines.
            ("a: b\n  c\n\n  d", "{a:\"b c\\nd\"}"), ("- a\n  b", "[\"a b\"]"), ("a\nb", "\"a b\""),
            // Flow collections.
            ("a: {b: 1, c: [x, 'y', \"z\"]}", "{a:{b:1,c:[\"x\",\"y\",\"z\"]}}"), ("{a, b: }", "{a:null,b:null}"),
            ("[1, 2, ]", "[1,2]"), ("{a: 1,}", "{a:1}"), ("a: [1,\n  2]", "{a:[1,2]}"), ("[]", "[]"), ("{}", "{}"),
            ("{a:1}", "{a:1:null}"), ("{\"a\":1}", "{a:1}"), ("[a b, c]", "[\"a b\",\"c\"]"),
            ("a: [ # comment\n  1, # one\n  2 ]", "{a:[1,2]}"), ("[-1, a-b, :x]", "[-1,\"a-b\",\":x\"]"),
            ("{X-A: b, x-a: c}", "{X-A:\"b\",x-a:\"c\"}"),
            // JSON is YAML, tabs included.
            ("{\n\t\"a\": [1, 2.5, \"x\", true, null],\n\t\"b\": {}\n}", "{a:[1,2.5,\"x\",true,null],b:{}}"),
            // Documents: empty, markers, line endings, byte order mark.
            ("", "null"), ("# only a comment\n", "null"), ("---\na: 1", "{a:1}"), ("--- [1]", "[1]"),
            ("# c\n---\n", "null"), ("a: 1\r\nb: 2\r\n", "{a:1,b:2}"), ("\u{FEFF}a: 1", "{a:1}"),
            ("[é, [é, {é: é, ü: [x]}], é]", "[\"é\",[\"é\",{é:\"é\",ü:[\"x\"]}],\"é\"]"),
        ] as [(String, String)])
    func parsesYAML(text: String, expected: String) throws {
        #expect(try yaml(text) == expected)
    }

    @Test(
        arguments: [
            ("{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}", "{a:1,b:[true,false,null],c:{d:\"e\"}}"),
            (" [ 1.5e3 , -0 , 0.25 ] ", "[1500.0,0,0.25]"), ("\"\\ud83d\\ude00\\/\"", "\"\u{1F600}/\""),
            ("9223372036854775808", "9.223372036854776e+18"), ("{\"a b\":\"c\\td\"}", "{a b:\"c\td\"}"),
        ] as [(String, String)])
    func parsesJSON(text: String, expected: String) throws {
        #expect(try json(text) == expected)
        // The YAML reader reads every JSON document to the same value.
        #expect(try yaml(text) == expected)
    }

    /// What YAML accepts but JSON must not.
    @Test(arguments: [
        "{a: 1}", "[1,]", "{\"a\":1,}", "'x'", "# c\n1", "[1] # c", "x", "{\"a\"}", "\"a\\qb\"", "\"\\x41\"", "tru",
        "01", "1.", "+1", ".5", "[1 2]", "\"a\tb\"", "\"a\nb\"", "---\n1", "", "1 2", "{\"a\":1,\"a\":2}",
    ])
    func jsonIsStrict(text: String) {
        #expect(parseFailure(text, .json) != nil)
    }

    /// Malformed YAML: the position and the start of the message.
    @Test(
        arguments: [
            ("a:\n\tb: 1", "2:1: a tab character is used for indentation"),
            ("a:\n  \tb: 1", "2:3: a tab character is used for indentation"),
            ("-\tx", "1:2: a tab character is used for indentation"),
            ("a: 1\n  b: 2", "2:4: unexpected ':'"), ("a:\n    b: 1\n  c: 2", "3:3: bad indentation"),
            ("a:\n  - x\n  y: 1", "3:3: expected a list item"), ("- a\nb: 1", "2:1: expected a list item"),
            ("a: 1\n- b", "2:1: expected a key at column 1, found a list item"),
            ("a: \"abc", "1:4: unterminated double-quoted string"),
            ("a: 'abc", "1:4: unterminated single-quoted string"),
            ("a: 'abc\nb: 1", "2:1: unterminated quoted string (opened at 1:4)"),
            ("a: 1\nb: 2\na: 3", "3:1: duplicate key \"a\" (first at 1:1)"),
            ("{a: 1, a: 2}", "1:8: duplicate key \"a\" (first at 1:2)"), ("a: &x 1", "1:4: anchors (&name)"),
            ("a: *x", "1:4: aliases (*name)"), ("a: !!str 1", "1:4: tags (!tag)"), ("- !x y", "1:3: tags"),
            ("&a k: v", "1:1: anchors"), ("a: 1\n---\nb: 2", "2:1: a second document (---)"),
            ("a: 1\n...\n", "2:1: the document end marker (...)"), ("a: |\n  x", "1:4: block scalars (| and >)"),
            ("a: >\n  x", "1:4: block scalars"), ("? a\n: b", "1:1: complex keys"),
            ("a: [1, 2\nb: 3", "2:1: unterminated '[' (opened at 1:4)"), ("a: {b: 1\n", "2:1: unterminated object"),
            ("{a: 1 b: 2}", "1:8: expected ',' or '}'"), ("a: b: c", "1:4: a nested mapping cannot start"),
            ("a: - b", "1:4: a list cannot start on the same line"),
            ("a: [1] x", "1:8: unexpected text after the value"),
            ("a: \"x\"#c", "1:7: a comment needs a space"), ("a: \u{1}", "1:4: control character U+0001"),
            ("a: 1\rb: 2", "1:5: a carriage return must be followed by a line feed"),
            ("a: \"\\q\"", "1:5: invalid escape '\\q'"), ("a: \"\\ud800\"", "1:5: lone high surrogate"),
            ("%YAML 1.2\n---\na: 1", "1:1: directives"), (": b", "1:1: a key is missing before ':'"),
            ("a: [1: 2]", "1:6: a key: value pair inside [ ]"), ("a: @x", "1:4: '@' is reserved"),
            ("a: [- b]", "1:5: a block sequence ('- ') cannot appear inside"), ("[1]\nx", "2:1: unexpected text"),
            ("  a: 1\nb: 2", "2:1: unexpected text: this line is indented less than the top level"),
            ("é: [1,\nx]", "2:1: unterminated '[' (opened at 1:4)"),
            (String(repeating: "[", count: 600), "1:513: nesting deeper than 512"),
        ] as [(String, String)])
    func yamlErrorsSayWhere(text: String, expected: String) {
        let failure = parseFailure(text)
        #expect(failure?.hasPrefix(expected) == true, "\(failure ?? "parsed")")
    }

    @Test func invalidUTF8IsRefusedWhereItIs() {
        for format in DocumentFormat.allCases {
            #expect(
                throws: DocumentError(position: SourcePosition(line: 2, column: 4, offset: 8), message: "invalid UTF-8")
            ) {
                try DocumentNode.parse(Array("a: 1\nb: ".utf8) + [0xC3, 0x28], format: format)
            }
        }
    }

    @Test func positionsCountCharactersAndLines() throws {
        let node = try DocumentNode.parse("# é\nkey: [é, \"x\"]\nlist:\n  - {a: 1}\n", format: .yaml)
        guard case .mapping(let entries) = node.value, case .sequence(let items) = entries[0].value.value,
            case .sequence(let list) = entries[1].value.value
        else {
            Issue.record("unexpected shape \(render(node))")
            return
        }
        #expect(node.position == SourcePosition(line: 2, column: 1, offset: 5))
        #expect(entries.map(\.keyPosition.description) == ["2:1", "3:1"])
        #expect(entries[0].value.position.description == "2:6")
        #expect(items.map(\.position.description) == ["2:7", "2:10"])
        #expect(entries[1].value.position.description == "4:3")
        #expect(list[0].position.description == "4:5")
    }

    @Test func plainScalarsKeepTheirText() throws {
        let node = try DocumentNode.parse("[0123, 1.0, TRUE, 0x1F, '007']", format: .yaml)
        guard case .sequence(let items) = node.value else { return }
        #expect(items.map(\.text) == ["0123", "1.0", "TRUE", "0x1F", "007"])
    }

    /// Nesting up to the limit parses, in both styles, without exhausting the stack.
    @Test func deepNestingWithinTheLimit() throws {
        let flow = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(try DocumentNode.parse(flow, format: .json).formatted(as: .json).count > 0)
        var block = ""
        for depth in 0..<250 { block += String(repeating: " ", count: depth) + "k\(depth):\n" }
        let node = try DocumentNode.parse(block, format: .yaml)
        #expect(try DocumentNode.parse(node.formatted(as: .yaml), format: .yaml).hasSameContent(as: node))
    }

    // MARK: Emitters

    static let emitterSamples = [
        "a: 1", "- x\n- [1, 2.5, true, null, '']\n- {}", "{k: [[], {a: {b: [c]}}]}",
        "s: ['1', 'true', 'null', ':8080', '- x', 'a: b', 'a #b', ' lead', 'trail ', '', '~', '0x10', '1e3', '...x']",
        "q: \"tab\\there\\nline \\\" \\\\ \\u0001 \\u0085 \\u2028 é 😀\"",
        "'key: with colon': v\n'': empty key\n\"1\": k",
        "{\"deep\": [[[1]], [{\"a\": [{\"b\": null}]}]]}", "f: [1.0, 1e-05, -0.5, 1e+20, 123456.789]",
        "services:\n- name: s\n  handler:\n    metadata: {proxyProtocol: 1, header: {X-A: b}}",
        // A key that starts with a combining mark (found by the fuzzer).
        "- \u{32C}+a: x\n  b: y",
    ]

    @Test(arguments: emitterSamples)
    func emittedTextReadsBackTheSame(text: String) throws {
        let node = try DocumentNode.parse(text, format: .yaml)
        for format in DocumentFormat.allCases {
            let written = node.formatted(as: format)
            let back = try DocumentNode.parse(written, format: format)
            #expect(back.hasSameContent(as: node), "\(format): \(written)")
            // The YAML reader reads the JSON output too.
            #expect(try DocumentNode.parse(written, format: .yaml).hasSameContent(as: node))
        }
    }

    @Test func emitterStyle() throws {
        let node = try DocumentNode.parse(
            "services:\n- name: s\n  addr: ':8080'\n  handler: {type: tcp}\n  list: [[a], []]\nn: 1", format: .yaml)
        #expect(
            node.formatted(as: .yaml) == """
                services:
                  - name: s
                    addr: ":8080"
                    handler:
                      type: tcp
                    list:
                      -
                        - a
                      - []
                n: 1

                """)
        #expect(
            try DocumentNode.parse("{\"a\": [1, {\"b\": \"c\"}], \"d\": {}}", format: .json).formatted(as: .json) == """
                {
                  "a": [
                    1,
                    {
                      "b": "c"
                    }
                  ],
                  "d": {}
                }

                """)
    }
}
