// Document → `Config`: GOST's schema (`x/config/config.go`) read field by field, with the path and
// line:column of every mistake, warnings for what Sluice ignores, and errors for GOST features whose
// absence would change who may connect or where traffic goes.

/// Reads one document; collects warnings as it goes.
struct ConfigDecoder {
    let file: String
    var warnings: [ConfigWarning] = []

    init(file: String) { self.file = file }

    // MARK: What Sluice does with the GOST keys it does not map (lowercased names)

    /// Top level: servers Sluice does not run are errors (as `-api` is); named objects
    /// that only matter when a service refers to them are ignored (the reference is the error).
    static let topUnsupported: Set<String> = ["api", "profiling", "hops"]
    static let topIgnored: Set<String> = [
        "authers", "admissions", "bypasses", "resolvers", "hosts", "ingresses", "routers", "sds", "recorders",
        "limiters", "climiters", "rlimiters", "observers", "loggers", "tls", "plugins", "rewriters", "caches",
        "quotas",
    ]
    static let serviceUnsupported: Set<String> = [
        "admission", "admissions", "bypass", "bypasses", "resolver", "hosts", "limiter", "climiter", "rlimiter",
        "interface", "sockopts",
    ]
    static let serviceIgnored: Set<String> = ["logger", "loggers", "observer", "recorders", "status"]
    static let handlerUnsupported: Set<String> = ["chaingroup", "auther", "authers", "limiter"]
    static let handlerIgnored: Set<String> = ["tls", "observer"]
    static let listenerUnsupported: Set<String> = ["chaingroup", "auther", "authers"]
    static let listenerIgnored: Set<String> = ["tls"]
    static let forwarderUnsupported: Set<String> = ["hop", "name"]
    static let targetUnsupported: Set<String> = [
        "network", "bypass", "bypasses", "protocol", "host", "path", "filter", "matcher", "http", "auth",
    ]
    static let targetIgnored: Set<String> = ["tls", "metadata"]
    static let chainIgnored: Set<String> = ["metadata"]
    static let hopUnsupported: Set<String> = [
        "bypass", "bypasses", "resolver", "hosts", "interface", "sockopts", "file", "redis", "http", "plugin",
        "reload",
    ]
    static let nodeUnsupported: Set<String> = [
        "network", "bypass", "bypasses", "resolver", "hosts", "interface", "netns", "sockopts", "filter", "matcher",
        "http",
    ]
    static let nodeIgnored: Set<String> = ["tls"]
    static let partIgnored: Set<String> = ["tls"]
    static let logIgnored: Set<String> = ["rotation"]

    // MARK: Errors and warnings

    func failure(_ message: String, at position: SourcePosition) -> ConfigFileError {
        ConfigFileError(file: file, position: position, message: message)
    }

    mutating func warn(_ message: String, at position: SourcePosition) {
        warnings.append(ConfigWarning(file: file, position: position, message: message))
    }

    /// A key the schema does not map: an error, a warning naming the feature, or "unknown".
    mutating func other(
        _ entry: DocumentEntry, in path: String, unsupported: Set<String> = [], ignored: Set<String> = []
    ) throws(ConfigFileError) {
        let key = entry.key.lowercased()
        let where_ = path.isEmpty ? entry.key : "\(path).\(entry.key)"
        if unsupported.contains(key) { throw failure("\(where_) is not supported yet", at: entry.keyPosition) }
        if ignored.contains(key) {
            warn("\(where_) is not supported by Sluice; ignored", at: entry.keyPosition)
        } else {
            warn("\(where_): unknown key; ignored", at: entry.keyPosition)
        }
    }

    /// A scalar's value for messages: `"abc"`; a collection's kind.
    static func shown(_ node: DocumentNode) -> String {
        switch node.value {
        case .sequence, .mapping, .null: node.kindDescription
        default: "\"\(node.text)\""
        }
    }

    // MARK: Shapes

    /// The entries of a mapping (nothing for null when `optional`). Keys of the schema match in
    /// any case, so two keys that differ only in case are the same key.
    func object(_ node: DocumentNode, _ path: String, optional: Bool = true) throws(ConfigFileError) -> [DocumentEntry]
    {
        switch node.value {
        case .mapping(let entries):
            var seen: [String: SourcePosition] = [:]
            for entry in entries {
                if let first = seen.updateValue(entry.keyPosition, forKey: entry.key.lowercased()) {
                    throw failure(
                        "\(path): duplicate key \"\(entry.key)\" (keys are case-insensitive; first at \(first))",
                        at: entry.keyPosition)
                }
            }
            return entries
        case .null where optional: return []
        default:
            let what = path.isEmpty ? "the top level" : path
            throw failure("\(what): expected a mapping, found \(node.kindDescription)", at: node.position)
        }
    }

    func list(_ node: DocumentNode, _ path: String) throws(ConfigFileError) -> [DocumentNode] {
        switch node.value {
        case .sequence(let items): return items
        case .null: return []
        default: throw failure("\(path): expected a list, found \(node.kindDescription)", at: node.position)
        }
    }

    /// Text; numbers and booleans as written (`password: 0123` keeps its zero).
    func string(_ node: DocumentNode, _ path: String) throws(ConfigFileError) -> String {
        switch node.value {
        case .null: return ""
        case .string, .int, .float, .bool: return node.text
        case .sequence, .mapping:
            throw failure("\(path): expected text, found \(node.kindDescription)", at: node.position)
        }
    }

    /// A whole number: an integer, an integral float, or decimal text (GOST decodes weakly).
    func int(_ node: DocumentNode, _ path: String) throws(ConfigFileError) -> Int {
        switch node.value {
        case .null: return 0
        case .int(let i): return i
        case .float(let f): if f == f.rounded(), let i = Int(exactly: f) { return i }
        case .string(let s): if let i = Int(trimSpace(s)) { return i }
        case .bool, .sequence, .mapping: break
        }
        throw failure("\(path): expected a whole number, found \(Self.shown(node))", at: node.position)
    }

    /// A Go `time.Duration` field: duration text (`30s`, `1m30s`), or a bare number, which GOST
    /// reads as nanoseconds (and JSON output writes that way).
    mutating func duration(_ node: DocumentNode, _ path: String) throws(ConfigFileError) -> Int64 {
        let nanoseconds: Int
        switch node.value {
        case .null: return 0
        case .string(let s):
            do {
                return try GoDuration.parse(trimSpace(s))
            } catch {
                throw failure("\(path): expected a duration such as 30s or 1m30s, found \"\(s)\"", at: node.position)
            }
        case .int(let i): nanoseconds = i
        case .float(let f) where f == f.rounded() && Int(exactly: f) != nil: nanoseconds = Int(exactly: f) ?? 0
        default:
            throw failure(
                "\(path): expected a duration such as 30s or 1m30s, found \(Self.shown(node))", at: node.position)
        }
        if nanoseconds > 0 && nanoseconds < 1_000_000 {
            warn(
                "\(path): \(nanoseconds) is \(nanoseconds)ns, as GOST reads a bare number; write \(nanoseconds)s"
                    + " for seconds", at: node.position)
        }
        return Int64(nanoseconds)
    }

    /// `handler.type` and the like: GOST's default when empty; a name GOST does not register is
    /// an error (GOST fails to start such a service).
    func type(
        _ node: DocumentNode, _ path: String, default value: String, known: Set<String>, what: String
    ) throws(ConfigFileError) -> String {
        let name = try string(node, path)
        if name.isEmpty { return value }
        guard known.contains(name) else {
            throw failure("\(path): unknown \(what) \"\(name)\"", at: node.position)
        }
        return name
    }

    /// A `host:port` address, checked as the plan will check it.
    func address(_ node: DocumentNode, _ path: String, allowPortZero: Bool) throws(ConfigFileError) -> String {
        let addr = try string(node, path)
        do {
            _ = try Endpoint(addr, allowPortZero: allowPortZero)
        } catch {
            throw failure("\(path): \"\(addr)\": \(error.message)", at: node.position)
        }
        return addr
    }

    // MARK: The schema

    mutating func decodeConfig(_ root: DocumentNode) throws(ConfigFileError) -> Config {
        var config = Config()
        for entry in try object(root, "") {
            switch entry.key.lowercased() {
            case "services":
                var names: [String: SourcePosition] = [:]
                for (i, node) in try list(entry.value, "services").enumerated() {
                    let service = try decodeService(node, "services[\(i)]")
                    if let first = names.updateValue(node.position, forKey: service.name) {
                        throw failure(
                            "services[\(i)]: the name \"\(service.name)\" is used twice (first at \(first))",
                            at: node.position)
                    }
                    config.services.append(service)
                }
            case "chains":
                var names: [String: SourcePosition] = [:]
                for (i, node) in try list(entry.value, "chains").enumerated() {
                    let chain = try decodeChain(node, "chains[\(i)]")
                    if let first = names.updateValue(node.position, forKey: chain.name) {
                        throw failure(
                            "chains[\(i)]: the name \"\(chain.name)\" is used twice (first at \(first))",
                            at: node.position)
                    }
                    config.chains.append(chain)
                }
            case "log":
                config.log = try decodeLog(entry.value, "log")
            case "metrics":
                config.metrics = try decodeMetrics(entry.value, "metrics")
            default:
                try other(entry, in: "", unsupported: Self.topUnsupported, ignored: Self.topIgnored)
            }
        }
        return config
    }

    mutating func decodeService(_ node: DocumentNode, _ path: String) throws(ConfigFileError) -> ServiceConfig {
        var service = ServiceConfig(addr: "")
        var addrNode: DocumentNode?
        for entry in try object(node, path, optional: false) {
            let p = "\(path).\(entry.key)"
            switch entry.key.lowercased() {
            case "name": service.name = try string(entry.value, p)
            case "addr": addrNode = entry.value
            case "handler": service.handler = try decodeHandler(entry.value, p)
            case "listener": service.listener = try decodeListener(entry.value, p)
            case "forwarder": service.forwarder = try decodeForwarder(entry.value, p)
            case "metadata": service.metadata = try decodeMetadata(entry.value, p, scope: .service)
            default: try other(entry, in: path, unsupported: Self.serviceUnsupported, ignored: Self.serviceIgnored)
            }
        }
        guard !service.name.isEmpty else { throw failure("\(path): missing name", at: node.position) }
        guard let addrNode, try !string(addrNode, "\(path).addr").isEmpty else {
            throw failure("\(path) (\(service.name)): missing addr, the host:port to listen on", at: node.position)
        }
        service.addr = try address(addrNode, "\(path).addr", allowPortZero: true)
        return service
    }

    mutating func decodeHandler(_ node: DocumentNode, _ path: String) throws(ConfigFileError) -> HandlerConfig {
        var handler = HandlerConfig()
        for entry in try object(node, path) {
            let p = "\(path).\(entry.key)"
            switch entry.key.lowercased() {
            case "type":
                handler.type = try type(
                    entry.value, p, default: "auto", known: GostRegistry.allHandlers, what: "handler")
            case "chain": handler.chain = try nonEmpty(string(entry.value, p))
            case "retries": handler.retries = try int(entry.value, p)
            case "auth": handler.auth = try decodeAuth(entry.value, p)
            case "metadata": handler.metadata = try decodeMetadata(entry.value, p, scope: .handler)
            default: try other(entry, in: path, unsupported: Self.handlerUnsupported, ignored: Self.handlerIgnored)
            }
        }
        return handler
    }

    mutating func decodeListener(_ node: DocumentNode, _ path: String) throws(ConfigFileError) -> ListenerConfig {
        var listener = ListenerConfig()
        for entry in try object(node, path) {
            let p = "\(path).\(entry.key)"
            switch entry.key.lowercased() {
            case "type":
                listener.type = try type(
                    entry.value, p, default: "tcp", known: GostRegistry.listeners, what: "listener")
            case "chain": listener.chain = try nonEmpty(string(entry.value, p))
            case "auth": listener.auth = try decodeAuth(entry.value, p)
            case "metadata": listener.metadata = try decodeMetadata(entry.value, p, scope: .listener)
            default: try other(entry, in: path, unsupported: Self.listenerUnsupported, ignored: Self.listenerIgnored)
            }
        }
        return listener
    }

    mutating func decodeForwarder(_ node: DocumentNode, _ path: String) throws(ConfigFileError) -> ForwarderConfig {
        var forwarder = ForwarderConfig(nodes: [])
        for entry in try object(node, path) {
            let p = "\(path).\(entry.key)"
            switch entry.key.lowercased() {
            case "selector": forwarder.selector = try decodeSelector(entry.value, p)
            case "nodes":
                for (i, item) in try list(entry.value, p).enumerated() {
                    forwarder.nodes.append(try decodeTarget(item, "\(p)[\(i)]", index: i))
                }
            default: try other(entry, in: path, unsupported: Self.forwarderUnsupported)
            }
        }
        return forwarder
    }

    /// A forwarder node; unnamed ones are `target-<i>`, as the command line names them.
    mutating func decodeTarget(
        _ node: DocumentNode, _ path: String, index: Int
    ) throws(ConfigFileError) -> ForwardNodeConfig {
        var target = ForwardNodeConfig(name: "", addr: "")
        var addrNode: DocumentNode?
        for entry in try object(node, path, optional: false) {
            let p = "\(path).\(entry.key)"
            switch entry.key.lowercased() {
            case "name": target.name = try string(entry.value, p)
            case "addr": addrNode = entry.value
            default: try other(entry, in: path, unsupported: Self.targetUnsupported, ignored: Self.targetIgnored)
            }
        }
        guard let addrNode, try !string(addrNode, "\(path).addr").isEmpty else {
            throw failure("\(path): missing addr, the host:port to forward to", at: node.position)
        }
        target.addr = try address(addrNode, "\(path).addr", allowPortZero: false)
        if target.name.isEmpty { target.name = "target-\(index)" }
        return target
    }

    mutating func decodeSelector(_ node: DocumentNode, _ path: String) throws(ConfigFileError) -> SelectorConfig? {
        if case .null = node.value { return nil }
        var selector = SelectorConfig()
        for entry in try object(node, path) {
            let p = "\(path).\(entry.key)"
            switch entry.key.lowercased() {
            case "strategy":
                selector.strategy = try string(entry.value, p)
                if !selector.strategy.isEmpty && SelectorStrategy(name: selector.strategy) == nil {
                    throw failure(
                        "\(p): unknown strategy \"\(selector.strategy)\" (use round, random, fifo or hash)",
                        at: entry.value.position)
                }
            case "maxfails": selector.maxFails = try int(entry.value, p)
            case "failtimeout": selector.failTimeout = try duration(entry.value, p)
            default: try other(entry, in: path)
            }
        }
        return selector
    }

    mutating func decodeChain(_ node: DocumentNode, _ path: String) throws(ConfigFileError) -> ChainConfig {
        var chain = ChainConfig(name: "")
        for entry in try object(node, path, optional: false) {
            let p = "\(path).\(entry.key)"
            switch entry.key.lowercased() {
            case "name": chain.name = try string(entry.value, p)
            case "hops":
                for (i, item) in try list(entry.value, p).enumerated() {
                    chain.hops.append(try decodeHop(item, "\(p)[\(i)]", index: i))
                }
            default: try other(entry, in: path, ignored: Self.chainIgnored)
            }
        }
        guard !chain.name.isEmpty else { throw failure("\(path): missing name", at: node.position) }
        return chain
    }

    mutating func decodeHop(_ node: DocumentNode, _ path: String, index: Int) throws(ConfigFileError) -> HopConfig {
        var hop = HopConfig(name: "")
        for entry in try object(node, path, optional: false) {
            let p = "\(path).\(entry.key)"
            switch entry.key.lowercased() {
            case "name": hop.name = try string(entry.value, p)
            case "selector": hop.selector = try decodeSelector(entry.value, p)
            case "nodes":
                for (i, item) in try list(entry.value, p).enumerated() {
                    hop.nodes.append(try decodeNode(item, "\(p)[\(i)]", index: i))
                }
            case "metadata": hop.metadata = try decodeMetadata(entry.value, p, scope: .hop)
            default: try other(entry, in: path, unsupported: Self.hopUnsupported)
            }
        }
        guard !hop.nodes.isEmpty else { throw failure("\(path): the hop has no nodes", at: node.position) }
        if hop.name.isEmpty { hop.name = "hop-\(index)" }
        return hop
    }

    mutating func decodeNode(_ node: DocumentNode, _ path: String, index: Int) throws(ConfigFileError) -> NodeConfig {
        var result = NodeConfig(name: "", addr: "")
        var addrNode: DocumentNode?
        for entry in try object(node, path, optional: false) {
            let p = "\(path).\(entry.key)"
            switch entry.key.lowercased() {
            case "name": result.name = try string(entry.value, p)
            case "addr": addrNode = entry.value
            case "connector":
                let (type, auth, metadata) = try decodePart(
                    entry.value, p, default: "http", known: GostRegistry.connectors, what: "connector",
                    scope: .connector)
                result.connector = ConnectorConfig(type: type, auth: auth, metadata: metadata)
            case "dialer":
                let (type, auth, metadata) = try decodePart(
                    entry.value, p, default: "tcp", known: GostRegistry.dialers, what: "dialer", scope: .dialer)
                result.dialer = DialerConfig(type: type, auth: auth, metadata: metadata)
            case "metadata": result.metadata = try decodeMetadata(entry.value, p, scope: .node)
            default: try other(entry, in: path, unsupported: Self.nodeUnsupported, ignored: Self.nodeIgnored)
            }
        }
        guard let addrNode, try !string(addrNode, "\(path).addr").isEmpty else {
            throw failure("\(path): missing addr, the host:port of the proxy", at: node.position)
        }
        result.addr = try address(addrNode, "\(path).addr", allowPortZero: false)
        if result.name.isEmpty { result.name = "node-\(index)" }
        return result
    }

    /// A connector or a dialer: `type`, `auth`, `metadata`.
    mutating func decodePart(
        _ node: DocumentNode, _ path: String, default value: String, known: Set<String>, what: String,
        scope: MetadataScope
    ) throws(ConfigFileError) -> (String, AuthConfig?, Metadata) {
        var type = value
        var auth: AuthConfig?
        var metadata = Metadata()
        for entry in try object(node, path) {
            let p = "\(path).\(entry.key)"
            switch entry.key.lowercased() {
            case "type": type = try self.type(entry.value, p, default: value, known: known, what: what)
            case "auth": auth = try decodeAuth(entry.value, p)
            case "metadata": metadata = try decodeMetadata(entry.value, p, scope: scope)
            default: try other(entry, in: path, ignored: Self.partIgnored)
            }
        }
        return (type, auth, metadata)
    }

    mutating func decodeAuth(_ node: DocumentNode, _ path: String) throws(ConfigFileError) -> AuthConfig? {
        if case .null = node.value { return nil }
        var auth = AuthConfig(username: "")
        for entry in try object(node, path) {
            let p = "\(path).\(entry.key)"
            switch entry.key.lowercased() {
            case "username": auth.username = try string(entry.value, p)
            case "password": auth.password = try string(entry.value, p)
            default: try other(entry, in: path)
            }
        }
        return auth
    }

    mutating func decodeLog(_ node: DocumentNode, _ path: String) throws(ConfigFileError) -> LogConfig {
        var log = LogConfig()
        for entry in try object(node, path) {
            let p = "\(path).\(entry.key)"
            switch entry.key.lowercased() {
            case "level":
                log.level = try string(entry.value, p)
                if !log.level.isEmpty && LogLevel(name: log.level) == nil {
                    throw failure(
                        "\(p): unknown level \"\(log.level)\" (use trace, debug, info, warning or error)",
                        at: entry.value.position)
                }
            case "format":
                log.format = try string(entry.value, p)
                if !["", "json", "text"].contains(log.format) {
                    throw failure("\(p): expected json or text, found \"\(log.format)\"", at: entry.value.position)
                }
            case "output": log.output = try string(entry.value, p)
            default: try other(entry, in: path, ignored: Self.logIgnored)
            }
        }
        return log
    }

    func nonEmpty(_ text: String) -> String? { text.isEmpty ? nil : text }
}
