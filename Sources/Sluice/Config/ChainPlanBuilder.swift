// Chain plans (hops, nodes, connectors, PROXY sending, CONNECT headers) and `Endpoint`, the
// host:port validation shared by listen addresses, forward targets and chain nodes.

/// Hop and node metadata keys for GOST features Sluice does not implement yet.
let unsupportedHopKeys = ["bypass", "resolver", "hosts", "interface", "so_mark", "netns"]
let unsupportedNodeKeys = ["interface", "so_mark", "netns"]

/// Builds the plan of a chain; every hop needs at least one node.
func makeChainPlan(_ chain: ChainConfig) throws(UsageError) -> ChainPlan {
    guard !chain.hops.isEmpty else { throw UsageError("\(chain.name): the chain has no hops") }
    var hops: [HopPlan] = []
    for (index, hop) in chain.hops.enumerated() {
        let hopName = hop.name.isEmpty ? "hop-\(index)" : hop.name
        let context = "\(chain.name)/\(hopName)"
        guard !hop.nodes.isEmpty else { throw UsageError("\(context): the hop has no nodes") }
        try rejectUnsupported(hop.metadata, keys: unsupportedHopKeys, context: context)
        let selector = try makeSelectorPlan(hop.selector, context: context)
        let md = hop.metadata
        let hopProxyProtocol = try readMetadata(context) { () throws(MetadataError) in try md.int("proxyProtocol") }
        var nodes: [NodePlan] = []
        for (nodeIndex, node) in hop.nodes.enumerated() {
            nodes.append(
                try makeNodePlan(
                    node, name: node.name.isEmpty ? "node-\(nodeIndex)" : node.name, context: context,
                    hopProxyProtocol: hopProxyProtocol ?? 0))
        }
        hops.append(HopPlan(name: hopName, selector: selector, nodes: nodes))
    }
    return ChainPlan(name: chain.name, hops: hops)
}

/// One node; its `proxyProtocol` is its own or else the hop's (`parsing/hop/parse.go`).
private func makeNodePlan(
    _ node: NodeConfig, name: String, context hopContext: String, hopProxyProtocol: Int
) throws(UsageError) -> NodePlan {
    let context = "\(hopContext)/\(name)"
    let connector: ConnectorKind
    switch node.connector.type {
    case "", "http": connector = .http
    case "socks5", "socks": connector = .socks5
    default: throw UsageError("\(context): connector \(node.connector.type) is not supported yet")
    }
    guard node.dialer.type.isEmpty || node.dialer.type == "tcp" else {
        throw UsageError("\(context): dialer \(node.dialer.type) is not supported yet")
    }
    try rejectUnsupported(node.metadata, keys: unsupportedNodeKeys, context: context)

    let endpoint: Endpoint
    do {
        endpoint = try Endpoint(node.addr, allowPortZero: false)
    } catch {
        throw UsageError("\(context): address \"\(node.addr)\": \(error.message)")
    }
    let md = node.metadata
    let connectorMD = node.connector.metadata
    let ownProxyProtocol = try readMetadata(context) { () throws(MetadataError) in try md.int("proxyProtocol") }
    let timeout = try readMetadata(context, scope: "connector.") { () throws(MetadataError) in
        try connectorMD.duration("timeout")
    }
    let headerFields = try readMetadata(context, scope: "connector.") { () throws(MetadataError) in
        try connectorMD.map("header")
    }
    var headers: [HeaderField] = []
    for field in headerFields ?? [] {
        guard let value = field.value.text else {
            throw UsageError("\(context): connector.header \(field.key) must be text")
        }
        headers.append(HeaderField(name: field.key, value: value))
    }
    let auth = node.connector.auth.map { Credentials(username: $0.username, password: $0.password) }
    try checkRequestSize(connector: connector, auth: auth, headers: headers, context: context)
    return NodePlan(
        name: name, host: endpoint.host, port: endpoint.port, address: endpoint.dialAddress, text: node.addr,
        connector: connector, auth: auth,
        proxyProtocol: proxyProtocolVersion(ownProxyProtocol ?? hopProxyProtocol), headers: headers,
        connectTimeout: (timeout ?? 0) > 0 ? timeout : nil)
}

/// Rejects credentials and headers that would not fit the node's request: RFC 1929 lengths are one
/// byte; a CONNECT request (with the longest possible authority) must stay within
/// `HTTPConnect.maxRequestLength`.
private func checkRequestSize(
    connector: ConnectorKind, auth: Credentials?, headers: [HeaderField], context: String
) throws(UsageError) {
    switch connector {
    case .socks5:
        guard let auth else { return }
        let limit = SOCKS5Connect.maxCredentialLength
        guard auth.username.utf8.count <= limit, auth.password.utf8.count <= limit else {
            throw UsageError("\(context): socks5 user name and password must each be at most \(limit) bytes")
        }
    case .http:
        let longest = String(repeating: "x", count: HTTPConnect.maxAuthorityLength)
        let length = HTTPConnect.request(target: longest, auth: auth, headers: headers).count
        guard length <= HTTPConnect.maxRequestLength else {
            throw UsageError(
                "\(context): the CONNECT request would be \(length) bytes with these credentials and headers"
                    + " (at most \(HTTPConnect.maxRequestLength))")
        }
    }
}

/// A validated `host:port`: the host is empty, an IP literal (IPv6 in brackets) or a DNS name.
struct Endpoint {
    /// Without brackets.
    var host: String
    var port: UInt16
    /// Set when the host is an IP literal.
    var address: SocketAddress?

    /// Where to dial: the literal address, 127.0.0.1 for an empty host (Go dials the local
    /// system), nil for a name.
    var dialAddress: SocketAddress? {
        host.isEmpty ? SocketAddress(.v4(IPv4Address(127, 0, 0, 1)), port: port) : address
    }

    init(_ text: String, allowPortZero: Bool) throws(URLError) {
        let (host, portText) = try splitHostPort(text)
        guard let port = parsePort(Substring(portText)) else {
            throw URLError(portText.isEmpty ? "missing port" : "invalid port \"\(portText)\"")
        }
        guard port != 0 || allowPortZero else { throw URLError("port must be between 1 and 65535") }
        self.host = host
        self.port = UInt16(port)
        if text.hasPrefix("[") {
            guard let v6 = IPv6Address(host) else { throw URLError("invalid IPv6 address \"\(host)\"") }
            address = SocketAddress(.v6(v6), port: self.port)
        } else if host.isEmpty {
            address = nil
        } else if host.utf8.allSatisfy({ isDigit($0) || $0 == UInt8(ascii: ".") }) {
            guard let v4 = IPv4Address(host) else { throw URLError("invalid IPv4 address \"\(host)\"") }
            address = SocketAddress(.v4(v4), port: self.port)
        } else {
            guard Self.isHostName(host) else { throw URLError("invalid host name \"\(host)\"") }
            address = nil
        }
    }

    /// Letters, digits, `-`, `_` and dots between non-empty labels (a trailing dot is fine).
    static func isHostName(_ host: String) -> Bool {
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        for (index, label) in labels.enumerated() {
            if label.isEmpty { return index == labels.count - 1 && index > 0 }
            guard label.utf8.count <= 63,
                label.utf8.allSatisfy({
                    isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
                })
            else { return false }
        }
        return host.utf8.count <= 253
    }
}
