// Helpers for the Config tests: one-line summaries of services and hops so that tables can state
// the whole expected result of a `-L`/`-F` argument compactly.
import Sluice

/// `{a=1,b=[x,y]}` with keys sorted; "" when empty.
func dump(_ md: Metadata) -> String {
    guard !md.isEmpty else { return "{}" }
    return "{" + md.fields.sorted { $0.key < $1.key }.map { "\($0.key)=\(dump($0.value))" }.joined(separator: ",") + "}"
}

func dump(_ value: MetadataValue) -> String {
    switch value {
    case .list(let items): "[" + items.map(dump).joined(separator: ",") + "]"
    case .map(let fields): "{" + fields.map { "\($0.key)=\(dump($0.value))" }.joined(separator: ",") + "}"
    default: value.text!
    }
}

/// `service-0 tcp+tcp :8000 ->target-0=:8080 sel=round/1/30s auth=u:p S{…} H{…} L{…}`; optional
/// parts only when set.
func summary(_ s: ServiceConfig) -> String {
    var parts = [s.name, "\(s.handler.type)+\(s.listener.type)", s.addr]
    if let f = s.forwarder {
        parts.append("->" + f.nodes.map { "\($0.name)=\($0.addr)" }.joined(separator: ","))
        if let sel = f.selector { parts.append("sel=\(summary(sel))") }
    }
    if let a = s.handler.auth { parts.append("auth=\(a.username):\(a.password)") }
    if let a = s.listener.auth { parts.append("lauth=\(a.username):\(a.password)") }
    if s.handler.retries != 0 { parts.append("retries=\(s.handler.retries)") }
    if let c = s.handler.chain { parts.append("hchain=\(c)") }
    if let c = s.listener.chain { parts.append("lchain=\(c)") }
    if !s.metadata.isEmpty { parts.append("S" + dump(s.metadata)) }
    if !s.handler.metadata.isEmpty { parts.append("H" + dump(s.handler.metadata)) }
    if !s.listener.metadata.isEmpty { parts.append("L" + dump(s.listener.metadata)) }
    return parts.joined(separator: " ")
}

func summary(_ sel: SelectorConfig) -> String {
    "\(sel.strategy)/\(sel.maxFails)/\(GoDuration.format(sel.failTimeout))"
}

/// `hop-0 sel=… {hop md} | node-0 :8000 http+tcp auth=u:p N{…} C{…} D{…} | node-1 …`.
func summary(_ hop: HopConfig) -> String {
    var head = [hop.name]
    if let sel = hop.selector { head.append("sel=\(summary(sel))") }
    if !hop.metadata.isEmpty { head.append(dump(hop.metadata)) }
    let nodes = hop.nodes.map { node in
        var parts = [node.name, node.addr, "\(node.connector.type)+\(node.dialer.type)"]
        if let a = node.connector.auth { parts.append("auth=\(a.username):\(a.password)") }
        if let a = node.dialer.auth { parts.append("dauth=\(a.username):\(a.password)") }
        if !node.metadata.isEmpty { parts.append("N" + dump(node.metadata)) }
        if !node.connector.metadata.isEmpty { parts.append("C" + dump(node.connector.metadata)) }
        if !node.dialer.metadata.isEmpty { parts.append("D" + dump(node.dialer.metadata)) }
        return parts.joined(separator: " ")
    }
    return ([head.joined(separator: " ")] + nodes).joined(separator: " | ")
}

/// The config of a command line made of `-L` and `-F` arguments.
func commandLineConfig(_ services: [String], _ nodes: [String] = []) throws -> Config {
    try buildCommandLineConfig(services: services, nodes: nodes)
}

/// The message of the `UsageError` that `body` throws, or nil when it does not throw.
func usageMessage<T>(_ body: () throws(UsageError) -> T) -> String? {
    do {
        _ = try body()
        return nil
    } catch {
        return error.message
    }
}

/// The plan of a command line (`-L`/`-F` only), with 4 CPUs.
func plan(_ services: [String], _ nodes: [String] = []) throws(UsageError) -> RunPlan {
    try makeRunPlan(
        buildCommandLineConfig(services: services, nodes: nodes), options: RunOptions(), onlineCPUs: 4)
}
