// MetricsHub: the one place reactors meet for metrics. It names the rows (which service, chain and
// node each slot counts), keeps the copy of its counters each reactor last published, sums them for
// a scrape, and holds the process-wide state: readiness, the shutdown drain, services and reactors.
import Synchronization

/// The label values of the counter rows, each escaped once for the text format. Slots are handed
/// out by name and never reused, so a service keeps its counters across reloads.
public struct MetricsCatalog: Sendable {
    /// `service` label values, by service slot.
    public private(set) var services: [[UInt8]] = []
    /// `chain` label values, by chain slot.
    public private(set) var chains: [[UInt8]] = []
    /// The chain slot and `node` label value of each node slot.
    public private(set) var nodes: [(chain: Int, name: [UInt8])] = []
    private var serviceSlots: [String: Int] = [:]
    private var chainSlots: [String: Int] = [:]
    private var nodeSlots: [String: Int] = [:]

    /// An empty catalog.
    public init() {}

    /// The slot of the service named `name`, added when new.
    public mutating func service(_ name: String) -> Int {
        if let slot = serviceSlots[name] { return slot }
        services.append(escapeLabelValue(name))
        serviceSlots[name] = services.count - 1
        return services.count - 1
    }

    /// The slot of the chain named `name`, added when new.
    public mutating func chain(_ name: String) -> Int {
        if let slot = chainSlots[name] { return slot }
        chains.append(escapeLabelValue(name))
        chainSlots[name] = chains.count - 1
        return chains.count - 1
    }

    /// The slot of node `name` of the chain in slot `chain`, added when new.
    public mutating func node(chain: Int, _ name: String) -> Int {
        let key = "\(chain) \(name)"
        if let slot = nodeSlots[key] { return slot }
        nodes.append((chain, escapeLabelValue(name)))
        nodeSlots[key] = nodes.count - 1
        return nodes.count - 1
    }
}

/// A label value as the text format writes it between quotes: backslash, double quote and line
/// feed escaped (exposition format 0.0.4).
public func escapeLabelValue(_ text: String) -> [UInt8] {
    var escaped: [UInt8] = []
    escaped.reserveCapacity(text.utf8.count)
    for byte in text.utf8 {
        switch byte {
        case 0x5C: escaped += [0x5C, 0x5C]
        case 0x22: escaped += [0x5C, 0x22]
        case 0x0A: escaped += [0x5C, 0x6E]
        default: escaped.append(byte)
        }
    }
    return escaped
}

/// The rows a service's connections count in; -1 when there is none.
public struct ServiceMetricsRows: Sendable {
    /// The service's row; -1 for the metrics endpoint itself, whose requests are not counted.
    public let service: Int
    /// The row of the service's chain.
    public let chain: Int
    /// The row of each node of the chain's first hop (GOST times the connect to the first node).
    public let firstHopNodes: [Int]
    /// How the metrics endpoint answers, for a `metrics` service; nil for the others.
    public let endpoint: MetricsEndpoint?
}

/// One reactor's counters as it last published them.
struct PublishedCounters {
    var service: [Int] = []
    var chain: [Int] = []
    var node: [Int] = []
    var descriptorSheds = 0
    var idleBuffers = 0
    var idlePipes = 0
}

/// The counters of every reactor summed, with their labels: what one scrape renders.
public struct MetricsSnapshot: Sendable {
    public var catalog = MetricsCatalog()
    /// Rows as in `ServiceRow`, `ChainRow`, `NodeRow`; a row beyond the end counts 0.
    public var service: [Int] = []
    public var chain: [Int] = []
    public var node: [Int] = []
    /// Services running (`gost_services`; the metrics endpoint is not one).
    public var services = 0
    public var reactors = 0
    public var descriptorSheds = 0
    public var idleBuffers = 0
    public var idlePipes = 0
    public var logLinesDropped = 0

    /// An empty snapshot (its arrays grow on the first scrape and are reused after).
    public init() {}
}

/// The process's metrics state. Reactors write their own counters without locks (ReactorMetrics)
/// and hand a copy here twice a second; a scrape sums the copies under the lock.
public final class MetricsHub: @unchecked Sendable {
    /// The process's hub (there is one metrics endpoint per process, as in GOST).
    public static let shared = MetricsHub()

    private let lock = ConditionLock()
    // Guarded by `lock`.
    private var catalog = MetricsCatalog()
    private var published: [PublishedCounters] = []

    private let enabledFlag = Atomic<Bool>(false)
    private let readyFlag = Atomic<Bool>(false)
    private let drainingFlag = Atomic<Bool>(false)
    private let servicesGauge = Atomic<Int>(0)
    private let reactorsGauge = Atomic<Int>(0)

    /// A hub of its own (tests); the process uses `shared`.
    public init() {}

    // MARK: Process state

    /// A metrics endpoint runs: reactors publish their counters and wake up for it.
    public var isEnabled: Bool { enabledFlag.load(ordering: .relaxed) }

    /// Every listener is bound and the process is not draining (`/readyz`).
    public var isReady: Bool { readyFlag.load(ordering: .acquiring) && !isDraining }

    /// Shutdown has begun: `/readyz` answers 503 from now on.
    public var isDraining: Bool { drainingFlag.load(ordering: .acquiring) }

    /// The process bound every listener of `plan` and runs `reactors` reactors.
    public func started(_ plan: RunPlan, reactors: Int) {
        reactorsGauge.store(reactors, ordering: .relaxed)
        planChanged(plan)
        readyFlag.store(true, ordering: .releasing)
    }

    /// A reload put `plan` in place.
    public func planChanged(_ plan: RunPlan) {
        servicesGauge.store(plan.services.count { $0.handler != .metrics }, ordering: .relaxed)
        enabledFlag.store(plan.services.contains { $0.handler == .metrics }, ordering: .relaxed)
    }

    /// SIGTERM/SIGINT: called before the reactors are told to close their listeners, so `/readyz`
    /// fails no later than the ports stop accepting.
    public func beginDraining() { drainingFlag.store(true, ordering: .releasing) }

    // MARK: Rows

    /// The rows of `plan`'s service, its chain and the nodes of its chain's first hop.
    public func rows(for plan: ServicePlan) -> ServiceMetricsRows {
        lock.withLock {
            let endpoint = plan.handler == .metrics ? MetricsEndpoint(plan: plan) : nil
            let service = endpoint == nil ? catalog.service(plan.name) : -1
            // The endpoint dials nothing: a chain on it (`-F` applies to every `-L`) has nothing to count.
            guard endpoint == nil, let chainPlan = plan.chain else {
                return ServiceMetricsRows(service: service, chain: -1, firstHopNodes: [], endpoint: endpoint)
            }
            let chain = catalog.chain(chainPlan.name)
            // The first hop's nodes (the ones timed) get their rows now, so their series exist (at 0)
            // before the first connection.
            let first = (chainPlan.hops.first?.nodes ?? []).map { catalog.node(chain: chain, $0.name) }
            return ServiceMetricsRows(service: service, chain: chain, firstHopNodes: first, endpoint: endpoint)
        }
    }

    // MARK: Publishing and scraping

    /// Keeps a copy of reactor `index`'s counters (its thread calls this). Copies into the arrays
    /// kept from the last time, so nothing is allocated unless the rows grew.
    func publish(reactor index: Int, _ counters: ReactorMetrics, idleBuffers: Int, idlePipes: Int) {
        lock.withLock {
            while published.count <= index { published.append(PublishedCounters()) }
            copy(counters.service, into: &published[index].service)
            copy(counters.chain, into: &published[index].chain)
            copy(counters.node, into: &published[index].node)
            published[index].descriptorSheds = counters.descriptorSheds
            published[index].idleBuffers = idleBuffers
            published[index].idlePipes = idlePipes
        }
    }

    /// Fills `snapshot` with the sum of what every reactor published (reusing its arrays) and the
    /// current labels and gauges. The log sink's drop count is the caller's to add.
    public func snapshot(into snapshot: inout MetricsSnapshot) {
        snapshot.services = servicesGauge.load(ordering: .relaxed)
        snapshot.reactors = reactorsGauge.load(ordering: .relaxed)
        lock.withLock {
            snapshot.catalog = catalog
            let serviceCount = catalog.services.count * ServiceRow.width
            let chainCount = catalog.chains.count * ChainRow.width
            let nodeCount = catalog.nodes.count * NodeRow.width
            zero(&snapshot.service, count: serviceCount)
            zero(&snapshot.chain, count: chainCount)
            zero(&snapshot.node, count: nodeCount)
            snapshot.descriptorSheds = 0
            snapshot.idleBuffers = 0
            snapshot.idlePipes = 0
            for counters in published {
                add(counters.service, into: &snapshot.service)
                add(counters.chain, into: &snapshot.chain)
                add(counters.node, into: &snapshot.node)
                snapshot.descriptorSheds &+= counters.descriptorSheds
                snapshot.idleBuffers &+= counters.idleBuffers
                snapshot.idlePipes &+= counters.idlePipes
            }
        }
    }
}

/// `destination = source`, element by element into the existing storage when the sizes match.
private func copy(_ source: [Int], into destination: inout [Int]) {
    // A storage of its own (never `destination = source`: sharing the reactor's storage would make
    // the reactor's next counter write copy the array on the data path).
    if destination.count != source.count { destination = Array(repeating: 0, count: source.count) }
    guard !source.isEmpty else { return }
    destination.withUnsafeMutableBufferPointer { d in
        source.withUnsafeBufferPointer { s in d.baseAddress!.update(from: s.baseAddress!, count: s.count) }
    }
}

/// `array` as `count` zeros, keeping its storage when it is large enough.
private func zero(_ array: inout [Int], count: Int) {
    if array.count > count { array.removeLast(array.count - count) }
    for i in array.indices { array[i] = 0 }
    if array.count < count { array.append(contentsOf: repeatElement(0, count: count - array.count)) }
}

/// Adds `source` into `sum` element by element (a reactor may have fewer rows than the catalog).
private func add(_ source: [Int], into sum: inout [Int]) {
    let n = min(source.count, sum.count)
    sum.withUnsafeMutableBufferPointer { s in
        source.withUnsafeBufferPointer { r in
            for i in 0..<n { s[i] &+= r[i] }
        }
    }
}
