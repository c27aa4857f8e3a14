// ReactorMetrics: one reactor's counters, written by its thread only: plain `Int` rows (see
// MetricsSchema), no lock and no atomic on the data path. The reactor hands a copy to the
// MetricsHub in its housekeeping and before it serves a scrape.

/// What one connection has already added to the transfer counters, and when its dial started.
struct SlotMetrics {
    var countedInput: Int64 = 0
    var countedOutput: Int64 = 0
    /// When the connect to the first chain node started (monotonic ns).
    var connectStartedAt: Int64 = 0
}

/// The counters of one reactor and the buffers its scrapes reuse. Reactor thread only.
final class ReactorMetrics {
    /// Rows by slot (`ServiceRow`, `ChainRow`, `NodeRow`); grown when a new slot shows up.
    var service: [Int] = []
    var chain: [Int] = []
    var node: [Int] = []
    /// Connections closed at once at the descriptor limit.
    var descriptorSheds = 0
    /// Metrics endpoint sessions open on this reactor: they do not hold up the shutdown drain.
    var endpointSessions = 0
    /// A counter moved since the last publish.
    var changed = false
    /// By session slot.
    var slots: [SlotMetrics] = []

    /// Reused by every scrape this reactor serves: the summed counters, the exposition text and the
    /// response bytes (no allocation once they have grown to size).
    var snapshot = MetricsSnapshot()
    var writer = ExpositionWriter()
    var response: [UInt8] = []

    // MARK: Rows

    /// Adds `amount` at `offset` of service row `row` (-1: not counted).
    @inline(__always)
    func add(service row: Int, _ offset: Int, _ amount: Int = 1) {
        guard row >= 0 else { return }
        let i = row * ServiceRow.width + offset
        if i >= service.count { grow(&service, to: (row + 1) * ServiceRow.width) }
        service[i] &+= amount
        changed = true
    }

    /// Records one observation of `nanoseconds` in the histogram at `base` of `rows`.
    @inline(__always)
    private func observe(
        _ rows: inout [Int], base: Int, count: Int, sum: Int, buckets: Int, _ layout: HistogramBuckets,
        _ nanoseconds: Int64
    ) {
        rows[base + count] &+= 1
        rows[base + sum] &+= Int(max(nanoseconds, 0))
        let bucket = layout.index(of: nanoseconds)
        if bucket < layout.bounds.count { rows[base + buckets + bucket] &+= 1 }
        changed = true
    }

    /// A connection of service `row` was accepted on session slot `slot`.
    @inline(__always)
    func connectionOpened(service row: Int, slot: UInt32) {
        let s = Int(slot)
        if s >= slots.count { slots.append(contentsOf: repeatElement(SlotMetrics(), count: s + 1 - slots.count)) }
        slots[s] = SlotMetrics()
        add(service: row, ServiceRow.requests)
        add(service: row, ServiceRow.inFlight)
    }

    /// The connection on `slot` closed with `reason` after `duration` ns, having read `input`
    /// bytes from its client and written `output` to it.
    @inline(__always)
    func connectionClosed(
        service row: Int, slot: UInt32, reason: CloseReason, duration: Int64, input: Int64, output: Int64
    ) {
        guard row >= 0 else { return }
        countTransfer(service: row, slot: slot, input: input, output: output)
        add(service: row, ServiceRow.inFlight, -1)
        add(service: row, ServiceRow.closed + reason.metricIndex)
        if reason.isHandlerError { add(service: row, ServiceRow.handlerErrors) }
        observe(
            &service, base: row * ServiceRow.width, count: ServiceRow.durationCount, sum: ServiceRow.durationSum,
            buckets: ServiceRow.durationBuckets, .requestDuration, duration)
    }

    /// Adds what the connection on `slot` moved since it was last counted.
    @inline(__always)
    func countTransfer(service row: Int, slot: UInt32, input: Int64, output: Int64) {
        let s = Int(slot)
        guard row >= 0, s < slots.count else { return }
        let inputDelta = input &- slots[s].countedInput
        let outputDelta = output &- slots[s].countedOutput
        guard inputDelta != 0 || outputDelta != 0 else { return }
        slots[s].countedInput = input
        slots[s].countedOutput = output
        add(service: row, ServiceRow.inputBytes, Int(inputDelta))
        add(service: row, ServiceRow.outputBytes, Int(outputDelta))
    }

    /// A failed attempt through the chain in row `row`.
    @inline(__always)
    func chainFailed(_ row: Int) {
        guard row >= 0 else { return }
        if (row + 1) * ChainRow.width > chain.count { grow(&chain, to: (row + 1) * ChainRow.width) }
        chain[row * ChainRow.width + ChainRow.errors] &+= 1
        changed = true
    }

    /// The connect to the chain node in row `row` took `nanoseconds`.
    @inline(__always)
    func nodeConnected(_ row: Int, _ nanoseconds: Int64) {
        guard row >= 0 else { return }
        if (row + 1) * NodeRow.width > node.count { grow(&node, to: (row + 1) * NodeRow.width) }
        observe(
            &node, base: row * NodeRow.width, count: NodeRow.connectCount, sum: NodeRow.connectSum,
            buckets: NodeRow.connectBuckets, .nodeConnect, nanoseconds)
    }

    /// Rows grow in whole rows, with zeros; only when a slot appears that this reactor has not
    /// counted before (a new service, a reload).
    private func grow(_ rows: inout [Int], to count: Int) {
        if rows.count < count { rows.append(contentsOf: repeatElement(0, count: count - rows.count)) }
    }
}
