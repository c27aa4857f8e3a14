// `-L` URLs into services, as GOST's `buildServiceConfig` and `BuildConfigFromCmd` do it:
// handler/listener fallbacks, forward mode, port ranges, auth, scoped query keys, selector keys.

/// Builds the configuration GOST builds from its command line (`cmd.BuildConfigFromCmd`): every
/// `-F` together is `chain-0`; each `-L` gives one service (one per port of a port range), named
/// `service-0`, `service-1`, … in order; the chain is attached to each service.
public func buildCommandLineConfig(services: [String], nodes: [String]) throws(UsageError) -> Config {
    var config = Config()
    var chain: ChainConfig?
    if !nodes.isEmpty {
        var hops: [HopConfig] = []
        for (index, text) in nodes.enumerated() {
            do {
                hops.append(try parseHopURL(text, index: index))
            } catch {
                throw UsageError(flag: "F", argument: text, error.message)
            }
        }
        chain = ChainConfig(name: "chain-0", hops: hops)
        config.chains.append(chain!)
    }
    for text in services {
        do {
            config.services += try parseServiceURL(text)
        } catch {
            throw UsageError(flag: "L", argument: text, error.message)
        }
    }
    for index in config.services.indices {
        config.services[index].name = "service-\(index)"
        if let chain {
            if GostRegistry.bindingListeners.contains(config.services[index].listener.type) {
                config.services[index].listener.chain = chain.name
            } else {
                config.services[index].handler.chain = chain.name
            }
        }
    }
    return config
}

/// Query keys that, unscoped, go to the service only (GOST 3.2.1+): `proxyProtocol` there means
/// *receive*; sending needs `handler.proxyProtocol`.
let serviceOnlyKeys = ["proxyProtocol", "interface", "so_mark", "netns", "netns.out"]

/// TLS query keys; GOST moves them into `listener.tls`/`dialer.tls`, which Sluice does not model.
let tlsKeys = ["tls.certFile", "certFile", "cert", "tls.keyFile", "keyFile", "key", "tls.caFile", "caFile", "ca"]

/// Parses one `-L` argument; the services are unnamed (see `buildCommandLineConfig`).
func parseServiceURL(_ text: String) throws(URLError) -> [ServiceConfig] {
    let url = try URLParts(text)
    var (handler, listener) = try splitScheme(url.scheme, what: "handler+listener")

    // The listen address; a port range gives one service per port.
    guard !url.host.isEmpty else { throw URLError("missing listen address (e.g. :8080)") }
    let (bindHost, bindPort) = try splitHostPort(url.host)
    let addrs = try parsePortRange(bindPort).map { joinHostPort(bindHost, $0) }

    if !GostRegistry.allHandlers.contains(handler) { handler = "auto" }
    if !GostRegistry.listeners.contains(listener) { listener = "tcp" }

    // Forward mode: the path lists targets, each may be a port range.
    var targets: [ForwardNodeConfig] = []
    let remotes = url.path.trimmingSlashes()
    if !remotes.isEmpty {
        for item in remotes.split(separator: ",", omittingEmptySubsequences: false) {
            guard !item.isEmpty else { throw URLError("empty target in \"\(remotes)\"") }
            do {
                let (host, port) = try splitHostPort(String(item))
                for port in try parsePortRange(port) {
                    targets.append(ForwardNodeConfig(name: "target-\(targets.count)", addr: joinHostPort(host, port)))
                }
            } catch {
                throw URLError("target \"\(item)\": \(error.message)")
            }
        }
        // A built-in target keeps its name, so the plan can say it takes no targets.
        if handler != "relay" && !GostRegistry.sluiceHandlers.contains(handler) {
            handler = GostRegistry.forwardingListeners.contains(listener) ? listener : "forward"
        }
    }

    var query = Metadata(url.query.map { ($0.key, .string($0.value)) })
    var auth = url.user.map { AuthConfig(username: $0.name, password: $0.password ?? "") }
    if let encoded = query.removeValue(forKey: "auth"), auth == nil {
        auth = try parseAuthParameter(encoded.text ?? "")
    }
    for key in tlsKeys { query[key] = nil }
    if let dns = query["dns"]?.text {
        query["dns"] = .list(dns.split(separator: ",").map { .string(String($0)) })
    }
    for key in serviceOnlyKeys { query.moveUnscoped(key, to: "service.") }
    let selector = try takeSelector(&query)

    // Unscoped keys go to all three maps, scoped ones only to theirs; scoped ones are applied
    // last so they win over the same unscoped key whatever the order (in GOST, map order decides).
    var scoped = [Metadata(), Metadata(), Metadata()]  // service, handler, listener
    let scopes = ["service.", "handler.", "listener."]
    for field in query.fields where splitScope(field.key, scopes) == nil {
        for i in scoped.indices { scoped[i][field.key] = field.value }
    }
    for field in query.fields {
        if let (scope, key) = splitScope(field.key, scopes) { scoped[scope][key] = field.value }
    }
    var handlerMetadata = scoped[1]

    // `retries` becomes `handler.retries` (read from the handler's map, as GOST does).
    let retries: Int?
    do {
        retries = try handlerMetadata.int("retries")
    } catch {
        throw URLError(error.description)
    }
    if let retries {
        guard retries >= 0 else { throw URLError("invalid value \"\(retries)\" for retries: expected 0 or more") }
        handlerMetadata["retries"] = nil
    }

    var handlerConfig = HandlerConfig(type: handler, retries: retries ?? 0, auth: auth, metadata: handlerMetadata)
    var listenerConfig = ListenerConfig(type: listener, metadata: scoped[2])
    if listener == "ssh" || listener == "sshd" {
        listenerConfig.auth = handlerConfig.auth
        handlerConfig.auth = nil
    }

    return addrs.enumerated().map { index, addr in
        // One target for all, or service i gets target i (`buildServiceConfig`).
        var nodes = targets
        if addrs.count > 1 && targets.count > 1 { nodes = index < targets.count ? [targets[index]] : [] }
        return ServiceConfig(
            addr: addr, handler: handlerConfig, listener: listenerConfig,
            forwarder: nodes.isEmpty ? nil : ForwarderConfig(selector: selector, nodes: nodes),
            metadata: scoped[0])
    }
}

/// `a+b` into its two names, `a` into the same name twice.
func splitScheme(_ scheme: String, what: String) throws(URLError) -> (String, String) {
    let parts = scheme.split(separator: "+", omittingEmptySubsequences: false).map(String.init)
    switch parts.count {
    case 1: return (parts[0], parts[0])
    case 2: return (parts[0], parts[1])
    default: throw URLError("invalid scheme \"\(scheme)\" (expected \(what))")
    }
}

/// GOST's `parseSelector`: consumes `strategy`, `maxFails`/`max_fails` and
/// `failTimeout`/`fail_timeout`; if any is set, the others default to round, 1 and 30s.
func takeSelector(_ query: inout Metadata) throws(URLError) -> SelectorConfig? {
    let strategy: String
    let maxFails: Int
    let failTimeout: Int64
    do {
        strategy = try query.string("strategy") ?? ""
        maxFails = try query.int("maxFails", "max_fails") ?? 0
        failTimeout = try query.duration("failTimeout", "fail_timeout") ?? 0
    } catch {
        throw URLError(error.description)
    }
    for key in ["strategy", "maxFails", "max_fails", "failTimeout", "fail_timeout"] { query[key] = nil }
    if strategy.isEmpty && maxFails <= 0 && failTimeout <= 0 { return nil }
    if !strategy.isEmpty && SelectorStrategy(name: strategy) == nil {
        throw URLError("unknown strategy \"\(strategy)\" (use round, random, fifo or hash)")
    }
    return SelectorConfig(
        strategy: strategy.isEmpty ? "round" : strategy, maxFails: maxFails > 0 ? maxFails : 1,
        failTimeout: failTimeout > 0 ? failTimeout : 30 * GoDuration.second)
}

extension Metadata {
    /// Moves an unscoped `key` to `prefix + key` unless that scoped key is set too.
    mutating func moveUnscoped(_ key: String, to prefix: String) {
        guard let value = removeValue(forKey: key), self[prefix + key] == nil else { return }
        self[prefix + key] = value
    }
}

/// For a key starting with one of `prefixes`: which one, and the key without it.
func splitScope(_ key: String, _ prefixes: [String]) -> (Int, String)? {
    for (index, prefix) in prefixes.enumerated() where key.hasPrefix(prefix) && key.count > prefix.count {
        return (index, String(key.dropFirst(prefix.count)))
    }
    return nil
}

extension String {
    /// Without leading and trailing `/` (Go's `strings.Trim(path, "/")`).
    func trimmingSlashes() -> String {
        var s = Substring(self)
        while s.first == "/" { s = s.dropFirst() }
        while s.last == "/" { s = s.dropLast() }
        return String(s)
    }
}
