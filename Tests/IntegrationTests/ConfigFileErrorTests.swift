// Configuration files that must not start: the seed page's receive block with its TAB, a table of
// other malformed YAML and JSON files, and mistakes the plan finds. Each exits 2 with the file and
// the position (where the file has one), and nothing listens.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ConfigFileTests {
    @Suite("Malformed files stop start-up")
    struct Errors {
        /// The seed page's receive block byte for byte: lines 8 and 9 start with a TAB.
        static let seedReceiveBlock =
            "services:\n- name: service-0\n  addr: :8080\n  handler:\n    type: http\n  listener:\n    type: tcp\n"
            + "\t  metadata:\n\t    proxyProtocol: 1\n"

        /// `sluice -C tab.yaml` (the page's block as written) and `sluice -C - < tab.yaml`: exit 2
        /// at once, stderr names the file (`<stdin>`) and `8:1` and says tab, nothing is printed
        /// on stdout and no listener was opened.
        @Test func seedBlockWithTabIsRefusedWithItsPosition() throws {
            let directory = try ConfigFiles.directory()
            let file = try directory.write("tab.yaml", Self.seedReceiveBlock)
            for (result, name) in [
                (try ConfigFiles.run(["-C", file]), file), (try ConfigFiles.run(["-C", "-"], stdin: file), "<stdin>"),
            ] {
                #expect(result.exitCode == 2, "\(result)")
                #expect(result.stderr.contains("\(name):8:1: "), "\(result.stderr)")
                #expect(result.stderr.lowercased().contains("tab"), "\(result.stderr)")
                #expect(!result.stderr.contains("listening on"), "\(result.stderr)")
                #expect(result.stdout.isEmpty, "\(result.stdout)")
            }
        }

        /// A file that must be refused, where, and what the message says.
        struct BadFile: Sendable, CustomTestStringConvertible {
            var name: String
            var text: String
            /// `line:col` in the message; nil for mistakes only the plan finds (no position).
            var position: String?
            var fragment: String

            var testDescription: String { name }
        }

        static let badFiles: [BadFile] = [
            BadFile(
                name: "unterminated.yaml", text: "services:\n- name: a\n  addr: \":1\n", position: "3:9",
                fragment: "unterminated double-quoted string"),
            BadFile(
                name: "nested-on-one-line.yaml", text: "services:\n- name: a\n  addr: :1\n   handler: x\n",
                position: "4:11", fragment: "unexpected ':'"),
            BadFile(
                name: "unclosed-flow.yaml", text: "services: [\n", position: "2:1",
                fragment: "unexpected end of text"),
            BadFile(
                name: "anchor.yaml",
                text:
                    "services:\n- name: a\n  addr: 127.0.0.1:1\n  listener:\n    type: tcp\n  handler: &x\n    type: tcp\n",
                position: "6:12", fragment: "anchors (&name) are not supported"),
            BadFile(
                name: "trailing-comma.json", text: "{\"services\": [ {\"name\": \"a\", \"addr\": \"127.0.0.1:1\",} ]}",
                position: "1:52", fragment: "expected a key"),
            BadFile(
                name: "missing-comma.json", text: "{\"services\": [ {\"name\": \"a\" \"addr\": \"127.0.0.1:1\"} ]}",
                position: "1:29", fragment: "expected ',' or '}'"),
            BadFile(
                name: "services-not-a-list.yaml", text: "services: 3\n", position: "1:11",
                fragment: "services: expected a list, found an integer"),
            BadFile(
                name: "unknown-handler.yaml",
                text: "services:\n  - name: a\n    addr: 127.0.0.1:1\n    handler:\n      type: nosuch\n",
                position: "5:13", fragment: "services[0].handler.type: unknown handler \"nosuch\""),
            BadFile(
                name: "bad-port.yaml", text: "services:\n- name: a\n  addr: 127.0.0.1:99999\n", position: "3:9",
                fragment: "invalid port \"99999\""),
            BadFile(
                name: "proxy-protocol-text.yaml",
                text: "services:\n- name: a\n  addr: 127.0.0.1:1\n  metadata:\n    proxyProtocol: abc\n",
                position: "5:20", fragment: "services[0].metadata.proxyProtocol: invalid value \"abc\""),
            BadFile(
                name: "bad-duration.yaml",
                text:
                    "services:\n- name: a\n  addr: 127.0.0.1:1\n  handler:\n    type: tcp\n    metadata:\n      idleTimeout: soon\n",
                position: "7:20", fragment: "idleTimeout: invalid value \"soon\""),
            BadFile(
                name: "duplicate-name.yaml",
                text: "services:\n- name: a\n  addr: 127.0.0.1:1\n- name: a\n  addr: 127.0.0.1:2\n", position: "4:3",
                fragment: "the name \"a\" is used twice (first at 2:3)"),
            BadFile(
                name: "duplicate-key.yaml", text: "services:\n- name: a\n  addr: 127.0.0.1:1\n  Addr: 127.0.0.1:2\n",
                position: "4:3", fragment: "duplicate key \"Addr\""),
            BadFile(
                name: "node-without-addr.yaml",
                text:
                    "services:\n- name: a\n  addr: 127.0.0.1:1\n  handler: {type: tcp}\n  forwarder:\n    nodes:\n    - name: t\n",
                position: "7:7", fragment: "missing addr"),
            BadFile(
                name: "hop-without-nodes.yaml",
                text:
                    "services:\n- name: a\n  addr: 127.0.0.1:1\nchains:\n- name: c\n  hops:\n  - name: h\n    nodes: []\n",
                position: "7:5", fragment: "the hop has no nodes"),
            BadFile(
                name: "api.yaml", text: "api:\n  addr: :18080\nservices:\n- name: a\n  addr: 127.0.0.1:1\n",
                position: "1:1", fragment: "api is not supported yet"),
            BadFile(
                name: "log-level.yaml", text: "log:\n  level: loud\nservices: []\n", position: "2:10",
                fragment: "log.level: unknown level \"loud\""),
            BadFile(
                name: "strategy.yaml",
                text:
                    "services:\n- name: a\n  addr: 127.0.0.1:1\n  forwarder:\n    selector: {strategy: best}\n    nodes: [{addr: 192.0.2.1:5}]\n",
                position: "5:26", fragment: "unknown strategy \"best\""),
        ]

        /// Each file: exit 2 (well before the 20 s limit), stderr is `sluice: <path>:<line:col>:
        /// …` with the expected words, stdout is empty and no `listening on` line was written.
        @Test(arguments: badFiles)
        func malformedFileIsRefusedWithItsPosition(bad: BadFile) throws {
            let directory = try ConfigFiles.directory()
            let file = try directory.write(bad.name, bad.text)
            let result = try ConfigFiles.run(["-C", file])
            #expect(result.exitCode == 2, "\(result)")
            #expect(result.stderr.hasPrefix("sluice: \(file):\(bad.position ?? ""): "), "\(result.stderr)")
            #expect(result.stderr.contains(bad.fragment), "\(result.stderr)")
            #expect(!result.stderr.contains("listening on"), "\(result.stderr)")
            #expect(result.stdout.isEmpty, "\(result.stdout)")
        }

        /// Mistakes the plan finds once the file has been read (a chain nobody defines, a tcp
        /// forwarder without a target, two services on one address): exit 2 naming the service,
        /// and nothing listens, not even the valid service before the bad one.
        @Test(arguments: [
            BadFile(
                name: "unknown-chain.yaml",
                text: "services:\n- name: a\n  addr: 127.0.0.1:0\n  handler: {type: auto, chain: nochain}\n",
                position: nil, fragment: "a: chain \"nochain\" not found"),
            BadFile(
                name: "no-target.yaml",
                text:
                    "services:\n- name: ok\n  addr: 127.0.0.1:0\n  handler: {type: http}\n- name: a\n  addr: 127.0.0.1:0\n  handler: {type: tcp}\n",
                position: nil, fragment: "a: handler tcp needs at least one forward target"),
            BadFile(
                name: "same-address.yaml",
                text:
                    "services:\n- name: a\n  addr: 127.0.0.1:1\n  handler: {type: http}\n- name: b\n  addr: 127.0.0.1:1\n  handler: {type: http}\n",
                position: nil, fragment: "b: listen address 127.0.0.1:1 is already used by a"),
        ])
        func planMistakeInAFileStopsStartup(bad: BadFile) throws {
            let directory = try ConfigFiles.directory()
            let file = try directory.write(bad.name, bad.text)
            let result = try ConfigFiles.run(["-C", file])
            #expect(result.exitCode == 2, "\(result)")
            #expect(result.stderr.contains(bad.fragment), "\(result.stderr)")
            #expect(!result.stderr.contains("listening on"), "\(result.stderr)")
            #expect(result.stdout.isEmpty, "\(result.stdout)")
        }
    }
}
