// Counting without sockets: a reactor's rows after connections open and close, the hub summing
// what two reactors published, rows handed out by name, and the process state readiness reads.
import Testing

@testable import Sluice

@Suite struct MetricsCountingTests {
    static func plan(_ name: String, handler: HandlerKind = .tcp, chain: ChainPlan? = nil) -> ServicePlan {
        ServicePlan(
            name: name, listen: SocketAddress(.v4(IPv4Address(127, 0, 0, 1)), port: 1), handler: handler,
            listener: "tcp", targets: [TargetPlan(name: "t", host: "127.0.0.1", port: 9, text: "127.0.0.1:9")],
            chain: chain)
    }

    @Test func connectionLifecycleRows() {
        let metrics = ReactorMetrics()
        metrics.connectionOpened(service: 1, slot: 3)
        metrics.countTransfer(service: 1, slot: 3, input: 10, output: 4)
        #expect(metrics.changed)
        metrics.connectionClosed(
            service: 1, slot: 3, reason: .dialFailed(.connectionRefused), duration: 20_000_000, input: 15, output: 4)
        let row = Array(metrics.service[ServiceRow.width...])
        #expect(metrics.service.count == 2 * ServiceRow.width)
        #expect(metrics.service[..<ServiceRow.width].allSatisfy { $0 == 0 }, "row 0 untouched")
        #expect(row[ServiceRow.requests] == 1)
        #expect(row[ServiceRow.inFlight] == 0)
        #expect(row[ServiceRow.inputBytes] == 15, "bytes counted once: 10 while open, 5 at close")
        #expect(row[ServiceRow.outputBytes] == 4)
        #expect(row[ServiceRow.handlerErrors] == 1)
        #expect(row[ServiceRow.durationCount] == 1)
        #expect(row[ServiceRow.durationSum] == 20_000_000)
        #expect(row[ServiceRow.durationBuckets + 2] == 1, "20 ms falls in le=0.025")
        #expect(row[ServiceRow.closed + CloseReason.dialFailed(.connectionRefused).metricIndex] == 1)
    }

    /// A reused slot starts from zero: the previous connection's bytes are not subtracted.
    @Test func reusedSlotStartsClean() {
        let metrics = ReactorMetrics()
        metrics.connectionOpened(service: 0, slot: 0)
        metrics.connectionClosed(service: 0, slot: 0, reason: .done, duration: 1, input: 100, output: 100)
        metrics.connectionOpened(service: 0, slot: 0)
        metrics.connectionClosed(service: 0, slot: 0, reason: .done, duration: 1, input: 7, output: 8)
        #expect(metrics.service[ServiceRow.inputBytes] == 107)
        #expect(metrics.service[ServiceRow.outputBytes] == 108)
        #expect(metrics.service[ServiceRow.closed + CloseReason.done.metricIndex] == 2)
    }

    /// The metrics endpoint (row -1) counts nothing.
    @Test func uncountedRow() {
        let metrics = ReactorMetrics()
        metrics.add(service: -1, ServiceRow.requests)
        metrics.connectionClosed(service: -1, slot: 0, reason: .done, duration: 1, input: 1, output: 1)
        metrics.chainFailed(-1)
        metrics.nodeConnected(-1, 5)
        #expect(metrics.service.isEmpty && metrics.chain.isEmpty && metrics.node.isEmpty)
        #expect(!metrics.changed)
    }

    @Test func hubSumsWhatReactorsPublished() {
        let hub = MetricsHub()
        let node = NodePlan(name: "n0", host: "127.0.0.1", port: 8000, text: "127.0.0.1:8000")
        let chain = ChainPlan(
            name: "c", hops: [HopPlan(name: "h", selector: .default, nodes: [node, node])])
        let a = hub.rows(for: Self.plan("a"))
        let b = hub.rows(for: Self.plan("b", chain: chain))
        #expect(a.service == 0 && b.service == 1)
        #expect(b.chain == 0 && b.firstHopNodes == [0, 0], "nodes are named by chain and name")
        #expect(hub.rows(for: Self.plan("a")).service == 0, "a reload keeps the row")
        #expect(hub.rows(for: Self.plan("m", handler: .metrics)).service == -1)
        #expect(hub.rows(for: Self.plan("m", handler: .metrics)).endpoint != nil)

        let first = ReactorMetrics()
        let second = ReactorMetrics()
        first.add(service: b.service, ServiceRow.requests, 2)
        second.add(service: b.service, ServiceRow.requests, 3)
        second.add(service: a.service, ServiceRow.inFlight, 1)
        second.chainFailed(b.chain)
        second.nodeConnected(b.firstHopNodes[0], 30_000_000)
        first.descriptorSheds = 4
        hub.publish(reactor: 0, first, idleBuffers: 1, idlePipes: 2)
        hub.publish(reactor: 1, second, idleBuffers: 10, idlePipes: 20)
        var snapshot = MetricsSnapshot()
        hub.snapshot(into: &snapshot)
        #expect(snapshot.service[ServiceRow.width + ServiceRow.requests] == 5)
        #expect(snapshot.service[ServiceRow.inFlight] == 1)
        #expect(snapshot.chain == [1])
        #expect(snapshot.node[NodeRow.connectCount] == 1)
        #expect(snapshot.node[NodeRow.connectBuckets + 1] == 1, "30 ms falls in le=0.05")
        #expect(snapshot.descriptorSheds == 4 && snapshot.idleBuffers == 11 && snapshot.idlePipes == 22)
        #expect(snapshot.catalog.services.count == 2, "the endpoint has no row")

        // A later publish replaces the reactor's copy; the reactor's own array is not shared.
        first.add(service: b.service, ServiceRow.requests, 1)
        hub.publish(reactor: 0, first, idleBuffers: 0, idlePipes: 0)
        hub.snapshot(into: &snapshot)
        #expect(snapshot.service[ServiceRow.width + ServiceRow.requests] == 6)
        #expect(snapshot.idleBuffers == 10)
    }

    @Test func readinessAndDraining() {
        let hub = MetricsHub()
        #expect(!hub.isReady)
        let run = RunPlan(
            threads: 2, grace: 0, logLevel: .info, services: [Self.plan("a"), Self.plan("m", handler: .metrics)])
        hub.started(run, reactors: 2)
        #expect(hub.isReady && hub.isEnabled && !hub.isDraining)
        var snapshot = MetricsSnapshot()
        hub.snapshot(into: &snapshot)
        #expect(snapshot.services == 1, "the endpoint is not a service")
        #expect(snapshot.reactors == 2)
        hub.beginDraining()
        #expect(!hub.isReady && hub.isDraining)
    }
}
