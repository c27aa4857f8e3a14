// Tests for `-L` parsing: every example of the seed page and of gost-behaviour.md §1, scheme
// fallbacks, forward mode, port ranges, IPv6, auth, scoped keys and selector keys.
import Sluice
import Testing

@Suite struct ConfigServiceURLTests {
    /// Each row: the `-L` arguments and the summary of every service they give.
    @Test(
        arguments: [
            // Seed page: receive (`-L=:8080?proxyProtocol=1`) and its example pair of services.
            ([":8080?proxyProtocol=1"], ["service-0 auto+tcp :8080 S{proxyprotocol=1}"]),
            (
                ["tcp://:8000/:8080", "tcp://:8080/example.com:80?proxyProtocol=1"],
                [
                    "service-0 tcp+tcp :8000 ->target-0=:8080",
                    "service-1 tcp+tcp :8080 ->target-0=example.com:80 S{proxyprotocol=1}",
                ]
            ),
            // Seed page: send from the forwarders (scoped to the handler).
            (
                ["tcp://:8080/:8000?handler.proxyProtocol=1"],
                ["service-0 tcp+tcp :8080 ->target-0=:8000 H{proxyprotocol=1}"]
            ),
            (
                ["rtcp://:8080/:8000?handler.proxyProtocol=1"],
                ["service-0 rtcp+rtcp :8080 ->target-0=:8000 H{proxyprotocol=1}"]
            ),
            // Default scheme and handler/listener fallbacks.
            ([":8080"], ["service-0 auto+tcp :8080"]),
            (["8080:8080"], ["service-0 auto+tcp 8080:8080"]),
            (["localhost:8080"], ["service-0 auto+tcp localhost:8080"]),
            (["http://:8080"], ["service-0 http+tcp :8080"]),
            (["tcp://:8080"], ["service-0 tcp+tcp :8080"]),
            (["rtcp://:8080"], ["service-0 rtcp+rtcp :8080"]),
            (["socks5://:1080"], ["service-0 socks5+tcp :1080"]),
            (["https://:8443"], ["service-0 http+tls :8443"]),
            (["HTTP+TCP://:8080"], ["service-0 http+tcp :8080"]),
            (["nope://:8080"], ["service-0 auto+tcp :8080"]),
            (["nope+nope://:8080"], ["service-0 auto+tcp :8080"]),
            (["http+ws://:8080"], ["service-0 http+ws :8080"]),
            // Forward mode: the handler becomes the listener's name, or `forward`; relay stays.
            (["http://:8080/x:80"], ["service-0 tcp+tcp :8080 ->target-0=x:80"]),
            ([":8080/x:80"], ["service-0 tcp+tcp :8080 ->target-0=x:80"]),
            (["tls://:8443/x:80"], ["service-0 forward+tls :8443 ->target-0=x:80"]),
            (["relay+tcp://:8080/x:80"], ["service-0 relay+tcp :8080 ->target-0=x:80"]),
            (["udp://:5353/1.1.1.1:53"], ["service-0 udp+udp :5353 ->target-0=1.1.1.1:53"]),
            (["tcp://:8080//a:1,b:2/"], ["service-0 tcp+tcp :8080 ->target-0=a:1,target-1=b:2"]),
            // Port ranges on either side, and how they pair up (`buildServiceConfig`).
            (["tcp://:8000/:9000-9002"], ["service-0 tcp+tcp :8000 ->target-0=:9000,target-1=:9001,target-2=:9002"]),
            (
                ["tcp://:8000-8002/:9000"],
                [
                    "service-0 tcp+tcp :8000 ->target-0=:9000", "service-1 tcp+tcp :8001 ->target-0=:9000",
                    "service-2 tcp+tcp :8002 ->target-0=:9000",
                ]
            ),
            (
                ["tcp://:8000-8001/:9000-9001"],
                ["service-0 tcp+tcp :8000 ->target-0=:9000", "service-1 tcp+tcp :8001 ->target-1=:9001"]
            ),
            (
                ["tcp://:8000-8002/a:1,b:2"],
                [
                    "service-0 tcp+tcp :8000 ->target-0=a:1", "service-1 tcp+tcp :8001 ->target-1=b:2",
                    "service-2 tcp+tcp :8002",
                ]
            ),
            (
                ["tcp://:8000-8001/a:1,b:2,c:3"],
                ["service-0 tcp+tcp :8000 ->target-0=a:1", "service-1 tcp+tcp :8001 ->target-1=b:2"]
            ),
            (
                ["tcp://:8000-8001/x:1", "tcp://:9000/y:2"],
                [
                    "service-0 tcp+tcp :8000 ->target-0=x:1", "service-1 tcp+tcp :8001 ->target-0=x:1",
                    "service-2 tcp+tcp :9000 ->target-0=y:2",
                ]
            ),
            (["tcp://:8080/a:1-2,b:5"], ["service-0 tcp+tcp :8080 ->target-0=a:1,target-1=a:2,target-2=b:5"]),
            // IPv6 literals, empty hosts, host names.
            (["tcp://[::1]:8080/[::1]:9000"], ["service-0 tcp+tcp [::1]:8080 ->target-0=[::1]:9000"]),
            (
                ["tcp://[::]:8000-8001/[2001:db8::1]:80"],
                [
                    "service-0 tcp+tcp [::]:8000 ->target-0=[2001:db8::1]:80",
                    "service-1 tcp+tcp [::]:8001 ->target-0=[2001:db8::1]:80",
                ]
            ),
            (["tcp://0.0.0.0:8080/example.com:80"], ["service-0 tcp+tcp 0.0.0.0:8080 ->target-0=example.com:80"]),
            // Auth: user info (percent-decoded, split at the first colon), or base64 `auth=`.
            (["http://user:pass@:8080"], ["service-0 http+tcp :8080 auth=user:pass"]),
            (["http://us%3Aer:pa%40ss:w@:8080"], ["service-0 http+tcp :8080 auth=us:er:pa@ss:w"]),
            (["http://a@b:p@q@:8080"], ["service-0 http+tcp :8080 auth=a@b:p@q"]),
            (["http://user@:8080"], ["service-0 http+tcp :8080 auth=user:"]),
            (["http://:8080?auth=dTpw"], ["service-0 http+tcp :8080 auth=u:p"]),
            (["http://:8080?auth=dTpwOnE="], ["service-0 http+tcp :8080 auth=u:p:q"]),
            (["http://x:y@:8080?auth=dTpw"], ["service-0 http+tcp :8080 auth=x:y"]),
            (["tcp://u:p@:8080/x:1"], ["service-0 tcp+tcp :8080 ->target-0=x:1 auth=u:p"]),
            (["ssh://u:p@:2222"], ["service-0 auto+ssh :2222 lauth=u:p"]),
            // Unscoped keys go to all three maps; service-only keys; scoped keys win.
            (["tcp://:8080/x:1?foo=bar"], ["service-0 tcp+tcp :8080 ->target-0=x:1 S{foo=bar} H{foo=bar} L{foo=bar}"]),
            (
                ["tcp://:8080/x:1?interface=eth0&so_mark=3&netns=n1&netns.out=n2&proxyProtocol=2"],
                [
                    "service-0 tcp+tcp :8080 ->target-0=x:1 S{interface=eth0,netns=n1,netns.out=n2,proxyprotocol=2,so_mark=3}"
                ]
            ),
            (
                ["tcp://:8080/x:1?proxyProtocol=1&handler.proxyProtocol=2"],
                ["service-0 tcp+tcp :8080 ->target-0=x:1 S{proxyprotocol=1} H{proxyprotocol=2}"]
            ),
            (
                ["tcp://:8080/x:1?service.dialTimeout=10s&dialTimeout=5s"],
                ["service-0 tcp+tcp :8080 ->target-0=x:1 S{dialtimeout=10s} H{dialtimeout=5s} L{dialtimeout=5s}"]
            ),
            (
                ["tcp://:8080/x:1?dialTimeout=5s&service.dialTimeout=10s"],
                ["service-0 tcp+tcp :8080 ->target-0=x:1 S{dialtimeout=10s} H{dialtimeout=5s} L{dialtimeout=5s}"]
            ),
            (
                ["tcp://:8080/x:1?listener.a=1&Handler.B=2&service.proxyProtocol=1"],
                ["service-0 tcp+tcp :8080 ->target-0=x:1 S{proxyprotocol=1} H{b=2} L{a=1}"]
            ),
            // Query decoding: `+` and %20 are spaces, first of repeated keys wins, keys ignore case.
            (["tcp://:8080/x:1?handler.k=a+b%20c&handler.k=z"], ["service-0 tcp+tcp :8080 ->target-0=x:1 H{k=a b c}"]),
            (
                ["tcp://:8080/x:1?&&service.ProxyProtocol=1&"],
                ["service-0 tcp+tcp :8080 ->target-0=x:1 S{proxyprotocol=1}"]
            ),
            (["tcp://:8080/x:1?service.flag"], ["service-0 tcp+tcp :8080 ->target-0=x:1 S{flag=}"]),
            // TLS keys are consumed (Sluice has no TLS listener); dns becomes a list.
            (["tcp://:8080/x:1?cert=c.pem&key=k.pem&ca=ca.pem"], ["service-0 tcp+tcp :8080 ->target-0=x:1"]),
            (
                ["tcp://:8080/x:1?dns=1.1.1.1,8.8.8.8"],
                [
                    "service-0 tcp+tcp :8080 ->target-0=x:1 S{dns=[1.1.1.1,8.8.8.8]} H{dns=[1.1.1.1,8.8.8.8]} L{dns=[1.1.1.1,8.8.8.8]}"
                ]
            ),
            // Selector keys are consumed into forwarder.selector with the CLI defaults round/1/30s.
            (
                ["tcp://:8080/a:1,b:2?strategy=fifo"],
                ["service-0 tcp+tcp :8080 ->target-0=a:1,target-1=b:2 sel=fifo/1/30s"]
            ),
            (["tcp://:8080/a:1?maxFails=3"], ["service-0 tcp+tcp :8080 ->target-0=a:1 sel=round/3/30s"]),
            (["tcp://:8080/a:1?max_fails=2&fail_timeout=5"], ["service-0 tcp+tcp :8080 ->target-0=a:1 sel=round/2/5s"]),
            (["tcp://:8080/a:1?failTimeout=1m&strategy=rr"], ["service-0 tcp+tcp :8080 ->target-0=a:1 sel=rr/1/1m0s"]),
            (["tcp://:8080/a:1?maxFails=0"], ["service-0 tcp+tcp :8080 ->target-0=a:1"]),
            (["tcp://:8080?strategy=hash"], ["service-0 tcp+tcp :8080"]),
            // retries leaves the handler map for handler.retries (GOST deletes it from that map only).
            (
                ["tcp://:8080/a:1?retries=2"],
                ["service-0 tcp+tcp :8080 ->target-0=a:1 retries=2 S{retries=2} L{retries=2}"]
            ),
            (["tcp://:8080/a:1?handler.retries=1"], ["service-0 tcp+tcp :8080 ->target-0=a:1 retries=1"]),
        ] as [([String], [String])])
    func serviceURL(arguments: [String], expected: [String]) throws {
        let config = try commandLineConfig(arguments)
        #expect(config.services.map(summary) == expected)
        #expect(config.chains.isEmpty)
    }

    /// The seed page's second example in full, as GOST's config would hold it.
    @Test func seedExampleAsFullConfig() throws {
        let config = try commandLineConfig(["tcp://:8000/:8080", "tcp://:8080/example.com:80?proxyProtocol=1"])
        #expect(
            config
                == Config(services: [
                    ServiceConfig(
                        name: "service-0", addr: ":8000", handler: HandlerConfig(type: "tcp"),
                        listener: ListenerConfig(type: "tcp"),
                        forwarder: ForwarderConfig(nodes: [ForwardNodeConfig(name: "target-0", addr: ":8080")])),
                    ServiceConfig(
                        name: "service-1", addr: ":8080", handler: HandlerConfig(type: "tcp"),
                        listener: ListenerConfig(type: "tcp"),
                        forwarder: ForwarderConfig(nodes: [
                            ForwardNodeConfig(name: "target-0", addr: "example.com:80")
                        ]),
                        metadata: ["proxyProtocol": "1"]),
                ]))
    }

    @Test(arguments: [
        ("tcp://:99999/x", "invalid port \"99999\""),
        ("tcp://:8080/x", "target \"x\": missing port in address \"x\""),
        ("tcp://:8080/x:70000", "target \"x:70000\": invalid port \"70000\""),
        ("tcp://:8003-8000/x:1", "invalid port range \"8003-8000\""),
        ("tcp://:0-3/x:1", "invalid port range \"0-3\""),
        ("tcp://:80-90-100/x:1", "invalid port range \"80-90-100\""),
        ("tcp://:abc/x:1", "invalid port \"abc\""),
        ("tcp://:/x:1", "missing port"),
        ("tcp://::1:8080/x:1", "too many colons in address \"::1:8080\" (write IPv6 addresses as [::1]:80)"),
        ("tcp://[::1/x:1", "missing \"]\" in address \"[::1\""),
        ("tcp://:8080/a:1,,b:2", "empty target in \"a:1,,b:2\""),
        ("tcp://:8080/a:1,", "empty target in \"a:1,\""),
        ("tcp://:8080/a:1?x=%zz", "invalid URL escape \"%zz\" in query"),
        ("tcp://:8080/a:1?x=%4", "invalid URL escape \"%4\" in query"),
        ("tcp://u%zz@:8080/a:1", "invalid URL escape \"%zz\" in user info"),
        ("tcp://u p@:8080/a:1", "invalid character \" \" in user info (percent-encode it)"),
        ("tcp://:8080/a:1?x=1;y=2", "invalid semicolon in query \"x=1;y=2\" (separate parameters with &)"),
        ("tcp://:8080/a:1#frag", "unexpected \"#\" (write it as %23)"),
        ("a+b+c://:8080", "invalid scheme \"a+b+c\" (expected handler+listener)"),
        ("1tcp://:8080", "invalid scheme \"1tcp\""),
        ("", "empty URL"),
        ("   ", "empty URL"),
        ("tcp://", "missing listen address (e.g. :8080)"),
        ("8080", "missing port in address \"8080\""),
        ("tcp://:8080/a:1?strategy=best", "unknown strategy \"best\" (use round, random, fifo or hash)"),
        ("tcp://:8080/a:1?maxFails=x", "invalid value \"x\" for maxFails: expected an integer"),
        (
            "tcp://:8080/a:1?fail_timeout=soon",
            "invalid value \"soon\" for fail_timeout: expected a duration such as 10s, 1m30s or 500ms"
        ),
        ("tcp://:8080/a:1?retries=-1", "invalid value \"-1\" for retries: expected 0 or more"),
        ("tcp://:8080/a:1?retries=many", "invalid value \"many\" for retries: expected an integer"),
        ("http://:8080?auth=!!!", "invalid value \"!!!\" for auth: expected base64 of user:password"),
        ("tcp://:8080/a:1\u{7}", "invalid control character 0x7 in URL"),
    ])
    func rejectsWithPreciseMessage(argument: String, message: String) {
        #expect(
            usageMessage { () throws(UsageError) in try buildCommandLineConfig(services: [argument], nodes: []) }
                == "-L \"\(argument)\": \(message)")
    }

    @Test(arguments: [
        ("tcp://user:secret@:99999/x", "-L \"tcp://user:xxxxx@:99999/x\": invalid port \"99999\""),
        ("user:s@cret@:99999", "-L \"user:xxxxx@:99999\": invalid port \"99999\""),
        ("tcp://user@:99999/x", "-L \"tcp://user@:99999/x\": invalid port \"99999\""),
        ("tcp://:99999/a@b:1", "-L \"tcp://:99999/a@b:1\": invalid port \"99999\""),
    ])
    func errorsHidePasswords(argument: String, message: String) {
        #expect(
            usageMessage { () throws(UsageError) in try buildCommandLineConfig(services: [argument], nodes: []) }
                == message)
    }
}
