// The `-h` text: one line per flag with its default, the -L/-F grammar, a config file, the query keys
// Sluice reads, examples, the environment and the exit statuses.

/// The help printed for `-h`; `program` is the name to show in the examples.
public func usageText(program: String = "sluice") -> String {
    """
    Usage: \(program) -L url [-L url ...] [-F url ...] [flags]
           \(program) -C file [-L url ...] [flags]

    Sluice is a TCP port forwarder that speaks GOST v3's command line.

    Flags:
      -L url            a service; repeatable, named service-0, service-1, ... (default: none)
      -F url            a hop of the chain every service dials through; repeatable, in order (default: none)
      -C file           a GOST config file: .yaml/.yml or .json, - for stdin, or inline {json}; repeatable;
                        its services and chains come before those of -L/-F (default: none)
      -O format         print the merged configuration (files, -L, -F) as yaml or json and exit
      -D                log at debug level (default false)
      -DD               log at trace level (default false)
      -log-level level  trace, debug, info, warning or error (default info, or $GOST_LOGGER_LEVEL)
      -threads n        reactor threads, 0 = one per CPU this process may use (affinity, cgroup quota) (default 0)
      -grace duration   how long shutdown waits for open connections, e.g. 5s, 1m (default 5s)
      -V                print the version and exit
      -h, -help         print this help and exit
      -metrics addr     serve Prometheus metrics and health checks at [user:pass@]host:port[?path=/metrics]:
                        the path, /healthz and /readyz (also $GOST_METRICS, or metrics: in a config file)
      -api is a GOST flag that Sluice does not support yet.

    Service URL (-L):
      [handler[+listener]://][user:pass@][host]:port[-endport][/target[,target...]][?key=value&...]
      Handlers and listeners: tcp and rtcp. With targets, the handler is the listener's name, so
      http://:8080/h:80 is a tcp forwarder. A port range (:8000-8003) starts one service per port;
      each takes the target of the same position, or all take the only one. Targets are host:port,
      [IPv6]:port or a port range; an empty host is 127.0.0.1.
      Built-in targets for load tests (no targets of their own): echo://:7000 writes back what it
      reads; discard://:9000 reads and drops (reply=N sends N bytes after the client's EOF);
      info://:7001 answers with one JSON line (addresses, the PROXY header and its TLVs), then echoes.

    Chain URL (-F):
      [connector[+dialer]://][user:pass@]host:port[,host:port...][?key=value&...]
      Connectors: http (the default) and socks5; dialer: tcp. Several addresses share one hop.

    Config file (-C): GOST's schema (services, chains, log) in YAML or JSON; the query keys
    below go in metadata maps, e.g.
        services:
        - name: web
          addr: :8080
          handler: {type: tcp, metadata: {proxyProtocol: 2}}
          forwarder:
            nodes: [{name: app, addr: "192.0.2.10:80"}]
      Unknown keys are ignored with a warning. -O yaml prints what a command line is as a file.

    Query keys (prefix service., handler. or listener. on -L, hop., node., connector. or dialer.
    on -F to set one scope; a key without a prefix goes to all of them):
      proxyProtocol=1            -L: accept PROXY v1/v2 headers (optional, from anyone)
      proxyProtocol.trusted=cidrs  only these peers may send one; others are relayed untouched
      proxyProtocol.required=true  close connections that arrive without a header
      proxyProtocol.timeout=10s  how long to wait for a header (default 10s)
      handler.proxyProtocol=1|2  -L: send a PROXY v1 or v2 header to the target
      proxyProtocol=1|2          -F: send a PROXY header to the first proxy
      strategy=round|random|fifo|hash, maxFails=1, failTimeout=30s   pick among targets
      retries=0                  extra dial attempts, each with another target
      dialTimeout=15s            per-attempt connect timeout
      handler.idleTimeout=0      close connections idle this long (default never)
      handler.splice=true        relay bulk directions with splice(2) (default: copy; faster on loopback)
      connector.timeout=15s      -F: bound on each hop's CONNECT/SOCKS5 handshake (default dialTimeout)
      maxConns=0                 -L: at N open connections stop accepting; clients wait in the backlog
      maxConns.backlog=4096      -L: the listen() backlog (capped by net.core.somaxconn)
      reply=0                    discard: bytes sent after the client's EOF (4096, 64KiB, 1MiB, 10MB)
      close=false                info: close after the JSON line instead of echoing

    Examples:
      Forward port 8080 to 192.0.2.10:80:
        \(program) -L tcp://:8080/192.0.2.10:80
      Spread over several targets, first healthy one wins:
        \(program) -L "tcp://:8080/192.0.2.10:80,192.0.2.11:80?strategy=fifo&maxFails=3&failTimeout=30s"
      Receive PROXY headers from a load balancer in front:
        \(program) -L "tcp://:8080/192.0.2.10:80?proxyProtocol=1"
      Send PROXY v2 headers to the target:
        \(program) -L "tcp://:8080/192.0.2.10:80?handler.proxyProtocol=2"
      A load-test target behind a forwarder that sends PROXY v2, in one process:
        \(program) -L "tcp://:8000/:7000?handler.proxyProtocol=2" -L "info://:7000?proxyProtocol=1"
      Forward through an HTTP proxy (CONNECT):
        \(program) -L tcp://:8080/example.com:443 -F http://user:pass@proxy.example:3128
      Expose Prometheus metrics on :9000/metrics (and /healthz, /readyz for probes):
        \(program) -L tcp://:8080/192.0.2.10:80 -metrics :9000

    Environment:
      GOST_LOGGER_LEVEL  log level when no -D, -DD or -log-level is given
      GOST_METRICS       the metrics endpoint's address when no -metrics is given

    Exit status: 0 ok (also -h, -V), 1 start-up failure (e.g. a port cannot be bound),
    2 usage error (a bad flag, URL or setting).

    """
}
