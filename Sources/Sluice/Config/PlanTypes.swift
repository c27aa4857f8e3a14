// The runtime plans: validated, fully defaulted values the reactor runs from, produced by
// `makeRunPlan` from a `Config`. Nothing here is optional by accident or left to parse later.

/// Everything the process runs: threads, shutdown grace, log level and the services.
public struct RunPlan: Sendable, Equatable {
    /// Reactor threads, ≥ 1.
    public var threads: Int
    /// Shutdown grace period in nanoseconds.
    public var grace: Int64
    public var logLevel: LogLevel
    /// Where log lines go (`log.output`): standard error (the default), standard output, nowhere,
    /// or a file appended to.
    public var logOutput: LogOutput = .stderr
    /// `log.format: text` (logrus's text lines) instead of JSON.
    public var logText = false
    public var services: [ServicePlan]

    /// Memberwise, for building plans directly (tests, other front ends).
    public init(threads: Int, grace: Int64, logLevel: LogLevel, services: [ServicePlan]) {
        self.threads = threads
        self.grace = grace
        self.logLevel = logLevel
        self.services = services
    }
}

/// Where log lines go.
public enum LogOutput: Sendable, Equatable {
    case stderr, stdout, none
    case file(String)

    /// GOST's `log.output`: `stderr`, `stdout`, `none`, or a path.
    public init(_ text: String) {
        switch text {
        case "", "stderr": self = .stderr
        case "stdout": self = .stdout
        case "none": self = .none
        default: self = .file(text)
        }
    }
}

/// Log levels, least to most severe.
public enum LogLevel: Int, Sendable, Comparable, CaseIterable {
    case trace, debug, info, warning, error

    /// The level as GOST v3.2.6 (logrus) writes it: "warning", not "warn".
    public var name: String { "\(staticName)" }

    /// `name` as a constant, for log lines built without allocating.
    public var staticName: StaticString {
        switch self {
        case .trace: "trace"
        case .debug: "debug"
        case .info: "info"
        case .warning: "warning"
        case .error: "error"
        }
    }

    /// Parses a level name in any case, as logrus does: "warn" means warning, and "fatal" and
    /// "panic" (which GOST accepts) mean error, the most severe level Sluice logs.
    public init?(name: String) {
        switch name.lowercased() {
        case "trace": self = .trace
        case "debug": self = .debug
        case "info": self = .info
        case "warning", "warn": self = .warning
        case "error", "fatal", "panic": self = .error
        default: return nil
        }
    }

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// What a service does with an accepted connection; chosen when the plan is built.
public enum HandlerKind: Sendable, Equatable, CaseIterable {
    /// Port forwarding to the plan's targets: `tcp://`, and `rtcp://` (whose listener is local here).
    case tcp, rtcp
    /// Proxies whose client names the destination in its handshake.
    case http, socks4, socks5
    /// GOST's default (`-L :8080`): HTTP, SOCKS4 or SOCKS5 by the client's first byte.
    case auto
    /// Sluice's built-in load-test targets (not in GOST): `echo` writes back what it reads,
    /// `discard` reads and drops (then optionally sends `reply` bytes), `info` answers with a JSON
    /// line describing the connection and its PROXY header, then echoes.
    case echo, discard, info
    /// The metrics and health endpoint (`-metrics`, `metrics:`, `-L metrics://`): Prometheus text
    /// on its path, `/healthz`, `/readyz`.
    case metrics

    /// GOST's handler type names and aliases (`socks` is SOCKS5, `socks4a` is SOCKS4), and the
    /// built-in targets' names.
    public init?(type: String) {
        switch type {
        case "tcp": self = .tcp
        case "rtcp": self = .rtcp
        case "http": self = .http
        case "socks4", "socks4a": self = .socks4
        case "socks5", "socks": self = .socks5
        case "auto": self = .auto
        case "echo": self = .echo
        case "discard": self = .discard
        case "info": self = .info
        case "metrics": self = .metrics
        default: return nil
        }
    }

    /// Forwards to configured targets (else the client chooses).
    public var forwards: Bool { self == .tcp || self == .rtcp }

    /// A built-in target: answers the client itself and dials nothing.
    public var isBuiltin: Bool { self == .echo || self == .discard || self == .info }

    /// The inbound handshake of a proxy handler; nil for forwarders.
    public var inbound: InboundHandshake.Handler? {
        switch self {
        case .tcp, .rtcp, .echo, .discard, .info, .metrics: nil
        case .http: .only(.http)
        case .socks4: .only(.socks4)
        case .socks5: .only(.socks5)
        case .auto: .auto
        }
    }
}

/// One listening service.
public struct ServicePlan: Sendable, Equatable {
    /// "service-0".
    public var name: String
    /// The bind address. An empty host binds `[::]:port` (dual-stack); `0.0.0.0:port` stays IPv4;
    /// port 0 asks for an ephemeral port. A placeholder `[::]:port` when `listenHost` is set.
    public var listen: SocketAddress
    /// The bind host when it is a name to resolve at start-up (e.g. "localhost"), else nil.
    public var listenHost: String?
    /// What the service does with a connection.
    public var handler: HandlerKind
    /// The handler type as configured and logged ("tcp", "socks", "auto").
    public var handlerName: String
    /// Credentials a proxy handler requires of its clients (`user:pass@` on `-L`); nil = none.
    public var auth: Credentials?
    /// Listener type as logged: "tcp", "rtcp".
    public var listener: String
    /// Forward targets: at least one for forwarders, none for proxy handlers.
    public var targets: [TargetPlan]
    public var selector: SelectorPlan
    /// Per-attempt dial timeout in nanoseconds: service metadata `dialTimeout`, 15s when absent
    /// or zero; 0 here means no timeout (a negative `dialTimeout`, as in GOST's router).
    public var dialTimeout: Int64
    /// Handler metadata `idleTimeout` in nanoseconds; 0 = none.
    public var idleTimeout: Int64
    /// How long a proxy client may take for its request (handshake), handler metadata
    /// `readTimeout` (GOST's name), 15s by default.
    public var handshakeTimeout: Int64
    /// Receiving PROXY headers: set when service metadata `proxyProtocol` > 0 on a tcp listener.
    public var receive: ProxyReceivePlan?
    /// Sending PROXY headers to targets (handler metadata `proxyProtocol`): 0 off, 1 v1, 2 v2.
    public var sendProxyProtocol: Int
    /// Extra dial attempts, each with another node (`handler.retries`).
    public var retries: Int
    /// The chain to dial through, from `-F` or `handler.chain`; nil when none.
    public var chain: ChainPlan?
    /// Handler metadata `splice`: bulk directions switch to splice(2) through pooled pipes once a
    /// read fills the copy buffer. Off by default: on loopback and veth-style paths, copying through
    /// a cache-sized buffer measures faster (see README, Performance).
    public var splice: Bool
    /// `discard`: bytes sent to the client after its EOF (handler metadata `reply`, e.g. `1MiB`);
    /// 0 sends nothing.
    public var reply: Int64
    /// `info`: close after the JSON line (handler metadata `close`) instead of echoing.
    public var closeAfterInfo: Bool
    /// Open connections allowed at once over every reactor (service metadata `maxConns`); at the
    /// limit the service stops accepting and new clients wait in the listen backlog. 0 = no limit.
    public var maxConns: Int
    /// The `listen()` backlog of each of the service's sockets (service metadata
    /// `maxConns.backlog`); the kernel caps it at `net.core.somaxconn`.
    public var listenBacklog: Int32
    /// `metrics` handler: the path the exposition is served on (`metrics.path`, handler metadata
    /// `path`).
    public var metricsPath = ServicePlan.defaultMetricsPath
    /// GOST's default exposition path. (Here rather than with the endpoint: the fuzz targets compile
    /// this file without the Metrics folder.)
    public static let defaultMetricsPath = "/metrics"

    /// Memberwise, for building plans directly (tests, other front ends).
    public init(
        name: String, listen: SocketAddress, listenHost: String? = nil, handler: HandlerKind,
        handlerName: String? = nil, auth: Credentials? = nil, listener: String,
        targets: [TargetPlan], selector: SelectorPlan = .default, dialTimeout: Int64 = 15 * GoDuration.second,
        idleTimeout: Int64 = 0, handshakeTimeout: Int64 = 15 * GoDuration.second, receive: ProxyReceivePlan? = nil,
        sendProxyProtocol: Int = 0, retries: Int = 0,
        chain: ChainPlan? = nil, splice: Bool = false, reply: Int64 = 0, closeAfterInfo: Bool = false,
        maxConns: Int = 0, listenBacklog: Int32 = ServicePlan.defaultBacklog
    ) {
        self.name = name
        self.listen = listen
        self.listenHost = listenHost
        self.handler = handler
        self.handlerName = handlerName ?? "\(handler)"
        self.auth = auth
        self.listener = listener
        self.targets = targets
        self.selector = selector
        self.dialTimeout = dialTimeout
        self.idleTimeout = idleTimeout
        self.handshakeTimeout = handshakeTimeout
        self.receive = receive
        self.sendProxyProtocol = sendProxyProtocol
        self.retries = retries
        self.chain = chain
        self.splice = splice
        self.reply = reply
        self.closeAfterInfo = closeAfterInfo
        self.maxConns = maxConns
        self.listenBacklog = listenBacklog
    }

    /// The listen backlog when `maxConns.backlog` is not set (the kernel caps it at
    /// `net.core.somaxconn`, 4096 on current kernels).
    public static let defaultBacklog: Int32 = 4096
}

/// A forward target.
public struct TargetPlan: Sendable, Equatable {
    /// "target-0".
    public var name: String
    /// Where to dial: an IP literal (an empty host is 127.0.0.1, Go's "local system") or a name to
    /// resolve at dial time.
    public var destination: Destination
    /// The address as the user wrote it, e.g. "example.com:80", for logs.
    public var text: String

    public init(name: String, destination: Destination, text: String) {
        self.name = name
        self.destination = destination
        self.text = text
    }

    /// From parts: `address` when the host is an IP literal or empty, else `host` is a name.
    public init(name: String, host: String, port: UInt16, address: SocketAddress? = nil, text: String) {
        self.init(name: name, destination: Destination(host: host, port: port, address: address), text: text)
    }
}

/// How a node is picked among several.
public enum SelectorStrategy: Sendable, Equatable {
    case round, random, fifo, hash

    /// GOST's names and aliases (`parsing/selector/parse.go`): round/rr, random/rand, fifo/ha, hash.
    public init?(name: String) {
        switch name.lowercased() {
        case "round", "rr": self = .round
        case "random", "rand": self = .random
        case "fifo", "ha": self = .fifo
        case "hash": self = .hash
        default: return nil
        }
    }
}

/// Node selection with GOST's fail filter: a node is skipped while it has failed `maxFails`
/// times and its last failure is less than `failTimeout` ago.
public struct SelectorPlan: Sendable, Equatable {
    public var strategy: SelectorStrategy
    public var maxFails: Int
    /// Nanoseconds.
    public var failTimeout: Int64

    /// round / 1 / 10s (`selector.DefaultMaxFails`, `DefaultFailTimeout`).
    public static let `default` = SelectorPlan(strategy: .round, maxFails: 1, failTimeout: 10 * GoDuration.second)

    /// Memberwise, for building plans directly (tests, other front ends).
    public init(strategy: SelectorStrategy, maxFails: Int, failTimeout: Int64) {
        self.strategy = strategy
        self.maxFails = maxFails
        self.failTimeout = failTimeout
    }
}

/// Receive-side PROXY protocol settings (service metadata `proxyProtocol.*`).
public struct ProxyReceivePlan: Sendable, Equatable {
    /// How long to wait for a header before treating the connection as headerless (ns), 10s.
    public var timeout: Int64
    /// Peers allowed to send a header; empty means anyone (GOST's behaviour).
    public var trusted: [CIDR]
    /// Close connections that arrive without a header.
    public var required: Bool
    /// Largest v2 address+TLV length accepted, 4096 by default.
    public var maxV2Length: Int

    /// Memberwise, for building plans directly (tests, other front ends).
    public init(timeout: Int64, trusted: [CIDR], required: Bool, maxV2Length: Int) {
        self.timeout = timeout
        self.trusted = trusted
        self.required = required
        self.maxV2Length = maxV2Length
    }
}

/// A chain of hops to dial through.
public struct ChainPlan: Sendable, Equatable {
    public var name: String
    public var hops: [HopPlan]

    /// Memberwise, for building plans directly (tests, other front ends).
    public init(name: String, hops: [HopPlan]) {
        self.name = name
        self.hops = hops
    }
}

/// One hop: interchangeable nodes and how to pick one.
public struct HopPlan: Sendable, Equatable {
    public var name: String
    public var selector: SelectorPlan
    public var nodes: [NodePlan]

    /// Memberwise, for building plans directly (tests, other front ends).
    public init(name: String, selector: SelectorPlan, nodes: [NodePlan]) {
        self.name = name
        self.selector = selector
        self.nodes = nodes
    }
}

/// The proxy protocols Sluice can speak to a chain node.
public enum ConnectorKind: Sendable, Equatable {
    case http, socks5
}

/// A user name and password for a proxy node.
public struct Credentials: Sendable, Equatable {
    public var username: String
    public var password: String

    /// Memberwise, for building plans directly (tests, other front ends).
    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }
}

/// One extra request header for the http connector.
public struct HeaderField: Sendable, Equatable {
    public var name: String
    public var value: String

    /// Memberwise, for building plans directly (tests, other front ends).
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// A proxy node of a hop.
public struct NodePlan: Sendable, Equatable {
    public var name: String
    /// Where to dial, as for `TargetPlan.destination`.
    public var destination: Destination
    public var text: String
    public var connector: ConnectorKind
    public var auth: Credentials?
    /// PROXY header sent right after connecting: 0 off, 1 v1, 2 v2 (node metadata, else the hop's).
    public var proxyProtocol: Int
    /// Extra CONNECT request headers (connector metadata `header`, a map), in file order.
    public var headers: [HeaderField]
    /// Handshake deadline (connector metadata `timeout`) in nanoseconds; nil = none.
    public var connectTimeout: Int64?

    /// Memberwise, for building plans directly (tests, other front ends).
    public init(
        name: String, host: String, port: UInt16, address: SocketAddress? = nil, text: String,
        connector: ConnectorKind = .http, auth: Credentials? = nil, proxyProtocol: Int = 0, headers: [HeaderField] = [],
        connectTimeout: Int64? = nil
    ) {
        self.name = name
        self.destination = Destination(host: host, port: port, address: address)
        self.text = text
        self.connector = connector
        self.auth = auth
        self.proxyProtocol = proxyProtocol
        self.headers = headers
        self.connectTimeout = connectTimeout
    }
}
