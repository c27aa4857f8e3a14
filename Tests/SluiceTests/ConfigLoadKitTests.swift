// Tests for the load-test kit's configuration: byte sizes, the built-in targets' plans and keys
// (`reply`, `close`), `maxConns` and `maxConns.backlog`, and each rejected value's message.
import Sluice
import Testing

private func service(_ args: [String], _ nodes: [String] = []) throws -> ServicePlan {
    try plan(args, nodes).services[0]
}

private func planError(_ args: [String], _ nodes: [String] = []) -> String? {
    usageMessage { () throws(UsageError) in try plan(args, nodes) }
}

@Suite struct ConfigLoadKitTests {
    /// Decimal units are powers of 1000, binary ones of 1024, in any case, with an optional space.
    @Test(
        arguments: [
            ("0", 0), ("1", 1), ("4096", 4096), ("5B", 5), ("5 b", 5), ("1k", 1000), ("1kB", 1000),
            ("1KB", 1000), ("1Ki", 1024), ("64KiB", 65536), ("64kib", 65536), ("1M", 1_000_000),
            ("10MB", 10_000_000), ("1MiB", 1_048_576), ("1 MiB", 1_048_576), ("2GB", 2_000_000_000),
            ("2GiB", 2_147_483_648), ("1TB", 1_000_000_000_000), ("1TiB", 1_099_511_627_776),
            ("9223372036854775807", Int64.max), ("8388607TiB", 8_388_607 * 1_099_511_627_776),
        ] as [(String, Int64)])
    func byteSize(text: String, bytes: Int64) {
        #expect(ByteSize.parse(text) == bytes)
    }

    /// No sign, no fraction, no unknown unit, nothing past Int64.
    @Test(
        arguments: [
            "", "MB", "-1", "+1", "1.5MB", "1XB", "1 M B", "1MBB", "1e6", " 1", "0x10", "9223372036854775808",
            "8388608TiB", "1PB",
        ])
    func byteSizeRejects(text: String) {
        #expect(ByteSize.parse(text) == nil)
    }

    /// The command line keeps the built-in targets' names (GOST would fall back to `auto`).
    @Test func builtinNamesSurviveTheCommandLine() throws {
        let config = try commandLineConfig(["echo://:7000", "discard://:9000?reply=1MiB", "info://:7001"])
        #expect(
            config.services.map(summary) == [
                "service-0 echo+tcp :7000", "service-1 discard+tcp :9000 S{reply=1MiB} H{reply=1MiB} L{reply=1MiB}",
                "service-2 info+tcp :7001",
            ])
    }

    /// Each built-in target: its kind and name, no targets, no chain, nothing sent upstream.
    @Test(arguments: [("echo", HandlerKind.echo), ("discard", .discard), ("info", .info)])
    func builtinPlan(name: String, kind: HandlerKind) throws {
        let s = try service(["\(name)://:7000?handler.proxyProtocol=2"], ["http://127.0.0.1:3128"])
        #expect(s.handler == kind && s.handlerName == name && s.listener == "tcp")
        #expect(kind.isBuiltin && !kind.forwards && kind.inbound == nil)
        #expect(s.targets.isEmpty && s.chain == nil && s.sendProxyProtocol == 0)
        #expect(s.reply == 0 && !s.closeAfterInfo && s.maxConns == 0 && s.listenBacklog == 4096)
    }

    /// `reply` (discard) and `close` (info), scoped or not; PROXY receive works as on any service.
    @Test func builtinKeys() throws {
        #expect(try service(["discard://:9000?reply=1MiB"]).reply == 1_048_576)
        #expect(try service(["discard://:9000?handler.reply=10MB"]).reply == 10_000_000)
        #expect(try service(["discard://:9000?reply=4096"]).reply == 4096)
        #expect(try service(["info://:7001?close=true"]).closeAfterInfo)
        #expect(try service(["info://:7001?handler.close=1"]).closeAfterInfo)
        let info = try service([
            "info://:7001?proxyProtocol=1&proxyProtocol.trusted=127.0.0.1&proxyProtocol.required=true"
        ])
        #expect(info.receive?.required == true && info.receive?.trusted.count == 1)
    }

    /// A forwarder and the built-in target it forwards to, in one process; the chain that `-F`
    /// gives every service stays on the forwarder.
    @Test func forwarderInFrontOfABuiltinTarget() throws {
        let run = try plan(["tcp://:8000/:7000?handler.proxyProtocol=2", "echo://:7000?proxyProtocol=1"])
        #expect(run.services[0].handler == .tcp && run.services[0].sendProxyProtocol == 2)
        #expect(run.services[0].targets[0].destination.address?.description == "127.0.0.1:7000")
        #expect(run.services[1].handler == .echo && run.services[1].receive != nil)
        let chained = try plan(["tcp://:8000/:7000", "echo://:7000"], ["http://127.0.0.1:3128"])
        #expect(chained.services[0].chain != nil && chained.services[1].chain == nil)
    }

    /// `maxConns` and `maxConns.backlog` are service metadata, on any handler.
    @Test(
        arguments: [
            ("tcp://:8000/x:1", 0, 4096), ("tcp://:8000/x:1?maxConns=10", 10, 4096),
            ("echo://:7000?maxConns=10&maxConns.backlog=128", 10, 128), ("socks5://:1080?service.maxConns=5", 5, 4096),
            ("http://:8080?maxConns.backlog=1", 0, 1), ("tcp://:8000/x:1?maxConns=0", 0, 4096),
            ("tcp://:8000/x:1?handler.maxConns=5", 0, 4096), ("info://:7001?maxConns.backlog=65535", 0, 65535),
        ] as [(String, Int, Int32)])
    func connectionLimit(argument: String, maxConns: Int, backlog: Int32) throws {
        let s = try service([argument])
        #expect(s.maxConns == maxConns && s.listenBacklog == backlog)
    }

    /// A configuration file names the built-in targets and sets the same keys; a value of the wrong
    /// type is reported with its position.
    @Test func configurationFile() throws {
        let yaml = """
            services:
            - name: echo
              addr: :7000
              handler: {type: echo}
              metadata: {maxConns: 10, maxConns.backlog: 128, proxyProtocol: 1}
            - name: download
              addr: :9000
              handler:
                type: discard
                metadata: {reply: 1GiB}
            - name: info
              addr: :7001
              handler: {type: info, metadata: {close: true}}
            """
        let loaded = try loadText(yaml)
        let run = try makeRunPlan(loaded.config, options: RunOptions(), onlineCPUs: 2)
        #expect(run.services.map(\.handler) == [.echo, .discard, .info])
        #expect(run.services[0].maxConns == 10 && run.services[0].listenBacklog == 128)
        #expect(run.services[0].receive != nil)
        #expect(run.services[1].reply == 1 << 30 && run.services[2].closeAfterInfo)
        #expect(
            loadFailure("services:\n- name: s\n  addr: :1\n  handler: {type: discard, metadata: {reply: 1.5MB}}")
                == "gost.yaml:4:46: services[0].handler.metadata.reply: invalid value \"1.5MB\": expected a byte size such as 4096, 64KiB, 1MiB or 10MB"
        )
        #expect(
            loadFailure("services:\n- name: s\n  addr: :1\n  metadata: {maxConns: lots}")
                == "gost.yaml:4:24: services[0].metadata.maxConns: invalid value \"lots\": expected an integer"
        )
    }

    @Test(
        arguments: [
            (
                "echo://:7000/127.0.0.1:80",
                "service-0: handler echo takes no forward targets: it answers the client itself (forward to it from another service, as in -L tcp://:8000/:7000 -L echo://:7000)"
            ),
            (
                "discard://:9000?reply=1.5MB",
                "service-0: invalid value \"1.5MB\" for handler.reply: expected a byte size such as 4096, 64KiB, 1MiB or 10MB"
            ),
            (
                "discard://:9000?reply=-1",
                "service-0: invalid value \"-1\" for handler.reply: expected a byte size such as 4096, 64KiB, 1MiB or 10MB"
            ),
            (
                "info://:7001?close=maybe",
                "service-0: invalid value \"maybe\" for handler.close: expected true or false"
            ),
            ("tcp://:8000/x:1?maxConns=-1", "service-0: maxConns must be 0 (no limit) or more (got -1)"),
            ("tcp://:8000/x:1?maxConns=ten", "service-0: invalid value \"ten\" for maxConns: expected an integer"),
            ("echo://:7000?maxConns.backlog=0", "service-0: maxConns.backlog must be between 1 and 65535 (got 0)"),
            (
                "echo://:7000?maxConns.backlog=65536",
                "service-0: maxConns.backlog must be between 1 and 65535 (got 65536)"
            ),
        ])
    func rejected(argument: String, message: String) {
        #expect(planError([argument]) == message)
    }
}
