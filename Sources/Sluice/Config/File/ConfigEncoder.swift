// `Config` → document in GOST's schema, for `-O`: the fields of GOST's `x/config` structs in their
// order, empty optional fields left out as Go's `omitempty` does.

/// Builds the document `formatConfig` prints.
struct ConfigEncoder {
    /// JSON writes durations as nanoseconds, YAML as Go duration text (as GOST's encoders do).
    var format: DocumentFormat

    func encode(_ config: Config) -> DocumentNode {
        var fields: [(String, DocumentNode)] = [("services", list(config.services.map(service)))]
        if !config.chains.isEmpty { fields.append(("chains", list(config.chains.map(chain)))) }
        if let log = config.log {
            var entries: [(String, DocumentNode)] = []
            if !log.output.isEmpty { entries.append(("output", text(log.output))) }
            if !log.level.isEmpty { entries.append(("level", text(log.level))) }
            if !log.format.isEmpty { entries.append(("format", text(log.format))) }
            fields.append(("log", map(entries)))
        }
        if let metrics = config.metrics { fields.append(("metrics", self.metrics(metrics))) }
        return map(fields)
    }

    func service(_ s: ServiceConfig) -> DocumentNode {
        var fields: [(String, DocumentNode)] = [("name", text(s.name))]
        if !s.addr.isEmpty { fields.append(("addr", text(s.addr))) }
        var handler: [(String, DocumentNode)] = [("type", text(s.handler.type))]
        if s.handler.retries != 0 { handler.append(("retries", DocumentNode(.int(s.handler.retries)))) }
        if let chain = s.handler.chain, !chain.isEmpty { handler.append(("chain", text(chain))) }
        if let auth = s.handler.auth { handler.append(("auth", self.auth(auth))) }
        if !s.handler.metadata.isEmpty { handler.append(("metadata", metadata(s.handler.metadata))) }
        fields.append(("handler", map(handler)))
        var listener: [(String, DocumentNode)] = [("type", text(s.listener.type))]
        if let chain = s.listener.chain, !chain.isEmpty { listener.append(("chain", text(chain))) }
        if let auth = s.listener.auth { listener.append(("auth", self.auth(auth))) }
        if !s.listener.metadata.isEmpty { listener.append(("metadata", metadata(s.listener.metadata))) }
        fields.append(("listener", map(listener)))
        if let forwarder = s.forwarder {
            var entries: [(String, DocumentNode)] = []
            if let sel = forwarder.selector { entries.append(("selector", selector(sel))) }
            let nodes = forwarder.nodes.map { node in
                var entries: [(String, DocumentNode)] = []
                if !node.name.isEmpty { entries.append(("name", text(node.name))) }
                if !node.addr.isEmpty { entries.append(("addr", text(node.addr))) }
                return map(entries)
            }
            entries.append(("nodes", list(nodes)))
            fields.append(("forwarder", map(entries)))
        }
        if !s.metadata.isEmpty { fields.append(("metadata", metadata(s.metadata))) }
        return map(fields)
    }

    func chain(_ c: ChainConfig) -> DocumentNode {
        let hops = c.hops.map { hop in
            var fields: [(String, DocumentNode)] = [("name", text(hop.name))]
            if let sel = hop.selector { fields.append(("selector", selector(sel))) }
            if !hop.nodes.isEmpty { fields.append(("nodes", list(hop.nodes.map(node)))) }
            if !hop.metadata.isEmpty { fields.append(("metadata", metadata(hop.metadata))) }
            return map(fields)
        }
        return map([("name", text(c.name)), ("hops", list(hops))])
    }

    func node(_ n: NodeConfig) -> DocumentNode {
        var fields: [(String, DocumentNode)] = [("name", text(n.name))]
        if !n.addr.isEmpty { fields.append(("addr", text(n.addr))) }
        fields.append(("connector", part(n.connector.type, n.connector.auth, n.connector.metadata)))
        fields.append(("dialer", part(n.dialer.type, n.dialer.auth, n.dialer.metadata)))
        if !n.metadata.isEmpty { fields.append(("metadata", metadata(n.metadata))) }
        return map(fields)
    }

    /// A connector or dialer.
    func part(_ type: String, _ auth: AuthConfig?, _ md: Metadata) -> DocumentNode {
        var fields: [(String, DocumentNode)] = [("type", text(type))]
        if let auth { fields.append(("auth", self.auth(auth))) }
        if !md.isEmpty { fields.append(("metadata", metadata(md))) }
        return map(fields)
    }

    func auth(_ a: AuthConfig) -> DocumentNode {
        var fields: [(String, DocumentNode)] = []
        if !a.username.isEmpty { fields.append(("username", text(a.username))) }
        if !a.password.isEmpty { fields.append(("password", text(a.password))) }
        return map(fields)
    }

    /// GOST's `SelectorConfig` has no `omitempty`: all three fields, always.
    func selector(_ s: SelectorConfig) -> DocumentNode {
        let timeout =
            format == .json ? DocumentNode(.int(Int(s.failTimeout))) : text(GoDuration.format(s.failTimeout))
        return map([
            ("strategy", text(s.strategy)), ("maxFails", DocumentNode(.int(s.maxFails))), ("failTimeout", timeout),
        ])
    }

    /// Keys sorted, as Go writes a map.
    func metadata(_ md: Metadata) -> DocumentNode {
        map(md.fields.sorted { $0.key < $1.key }.map { ($0.key, value($0.value)) })
    }

    func value(_ v: MetadataValue) -> DocumentNode {
        switch v {
        case .string(let s): text(s)
        case .int(let i): DocumentNode(.int(i))
        case .float(let f): DocumentNode(.float(f))
        case .bool(let b): DocumentNode(.bool(b))
        case .list(let items): list(items.map(value))
        case .map(let fields): map(fields.map { ($0.key, value($0.value)) })
        }
    }

    func text(_ s: String) -> DocumentNode { DocumentNode(.string(s)) }
    func list(_ items: [DocumentNode]) -> DocumentNode { DocumentNode(.sequence(items)) }
    func map(_ fields: [(String, DocumentNode)]) -> DocumentNode {
        DocumentNode(.mapping(fields.map { DocumentEntry(key: $0.0, value: $0.1) }))
    }
}
