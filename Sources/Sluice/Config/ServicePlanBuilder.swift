// One service's plan: handler and listener types, listen address, targets, selector, timeouts and
// PROXY settings, read from the service, handler and listener metadata with GOST's defaults.

/// Service metadata keys for GOST features Sluice does not implement yet.
let unsupportedServiceKeys = ["interface", "so_mark", "netns", "netns.out"]

/// Handler metadata keys the command line turns into GOST objects Sluice does not implement yet
/// (`BuildConfigFromCmd`: admissions, bypasses, resolvers, hosts, limiters).
let unsupportedHandlerKeys = [
    "admission", "bypass", "resolver", "hosts", "limiter.in", "limiter.out", "limiter.conn.in", "limiter.conn.out",
    "climiter", "rlimiter",
]

/// Listener types Sluice runs (handler types: `HandlerKind`).
let supportedListeners: Set<String> = ["tcp", "rtcp"]

/// Builds the `ServicePlan` of one service, without its chain.
struct ServicePlanBuilder {
    var service: ServiceConfig
    var name: String { service.name }

    func build() throws(UsageError) -> ServicePlan {
        let handlerName = service.handler.type.isEmpty ? "auto" : service.handler.type
        let listener = service.listener.type.isEmpty ? "tcp" : service.listener.type
        guard supportedListeners.contains(listener) else {
            throw UsageError("\(name): listener \(listener) is not supported yet")
        }
        guard let handler = HandlerKind(type: handlerName) else {
            throw UsageError("\(name): handler \(handlerName) is not supported yet")
        }
        try rejectUnsupported(service.metadata, keys: unsupportedServiceKeys, context: name)
        try rejectUnsupported(service.handler.metadata, keys: unsupportedHandlerKeys, context: name)

        let (listen, listenHost) = try listenAddress()
        if handler.isBuiltin, let nodes = service.forwarder?.nodes, !nodes.isEmpty {
            throw UsageError(
                "\(name): handler \(handlerName) takes no forward targets: it answers the client itself"
                    + " (forward to it from another service, as in -L tcp://:8000/:7000 -L \(handlerName)://:7000)")
        }
        let targets = handler.forwards ? try self.targets(handler: handlerName) : []
        let selector = try makeSelectorPlan(service.forwarder?.selector, context: name)
        guard service.handler.retries >= 0 else {
            throw UsageError("\(name): handler retries must not be negative (got \(service.handler.retries))")
        }

        let md = service.metadata
        let handlerMD = service.handler.metadata
        var dialTimeout = try readMetadata(name) { () throws(MetadataError) in try md.duration("dialTimeout") } ?? 0
        // GOST's router: zero means the 15s default, a negative value no timeout at all.
        dialTimeout = dialTimeout == 0 ? 15 * GoDuration.second : max(dialTimeout, 0)
        let idleTimeout = try readMetadata(name, scope: "handler.") { () throws(MetadataError) in
            try handlerMD.duration("idleTimeout")
        }
        let readTimeout = try readMetadata(name, scope: "handler.") { () throws(MetadataError) in
            try handlerMD.duration("readTimeout")
        }
        let send = try readMetadata(name, scope: "handler.") { () throws(MetadataError) in
            try handlerMD.int("proxyProtocol")
        }
        let splice = try readMetadata(name, scope: "handler.") { () throws(MetadataError) in
            try handlerMD.bool("splice")
        }
        let reply = try readMetadata(name, scope: "handler.") { () throws(MetadataError) in
            try handlerMD.byteSize("reply")
        }
        let closeAfterInfo = try readMetadata(name, scope: "handler.") { () throws(MetadataError) in
            try handlerMD.bool("close")
        }
        let (maxConns, backlog) = try connectionLimit()
        let receiveVersion = try readMetadata(name) { () throws(MetadataError) in try md.int("proxyProtocol") } ?? 0
        // GOST's rtcp listener has no PROXY wrapper: service-level proxyProtocol does nothing there.
        let receive = receiveVersion > 0 && listener == "tcp" ? try receivePlan() : nil

        return ServicePlan(
            name: name, listen: listen, listenHost: listenHost, handler: handler, handlerName: handlerName,
            auth: service.handler.auth.map { Credentials(username: $0.username, password: $0.password) },
            listener: listener,
            targets: targets, selector: selector, dialTimeout: dialTimeout, idleTimeout: max(idleTimeout ?? 0, 0),
            handshakeTimeout: (readTimeout ?? 0) > 0 ? readTimeout! : 15 * GoDuration.second,
            receive: receive,
            // A built-in target dials nothing: there is no upstream to send a header to.
            sendProxyProtocol: handler.isBuiltin ? 0 : proxyProtocolVersion(send ?? 0),
            retries: service.handler.retries,
            chain: nil, splice: splice ?? false, reply: reply ?? 0, closeAfterInfo: closeAfterInfo ?? false,
            maxConns: maxConns, listenBacklog: backlog)
    }

    /// Service metadata `maxConns` (0 or more; 0 = no limit) and `maxConns.backlog` (the listen
    /// backlog, 1 to 65535).
    func connectionLimit() throws(UsageError) -> (Int, Int32) {
        let md = service.metadata
        let maxConns = try readMetadata(name) { () throws(MetadataError) in try md.int("maxConns") } ?? 0
        guard maxConns >= 0 else {
            throw UsageError("\(name): maxConns must be 0 (no limit) or more (got \(maxConns))")
        }
        let backlog =
            try readMetadata(name) { () throws(MetadataError) in try md.int("maxConns.backlog") }
            ?? Int(ServicePlan.defaultBacklog)
        guard (1...65535).contains(backlog) else {
            throw UsageError("\(name): maxConns.backlog must be between 1 and 65535 (got \(backlog))")
        }
        return (maxConns, Int32(backlog))
    }

    /// The bind address: `[::]` for an empty host, a literal as written, or a name to resolve.
    func listenAddress() throws(UsageError) -> (SocketAddress, String?) {
        let endpoint: Endpoint
        do {
            endpoint = try Endpoint(service.addr, allowPortZero: true)
        } catch {
            throw UsageError("\(name): listen address \"\(service.addr)\": \(error.message)")
        }
        if endpoint.host.isEmpty { return (SocketAddress(.v6(.any), port: endpoint.port), nil) }
        if let address = endpoint.address { return (address, nil) }
        return (SocketAddress(.v6(.any), port: endpoint.port), endpoint.host)
    }

    /// The forwarder's nodes; a tcp/rtcp handler needs at least one.
    func targets(handler: String) throws(UsageError) -> [TargetPlan] {
        let nodes = service.forwarder?.nodes ?? []
        guard !nodes.isEmpty else {
            throw UsageError(
                "\(name): handler \(handler) needs at least one forward target, as in -L \(handler)://:8080/192.0.2.10:80"
                    + " (with a port range, give one target or one per port)")
        }
        var targets: [TargetPlan] = []
        for (index, node) in nodes.enumerated() {
            let targetName = node.name.isEmpty ? "target-\(index)" : node.name
            do {
                let endpoint = try Endpoint(node.addr, allowPortZero: false)
                targets.append(
                    TargetPlan(
                        name: targetName, host: endpoint.host, port: endpoint.port,
                        address: endpoint.dialAddress, text: node.addr))
            } catch {
                throw UsageError("\(name): target \(targetName) \"\(node.addr)\": \(error.message)")
            }
        }
        return targets
    }

    /// `proxyProtocol.timeout`, `.trusted`, `.required` and `.maxLength` of the service metadata.
    func receivePlan() throws(UsageError) -> ProxyReceivePlan {
        let md = service.metadata
        let timeout = try readMetadata(name) { () throws(MetadataError) in try md.duration("proxyProtocol.timeout") }
        let trustedText = try readMetadata(name) { () throws(MetadataError) in try md.strings("proxyProtocol.trusted") }
        let required = try readMetadata(name) { () throws(MetadataError) in try md.bool("proxyProtocol.required") }
        let maxLength = try readMetadata(name) { () throws(MetadataError) in try md.int("proxyProtocol.maxLength") }
        var trusted: [CIDR] = []
        for text in trustedText ?? [] {
            guard let cidr = CIDR(text) else {
                throw UsageError(
                    "\(name): invalid address \"\(text)\" in proxyProtocol.trusted (use e.g. 10.0.0.0/8, 192.0.2.1, fd00::/8)"
                )
            }
            trusted.append(cidr)
        }
        // 36 bytes is the IPv6 address block, the longest a plain TCP header needs.
        let length = maxLength ?? 4096
        guard (36...65535).contains(length) else {
            throw UsageError("\(name): proxyProtocol.maxLength must be between 36 and 65535 (got \(length))")
        }
        return ProxyReceivePlan(
            timeout: (timeout ?? 0) > 0 ? timeout! : 10 * GoDuration.second, trusted: trusted,
            required: required ?? false, maxV2Length: length)
    }
}
