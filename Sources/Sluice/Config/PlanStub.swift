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
    public var hops: [HopPlan]
}

/// TEMPORARY: a minimal `-L tcp://host:port/ip:port,…?idleTimeout=Ns&dialTimeout=Ns` parser.
public func temporaryPlan(_ args: [String]) -> RunPlan {
    var services: [ServicePlan] = []
    var threads = 2
    var level = LogLevel.info
    var i = 0
    while i < args.count {
        let a = args[i]
        if a == "-threads" {
            threads = Int(args[i + 1])!
            i += 2
            continue
        }
        if a == "-D" {
            level = .debug
            i += 1
            continue
        }
        if a == "-L" {
            var s = String(args[i + 1].dropFirst("tcp://".count))
            var query = ""
            if let q = s.firstIndex(of: "?") {
                query = String(s[s.index(after: q)...])
                s = String(s[..<q])
            }
            let slash = s.firstIndex(of: "/")!
            let listen = String(s[..<slash])
            var targets: [TargetPlan] = []
            for t in s[s.index(after: slash)...].split(separator: ",") {
                let text = String(t)
                let port = UInt16(text.split(separator: ":").last!)!
                let address = SocketAddress(text) ?? SocketAddress(.v4(IPv4Address(127, 0, 0, 1)), port: port)
                targets.append(
                    TargetPlan(name: "target-\(targets.count)", host: "", port: port, address: address, text: text))
            }
            var receive: ProxyReceivePlan?
            var send = 0
            var idle: Int64 = 0
            var dial: Int64 = 15_000_000_000
            for kv in query.split(separator: "&") {
                let p = kv.split(separator: "=")
                if p[0] == "proxyProtocol" {
                    receive = ProxyReceivePlan(timeout: 2_000_000_000, trusted: [], required: false, maxV2Length: 4096)
                    continue
                }
                if p[0] == "handler.proxyProtocol" {
                    send = Int(p[1])!
                    continue
                }
                let seconds = Int64(p[1].dropLast())! * 1_000_000_000
                if p[0] == "idleTimeout" { idle = seconds }
                if p[0] == "dialTimeout" { dial = seconds }
            }
            let addr = listen.hasPrefix(":") ? SocketAddress("[::]" + listen)! : SocketAddress(listen)!
            services.append(
                ServicePlan(
                    name: "service-\(services.count)", listen: addr, listenHost: nil, handler: "tcp", listener: "tcp",
                    targets: targets,
                    selector: SelectorPlan(strategy: .round, maxFails: 1, failTimeout: 10_000_000_000),
                    dialTimeout: dial, idleTimeout: idle, receive: receive, sendProxyProtocol: send, retries: 0,
                    chain: nil))
            i += 2
            continue
        }
        i += 1
    }
    return RunPlan(threads: threads, grace: 5_000_000_000, logLevel: level, services: services)
}

public struct HopPlan: Sendable, Equatable {
    public var name: String
    public var selector: SelectorPlan
    public var nodes: [NodePlan]
}

public enum ConnectorKind: Sendable, Equatable { case http, socks5 }

public struct Credentials: Sendable, Equatable {
    public var username: String
    public var password: String
}

public struct HeaderField: Sendable, Equatable {
    public var name: String
    public var value: String
}

public struct NodePlan: Sendable, Equatable {
    public var name: String
    public var host: String
    public var port: UInt16
    public var address: SocketAddress?
    public var text: String
    public var connector: ConnectorKind
    public var auth: Credentials?
    public var proxyProtocol: Int
    public var headers: [HeaderField]
    public var connectTimeout: Int64?
}
