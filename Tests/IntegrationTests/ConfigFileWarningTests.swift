// Keys Sluice does not know or does not implement: warning lines with the file and line:col at
// start-up (YAML and JSON) and again on a reload, while the services run as configured.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ConfigFileTests {
    @Suite("Unknown keys are warnings with positions")
    struct Warnings {
        /// A forwarder to `target` with four keys Sluice ignores, on lines 4, 5, 11 and 12.
        static func yaml(target: String, listen: String = "127.0.0.1:0") -> String {
            """
            services:
            - name: warned
              addr: \(listen)
              foo: 1
              observer: obs-0
              handler:
                type: tcp
              forwarder:
                nodes:
                - addr: \(target)
                  weight: 3
            colour: blue

            """
        }

        /// The warnings `yaml` causes, in document order.
        static func yamlWarnings(_ file: String) -> [String] {
            [
                "\(file):4:3: services[0].foo: unknown key; ignored",
                "\(file):5:3: services[0].observer is not supported by Sluice; ignored",
                "\(file):11:7: services[0].forwarder.nodes[0].weight: unknown key; ignored",
                "\(file):12:1: colour: unknown key; ignored",
            ]
        }

        /// The same service as JSON, with an unknown key on line 6.
        static func json(target: String) -> String {
            """
            {
              "services": [
                {
                  "name": "warned",
                  "addr": "127.0.0.1:0",
                  "foo": 1,
                  "handler": {"type": "tcp"},
                  "forwarder": {"nodes": [{"addr": "\(target)"}]}
                }
              ]
            }

            """
        }

        /// The `warning` lines (kind `service`) of `sluice`, their messages in order.
        static func warnings(_ sluice: SluiceProcess) -> [String] {
            sluice.warningLines.filter { $0["kind"]?.string == "service" }.compactMap { $0["msg"]?.string }
        }

        /// `sluice -C warned.yaml`: one warning line per ignored key, each `<file>:<line>:<col>:
        /// <path>: …`, written before the listener's line; the service forwards as configured.
        @Test func yamlWarningsAtStartup() throws {
            let echo = try EchoServer()
            let directory = try ConfigFiles.directory()
            let file = try directory.write("warned.yaml", Self.yaml(target: echo.target))
            let sluice = try SluiceProcess.start(["-C", file])
            #expect(Self.warnings(sluice) == Self.yamlWarnings(file), "\(sluice.stderrText)")
            let listening = sluice.lines.firstIndex { $0.contains("listening on") }
            let lastWarning = sluice.lines.lastIndex { $0.contains("\"level\":\"warning\"") }
            #expect(lastWarning != nil && listening != nil && lastWarning! < listening!, "\(sluice.stderrText)")
            let connection = try sluice.connect()
            #expect(try connection.echo("through the warned service"), "\(sluice.stderrText)")
        }

        /// The same for a JSON file: `<file>:6:7: services[0].foo: unknown key; ignored`.
        @Test func jsonWarningAtStartup() throws {
            let echo = try EchoServer()
            let directory = try ConfigFiles.directory()
            let file = try directory.write("warned.json", Self.json(target: echo.target))
            let sluice = try SluiceProcess.start(["-C", file])
            #expect(
                Self.warnings(sluice) == ["\(file):6:7: services[0].foo: unknown key; ignored"], "\(sluice.stderrText)")
            let connection = try sluice.connect()
            #expect(try connection.echo("through the warned service"), "\(sluice.stderrText)")
        }

        /// A clean file, then the warned one on SIGHUP: no warning at start-up; the reload writes
        /// the four warnings with their positions, then `reload: … 1 changed` (the target moved),
        /// and the service forwards to the new target from the same port.
        @Test func warningsOnReload() throws {
            let first = try EchoServer()
            let second = try EchoServer()
            let directory = try ConfigFiles.directory()
            let file = directory.file("warned.yaml")
            let sluice = try PeerProcess.startWithRetries(ports: 1) { ports in
                let clean = """
                    services:
                    - name: warned
                      addr: 127.0.0.1:\(ports[0])
                      handler: {type: tcp}
                      forwarder: {nodes: [{addr: \(first.target)}]}

                    """
                try directory.write("warned.yaml", clean)
                return try SluiceProcess.start(["-C", file])
            }
            #expect(Self.warnings(sluice).isEmpty, "\(sluice.stderrText)")
            try directory.write("warned.yaml", Self.yaml(target: second.target, listen: "127.0.0.1:\(sluice.port)"))
            let seen = sluice.logLines.count
            sluice.signal(SIGHUP)
            let reload = sluice.waitForMessage(containing: "reload: ", after: seen)
            #expect(
                reload?["msg"]?.string == "reload: 0 started, 0 stopped, 1 changed, 0 unchanged", "\(sluice.stderrText)"
            )
            #expect(Self.warnings(sluice) == Self.yamlWarnings(file), "\(sluice.stderrText)")
            #expect(sluice.waitUntilQuiet())
            let connection = try sluice.connect()
            #expect(try connection.echo("to the second target"), "\(sluice.stderrText)")
            #expect(second.acceptedCount == 1 && first.acceptedCount == 0)
        }
    }
}
