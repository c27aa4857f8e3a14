// Tests for `-F` parsing (hops of `chain-0`, connector/dialer fallbacks, scopes, auth) and for how
// the chain is attached to the services.
import Sluice
import Testing

@Suite struct ConfigChainURLTests {
    /// Each row: one `-F` argument and the summary of its hop (see `summary(_: HopConfig)`).
    @Test(arguments: [
        // Seed page: PROXY header to the proxy node; unscoped proxyProtocol goes to the hop only.
        ("http://:8000?proxyProtocol=1", "hop-0 {proxyprotocol=1} | node-0 :8000 http+tcp"),
        // Connector/dialer fallbacks: unknown connector → http, unknown dialer → tcp.
        ("http://proxy:3128", "hop-0 | node-0 proxy:3128 http+tcp"),
        ("1.2.3.4:8080", "hop-0 | node-0 1.2.3.4:8080 http+tcp"),
        (":8080", "hop-0 | node-0 :8080 http+tcp"),
        ("socks5://h:1080", "hop-0 | node-0 h:1080 socks5+tcp"),
        ("socks://h:1080", "hop-0 | node-0 h:1080 socks+tcp"),
        ("tls://h:443", "hop-0 | node-0 h:443 http+tls"),
        ("https://h:443", "hop-0 | node-0 h:443 http+tls"),
        ("socks5+ws://h:80", "hop-0 | node-0 h:80 socks5+ws"),
        ("tcp://127.0.0.1:10443?proxyProtocol=1", "hop-0 {proxyprotocol=1} | node-0 127.0.0.1:10443 tcp+tcp"),
        ("nope+nope://h:1", "hop-0 | node-0 h:1 http+tcp"),
        // Several addresses: several nodes of one hop, sharing everything else.
        (
            "socks5://u:p@1.2.3.4:1080,[::1]:1080,,h:1",
            "hop-0 | node-0 1.2.3.4:1080 socks5+tcp auth=u:p | node-1 [::1]:1080 socks5+tcp auth=u:p"
                + " | node-2 h:1 socks5+tcp auth=u:p"
        ),
        // Auth: user info wins over `auth=`; ssh dialers take it instead of the connector.
        ("http://u%40x:p%3A@h:1", "hop-0 | node-0 h:1 http+tcp auth=u@x:p:"),
        ("http://h:1?auth=dTpw", "hop-0 | node-0 h:1 http+tcp auth=u:p"),
        ("http://a:b@h:1?auth=dTpw", "hop-0 | node-0 h:1 http+tcp auth=a:b"),
        ("http+ssh://u:p@h:22", "hop-0 | node-0 h:22 http+ssh dauth=u:p"),
        // Scopes: hop., node., connector., dialer.; unscoped keys go to all four.
        (
            "http://h:1?hop.a=1&node.b=2&connector.c=3&dialer.d=4&e=5",
            "hop-0 {a=1,e=5} | node-0 h:1 http+tcp N{b=2,e=5} C{c=3,e=5} D{d=4,e=5}"
        ),
        (
            "http://h:1?interface=eth0&so_mark=7&proxyProtocol=2&node.proxyProtocol=1",
            "hop-0 {interface=eth0,proxyprotocol=2,so_mark=7} | node-0 h:1 http+tcp N{proxyprotocol=1}"
        ),
        ("http://h:1?hop.proxyProtocol=1&proxyProtocol=2", "hop-0 {proxyprotocol=1} | node-0 h:1 http+tcp"),
        ("http://h:1?connector.timeout=5s", "hop-0 | node-0 h:1 http+tcp C{timeout=5s}"),
        // Selector keys are consumed into the hop's selector with the CLI defaults.
        ("http://a:1,b:2?strategy=rand", "hop-0 sel=rand/1/30s | node-0 a:1 http+tcp | node-1 b:2 http+tcp"),
        ("http://a:1?failTimeout=10", "hop-0 sel=round/1/10s | node-0 a:1 http+tcp"),
        // TLS keys are consumed.
        ("http://h:1?secure=true&serverName=x&ca=c", "hop-0 | node-0 h:1 http+tcp"),
    ])
    func hopURL(argument: String, expected: String) throws {
        let config = try commandLineConfig([], [argument])
        #expect(config.chains.count == 1)
        #expect(config.chains.first?.name == "chain-0")
        #expect(config.chains.first.map { $0.hops.map(summary) } == [expected])
    }

    @Test func eachFlagIsAHopInOrder() throws {
        let config = try commandLineConfig([], ["http://a:1,b:2", "socks5://c:3"])
        #expect(
            config.chains[0].hops.map(summary) == [
                "hop-0 | node-0 a:1 http+tcp | node-1 b:2 http+tcp", "hop-1 | node-0 c:3 socks5+tcp",
            ])
    }

    /// The seed page's chain example as GOST's config holds it (`gost -L :8080 -F http://:8000?proxyProtocol=1`).
    @Test func seedChainExampleAsFullConfig() throws {
        let config = try commandLineConfig([":8080"], ["http://:8000?proxyProtocol=1"])
        #expect(
            config
                == Config(
                    services: [
                        ServiceConfig(
                            name: "service-0", addr: ":8080", handler: HandlerConfig(type: "auto", chain: "chain-0"),
                            listener: ListenerConfig(type: "tcp"))
                    ],
                    chains: [
                        ChainConfig(
                            name: "chain-0",
                            hops: [
                                HopConfig(
                                    name: "hop-0",
                                    nodes: [
                                        NodeConfig(
                                            name: "node-0", addr: ":8000", connector: ConnectorConfig(type: "http"),
                                            dialer: DialerConfig(type: "tcp"))
                                    ], metadata: ["proxyProtocol": "1"])
                            ])
                    ]))
    }

    /// The chain goes on `handler.chain`, except for rtcp/rudp/runix listeners (`listener.chain`).
    @Test func chainIsAttachedToEveryService() throws {
        let config = try commandLineConfig(
            ["tcp://:8080/x:1", "rtcp://:9000/y:2", "rudp://:9001/y:2", "runix://:9002/y:2", ":7000"], ["http://p:1"])
        #expect(
            config.services.map(summary) == [
                "service-0 tcp+tcp :8080 ->target-0=x:1 hchain=chain-0",
                "service-1 rtcp+rtcp :9000 ->target-0=y:2 lchain=chain-0",
                "service-2 rudp+rudp :9001 ->target-0=y:2 lchain=chain-0",
                "service-3 runix+runix :9002 ->target-0=y:2 lchain=chain-0",
                "service-4 auto+tcp :7000 hchain=chain-0",
            ])
    }

    @Test(arguments: [
        ("http://h:99999", "node \"h:99999\": invalid port \"99999\""),
        ("http://h", "node \"h\": missing port in address \"h\""),
        ("http://h:", "node \"h:\": missing port"),
        ("http://:8000-8001", "node \":8000-8001\": invalid port \"8000-8001\""),
        ("http://", "missing node address (e.g. proxy.example.com:3128)"),
        ("http://h:1?strategy=nope", "unknown strategy \"nope\" (use round, random, fifo or hash)"),
        ("a+b+c://h:1", "invalid scheme \"a+b+c\" (expected connector+dialer)"),
        ("http://h:1?auth=***", "invalid value \"***\" for auth: expected base64 of user:password"),
    ])
    func rejectsWithPreciseMessage(argument: String, message: String) {
        #expect(
            usageMessage { () throws(UsageError) in try buildCommandLineConfig(services: [":1"], nodes: [argument]) }
                == "-F \"\(argument)\": \(message)")
    }
}
