// The configuration model: the subset of GOST v3's config schema (`x/config/config.go`) that Sluice
// reads, with GOST's field names, filled from `-L`/`-F` (Arguments.swift) and from YAML/JSON files (File/).

/// A whole configuration: GOST's top-level `services`, `chains`, `log` and `metrics`.
public struct Config: Sendable, Equatable {
    public var services: [ServiceConfig]
    public var chains: [ChainConfig]
    public var log: LogConfig?
    /// The metrics endpoint (`metrics:`, `-metrics`); nil when there is none.
    public var metrics: MetricsConfig? = nil

    /// Memberwise; defaulted parameters take GOST's defaults.
    public init(services: [ServiceConfig] = [], chains: [ChainConfig] = [], log: LogConfig? = nil) {
        self.services = services
        self.chains = chains
        self.log = log
    }
}

/// `log:`; only `level` is used so far.
public struct LogConfig: Sendable, Equatable {
    public var level: String
    public var format: String
    public var output: String

    /// Memberwise; defaulted parameters take GOST's defaults.
    public init(level: String = "", format: String = "", output: String = "") {
        self.level = level
        self.format = format
        self.output = output
    }
}

/// `username`/`password` of a handler, listener, connector or dialer.
public struct AuthConfig: Sendable, Equatable {
    public var username: String
    public var password: String

    /// Memberwise; defaulted parameters take GOST's defaults.
    public init(username: String, password: String = "") {
        self.username = username
        self.password = password
    }
}

/// `selector:` of a forwarder or hop. Zero values mean the defaults (round, 1, 10s).
public struct SelectorConfig: Sendable, Equatable {
    public var strategy: String
    public var maxFails: Int
    /// Nanoseconds.
    public var failTimeout: Int64

    /// Memberwise; defaulted parameters take GOST's defaults.
    public init(strategy: String = "", maxFails: Int = 0, failTimeout: Int64 = 0) {
        self.strategy = strategy
        self.maxFails = maxFails
        self.failTimeout = failTimeout
    }
}

/// One entry of `services:`.
public struct ServiceConfig: Sendable, Equatable {
    public var name: String
    /// `host:port` to listen on (`:8080`, `[::1]:8080`); ranges exist only on the command line.
    public var addr: String
    public var handler: HandlerConfig
    public var listener: ListenerConfig
    public var forwarder: ForwarderConfig?
    /// Service-level metadata: `proxyProtocol` (receive), `dialTimeout`, `interface`, …
    public var metadata: Metadata

    /// Memberwise; defaulted parameters take GOST's defaults.
    public init(
        name: String = "", addr: String, handler: HandlerConfig = HandlerConfig(),
        listener: ListenerConfig = ListenerConfig(), forwarder: ForwarderConfig? = nil, metadata: Metadata = [:]
    ) {
        self.name = name
        self.addr = addr
        self.handler = handler
        self.listener = listener
        self.forwarder = forwarder
        self.metadata = metadata
    }
}

/// `handler:` of a service.
public struct HandlerConfig: Sendable, Equatable {
    /// `tcp`, `rtcp`, `http`, `auto`, …; GOST's default is `auto`.
    public var type: String
    /// Name of the chain the handler dials through.
    public var chain: String?
    /// Extra dial attempts with another node.
    public var retries: Int
    public var auth: AuthConfig?
    public var metadata: Metadata

    /// Memberwise; defaulted parameters take GOST's defaults.
    public init(
        type: String = "auto", chain: String? = nil, retries: Int = 0, auth: AuthConfig? = nil,
        metadata: Metadata = [:]
    ) {
        self.type = type
        self.chain = chain
        self.retries = retries
        self.auth = auth
        self.metadata = metadata
    }
}

/// `listener:` of a service.
public struct ListenerConfig: Sendable, Equatable {
    /// `tcp`, `rtcp`, …; GOST's default is `tcp`.
    public var type: String
    /// Name of the chain to bind through (rtcp/rudp/runix listeners).
    public var chain: String?
    /// Set instead of the handler's for ssh/sshd listeners, as GOST does.
    public var auth: AuthConfig?
    public var metadata: Metadata

    /// Memberwise; defaulted parameters take GOST's defaults.
    public init(type: String = "tcp", chain: String? = nil, auth: AuthConfig? = nil, metadata: Metadata = [:]) {
        self.type = type
        self.chain = chain
        self.auth = auth
        self.metadata = metadata
    }
}

/// `forwarder:` of a service: the targets of a port forwarder.
public struct ForwarderConfig: Sendable, Equatable {
    public var selector: SelectorConfig?
    public var nodes: [ForwardNodeConfig]

    /// Memberwise; defaulted parameters take GOST's defaults.
    public init(selector: SelectorConfig? = nil, nodes: [ForwardNodeConfig]) {
        self.selector = selector
        self.nodes = nodes
    }
}

/// One forward target.
public struct ForwardNodeConfig: Sendable, Equatable {
    public var name: String
    /// `host:port` as written (`example.com:80`, `:8000`, `[::1]:9000`).
    public var addr: String

    /// Memberwise; defaulted parameters take GOST's defaults.
    public init(name: String, addr: String) {
        self.name = name
        self.addr = addr
    }
}

/// One entry of `chains:`.
public struct ChainConfig: Sendable, Equatable {
    public var name: String
    public var hops: [HopConfig]

    /// Memberwise; defaulted parameters take GOST's defaults.
    public init(name: String, hops: [HopConfig] = []) {
        self.name = name
        self.hops = hops
    }
}

/// A hop of a chain: a set of interchangeable nodes.
public struct HopConfig: Sendable, Equatable {
    public var name: String
    public var selector: SelectorConfig?
    public var nodes: [NodeConfig]
    /// Hop metadata; its `proxyProtocol` is inherited by every node that does not set one.
    public var metadata: Metadata

    /// Memberwise; defaulted parameters take GOST's defaults.
    public init(name: String, selector: SelectorConfig? = nil, nodes: [NodeConfig] = [], metadata: Metadata = [:]) {
        self.name = name
        self.selector = selector
        self.nodes = nodes
        self.metadata = metadata
    }
}

/// A proxy node of a hop.
public struct NodeConfig: Sendable, Equatable {
    public var name: String
    public var addr: String
    public var connector: ConnectorConfig
    public var dialer: DialerConfig
    public var metadata: Metadata

    /// Memberwise; defaulted parameters take GOST's defaults.
    public init(
        name: String, addr: String, connector: ConnectorConfig = ConnectorConfig(),
        dialer: DialerConfig = DialerConfig(), metadata: Metadata = [:]
    ) {
        self.name = name
        self.addr = addr
        self.connector = connector
        self.dialer = dialer
        self.metadata = metadata
    }
}

/// `connector:` of a node: the proxy protocol spoken to it (`http`, `socks5`, …).
public struct ConnectorConfig: Sendable, Equatable {
    public var type: String
    public var auth: AuthConfig?
    public var metadata: Metadata

    /// Memberwise; defaulted parameters take GOST's defaults.
    public init(type: String = "http", auth: AuthConfig? = nil, metadata: Metadata = [:]) {
        self.type = type
        self.auth = auth
        self.metadata = metadata
    }
}

/// `dialer:` of a node: how the connection to it is made (`tcp`, `tls`, …).
public struct DialerConfig: Sendable, Equatable {
    public var type: String
    /// Set instead of the connector's for ssh/sshd dialers, as GOST does.
    public var auth: AuthConfig?
    public var metadata: Metadata

    /// Memberwise; defaulted parameters take GOST's defaults.
    public init(type: String = "tcp", auth: AuthConfig? = nil, metadata: Metadata = [:]) {
        self.type = type
        self.auth = auth
        self.metadata = metadata
    }
}
