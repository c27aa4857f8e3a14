// Selector: picks a node (forward target or chain node) by strategy and skips nodes marked as
// failed, as GOST's selector and fail filter do. Shared by every reactor thread, lock-free.
import Synchronization

/// Failure marks of one node.
final class NodeHealth: Sendable {
    let fails = Atomic<Int>(0)
    let lastFail = Atomic<Int64>(0)
}

/// Chooses among `count` nodes with a strategy, maxFails and failTimeout.
public final class Selector: Sendable {
    public let plan: SelectorPlan
    public let count: Int
    private let health: [NodeHealth]
    private let counter = Atomic<UInt64>(0)

    public init(plan: SelectorPlan, count: Int) {
        self.plan = plan
        self.count = count
        health = (0..<count).map { _ in NodeHealth() }
    }

    /// A node may be used unless it failed `maxFails` times and its last failure is younger than
    /// `failTimeout`. With a single node there is nothing to filter.
    @inline(__always)
    public func isAvailable(_ index: Int, now: Int64) -> Bool {
        if count <= 1 { return true }
        let node = health[index]
        let fails = node.fails.load(ordering: .relaxed)
        if fails == 0 || fails < max(plan.maxFails, 1) { return true }
        return now - node.lastFail.load(ordering: .relaxed) >= plan.failTimeout
    }

    /// Picks a node index, skipping failed nodes and those in `excluded` (a bit per node, for
    /// retries within one connection). When every node is skipped, picks among all the nodes not
    /// excluded (GOST falls back the same way rather than refuse); nil when all are excluded.
    public func select(clientKey: UInt64, now: Int64, excluded: UInt64 = 0) -> Int? {
        guard count > 0 else { return nil }
        var available = 0
        for i in 0..<count where !isExcluded(i, excluded) && isAvailable(i, now: now) { available += 1 }
        let healthyOnly = available > 0
        if !healthyOnly {
            for i in 0..<count where !isExcluded(i, excluded) { available += 1 }
            if available == 0 { return nil }
        }
        let pick: Int
        switch plan.strategy {
        case .round: pick = Int(counter.wrappingAdd(1, ordering: .relaxed).oldValue % UInt64(available))
        case .random: pick = Int.random(in: 0..<available)
        case .fifo: pick = 0
        case .hash: pick = Int(clientKey % UInt64(available))
        }
        var seen = 0
        for i in 0..<count where !isExcluded(i, excluded) && (!healthyOnly || isAvailable(i, now: now)) {
            if seen == pick { return i }
            seen += 1
        }
        return nil
    }

    @inline(__always) private func isExcluded(_ i: Int, _ excluded: UInt64) -> Bool {
        i < 64 && excluded & (1 << UInt64(i)) != 0
    }

    /// A dial to node `index` failed.
    public func markFailure(_ index: Int, now: Int64) {
        health[index].lastFail.store(now, ordering: .relaxed)
        health[index].fails.wrappingAdd(1, ordering: .relaxed)
    }

    /// A dial to node `index` succeeded: its failures are forgotten.
    @inline(__always)
    public func markSuccess(_ index: Int) {
        if health[index].fails.load(ordering: .relaxed) != 0 { health[index].fails.store(0, ordering: .relaxed) }
    }

    /// The hash key GOST uses for the `hash` strategy: the client IP (FNV-1a over its bytes).
    public static func hashKey(_ ip: IPAddress) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ v: UInt64, _ bytes: Int) {
            for i in stride(from: bytes - 1, through: 0, by: -1) {
                h = (h ^ ((v >> UInt64(i * 8)) & 0xff)) &* 0x100_0000_01b3
            }
        }
        switch ip.unmapped {
        case .v4(let a): mix(UInt64(a.value), 4)
        case .v6(let a):
            mix(a.high, 8)
            mix(a.low, 8)
        }
        return h
    }
}
