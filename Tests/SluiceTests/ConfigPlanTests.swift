// Tests for run plans: defaults, listen addresses, targets, PROXY settings, selectors, timeouts, and
// every validation error with its exact message.
import Sluice
import Testing

private let second = GoDuration.second

private func service(_ args: [String], _ nodes: [String] = []) throws -> ServicePlan {
    try plan(args, nodes).services[0]
}

private func planError(_ args: [String], _ nodes: [String] = []) -> String? {
    usageMessage { () throws(UsageError) in try plan(args, nodes) }
}

@Suite struct ConfigPlanTests {
    @Test func plainForwardGetsEveryDefault() throws {
        let run = try plan(["tcp://:8080/192.168.1.1:80"])
        #expect(run.threads == 4 && run.grace == 5 * second && run.logLevel == .info)
        let s = run.services[0]
        #expect(s.name == "service-0" && s.handler == .tcp && s.handlerName == "tcp" && s.listener == "tcp")
        #expect(s.listen == SocketAddress(.v6(.any), port: 8080) && s.listenHost == nil)
        #expect(
            s.targets == [
                TargetPlan(
                    name: "target-0", host: "192.168.1.1", port: 80, address: SocketAddress("192.168.1.1:80"),
                    text: "192.168.1.1:80")
            ])
        #expect(s.selector == SelectorPlan(strategy: .round, maxFails: 1, failTimeout: 10 * second))
        #expect(s.dialTimeout == 15 * second && s.idleTimeout == 0 && s.retries == 0)
        #expect(s.receive == nil && s.sendProxyProtocol == 0 && s.chain == nil)
    }

    /// Bind hosts: empty → [::] (dual-stack), IPv4 stays IPv4, names are resolved later.
    @Test(
        arguments: [
            ("tcp://:8080/x:1", "[::]:8080", nil), ("tcp://0.0.0.0:8080/x:1", "0.0.0.0:8080", nil),
            ("tcp://127.0.0.1:0/x:1", "127.0.0.1:0", nil), ("tcp://[::1]:8080/x:1", "[::1]:8080", nil),
            ("tcp://localhost:8080/x:1", "[::]:8080", "localhost"), ("rtcp://:9000/x:1", "[::]:9000", nil),
        ] as [(String, String, String?)])
    func listenAddress(argument: String, listen: String, host: String?) throws {
        let s = try service([argument])
        #expect(s.listen.description == listen)
        #expect(s.listenHost == host)
    }

    /// Targets: IP literals resolved, empty host → 127.0.0.1, names kept for dial time.
    @Test(
        arguments: [
            (":8000", "127.0.0.1", 8000, "127.0.0.1:8000"), ("example.com:80", "example.com", 80, nil),
            ("[::1]:9000", "::1", 9000, "[::1]:9000"), ("10.0.0.1:65535", "10.0.0.1", 65535, "10.0.0.1:65535"),
            ("my_host.local.:22", "my_host.local.", 22, nil),
        ] as [(String, String, UInt16, String?)])
    func target(text: String, host: String, port: UInt16, address: String?) throws {
        let t = try service(["tcp://:8080/\(text)"]).targets[0]
        #expect(t.destination.host == host && t.destination.port == port && t.text == text)
        #expect(t.destination.address?.description == address)
    }

    /// Seed page: receive on the second service only.
    @Test func seedReceiveExample() throws {
        let run = try plan(["tcp://:8000/:8080", "tcp://:8080/example.com:80?proxyProtocol=1"])
        #expect(run.services[0].receive == nil)
        #expect(
            run.services[1].receive
                == ProxyReceivePlan(timeout: 10 * second, trusted: [], required: false, maxV2Length: 4096))
        #expect(run.services[1].sendProxyProtocol == 0)
        #expect(run.services[0].targets[0].destination.address?.description == "127.0.0.1:8080")
    }

    /// Seed page: send from the tcp and rtcp forwarders; rtcp never receives.
    @Test(
        arguments: [
            ("tcp://:8080/:8000?handler.proxyProtocol=1", "tcp", 1, false),
            ("rtcp://:8080/:8000?handler.proxyProtocol=1", "rtcp", 1, false),
            ("tcp://:8080/:8000?handler.proxyProtocol=2", "tcp", 2, false),
            ("tcp://:8080/:8000?handler.proxyProtocol=7", "tcp", 2, false),
            ("tcp://:8080/:8000?handler.proxyProtocol=-1", "tcp", 0, false),
            ("tcp://:8080/:8000?proxyProtocol=1", "tcp", 0, true),
            ("tcp://:8080/:8000?proxyProtocol=true", "tcp", 0, true),
            ("tcp://:8080/:8000?proxyProtocol=0", "tcp", 0, false),
            ("rtcp://:8080/:8000?proxyProtocol=1", "rtcp", 0, false),
            ("tcp://:8080/:8000?proxyProtocol=1&handler.proxyProtocol=2", "tcp", 2, true),
        ] as [(String, String, Int, Bool)])
    func proxyProtocolDirections(argument: String, handler: String, send: Int, receives: Bool) throws {
        let s = try service([argument])
        #expect(s.handlerName == handler && s.listener == handler)
        #expect(s.sendProxyProtocol == send)
        #expect((s.receive != nil) == receives)
    }

    @Test func receiveOptions() throws {
        let s = try service([
            "tcp://:8080/x:1?proxyProtocol=1&proxyProtocol.trusted=10.0.0.0/8,::1&proxyProtocol.required=true"
                + "&proxyProtocol.timeout=3s&proxyProtocol.maxLength=512"
        ])
        #expect(
            s.receive
                == ProxyReceivePlan(
                    timeout: 3 * second, trusted: [CIDR("10.0.0.0/8")!, CIDR("::1")!], required: true, maxV2Length: 512)
        )
    }

    @Test(
        arguments: [
            ("tcp://:8080/x:1?dialTimeout=5s", 5 * second, 0), ("tcp://:8080/x:1?dialTimeout=10", 10 * second, 0),
            ("tcp://:8080/x:1?dialTimeout=0", 15 * second, 0), ("tcp://:8080/x:1?dialTimeout=-1s", 0, 0),
            ("tcp://:8080/x:1?handler.idleTimeout=1m", 15 * second, 60 * second),
            ("tcp://:8080/x:1?idleTimeout=30s", 15 * second, 30 * second),
            ("tcp://:8080/x:1?service.idleTimeout=30s", 15 * second, 0),
            ("tcp://:8080/x:1?handler.idleTimeout=-5s", 15 * second, 0),
            ("tcp://:8080/x:1?handler.dialTimeout=5s", 15 * second, 0),
        ] as [(String, Int64, Int64)])
    func timeouts(argument: String, dial: Int64, idle: Int64) throws {
        let s = try service([argument])
        #expect(s.dialTimeout == dial && s.idleTimeout == idle)
    }

    @Test(
        arguments: [
            ("tcp://:8080/a:1,b:2", SelectorPlan(strategy: .round, maxFails: 1, failTimeout: 10 * second)),
            ("tcp://:8080/a:1,b:2?strategy=fifo", SelectorPlan(strategy: .fifo, maxFails: 1, failTimeout: 30 * second)),
            ("tcp://:8080/a:1?strategy=ha", SelectorPlan(strategy: .fifo, maxFails: 1, failTimeout: 30 * second)),
            ("tcp://:8080/a:1?strategy=rand", SelectorPlan(strategy: .random, maxFails: 1, failTimeout: 30 * second)),
            ("tcp://:8080/a:1?strategy=rr", SelectorPlan(strategy: .round, maxFails: 1, failTimeout: 30 * second)),
            (
                "tcp://:8080/a:1?strategy=hash&maxFails=3&failTimeout=1m",
                SelectorPlan(strategy: .hash, maxFails: 3, failTimeout: 60 * second)
            ),
        ] as [(String, SelectorPlan)])
    func selector(argument: String, expected: SelectorPlan) throws {
        #expect(try service([argument]).selector == expected)
    }

    @Test func retriesAndThreadsAndGraceAndLogLevel() throws {
        #expect(try service(["tcp://:8080/a:1,b:2?retries=3"]).retries == 3)
        let config = try buildCommandLineConfig(services: ["tcp://:1/x:1"], nodes: [])
        let run = try makeRunPlan(
            config, options: RunOptions(threads: 2, grace: 0, logLevel: .trace), onlineCPUs: 16)
        #expect(run.threads == 2 && run.grace == 0 && run.logLevel == .trace)
        #expect(try makeRunPlan(config, options: RunOptions(), onlineCPUs: 16).threads == 16)
        var withLog = config
        withLog.log = LogConfig(level: "warn")
        #expect(try makeRunPlan(withLog, options: RunOptions(), onlineCPUs: 1).logLevel == .warning)
        #expect(try makeRunPlan(withLog, options: RunOptions(logLevel: .debug), onlineCPUs: 1).logLevel == .debug)
    }

    /// A port range with one target per port: each service forwards to its own.
    @Test func portRangePairsTargets() throws {
        let run = try plan(["tcp://:8000-8001/:9000-9001"])
        #expect(run.services.map(\.name) == ["service-0", "service-1"])
        #expect(run.services.map(\.listen.port) == [8000, 8001])
        #expect(run.services.map { $0.targets.map(\.text) } == [[":9000"], [":9001"]])
    }

    /// `-L tcp://:8080/example.com:443 -F http://u:p@proxy:3128?proxyProtocol=2` in full.
    @Test func chainPlan() throws {
        let s = try service(
            ["tcp://:8080/example.com:443"],
            [
                "http://u:p@proxy:3128,10.0.0.2:3128?proxyProtocol=2&connector.timeout=5s&strategy=fifo",
                "socks5://[::1]:1080",
            ])
        #expect(
            s.chain
                == ChainPlan(
                    name: "chain-0",
                    hops: [
                        HopPlan(
                            name: "hop-0",
                            selector: SelectorPlan(strategy: .fifo, maxFails: 1, failTimeout: 30 * second),
                            nodes: [
                                NodePlan(
                                    name: "node-0", host: "proxy", port: 3128, address: nil, text: "proxy:3128",
                                    connector: .http, auth: Credentials(username: "u", password: "p"), proxyProtocol: 2,
                                    headers: [], connectTimeout: 5 * second),
                                NodePlan(
                                    name: "node-1", host: "10.0.0.2", port: 3128,
                                    address: SocketAddress("10.0.0.2:3128"),
                                    text: "10.0.0.2:3128", connector: .http,
                                    auth: Credentials(username: "u", password: "p"),
                                    proxyProtocol: 2, headers: [], connectTimeout: 5 * second),
                            ]),
                        HopPlan(
                            name: "hop-1", selector: .default,
                            nodes: [
                                NodePlan(
                                    name: "node-0", host: "::1", port: 1080, address: SocketAddress("[::1]:1080"),
                                    text: "[::1]:1080", connector: .socks5)
                            ]),
                    ]))
    }

    /// Seed page: `-F http://:8000?proxyProtocol=1`; a node's own value beats the hop's.
    @Test(
        arguments: [
            ("http://:8000?proxyProtocol=1", 1), ("http://:8000?proxyProtocol=1&node.proxyProtocol=2", 2),
            ("http://:8000?hop.proxyProtocol=3", 2), ("http://:8000", 0),
            ("http://:8000?node.proxyProtocol=0&proxyProtocol=2", 0),
        ] as [(String, Int)])
    func nodeInheritsHopProxyProtocol(node: String, expected: Int) throws {
        let n = try #require(try service(["tcp://:8080/x:1"], [node]).chain?.hops[0].nodes[0])
        #expect(n.proxyProtocol == expected)
        #expect(n.destination.address?.description == "127.0.0.1:8000")
    }

    /// The seed page's YAML examples, built as the config file would give them.
    @Test func seedYAMLExamples() throws {
        let sendService = ServiceConfig(
            name: "service-0", addr: ":8080", handler: HandlerConfig(type: "tcp", metadata: ["proxyProtocol": 1]),
            listener: ListenerConfig(type: "tcp"),
            forwarder: ForwarderConfig(nodes: [ForwardNodeConfig(name: "target-0", addr: ":8000")]))
        let send = try makeRunPlan(Config(services: [sendService]), options: RunOptions(), onlineCPUs: 1)
        #expect(send.services[0].sendProxyProtocol == 1 && send.services[0].receive == nil)

        var chained = sendService
        chained.handler = HandlerConfig(type: "tcp", chain: "chain-0")
        let chain = ChainConfig(
            name: "chain-0",
            hops: [
                HopConfig(
                    name: "hop-0",
                    nodes: [
                        NodeConfig(
                            name: "node-0", addr: ":8000", connector: ConnectorConfig(type: "http"),
                            dialer: DialerConfig(type: "tcp"))
                    ], metadata: ["proxyProtocol": 1])
            ])
        let run = try makeRunPlan(Config(services: [chained], chains: [chain]), options: RunOptions(), onlineCPUs: 1)
        #expect(run.services[0].chain?.hops[0].nodes[0].proxyProtocol == 1)
        #expect(run.services[0].sendProxyProtocol == 0)

        // The receive example: an http proxy handler that receives PROXY headers.
        var receive = sendService
        receive.handler = HandlerConfig(type: "http")
        receive.forwarder = nil
        receive.metadata = ["proxyProtocol": 1]
        let received = try makeRunPlan(Config(services: [receive]), options: RunOptions(), onlineCPUs: 1)
        #expect(received.services[0].handler == .http && received.services[0].receive != nil)
        #expect(received.services[0].targets.isEmpty)
    }

    @Test func headersAndSocksAliasFromAFile() throws {
        let node = NodeConfig(
            name: "node-0", addr: "p:1",
            connector: ConnectorConfig(
                type: "http",
                metadata: [
                    "header": .map([
                        MetadataField(key: "X-B", value: "2"), MetadataField(key: "User-Agent", value: "s"),
                    ])
                ]))
        var socks = node
        socks.connector = ConnectorConfig(type: "socks")
        let config = Config(
            services: [
                ServiceConfig(
                    name: "a", addr: ":1", handler: HandlerConfig(type: "tcp", chain: "c"),
                    listener: ListenerConfig(type: "tcp"),
                    forwarder: ForwarderConfig(nodes: [ForwardNodeConfig(name: "t", addr: "x:1")]))
            ],
            chains: [ChainConfig(name: "c", hops: [HopConfig(name: "h", nodes: [node, socks])])])
        let nodes = try makeRunPlan(config, options: RunOptions(), onlineCPUs: 1).services[0].chain!.hops[0].nodes
        #expect(
            nodes[0].headers == [HeaderField(name: "X-B", value: "2"), HeaderField(name: "User-Agent", value: "s")])
        #expect(nodes[1].connector == .socks5)
    }

    @Test func ignoreChainDropsTheChain() throws {
        #expect(try service(["tcp://:8080/x:1?ignoreChain=true"], ["http://p:1"]).chain == nil)
        #expect(try service(["tcp://:8080/x:1"], ["http://p:1"]).chain?.name == "chain-0")
    }

    @Test func servicesMayShareAPortOnDisjointAddresses() throws {
        let run = try plan([
            "tcp://0.0.0.0:8080/a:1", "tcp://[::1]:8080/b:1", "tcp://127.0.0.1:0/c:1", "tcp://127.0.0.1:0/d:1",
        ])
        #expect(run.services.count == 4)
    }
}
