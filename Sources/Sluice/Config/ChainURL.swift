// `-F` URLs into hops of `chain-0`, as GOST's `BuildConfigFromCmd` and `buildNodeConfig` do it:
// connector/dialer fallbacks, comma-separated nodes, auth, and the hop/node/connector/dialer scopes.

/// Query keys that, unscoped, go to the hop only; the hop's `proxyProtocol` then reaches every
/// node that does not set its own (done when the plan is made, as GOST's hop parser does).
let hopOnlyKeys = ["interface", "so_mark", "proxyProtocol"]

/// Parses the `index`-th `-F` argument into hop `hop-<index>`, one node per comma-separated address.
func parseHopURL(_ text: String, index: Int) throws(URLError) -> HopConfig {
    let url = try URLParts(text)
    var (connector, dialer) = try splitScheme(url.scheme, what: "connector+dialer")
    if !GostRegistry.connectors.contains(connector) { connector = "http" }
    if !GostRegistry.dialers.contains(dialer) { dialer = "tcp" }

    var query = Metadata(url.query.map { ($0.key, .string($0.value)) })
    let selector = try takeSelector(&query)
    for key in hopOnlyKeys { query.moveUnscoped(key, to: "hop.") }

    // The hop gets every key but node./connector./dialer. ones; hop. keys go to the hop only.
    var hopMetadata = Metadata()
    for field in query.fields where splitScope(field.key, ["hop.", "node.", "connector.", "dialer."]) == nil {
        hopMetadata[field.key] = field.value
    }
    for field in query.fields {
        if case (_, let key)? = splitScope(field.key, ["hop."]) {
            hopMetadata[key] = field.value
            query[field.key] = nil
        }
    }

    var auth = url.user.map { AuthConfig(username: $0.name, password: $0.password ?? "") }
    if let encoded = query.removeValue(forKey: "auth") {
        hopMetadata["auth"] = nil
        if auth == nil { auth = try parseAuthParameter(encoded.text ?? "") }
    }
    for key in tlsKeys + ["tls.secure", "secure", "tls.serverName", "serverName"] {
        query[key] = nil
        hopMetadata[key] = nil
    }

    var scoped = [Metadata(), Metadata(), Metadata()]  // node, connector, dialer
    let scopes = ["node.", "connector.", "dialer."]
    for field in query.fields where splitScope(field.key, scopes) == nil {
        for i in scoped.indices { scoped[i][field.key] = field.value }
    }
    for field in query.fields {
        if let (scope, key) = splitScope(field.key, scopes) { scoped[scope][key] = field.value }
    }

    var connectorConfig = ConnectorConfig(type: connector, auth: auth, metadata: scoped[1])
    var dialerConfig = DialerConfig(type: dialer, metadata: scoped[2])
    if dialer == "ssh" || dialer == "sshd" {
        dialerConfig.auth = connectorConfig.auth
        connectorConfig.auth = nil
    }

    var nodes: [NodeConfig] = []
    for addr in url.host.split(separator: ",") {
        do throws(URLError) {
            let (_, port) = try splitHostPort(String(addr))
            guard parsePort(Substring(port)) != nil else {
                throw URLError(port.isEmpty ? "missing port" : "invalid port \"\(port)\"")
            }
        } catch {
            throw URLError("node \"\(addr)\": \(error.message)")
        }
        nodes.append(
            NodeConfig(
                name: "node-\(nodes.count)", addr: String(addr), connector: connectorConfig, dialer: dialerConfig,
                metadata: scoped[0]))
    }
    guard !nodes.isEmpty else { throw URLError("missing node address (e.g. proxy.example.com:3128)") }
    return HopConfig(name: "hop-\(index)", selector: selector, nodes: nodes, metadata: hopMetadata)
}
