// Reactor metrics: publishing the reactor's counters to the MetricsHub twice a second (and before
// it serves a scrape), and waking up for it while counters move. Staleness bound: a scrape sees each
// other reactor's counters as they were at its last housekeeping, at most ~500 ms (plus the turn
// that was running) ago; the reactor serving the scrape publishes its own first.

extension Reactor {
    /// Hands a copy of this reactor's counters and pool gauges to the hub.
    func publishMetrics() {
        MetricsHub.shared.publish(
            reactor: index, metrics, idleBuffers: resources.buffers.idleCount, idlePipes: resources.pipes.idleCount)
        metrics.changed = false
    }

    /// Housekeeping (every 500 ms): the bytes open connections moved since the last look are added
    /// to the transfer counters, then everything is published. Nothing runs without an endpoint.
    func housekeepMetrics(_ sessions: [Session?]) {
        guard MetricsHub.shared.isEnabled else { return }
        for case let session? in sessions { session.countTransfer() }
        publishMetrics()
    }

    /// `timeout` (ms, -1 = none) capped so the next housekeeping runs on time while there is
    /// something to publish: open connections (their bytes move without a counter changing) or
    /// counters that changed since the last publish. An idle reactor still sleeps for good.
    func metricsTimeout(_ timeout: Int32, lastHousekeeping: Int64) -> Int32 {
        guard MetricsHub.shared.isEnabled, sessionCount > 0 || metrics.changed else { return timeout }
        // Housekeeping runs once 500 ms have passed since the last one (Reactor.run).
        let due = lastHousekeeping + 500 * nanosecondsPerMillisecond - now
        let wait = Int32(clamping: max(0, due / nanosecondsPerMillisecond + 1))
        return timeout < 0 ? wait : min(timeout, wait)
    }
}
