// The metrics endpoint's configuration: GOST's top-level `metrics: {addr, path, auth}`, the
// `-metrics [user:pass@]host:port[?path=/metrics]` flag and `GOST_METRICS`, read, printed (-O) and
// turned into the `metrics` service the plan runs (as `-L metrics://…` gives one directly).

/// GOST's `metrics:` (`x/config.MetricsConfig`).
public struct MetricsConfig: Sendable, Equatable {
    /// `host:port` to listen on (`:9000`).
    public var addr: String
    /// Where the exposition is served; empty means `/metrics`.
    public var path: String
    /// Basic credentials the exposition path requires.
    public var auth: AuthConfig?

    /// Memberwise; defaulted parameters take GOST's defaults.
    public init(addr: String, path: String = "", auth: AuthConfig? = nil) {
        self.addr = addr
        self.path = path
        self.auth = auth
    }
}

/// `-metrics [user:pass@]host:port[?path=/metrics]`, read as GOST does (`cmd.Norm`: the host is the
/// address, the user info the credentials, the `path` query key the path).
func parseMetricsFlag(_ text: String) throws(UsageError) -> MetricsConfig {
    let url: URLParts
    do {
        url = try URLParts(text)
    } catch {
        throw UsageError(flag: "metrics", argument: text, error.message)
    }
    guard !url.host.isEmpty else { throw UsageError(flag: "metrics", argument: text, "missing address (e.g. :9000)") }
    let path = url.query.first { $0.key == "path" }?.value ?? ""
    let auth = url.user.map { AuthConfig(username: $0.name, password: $0.password ?? "") }
    return MetricsConfig(addr: url.host, path: path, auth: auth)
}

/// `GOST_METRICS` applied as GOST's parser does when there is no `-metrics` (which replaces it
/// all): it sets the address of the files' `metrics` (or of a new one).
func applyMetricsEnvironment(_ config: Config, _ environment: [String: String]) -> Config {
    guard let address = environment["GOST_METRICS"], !address.isEmpty else { return config }
    var config = config
    var metrics = config.metrics ?? MetricsConfig(addr: "")
    metrics.addr = address
    config.metrics = metrics
    return config
}

/// The name of the service `-metrics` adds: `metrics`, or `metrics-<n>` when a service has that name.
func metricsServiceName(besides services: [ServiceConfig]) -> String {
    var name = "metrics"
    var n = 1
    while services.contains(where: { $0.name == name }) {
        name = "metrics-\(n)"
        n += 1
    }
    return name
}

/// The service that serves `metrics`: handler `metrics` with the path in its metadata, as GOST's
/// "metrics as a normal service" form (`-L metrics://:9000?path=/metrics`) gives it.
func metricsService(_ metrics: MetricsConfig, besides services: [ServiceConfig]) throws(UsageError) -> ServiceConfig {
    guard !metrics.addr.isEmpty else { throw UsageError("metrics: missing addr, the host:port to listen on") }
    var metadata = Metadata()
    if !metrics.path.isEmpty { metadata["path"] = .string(metrics.path) }
    return ServiceConfig(
        name: metricsServiceName(besides: services), addr: metrics.addr,
        handler: HandlerConfig(type: "metrics", auth: metrics.auth, metadata: metadata))
}

/// The exposition path of a `metrics` service (handler metadata `path`): absolute, visible ASCII,
/// no query; `/metrics` when absent or empty.
func metricsPath(_ service: ServiceConfig) throws(UsageError) -> String {
    let path = try readMetadata(service.name, scope: "handler.") { () throws(MetadataError) in
        try service.handler.metadata.string("path")
    }
    guard let path, !path.isEmpty else { return MetricsEndpoint.defaultPath }
    guard path.hasPrefix("/"), path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x3F && $0 != 0x23 }) else {
        throw UsageError(
            "\(service.name): metrics path \"\(path)\" must start with / and hold no spaces, ? or # (e.g. /metrics)")
    }
    return path
}

extension ConfigDecoder {
    /// `metrics: {addr, path, auth}`; `auther` (a named authenticator) is not supported.
    mutating func decodeMetrics(_ node: DocumentNode, _ path: String) throws(ConfigFileError) -> MetricsConfig? {
        if case .null = node.value { return nil }
        var metrics = MetricsConfig(addr: "")
        for entry in try object(node, path) {
            let p = "\(path).\(entry.key)"
            switch entry.key.lowercased() {
            case "addr": metrics.addr = try string(entry.value, p)
            case "path": metrics.path = try string(entry.value, p)
            case "auth": metrics.auth = try decodeAuth(entry.value, p)
            default: try other(entry, in: path, unsupported: ["auther"])
            }
        }
        guard !metrics.addr.isEmpty else {
            throw failure("\(path): missing addr, the host:port to listen on (e.g. \":9000\")", at: node.position)
        }
        return metrics
    }
}

extension ConfigEncoder {
    /// `metrics:` in GOST's field order, empty fields left out.
    func metrics(_ m: MetricsConfig) -> DocumentNode {
        var fields: [(String, DocumentNode)] = [("addr", text(m.addr))]
        if !m.path.isEmpty { fields.append(("path", text(m.path))) }
        if let auth = m.auth { fields.append(("auth", self.auth(auth))) }
        return map(fields)
    }
}
