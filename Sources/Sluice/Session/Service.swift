// Service: one `-L` service at run time: its plan, its node selectors (shared by every reactor)
// and the constants its log lines carry.

/// A running service. Immutable after start; shared by every reactor thread.
public final class Service: Sendable {
    public let plan: ServicePlan
    /// Position in the run plan.
    public let index: Int
    /// Picks the forward target.
    public let targets: Selector
    /// Picks the node of each chain hop (empty without a chain).
    public let hops: [Selector]
    /// Parses received PROXY headers (nil when receiving is off).
    public let parser: ProxyParser?
    /// Dial attempts one connection may make: failover moves on to another node (each at most
    /// once), and `retries` can allow more.
    public let maxAttempts: Int
    /// What a proxy handler requires of its clients and answers them with.
    public let inboundOptions: InboundOptions
    /// The open-connection limit (`maxConns`), nil when there is none.
    public let limit: ConnectionLimit?
    /// The metrics rows its connections count in (and the endpoint's settings, for `metrics`).
    public let metricRows: ServiceMetricsRows
    /// The names its log lines carry, escaped once.
    let handlerText: LogText
    let listenerText: LogText
    let nameText: LogText
    let targetNames: [LogText]
    let targetTexts: [LogText]

    /// A service for `plan`, at `index` in the run plan. `previous`: the service it replaces on the
    /// same listening sockets after a reload, whose connection count it continues (`activate`
    /// gives that count the new limit once the reload is certain).
    public init(plan: ServicePlan, index: Int, previous: Service? = nil) {
        self.plan = plan
        self.index = index
        targets = Selector(plan: plan.selector, count: plan.targets.count)
        let hopPlans = plan.chain?.hops ?? []
        hops = hopPlans.map { Selector(plan: $0.selector, count: $0.nodes.count) }
        // GOST's rtcp listener has no PROXY receive side.
        parser = plan.receive.flatMap { plan.listener == "rtcp" ? nil : ProxyParser(maxV2Length: $0.maxV2Length) }
        let alternatives = max(plan.targets.count - 1, 0) + hopPlans.reduce(0) { $0 + $1.nodes.count - 1 }
        inboundOptions = InboundOptions(credentials: plan.auth)
        if plan.maxConns <= 0 {
            limit = nil
        } else if let kept = previous?.limit {
            limit = kept
        } else {
            limit = ConnectionLimit(limit: plan.maxConns)
        }
        metricRows = MetricsHub.shared.rows(for: plan)
        // Saturating: `retries` comes from the configuration.
        let (attempts, overflow) = max(plan.retries, alternatives).addingReportingOverflow(1)
        maxAttempts = overflow ? Int.max : attempts
        handlerText = LogText(plan.handlerName)
        listenerText = LogText(plan.listener)
        nameText = LogText(plan.name)
        targetNames = plan.targets.map { LogText($0.name) }
        targetTexts = plan.targets.map { LogText($0.text) }
    }

    /// Readies the service for the reactors, before they see it: its connection limit learns whom to
    /// wake and takes this plan's `maxConns` (a limit kept from before a reload may have had another).
    func activate(reactors mailboxes: [Mailbox]) {
        guard let limit else { return }
        limit.attach(mailboxes)
        limit.update(limit: plan.maxConns)
    }

    /// Adds the fields every handler line of this service carries.
    @inline(__always)
    func addServiceFields(_ line: inout LineBuilder) {
        line.add(.handler, .escaped(handlerText))
        line.add(.kind, .literal("handler"))
        line.add(.listener, .escaped(listenerText))
        line.add(.service, .escaped(nameText))
    }

    /// Whether a peer may send a PROXY header: anyone when no trusted list is configured.
    func trusts(_ peer: IPAddress) -> Bool {
        guard let receive = plan.receive, !receive.trusted.isEmpty else { return true }
        return receive.trusted.contains { $0.contains(peer) }
    }
}
