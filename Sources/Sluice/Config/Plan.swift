// makeRunPlan: turns a `Config` and the run options into a validated `RunPlan`, applying GOST's
// defaults and rejecting, with a clear message, whatever Sluice does not implement yet.

/// Process-wide settings from the command line (flags and environment).
public struct RunOptions: Sendable, Equatable {
    /// Reactor threads; 0 = one per CPU the process may use (the caller counts them).
    public var threads: Int
    /// Shutdown grace period in nanoseconds.
    public var grace: Int64
    /// From `-DD`, `-D`, `-log-level` or `GOST_LOGGER_LEVEL`, in that order; nil = the config's
    /// `log.level`, else info.
    public var logLevel: LogLevel?

    /// Memberwise; the defaults are the flags' defaults.
    public init(threads: Int = 0, grace: Int64 = 5 * GoDuration.second, logLevel: LogLevel? = nil) {
        self.threads = threads
        self.grace = grace
        self.logLevel = logLevel
    }
}

/// Most reactor threads `-threads` may ask for.
public let maxThreads = 1024

/// Validates `config` and resolves every default. `onlineCPUs` is the thread count used when
/// `options.threads` is 0 (the caller asks the system; this module stays pure).
public func makeRunPlan(_ config: Config, options: RunOptions, onlineCPUs: Int) throws(UsageError) -> RunPlan {
    let threads = options.threads == 0 ? onlineCPUs : options.threads
    guard threads >= 1, threads <= maxThreads else {
        throw UsageError("thread count must be between 1 and \(maxThreads) (got \(threads))")
    }
    guard options.grace >= 0 else { throw UsageError("grace period must not be negative") }
    guard options.grace <= GoDuration.longestConfigured else {
        throw UsageError("grace period must be at most \(GoDuration.format(GoDuration.longestConfigured))")
    }
    var logLevel = options.logLevel ?? .info
    if options.logLevel == nil, let text = config.log?.level, !text.isEmpty {
        guard let level = LogLevel(name: text) else {
            throw UsageError("log.level \"\(text)\": unknown level (use trace, debug, info, warning or error)")
        }
        logLevel = level
    }
    guard !config.services.isEmpty else {
        throw UsageError("no services to run: give at least one -L (see -h)")
    }
    // The metrics endpoint runs as one more service (after the others: their ports keep their order).
    var config = config
    if let metrics = config.metrics { config.services.append(try metricsService(metrics, besides: config.services)) }

    var chainConfigs: [String: ChainConfig] = [:]
    for chain in config.chains {
        guard !chain.name.isEmpty else { throw UsageError("a chain has no name") }
        guard chainConfigs.updateValue(chain, forKey: chain.name) == nil else {
            throw UsageError("chain name \"\(chain.name)\" is used twice")
        }
    }
    var chainPlans: [String: ChainPlan] = [:]
    var services: [ServicePlan] = []
    for (index, service) in config.services.enumerated() {
        guard !service.name.isEmpty else { throw UsageError("service #\(index + 1) has no name") }
        if let other = config.services[..<index].first(where: { $0.name == service.name }) {
            throw UsageError("service name \"\(other.name)\" is used twice")
        }
        var plan = try ServicePlanBuilder(service: service).build()
        if plan.handler == .metrics { plan.metricsPath = try metricsPath(service) }
        // A built-in target dials nothing: the chain `-F` gives every service does not apply.
        if let name = try chainName(service), !plan.handler.isBuiltin {
            if chainPlans[name] == nil {
                guard let chain = chainConfigs[name] else {
                    throw UsageError("\(service.name): chain \"\(name)\" not found")
                }
                chainPlans[name] = try makeChainPlan(chain)
            }
            plan.chain = chainPlans[name]
        }
        if let other = services.firstIndex(where: { listenOverlaps($0, plan) }) {
            throw UsageError(
                "\(service.name): listen address \(service.addr) is already used by \(services[other].name)"
                    + " (\(config.services[other].addr))")
        }
        services.append(plan)
    }
    var run = RunPlan(threads: threads, grace: options.grace, logLevel: logLevel, services: services)
    if let log = config.log {
        switch log.format {
        case "", "json": break
        case "text": run.logText = true
        default: throw UsageError("log.format \"\(log.format)\": unknown format (use json or text)")
        }
        run.logOutput = LogOutput(log.output)
    }
    return run
}

/// The chain the service's handler dials through. A chain on an rtcp listener means binding the
/// listening port on a remote node, which no Sluice connector can do yet.
private func chainName(_ service: ServiceConfig) throws(UsageError) -> String? {
    let ignoreChain: Bool
    do {
        ignoreChain = try service.metadata.bool("ignoreChain") ?? false
    } catch {
        throw UsageError("\(service.name): \(error)")
    }
    if ignoreChain { return nil }
    if GostRegistry.bindingListeners.contains(service.listener.type), let chain = service.listener.chain,
        !chain.isEmpty
    {
        throw UsageError(
            "\(service.name): listener \(service.listener.type) through chain \(chain) is not supported yet"
                + " (it would bind the port on the chain's last node)")
    }
    guard let chain = service.handler.chain, !chain.isEmpty else { return nil }
    return chain
}

/// Whether two services would bind the same port: equal addresses, or a wildcard covering the
/// other (`[::]` is dual-stack and covers IPv4 too). With SO_REUSEPORT the kernel would not
/// refuse the second bind, so this has to be caught here.
func listenOverlaps(_ a: ServicePlan, _ b: ServicePlan) -> Bool {
    guard a.listen.port == b.listen.port, a.listen.port != 0 else { return false }
    let anyV6 = IPAddress.v6(.any)
    let anyV4 = IPAddress.v4(IPv4Address(0))
    func isWildcard(_ p: ServicePlan) -> Bool { p.listenHost == nil && (p.listen.ip == anyV6 || p.listen.ip == anyV4) }
    switch (a.listenHost, b.listenHost) {
    case (let x?, let y?): return x.lowercased() == y.lowercased()
    case (_?, nil): return isWildcard(b)
    case (nil, _?): return isWildcard(a)
    case (nil, nil):
        if a.listen.ip == b.listen.ip || a.listen.ip == anyV6 || b.listen.ip == anyV6 { return true }
        return (a.listen.ip == anyV4 && b.listen.ip.isIPv4) || (b.listen.ip == anyV4 && a.listen.ip.isIPv4)
    }
}

/// Reads one metadata value, turning a malformed one into "<context>: invalid value … for <key>".
func readMetadata<T>(
    _ context: String, scope: String = "", _ body: () throws(MetadataError) -> T
) throws(UsageError) -> T {
    do {
        return try body()
    } catch {
        var error = error
        error.key = scope + error.key
        throw UsageError("\(context): \(error)")
    }
}

/// Rejects keys for GOST features Sluice does not implement, where ignoring them would change
/// who may connect or where traffic goes.
func rejectUnsupported(_ metadata: Metadata, keys: [String], context: String) throws(UsageError) {
    if let key = keys.first(where: { metadata[$0] != nil }) {
        throw UsageError("\(context): \(key) is not supported yet")
    }
}

/// `-3` → 0, `1` → 1, anything else positive → 2, as go-proxyproto maps versions.
func proxyProtocolVersion(_ value: Int) -> Int { value <= 0 ? 0 : value == 1 ? 1 : 2 }

/// A `SelectorConfig` with GOST's defaults applied (`FailFilter`: maxFails ≤ 0 is 1,
/// failTimeout ≤ 0 is 10s).
func makeSelectorPlan(_ config: SelectorConfig?, context: String) throws(UsageError) -> SelectorPlan {
    guard let config else { return .default }
    var plan = SelectorPlan.default
    if !config.strategy.isEmpty {
        guard let strategy = SelectorStrategy(name: config.strategy) else {
            throw UsageError(
                "\(context): unknown selector strategy \"\(config.strategy)\" (use round, random, fifo or hash)")
        }
        plan.strategy = strategy
    }
    if config.maxFails > 0 { plan.maxFails = config.maxFails }
    if config.failTimeout > 0 { plan.failTimeout = config.failTimeout }
    return plan
}
