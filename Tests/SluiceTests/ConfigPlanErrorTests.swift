// Tests for plan validation: each rejected configuration and its exact message.
import Sluice
import Testing

private func planError(_ args: [String], _ nodes: [String] = []) -> String? {
    usageMessage { () throws(UsageError) in try plan(args, nodes) }
}

private func planError(_ config: Config, options: RunOptions = RunOptions(), cpus: Int = 1) -> String? {
    usageMessage { () throws(UsageError) in try makeRunPlan(config, options: options, onlineCPUs: cpus) }
}

private func tcpService(_ name: String, addr: String = ":1", target: String = "x:1") -> ServiceConfig {
    ServiceConfig(
        name: name, addr: addr, handler: HandlerConfig(type: "tcp"), listener: ListenerConfig(type: "tcp"),
        forwarder: ForwarderConfig(nodes: [ForwardNodeConfig(name: "target-0", addr: target)]))
}

@Suite struct ConfigPlanErrorTests {
    @Test(
        arguments: [
            // Handlers and listeners Sluice does not run yet.
            (["relay+tcp://:8080/x:1"], "service-0: handler relay is not supported yet"),
            (["tls://:8443/x:80"], "service-0: listener tls is not supported yet"),
            (["udp://:53/x:53"], "service-0: listener udp is not supported yet"),
            (["tcp://:1/x:1", "https://:8443"], "service-1: listener tls is not supported yet"),
            // Forwarders without targets.
            (
                ["tcp://:8080"],
                "service-0: handler tcp needs at least one forward target, as in -L tcp://:8080/192.0.2.10:80 (with a port range, give one target or one per port)"
            ),
            (
                ["tcp://:8000-8002/a:1,b:2"],
                "service-2: handler tcp needs at least one forward target, as in -L tcp://:8080/192.0.2.10:80 (with a port range, give one target or one per port)"
            ),
            // Addresses.
            (["tcp://:8080/:0"], "service-0: target target-0 \":0\": port must be between 1 and 65535"),
            (["tcp://:8080/a:1,b:0"], "service-0: target target-1 \"b:0\": port must be between 1 and 65535"),
            (
                ["tcp://:8080/1.2.3.256:80"],
                "service-0: target target-0 \"1.2.3.256:80\": invalid IPv4 address \"1.2.3.256\""
            ),
            (
                ["tcp://:8080/[fe80::1%25eth0]:80"],
                "service-0: target target-0 \"[fe80::1%25eth0]:80\": invalid IPv6 address \"fe80::1%25eth0\""
            ),
            (["tcp://:8080/bad*host:80"], "service-0: target target-0 \"bad*host:80\": invalid host name \"bad*host\""),
            (["tcp://8080:8080/x:1"], "service-0: listen address \"8080:8080\": invalid IPv4 address \"8080\""),
            // Metadata that does not parse names the service, the key and the value.
            (
                ["tcp://:8080/x:1?dialTimeout=abc"],
                "service-0: invalid value \"abc\" for dialTimeout: expected a duration such as 10s, 1m30s or 500ms"
            ),
            (
                ["tcp://:8080/x:1?handler.proxyProtocol=x"],
                "service-0: invalid value \"x\" for handler.proxyProtocol: expected an integer"
            ),
            (
                ["tcp://:8080/x:1?handler.idleTimeout=later"],
                "service-0: invalid value \"later\" for handler.idleTimeout: expected a duration such as 10s, 1m30s or 500ms"
            ),
            (
                ["tcp://:8080/x:1?proxyProtocol=yes"],
                "service-0: invalid value \"yes\" for proxyProtocol: expected an integer"
            ),
            (
                ["tcp://:8080/x:1?proxyProtocol=1&proxyProtocol.timeout=x"],
                "service-0: invalid value \"x\" for proxyProtocol.timeout: expected a duration such as 10s, 1m30s or 500ms"
            ),
            (
                ["tcp://:8080/x:1?proxyProtocol=1&proxyProtocol.required=sure"],
                "service-0: invalid value \"sure\" for proxyProtocol.required: expected true or false"
            ),
            (
                ["tcp://:8080/x:1?proxyProtocol=1&proxyProtocol.trusted=10.0.0.0/33"],
                "service-0: invalid address \"10.0.0.0/33\" in proxyProtocol.trusted (use e.g. 10.0.0.0/8, 192.0.2.1, fd00::/8)"
            ),
            (
                ["tcp://:8080/x:1?proxyProtocol=1&proxyProtocol.maxLength=70000"],
                "service-0: proxyProtocol.maxLength must be between 36 and 65535 (got 70000)"
            ),
            (
                ["tcp://:8080/x:1?proxyProtocol=1&proxyProtocol.maxLength=10"],
                "service-0: proxyProtocol.maxLength must be between 36 and 65535 (got 10)"
            ),
            (
                ["tcp://:8080/x:1?ignoreChain=perhaps"],
                "service-0: invalid value \"perhaps\" for ignoreChain: expected true or false"
            ),
            // GOST features that would change who may connect or where traffic goes.
            (["tcp://:8080/x:1?bypass=10.0.0.0/8"], "service-0: bypass is not supported yet"),
            (["tcp://:8080/x:1?admission=~10.0.0.0/8"], "service-0: admission is not supported yet"),
            (["tcp://:8080/x:1?limiter.in=1MB"], "service-0: limiter.in is not supported yet"),
            (["tcp://:8080/x:1?interface=eth0"], "service-0: interface is not supported yet"),
            (["tcp://:8080/x:1?so_mark=1"], "service-0: so_mark is not supported yet"),
            // Two services on one port.
            (
                ["tcp://:8080/a:1", "tcp://:8080/b:1"],
                "service-1: listen address :8080 is already used by service-0 (:8080)"
            ),
            (
                ["tcp://:8080/a:1", "tcp://127.0.0.1:8080/b:1"],
                "service-1: listen address 127.0.0.1:8080 is already used by service-0 (:8080)"
            ),
            (
                ["tcp://127.0.0.1:8080/a:1", "tcp://0.0.0.0:8080/b:1"],
                "service-1: listen address 0.0.0.0:8080 is already used by service-0 (127.0.0.1:8080)"
            ),
            (
                ["tcp://:8000-8001/a:1", "tcp://:8001/b:1"],
                "service-2: listen address :8001 is already used by service-1 (:8001)"
            ),
            (
                ["tcp://localhost:80/a:1", "tcp://LOCALHOST:80/b:1"],
                "service-1: listen address LOCALHOST:80 is already used by service-0 (localhost:80)"
            ),
            // Retries.
            (
                ["tcp://:8080/a:1?handler.retries=x"],
                "-L \"tcp://:8080/a:1?handler.retries=x\": invalid value \"x\" for retries: expected an integer"
            ),
        ] as [([String], String)])
    func serviceErrors(args: [String], message: String) {
        #expect(planError(args) == message)
    }

    @Test(
        arguments: [
            (["http://p:1?bypass=x"], "chain-0/hop-0: bypass is not supported yet"),
            (["http://p:1?interface=eth0"], "chain-0/hop-0: interface is not supported yet"),
            (["tcp://p:1"], "chain-0/hop-0/node-0: connector tcp is not supported yet"),
            (["relay://p:1"], "chain-0/hop-0/node-0: connector relay is not supported yet"),
            (["tls://p:1"], "chain-0/hop-0/node-0: dialer tls is not supported yet"),
            (["http://p:1", "socks5+ws://q:1"], "chain-0/hop-1/node-0: dialer ws is not supported yet"),
            (["http://p:0"], "chain-0/hop-0/node-0: address \"p:0\": port must be between 1 and 65535"),
            (
                ["http://p:1?proxyProtocol=v2"],
                "chain-0/hop-0: invalid value \"v2\" for proxyProtocol: expected an integer"
            ),
            (
                ["http://p:1?node.proxyProtocol=v2"],
                "chain-0/hop-0/node-0: invalid value \"v2\" for proxyProtocol: expected an integer"
            ),
            (
                ["http://p:1?connector.timeout=x"],
                "chain-0/hop-0/node-0: invalid value \"x\" for connector.timeout: expected a duration such as 10s, 1m30s or 500ms"
            ),
            (["http://p:1?header=x"], "chain-0/hop-0/node-0: invalid value \"x\" for connector.header: expected a map"),
        ] as [([String], String)])
    func chainErrors(nodes: [String], message: String) {
        #expect(planError(["tcp://:8080/x:1"], nodes) == message)
    }

    @Test func rtcpThroughAChainIsRejected() {
        #expect(
            planError(["rtcp://:8080/x:1"], ["http://p:1"])
                == "service-0: listener rtcp through chain chain-0 is not supported yet (it would bind the port on the chain's last node)"
        )
    }

    @Test func configErrors() {
        #expect(planError(Config()) == "no services to run: give at least one -L (see -h)")
        #expect(
            planError(Config(services: [tcpService("a"), tcpService("a", addr: ":2")]))
                == "service name \"a\" is used twice")
        #expect(planError(Config(services: [tcpService("")])) == "service #1 has no name")
        var chained = tcpService("a")
        chained.handler.chain = "missing"
        #expect(planError(Config(services: [chained])) == "a: chain \"missing\" not found")
        chained.handler.chain = "c"
        #expect(planError(Config(services: [chained], chains: [ChainConfig(name: "c")])) == "c: the chain has no hops")
        #expect(
            planError(Config(services: [chained], chains: [ChainConfig(name: "c", hops: [HopConfig(name: "h")])]))
                == "c/h: the hop has no nodes")
        #expect(
            planError(Config(services: [tcpService("a")], chains: [ChainConfig(name: "c"), ChainConfig(name: "c")]))
                == "chain name \"c\" is used twice")
        var selector = tcpService("a")
        selector.forwarder?.selector = SelectorConfig(strategy: "weighted")
        #expect(
            planError(Config(services: [selector]))
                == "a: unknown selector strategy \"weighted\" (use round, random, fifo or hash)")
        var retries = tcpService("a")
        retries.handler.retries = -1
        #expect(planError(Config(services: [retries])) == "a: handler retries must not be negative (got -1)")
        var ranged = tcpService("a", addr: ":8000-8001")
        #expect(planError(Config(services: [ranged])) == "a: listen address \":8000-8001\": invalid port \"8000-8001\"")
        ranged.addr = "[1.2.3.4]:80"
        #expect(
            planError(Config(services: [ranged]))
                == "a: listen address \"[1.2.3.4]:80\": invalid IPv6 address \"1.2.3.4\"")
        ranged.addr = "host:80"
        #expect(
            planError(Config(services: [ranged], log: LogConfig(level: "loud")))
                == "log.level \"loud\": unknown level (use trace, debug, info, warning or error)")
    }

    @Test func threadAndGraceErrors() {
        let config = Config(services: [tcpService("a")])
        #expect(planError(config, cpus: 0) == "thread count must be between 1 and 1024 (got 0)")
        #expect(
            planError(config, options: RunOptions(threads: 2000))
                == "thread count must be between 1 and 1024 (got 2000)")
        #expect(
            planError(config, options: RunOptions(threads: -1)) == "thread count must be between 1 and 1024 (got -1)")
        #expect(planError(config, options: RunOptions(grace: -1)) == "grace period must not be negative")
        #expect(planError(config, cpus: 1) == nil)
    }
}
