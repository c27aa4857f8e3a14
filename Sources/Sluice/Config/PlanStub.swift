// TEMPORARY: the plan types the config branch provides; removed when it merges.

public enum LogLevel: Int, Sendable, Comparable {
    case trace, debug, info, warning, error
    public static func < (l: Self, r: Self) -> Bool { l.rawValue < r.rawValue }
    public var name: String {
        switch self {
        case .trace: "trace"
        case .debug: "debug"
        case .info: "info"
        case .warning: "warning"
        case .error: "error"
        }
    }
}

public struct RunPlan: Sendable {
    public var threads: Int
    public var grace: Int64
    public var logLevel: LogLevel
    public var services: [ServicePlan]
    public init(threads: Int, grace: Int64, logLevel: LogLevel, services: [ServicePlan]) {
        self.threads = threads
        self.grace = grace
        self.logLevel = logLevel
        self.services = services
    }
}

public struct ServicePlan: Sendable {
    public var name: String
    public var listen: SocketAddress
    public var listenHost: String?
    public var handler: String
    public var listener: String
    public var targets: [TargetPlan]
    public var selector: SelectorPlan
    public var dialTimeout: Int64
    public var idleTimeout: Int64
    public var receive: ProxyReceivePlan?
    public var sendProxyProtocol: Int
    public var retries: Int
    public var chain: ChainPlan?
}

public struct TargetPlan: Sendable, Equatable {
    public var name: String
    public var host: String
    public var port: UInt16
    public var address: SocketAddress?
    public var text: String
}

public enum SelectorStrategy: Sendable { case round, random, fifo, hash }

public struct SelectorPlan: Sendable, Equatable {
    public var strategy: SelectorStrategy
    public var maxFails: Int
    public var failTimeout: Int64
}

public struct ProxyReceivePlan: Sendable, Equatable {
    public var timeout: Int64
    public var trusted: [CIDR]
    public var required: Bool
    public var maxV2Length: Int
}

public struct CIDR: Sendable, Equatable {
    public func contains(_ ip: IPAddress) -> Bool { true }
}

public struct ChainPlan: Sendable, Equatable {
    public var name: String
}
