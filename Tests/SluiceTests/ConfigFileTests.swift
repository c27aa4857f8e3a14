// Tests for config files in GOST's schema: the YAML examples of GOST's PROXY protocol page and of
// the schema reference against their command-line twins, metadata typing, errors and warnings with
// their positions, and the `-O` round trip.
import Glibc
import Sluice
import Testing

/// Loads YAML (or JSON) text named gost.yaml.
func loadText(_ text: String, _ format: DocumentFormat = .yaml) throws(ConfigFileError) -> LoadedConfig {
    try loadConfig(text, format: format, file: format == .json ? "gost.json" : "gost.yaml")
}

/// The error of loading `text`, as `file:line:column: message`; nil when it loads.
func loadFailure(_ text: String, _ format: DocumentFormat = .yaml) -> String? {
    do {
        _ = try loadText(text, format)
        return nil
    } catch {
        return error.description
    }
}

/// The configuration of a command line that runs.
func commandLine(_ args: [String]) throws -> Config {
    guard case .run(let options) = try parseCommandLine(args, environment: [:]) else {
        Issue.record("\(args) does not run")
        return Config()
    }
    return options.config
}

/// Every metadata scalar as text, the only type the command line gives: a file's `1` and the
/// command line's `"1"` then compare equal (the `Metadata` getters read them alike).
func textOnly(_ config: Config) -> Config {
    func md(_ m: Metadata) -> Metadata { Metadata(m.fields.map { ($0.key, value($0.value)) }) }
    func value(_ v: MetadataValue) -> MetadataValue {
        switch v {
        case .list(let items): .list(items.map(value))
        case .map(let fields): .map(fields.map { MetadataField(key: $0.key, value: value($0.value)) })
        default: .string(v.text ?? "")
        }
    }
    var c = config
    for i in c.services.indices {
        c.services[i].metadata = md(c.services[i].metadata)
        c.services[i].handler.metadata = md(c.services[i].handler.metadata)
        c.services[i].listener.metadata = md(c.services[i].listener.metadata)
    }
    for i in c.chains.indices {
        for j in c.chains[i].hops.indices {
            c.chains[i].hops[j].metadata = md(c.chains[i].hops[j].metadata)
            for k in c.chains[i].hops[j].nodes.indices {
                c.chains[i].hops[j].nodes[k].metadata = md(c.chains[i].hops[j].nodes[k].metadata)
                c.chains[i].hops[j].nodes[k].connector.metadata = md(c.chains[i].hops[j].nodes[k].connector.metadata)
                c.chains[i].hops[j].nodes[k].dialer.metadata = md(c.chains[i].hops[j].nodes[k].dialer.metadata)
            }
        }
    }
    return c
}

/// Lines of a Markdown code block: its four-space indentation removed, a tab counted as four
/// columns, as Markdown reads it.
func markdownBlock(_ lines: [String]) -> String {
    lines.map { line in
        let expanded = line.hasPrefix("\t") ? "    " + line.dropFirst() : Substring(line)
        return String(expanded.dropFirst(4))
    }.joined(separator: "\n") + "\n"
}

/// The plan as text, to compare plans built from a file and from a command line.
func planText(_ config: Config) throws -> String {
    String(describing: try makeRunPlan(config, options: RunOptions(), onlineCPUs: 2))
}

@Suite struct ConfigFileTests {
    // MARK: GOST's PROXY protocol page (docs/tutorials/proxy-protocol.md, zh)

    /// Its receive example as published: the `metadata` lines are indented with a tab.
    static let seedReceive = [
        "    services:", "    - name: service-0", "      addr: :8080", "      handler:", "        type: http",
        "      listener:", "        type: tcp", "\t  metadata:", "\t    proxyProtocol: 1",
    ]

    @Test func seedReceiveExampleAsPublishedIsATabError() {
        let asPublished = Self.seedReceive.joined(separator: "\n")
        let expected = "gost.yaml:8:1: a tab character is used for indentation; YAML indents with spaces only"
        #expect(loadFailure(asPublished) == expected)
        // Without the Markdown indentation, the tab is still the first character of line 8.
        let dedented = Self.seedReceive.map { $0.hasPrefix("\t") ? $0 : String($0.dropFirst(4)) }
        #expect(loadFailure(dedented.joined(separator: "\n")) == expected)
    }

    /// Read with the tab expanded, `metadata` is the service's: receive, as `?proxyProtocol=1`.
    @Test func seedReceiveExampleWithTheTabFixed() throws {
        let loaded = try loadText(markdownBlock(Self.seedReceive))
        #expect(loaded.warnings.isEmpty)
        #expect(loaded.config.services[0].metadata == ["proxyProtocol": 1])
        #expect(textOnly(loaded.config) == (try commandLine(["-L=http://:8080?proxyProtocol=1"])))
        // The page's own command line has no scheme, so its handler is auto, not http.
        var auto = loaded.config
        auto.services[0].handler.type = "auto"
        #expect(textOnly(auto) == (try commandLine(["-L=:8080?proxyProtocol=1"])))
    }

    static let seedSend = markdownBlock([
        "    services:", "    - name: service-0", "      addr: :8080", "      handler:", "        type: tcp",
        "        metadata:", "          proxyProtocol: 1", "      listener:", "        type: tcp", "      forwarder:",
        "        nodes:", "          - name: target-0", "            addr: :8000",
    ])

    @Test func seedSendExampleMatchesItsCommandLine() throws {
        let file = try loadText(Self.seedSend).config
        let args = ["-L", "tcp://:8080/:8000?handler.proxyProtocol=1"]
        #expect(textOnly(file) == (try commandLine(args)))
        // The plan builder reads the file's 1 as the command line's "1".
        #expect(try planText(file) == (try planText(try commandLine(args))))
        #expect(try makeRunPlan(file, options: RunOptions(), onlineCPUs: 1).services[0].sendProxyProtocol == 1)
    }

    /// The same service in JSON, with the value quoted as gost-behaviour.md §2 advises: equal to
    /// the command line's configuration without any conversion.
    @Test func seedSendExampleInJSON() throws {
        let text = """
            {"services": [{"name": "service-0", "addr": ":8080",
              "handler": {"type": "tcp", "metadata": {"proxyProtocol": "1"}},
              "listener": {"type": "tcp"},
              "forwarder": {"nodes": [{"name": "target-0", "addr": ":8000"}]}}]}
            """
        let args = ["-L", "tcp://:8080/:8000?handler.proxyProtocol=1"]
        #expect(try loadText(text, .json).config == (try commandLine(args)))
        // A JSON number is an int here, and reads as 1 too (GOST's GetInt would read 0).
        let number = text.replacing("\"1\"", with: "1")
        #expect(try loadText(number, .json).config.services[0].handler.metadata == ["proxyProtocol": 1])
        #expect(try planText(loadText(number, .json).config) == (try planText(try commandLine(args))))
    }

    static let seedChain = markdownBlock([
        "    services:", "      - name: service-0", "        addr: :8080", "        handler:", "          type: auto",
        "          chain: chain-0", "        listener:", "          type: tcp", "    chains:", "      - name: chain-0",
        "        hops:", "          - name: hop-0", "            nodes:", "              - name: node-0",
        "                addr: :8000", "                connector:", "                  type: http",
        "                dialer:", "                  type: tcp", "            metadata:",
        "              proxyProtocol: 1",
    ])

    @Test func seedChainExampleMatchesItsCommandLine() throws {
        let loaded = try loadText(Self.seedChain)
        #expect(loaded.warnings.isEmpty)
        #expect(textOnly(loaded.config) == (try commandLine(["-L", ":8080", "-F", "http://:8000?proxyProtocol=1"])))
        #expect(loaded.config.chains[0].hops[0].metadata == ["proxyProtocol": 1])
    }

    // MARK: gost-behaviour.md §2, the schema

    static let schema = """
        services:
        - name: service-0          # required, unique
          addr: ":8080"            # host:port; ranges only via the CLI
          admission: adm-0         # or admissions: [..]
          bypass: byp-0            # or bypasses: [..]
          limiter: lim-0           # traffic limiter
          climiter: cl-0           # connection limiter
          rlimiter: rl-0           # request-rate limiter
          logger: logger-0         # or loggers: [..]
          observer: obs-0
          handler:
            type: tcp|rtcp|http|auto|…   # default "auto"
            chain: chain-0               # or chainGroup
            retries: 0
            auth: {username: u, password: p}   # or auther / authers
            metadata: {proxyProtocol: 1, sniffing: true, readTimeout: 15s, …}
          listener:
            type: tcp|rtcp|…             # default "tcp"
            chain: chain-0               # used by rtcp/rudp (bind through the chain)
            tls: {certFile, keyFile, caFile}
            metadata: {…}
          forwarder:
            selector: {strategy: round, maxFails: 1, failTimeout: 10s}
            nodes:
            - name: target-0
              addr: 192.168.1.1:80
              # also: network, bypass, host/protocol/path (filter), matcher, http{…}, tls{…}, metadata
          metadata:                       # service level
            proxyProtocol: 1              # RECEIVE (listener wrapper)
            dialTimeout: 10s              # router dial timeout (default 15s)
            enableStats: true
            interface: eth0
            so_mark: 100
        chains:
        - name: chain-0
          hops:
          - name: hop-0
            selector: {strategy: fifo, maxFails: 3, failTimeout: 30s}
            nodes:
            - name: node-0
              addr: 1.2.3.4:8000
              connector: {type: http, auth: {username: u, password: p}, metadata: {header: {X-A: b}, timeout: 5s}}
              dialer:    {type: tcp, metadata: {}}
              metadata: {proxyProtocol: 2}       # SEND, per node (overrides the hop's value)
            metadata: {proxyProtocol: 1}         # SEND, inherited by every node of the hop
        log: {level: info, format: json, output: stderr}
        api: {addr: ":18080", pathPrefix: /api, accesslog: true, auth: {username, password}}
        metrics: {addr: ":9000", path: /metrics}

        """

    /// As written, the first thing Sluice refuses is the admission controller.
    @Test func schemaExampleAsWritten() {
        #expect(loadFailure(Self.schema) == "gost.yaml:4:3: services[0].admission is not supported yet")
    }

    /// Without what Sluice refuses (each line is refused by name) and with one type picked from
    /// each list of alternatives: the command line's twin, plus what a command line cannot say.
    @Test func schemaExampleMatchesItsCommandLine() throws {
        let refused = [
            ("admission: adm-0", "services[0].admission"), ("bypass: byp-0", "services[0].bypass"),
            ("limiter: lim-0", "services[0].limiter"), ("climiter: cl-0", "services[0].climiter"),
            ("rlimiter: rl-0", "services[0].rlimiter"), ("api: {", "api"),
        ]
        var lines = Self.schema.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for (marker, path) in refused {
            let index = try #require(lines.firstIndex { $0.contains(marker) })
            let text = lines.joined(separator: "\n").replacing("tcp|rtcp|http|auto|…", with: "tcp")
                .replacing("tcp|rtcp|…", with: "tcp")
            #expect(loadFailure(text)?.hasSuffix("\(path) is not supported yet") == true, "\(marker)")
            lines.remove(at: index)
        }
        let text = lines.joined(separator: "\n").replacing("tcp|rtcp|http|auto|…", with: "tcp")
            .replacing("tcp|rtcp|…", with: "tcp")
        let loaded = try loadText(text)
        #expect(
            loaded.warnings.map(\.description) == [
                "gost.yaml:4:3: services[0].logger is not supported by Sluice; ignored",
                "gost.yaml:5:3: services[0].observer is not supported by Sluice; ignored",
                "gost.yaml:15:5: services[0].listener.tls is not supported by Sluice; ignored",
            ])

        var twin = try commandLine([
            "-L",
            "tcp://u:p@:8080/192.168.1.1:80?handler.proxyProtocol=1&handler.sniffing=true&handler.readTimeout=15s"
                + "&strategy=round&maxFails=1&failTimeout=10s&proxyProtocol=1&service.dialTimeout=10s"
                + "&service.enableStats=true&interface=eth0&so_mark=100",
            "-F",
            "http://u:p@1.2.3.4:8000?strategy=fifo&maxFails=3&failTimeout=30s&proxyProtocol=1&node.proxyProtocol=2"
                + "&connector.timeout=5s",
            "-metrics", ":9000?path=/metrics",
        ])
        // What a command line cannot say: the listener's chain, a nested header map, the log.
        twin.services[0].listener.chain = "chain-0"
        twin.chains[0].hops[0].nodes[0].connector.metadata["header"] = .map([MetadataField(key: "X-A", value: "b")])
        twin.log = LogConfig(level: "info", format: "json", output: "stderr")
        #expect(textOnly(loaded.config) == twin)
    }

    // MARK: Metadata values

    /// `1`, `1.0`, `"1"` and `true` are all 1, to the plan as to `Metadata.int`.
    @Test(arguments: ["1", "1.0", "\"1\"", "true", "'1'"])
    func proxyProtocolValues(value: String) throws {
        let text = Self.seedSend.replacing("proxyProtocol: 1", with: "ProxyProtocol: \(value)")
        let config = try loadText(text).config
        #expect(try config.services[0].handler.metadata.int("proxyprotocol") == 1)
        #expect(try makeRunPlan(config, options: RunOptions(), onlineCPUs: 1).services[0].sendProxyProtocol == 1)
    }

    @Test(
        arguments: [
            ("10s", 10_000_000_000), ("1m30s", 90_000_000_000), ("500ms", 500_000_000), ("10", 10_000_000_000),
            ("\"10\"", 10_000_000_000), ("2.5", 2_500_000_000), ("\"1h\"", 3_600_000_000_000),
        ] as [(String, Int64)])
    func durationValues(value: String, nanoseconds: Int64) throws {
        let text = Self.seedSend + "  metadata:\n    dialTimeout: \(value)\n"
        let config = try loadText(text).config
        #expect(try config.services[0].metadata.duration("dialTimeout") == nanoseconds)
        #expect(try makeRunPlan(config, options: RunOptions(), onlineCPUs: 1).services[0].dialTimeout == nanoseconds)
    }

    @Test func metadataKeepsTypesListsAndMaps() throws {
        let text = """
            services:
            - name: s
              addr: :1
              metadata:
                A: 1
                b: 1.5
                c: "x"
                d: false
                e: [1, "2", null]
                f: {Key: v, n: null}
                g: null
            """
        let md = try loadText(text).config.services[0].metadata
        #expect(
            md == [
                "a": 1, "b": 1.5, "c": "x", "d": false, "e": .list([1, "2", ""]),
                "f": .map([MetadataField(key: "Key", value: "v"), MetadataField(key: "n", value: "")]),
            ])
        #expect(md.fields.map(\.key) == ["a", "b", "c", "d", "e", "f"])
    }

    // MARK: The schema's rules

    @Test func keysOfTheSchemaMatchInAnyCase() throws {
        let text = "Services:\n- NAME: s\n  Addr: :1\n  Handler: {Type: tcp, MetaData: {X: 1}}\nLOG: {Level: debug}"
        let config = try loadText(text).config
        #expect(config.services.map(summary) == ["s tcp+tcp :1 H{x=1}"])
        #expect(config.log == LogConfig(level: "debug"))
    }

    @Test func defaultsAndGeneratedNames() throws {
        let text = """
            services:
            - name: s
              addr: "[::1]:0"
              handler:
              forwarder:
                nodes: [{addr: "a:1"}, {name: x, addr: "b:2"}]
            chains:
            - name: c
              hops:
              - nodes: [{addr: "p:1"}, {addr: "q:2", connector: {type: socks5}}]
            """
        let config = try loadText(text).config
        #expect(config.services.map(summary) == ["s auto+tcp [::1]:0 ->target-0=a:1,x=b:2"])
        #expect(config.chains.map { $0.hops.map(summary) } == [["hop-0 | node-0 p:1 http+tcp | node-1 q:2 socks5+tcp"]])
    }

    @Test func stringFieldsKeepTheirSpelling() throws {
        let text = "services:\n- name: 007\n  addr: :1\n  handler: {auth: {username: 0123, password: 1.50}}"
        let service = try loadText(text).config.services[0]
        #expect(service.name == "007")
        #expect(service.handler.auth == AuthConfig(username: "0123", password: "1.50"))
    }

    @Test func selectorDurationsAreGoDurations() throws {
        func failTimeout(_ value: String) throws -> (Int64?, [String]) {
            let loaded = try loadText(Self.seedSend + "    selector: {failTimeout: \(value)}\n")
            return (loaded.config.services[0].forwarder?.selector?.failTimeout, loaded.warnings.map(\.message))
        }
        #expect(try failTimeout("30s") == (30_000_000_000, []))
        // A bare number is nanoseconds, as GOST (and its JSON output) has it; small ones are flagged.
        #expect(try failTimeout("30000000000") == (30_000_000_000, []))
        #expect(
            try failTimeout("30") == (
                30,
                [
                    "services[0].forwarder.selector.failTimeout: 30 is 30ns, as GOST reads a bare number; write 30s for seconds"
                ]
            ))
        #expect(
            loadFailure(Self.seedSend + "    selector: {failTimeout: \"30\"}\n")
                == "gost.yaml:14:29: services[0].forwarder.selector.failTimeout: expected a duration such as 30s or 1m30s,"
                + " found \"30\"")
    }

    /// Mistakes a file can make, each named with its position and what was expected.
    @Test(
        arguments: [
            ("[1]", "1:1: the top level: expected a mapping, found a list"),
            ("services: x", "1:11: services: expected a list, found text"),
            (
                "services:\n- name: s\n  addr: :1\n  metadata:\n    proxyProtocol: abc",
                "5:20: services[0].metadata.proxyProtocol: invalid value \"abc\": expected an integer"
            ),
            (
                "services:\n- name: s\n  addr: :1\n  metadata: {dialTimeout: soon}",
                "4:27: services[0].metadata.dialTimeout: invalid value \"soon\": expected a duration such as 10s, 1m30s or 500ms"
            ),
            (
                "services:\n- name: s\n  addr: :1\n  handler: {metadata: {splice: maybe}}",
                "4:32: services[0].handler.metadata.splice: invalid value \"maybe\": expected true or false"
            ),
            (
                "services:\n- name: s\n  addr: :1\n  metadata: {proxyProtocol: [1]}",
                "4:29: services[0].metadata.proxyProtocol: invalid value a list: expected an integer"
            ),
            (
                "services:\n- name: s\n  addr: :1\n  metadata: {a: 1, A: 2}",
                "4:20: services[0].metadata: duplicate key \"A\" (metadata keys are case-insensitive; first at 4:14)"
            ),
            ("services:\n- name: s", "2:3: services[0] (s): missing addr, the host:port to listen on"),
            ("services:\n- addr: :1", "2:3: services[0]: missing name"),
            ("services:\n-", "2:2: services[0]: expected a mapping, found nothing (null)"),
            ("services:\n- name: s\n  addr: :99999", "3:9: services[0].addr: \":99999\": invalid port \"99999\""),
            (
                "services:\n- name: s\n  addr: :1\n  handler: {type: fooproxy}",
                "4:19: services[0].handler.type: unknown handler \"fooproxy\""
            ),
            (
                "services:\n- name: s\n  addr: :1\n  listener:\n    type: carrier-pigeon",
                "5:11: services[0].listener.type: unknown listener \"carrier-pigeon\""
            ),
            (
                "services:\n- name: s\n  addr: :1\n  handler: tcp",
                "4:12: services[0].handler: expected a mapping, found text"
            ),
            (
                "services:\n- name: s\n  addr: :1\n  handler: {retries: many}",
                "4:22: services[0].handler.retries: expected a whole number, found \"many\""
            ),
            ("services:\n- name: s\n  addr: :1\n  admission: adm-0", "4:3: services[0].admission is not supported yet"),
            (
                "services:\n- name: s\n  addr: :1\n  handler: {chainGroup: {chains: [a]}}",
                "4:13: services[0].handler.chainGroup is not supported yet"
            ),
            (
                "services:\n- name: s\n  addr: :1\n  Name: t",
                "4:3: services[0]: duplicate key \"Name\" (keys are case-insensitive; first at 2:3)"
            ),
            (
                "services:\n- name: s\n  addr: :1\n- name: s\n  addr: :2",
                "4:3: services[1]: the name \"s\" is used twice (first at 2:3)"
            ),
            (
                "services:\n- name: s\n  addr: :1\n  forwarder:\n    nodes: [{name: t}]",
                "5:13: services[0].forwarder.nodes[0]: missing addr, the host:port to forward to"
            ),
            (
                "services:\n- name: s\n  addr: :1\n  forwarder:\n    nodes: [{addr: \"x:1-3\"}]",
                "5:20: services[0].forwarder.nodes[0].addr: \"x:1-3\": invalid port \"1-3\""
            ),
            (
                "services:\n- name: s\n  addr: :1\n  forwarder:\n    selector: {strategy: best}",
                "5:26: services[0].forwarder.selector.strategy: unknown strategy \"best\" (use round, random, fifo or hash)"
            ),
            (
                "services:\n- name: s\n  addr: :1\n  forwarder:\n    selector: {maxFails: 1.5}",
                "5:26: services[0].forwarder.selector.maxFails: expected a whole number, found \"1.5\""
            ),
            ("chains:\n- name: c\n  hops:\n  - name: h", "4:5: chains[0].hops[0]: the hop has no nodes"),
            ("chains:\n- hops: []", "2:3: chains[0]: missing name"),
            (
                "chains:\n- name: c\n  hops:\n  - nodes:\n    - addr: p",
                "5:13: chains[0].hops[0].nodes[0].addr: \"p\": missing port in address \"p\""
            ),
            (
                "chains:\n- name: c\n  hops:\n  - nodes:\n    - {addr: \"p:1\", connector: {type: pigeon}}",
                "5:39: chains[0].hops[0].nodes[0].connector.type: unknown connector \"pigeon\""
            ),
            (
                "chains:\n- name: c\n  hops:\n  - nodes:\n    - {addr: \"p:1\", dialer: {type: pigeon}}",
                "5:36: chains[0].hops[0].nodes[0].dialer.type: unknown dialer \"pigeon\""
            ),
            (
                "chains:\n- name: c\n  hops:\n  - nodes: [{addr: \"p:1\", metadata: {proxyProtocol: two}}]",
                "4:53: chains[0].hops[0].nodes[0].metadata.proxyProtocol: invalid value \"two\": expected an integer"
            ),
            (
                "chains:\n- name: c\n  hops:\n  - nodes: [{addr: \"p:1\", connector: {metadata: {header: x}}}]",
                "4:58: chains[0].hops[0].nodes[0].connector.metadata.header: invalid value \"x\": expected a map"
            ),
            (
                "log: {level: loud}",
                "1:14: log.level: unknown level \"loud\" (use trace, debug, info, warning or error)"
            ),
            ("log: {format: xml}", "1:15: log.format: expected json or text, found \"xml\""),
            ("api: {addr: \":18080\"}", "1:1: api is not supported yet"),
            ("services:\n\t- name: s", "2:1: a tab character is used for indentation; YAML indents with spaces only"),
        ] as [(String, String)])
    func mistakesSayWhere(text: String, expected: String) {
        #expect(loadFailure(text) == "gost.yaml:" + expected)
    }

    @Test func jsonMistakesSayWhere() {
        #expect(
            loadFailure("{\"services\": [{\"name\": \"s\", \"addr\": 1}]}", .json)
                == "gost.json:1:37: services[0].addr: \"1\": missing port in address \"1\"")
        #expect(loadFailure("{\"services\": [\n  {\"name\": \"s\",}\n]}", .json) == "gost.json:2:16: expected a key")
        #expect(loadFailure("services: []", .json) == "gost.json:1:1: unexpected character 's'")
    }

    @Test func warningsSayWhere() throws {
        let text = """
            services:
            - name: s
              addr: :1
              colour: blue
              loggers: [a]
              handler: {type: tcp, observer: o, tls: {}}
              forwarder:
                nodes: [{addr: "a:1", metadata: {x: 1}}]
            chains:
            - name: c
              metadata: {x: 1}
              hops: [{nodes: [{addr: "p:1", tls: {}, dialer: {tls: {}}}]}]
            log: {rotation: {}}
            authers: []
            wibble: 1
            """
        let loaded = try loadText(text)
        #expect(
            loaded.warnings.map(\.description) == [
                "gost.yaml:4:3: services[0].colour: unknown key; ignored",
                "gost.yaml:5:3: services[0].loggers is not supported by Sluice; ignored",
                "gost.yaml:6:24: services[0].handler.observer is not supported by Sluice; ignored",
                "gost.yaml:6:37: services[0].handler.tls is not supported by Sluice; ignored",
                "gost.yaml:8:27: services[0].forwarder.nodes[0].metadata is not supported by Sluice; ignored",
                "gost.yaml:11:3: chains[0].metadata is not supported by Sluice; ignored",
                "gost.yaml:12:33: chains[0].hops[0].nodes[0].tls is not supported by Sluice; ignored",
                "gost.yaml:12:51: chains[0].hops[0].nodes[0].dialer.tls is not supported by Sluice; ignored",
                "gost.yaml:13:7: log.rotation is not supported by Sluice; ignored",
                "gost.yaml:14:1: authers is not supported by Sluice; ignored",
                "gost.yaml:15:1: wibble: unknown key; ignored",
            ])
        #expect(loaded.config.services.count == 1 && loaded.config.chains.count == 1)
    }

    @Test func emptyDocumentsAreEmptyConfigs() throws {
        for text in ["", "# nothing\n", "---\n", "{}", "services:\nchains: []\n"] {
            #expect(try loadText(text).config == Config())
        }
        #expect(try loadText("{}", .json).config == Config())
    }

    // MARK: -O: the configuration as a file, and back

    static let roundTripCommandLines: [[String]] = [
        ["-L", "tcp://:8080/:8000?handler.proxyProtocol=1"],
        ["-L", ":8080", "-F", "http://:8000?proxyProtocol=1"],
        ["-L", "tcp://u:p@:8000-8002/a:1,b:2,c:3?strategy=fifo&maxFails=3&failTimeout=1m30s&retries=2"],
        ["-L", "rtcp://:9000/[::1]:22?proxyProtocol=1&proxyProtocol.trusted=10.0.0.0/8,::1&x=true"],
        [
            "-L", "tcp://:1/h:2?dialTimeout=1.5s&handler.idleTimeout=5m", "-F",
            "socks5://u:p%3A@p1:1,p2:2?hop.strategy=random&node.proxyProtocol=2&connector.timeout=5s", "-F",
            "http://q:3?dialer.x=1",
        ],
        ["-L", "tcp://:1/h:2?dns=1.1.1.1,8.8.8.8&note=%22quoted%22%20text&empty="],
    ]

    @Test(arguments: roundTripCommandLines)
    func printedConfigLoadsBackEqual(args: [String]) throws {
        let config = try commandLine(args)
        for format in DocumentFormat.allCases {
            let text = formatConfig(config, as: format)
            let back = try loadText(text, format)
            #expect(back.config == config, "\(format):\n\(text)")
            #expect(back.warnings.isEmpty)
            guard
                case .printConfig(let printed) = try parseCommandLine(args + ["-O", format.rawValue], environment: [:])
            else {
                Issue.record("-O does not print")
                continue
            }
            #expect(printed == text)
        }
    }

    @Test(arguments: [seedSend, seedChain, markdownBlock(seedReceive)])
    func loadedFilesPrintAndLoadBackEqual(text: String) throws {
        let config = try loadText(text).config
        for format in DocumentFormat.allCases {
            #expect(try loadText(formatConfig(config, as: format), format).config == config)
        }
    }

    @Test func printedYAMLLooksLikeGOSTs() throws {
        let config = try commandLine([
            "-L", "tcp://u:p@:8080/:8000?handler.proxyProtocol=1&strategy=fifo", "-F", "http://:3128?proxyProtocol=2",
        ])
        #expect(
            formatConfig(config, as: .yaml) == """
                services:
                  - name: service-0
                    addr: ":8080"
                    handler:
                      type: tcp
                      chain: chain-0
                      auth:
                        username: u
                        password: p
                      metadata:
                        proxyprotocol: "1"
                    listener:
                      type: tcp
                    forwarder:
                      selector:
                        strategy: fifo
                        maxFails: 1
                        failTimeout: 30s
                      nodes:
                        - name: target-0
                          addr: ":8000"
                chains:
                  - name: chain-0
                    hops:
                      - name: hop-0
                        nodes:
                          - name: node-0
                            addr: ":3128"
                            connector:
                              type: http
                            dialer:
                              type: tcp
                        metadata:
                          proxyprotocol: "2"

                """)
        #expect(formatConfig(config, as: .json).contains("\"failTimeout\": 30000000000"))
    }

    // MARK: -C on the command line

    /// A reader over named in-memory files, in place of the file system.
    static func files(_ contents: [String: String]) -> (String) throws(ConfigFileError) -> ConfigSource {
        { (name: String) throws(ConfigFileError) -> ConfigSource in
            guard let text = contents[name] else {
                throw ConfigFileError(file: name, position: nil, message: "cannot open: no such file or directory")
            }
            return ConfigSource(name: name, bytes: Array(text.utf8), format: name.hasSuffix(".json") ? .json : .yaml)
        }
    }

    static let web =
        "services:\n- name: web\n  addr: :80\n  handler: {type: tcp}\n  forwarder: {nodes: [{addr: \"a:1\"}]}\n  x: 1\nlog: {level: error, format: text}\n"
    static let api = "{\"services\": [{\"name\": \"api\", \"addr\": \":81\"}], \"log\": {\"output\": \"stdout\"}}"

    @Test func configFilesComeBeforeTheCommandLine() throws {
        let read = Self.files(["web.yaml": Self.web, "api.json": Self.api])
        let args = ["-C", "web.yaml", "-L", "tcp://:9000/:1", "-C=api.json", "-F", "http://p:1"]
        guard case .run(let options) = try parseCommandLine(args, environment: [:], readSource: read) else {
            Issue.record("does not run")
            return
        }
        #expect(options.config.services.map(\.name) == ["web", "api", "service-0"])
        #expect(options.config.services.map(\.handler.chain) == [nil, nil, "chain-0"])
        #expect(options.config.chains.map(\.name) == ["chain-0"])
        // The later file's log replaces the earlier one's, whole (GOST's mergeConfig).
        #expect(options.config.log == LogConfig(output: "stdout"))
        #expect(options.configFiles == ["web.yaml", "api.json"])
        #expect(options.commandLineConfig == (try commandLine(["-L", "tcp://:9000/:1", "-F", "http://p:1"])))
        #expect(options.warnings.map(\.description) == ["web.yaml:6:3: services[0].x: unknown key; ignored"])
        // A reload does the same from the stored parts.
        let (again, warnings) = try buildConfig(
            files: options.configFiles, commandLine: options.commandLineConfig, readSource: read)
        #expect(again == options.config && warnings == options.warnings)
    }

    @Test func printingTheMergedConfiguration() throws {
        let read = Self.files(["web.yaml": Self.web])
        func printed(_ args: [String], env: [String: String] = [:]) throws -> String? {
            guard case .printConfig(let text) = try parseCommandLine(args, environment: env, readSource: read) else {
                return nil
            }
            return text
        }
        let yaml = try #require(try printed(["-C", "web.yaml", "-L", "tcp://:2/:3", "-O", "yaml"]))
        let merged = try loadText(yaml).config
        #expect(merged.services.map(\.name) == ["web", "service-0"])
        #expect(merged.log == LogConfig(level: "error", format: "text"))
        // -D, -DD, -log-level and GOST_LOGGER_LEVEL land in log.level, as GOST prints them.
        #expect(try loadText(printed(["-C", "web.yaml", "-D", "-O", "yaml"])!).config.log?.level == "debug")
        #expect(try loadText(printed(["-C", "web.yaml", "-DD", "-O=json"])!, .json).config.log?.level == "trace")
        #expect(
            try loadText(printed(["-O", "yaml"], env: ["GOST_LOGGER_LEVEL": "warn"])!).config.log
                == LogConfig(level: "warning"))
        #expect(try printed(["-O", "yaml"]) == "services: []\n")
        #expect(try printed(["-O", "json"]) == "{\n  \"services\": []\n}\n")
    }

    @Test(
        arguments: [
            (["-C", "web.yaml", "-L", ":1"], ""),
            (["-C", "web.yaml", "-C", "web.yaml"], "service web is defined in web.yaml and again in web.yaml"),
            (
                ["-C", "svc0.yaml", "-L", ":1"],
                "service service-0 is defined in svc0.yaml and by the command line, which names its services"
                    + " service-0, service-1, … and its chain chain-0; rename the one in svc0.yaml"
            ),
            (["-C", "bad.yaml"], "bad.yaml:2:3: services[0]: missing name"),
            (["-C", "none.yaml"], "none.yaml: cannot open: no such file or directory"),
            (["-C", "none.yaml", "-V"], "version"),
        ] as [([String], String)])
    func commandLineProblems(args: [String], expected: String) {
        let read = Self.files([
            "web.yaml": Self.web, "svc0.yaml": "services: [{name: service-0, addr: \":5\"}]",
            "bad.yaml": "services:\n- addr: :1",
        ])
        do {
            let action = try parseCommandLine(args, environment: [:], readSource: read)
            #expect(expected == (action == .version ? "version" : ""))
        } catch {
            #expect(error.message == expected)
        }
    }

    // MARK: Reading sources

    @Test func readingFilesAndInlineJSON() throws {
        let dir = "/tmp/sluice-config-test-\(getpid())"
        mkdir(dir, 0o700)
        defer {
            for name in ["a.yaml", "b.JSON", "c.yml", "d"] { unlink("\(dir)/\(name)") }
            rmdir(dir)
        }
        for (name, text) in [("a.yaml", "services: []"), ("b.JSON", "{}"), ("c.yml", "{}"), ("d", "log: {}")] {
            let file = fopen("\(dir)/\(name)", "w")
            fputs(text, file)
            fclose(file)
        }
        #expect(
            try readConfigSource("\(dir)/a.yaml")
                == ConfigSource(name: "\(dir)/a.yaml", bytes: Array("services: []".utf8), format: .yaml))
        #expect(try readConfigSource("\(dir)/b.JSON").format == .json)
        #expect(try readConfigSource("\(dir)/c.yml").format == .yaml)
        #expect(try readConfigSource("\(dir)/d").format == .yaml)
        #expect(
            try readConfigSource(" {\"log\": {}} ")
                == ConfigSource(name: "-C", bytes: Array("{\"log\": {}}".utf8), format: .json))
        #expect(throws: ConfigFileError(file: dir, position: nil, message: "cannot read: is a directory")) {
            try readConfigSource(dir)
        }
        #expect(
            throws: ConfigFileError(file: "\(dir)/x", position: nil, message: "cannot open: no such file or directory")
        ) {
            try readConfigSource("\(dir)/x")
        }
        // Through the command line, with the real reader.
        guard case .run(let options) = try parseCommandLine(["-C", "\(dir)/d", "-L", ":1"], environment: [:]) else {
            Issue.record("does not run")
            return
        }
        #expect(options.config.log == LogConfig())
    }

    /// The example in `-h` loads.
    @Test func helpTextExampleLoads() throws {
        let lines = usageText().split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex { $0.hasSuffix("services:") })
        let example = lines[start...].prefix { $0.hasPrefix("    ") }.map { String($0.dropFirst(4)) }
        #expect(example.count == 6)
        let loaded = try loadText(example.joined(separator: "\n"))
        #expect(loaded.warnings.isEmpty)
        #expect(loaded.config.services.map(summary) == ["web tcp+tcp :8080 ->app=192.0.2.10:80 H{proxyprotocol=2}"])
    }
}
