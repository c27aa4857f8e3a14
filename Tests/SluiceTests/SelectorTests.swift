import Testing

// Tests for node selection: strategies, fail marks with maxFails/failTimeout, exclusions.
@testable import Sluice

@Suite struct SelectorTests {
    let second = nanosecondsPerSecond

    func selector(
        _ strategy: SelectorStrategy, count: Int = 3, maxFails: Int = 1, failTimeout: Int64 = 10
    )
        -> Selector
    {
        Selector(
            plan: SelectorPlan(strategy: strategy, maxFails: maxFails, failTimeout: failTimeout * second), count: count)
    }

    @Test func roundRobinVisitsEveryNodeInTurn() {
        let s = selector(.round)
        let picks = (0..<9).map { _ in s.select(clientKey: 0, now: 0)! }
        #expect(picks == [0, 1, 2, 0, 1, 2, 0, 1, 2])
    }

    @Test func fifoPicksTheFirstHealthyNode() {
        let s = selector(.fifo)
        #expect(s.select(clientKey: 0, now: 0) == 0)
        s.markFailure(0, now: 0)
        #expect(s.select(clientKey: 0, now: 1) == 1)
        s.markSuccess(0)
        #expect(s.select(clientKey: 0, now: 2) == 0)
    }

    @Test func hashIsStablePerClientAndSpreadsClients() {
        let s = selector(.hash, count: 4)
        let a = Selector.hashKey(.v4(IPv4Address(10, 0, 0, 1)))
        let first = s.select(clientKey: a, now: 0)
        for _ in 0..<10 { #expect(s.select(clientKey: a, now: 0) == first) }
        var seen = Set<Int>()
        for i in 0..<64 {
            seen.insert(s.select(clientKey: Selector.hashKey(.v4(IPv4Address(10, 0, 1, UInt8(i)))), now: 0)!)
        }
        #expect(seen.count == 4)
        // An IPv4-mapped IPv6 client hashes as its IPv4 address.
        #expect(Selector.hashKey(.v6(IPv6Address(mapping: IPv4Address(10, 0, 0, 1)))) == a)
    }

    @Test func randomStaysInRangeAndReachesEveryNode() {
        let s = selector(.random, count: 3)
        var seen = Set<Int>()
        for _ in 0..<200 { seen.insert(s.select(clientKey: 0, now: 0)!) }
        #expect(seen == [0, 1, 2])
    }

    @Test func failedNodeIsSkippedUntilItsFailTimeoutPasses() {
        let s = selector(.round, failTimeout: 10)
        s.markFailure(1, now: 0)
        let during = (0..<6).map { _ in s.select(clientKey: 0, now: 5 * second)! }
        #expect(!during.contains(1))
        let after = (0..<6).map { _ in s.select(clientKey: 0, now: 10 * second)! }
        #expect(after.contains(1))
    }

    @Test func maxFailsCountsFailuresBeforeSkipping() {
        let s = selector(.fifo, maxFails: 3)
        s.markFailure(0, now: 0)
        s.markFailure(0, now: 0)
        #expect(s.select(clientKey: 0, now: 1) == 0)
        s.markFailure(0, now: 0)
        #expect(s.select(clientKey: 0, now: 1) == 1)
    }

    @Test func allMarkedNodesAreTriedAnywayRatherThanRefused() {
        let s = selector(.round, count: 2)
        s.markFailure(0, now: 0)
        s.markFailure(1, now: 0)
        #expect(s.select(clientKey: 0, now: 1) != nil)
    }

    @Test func exclusionsSkipTriedNodesAndRunOut() {
        let s = selector(.fifo, count: 3)
        #expect(s.select(clientKey: 0, now: 0, excluded: 0b001) == 1)
        #expect(s.select(clientKey: 0, now: 0, excluded: 0b011) == 2)
        #expect(s.select(clientKey: 0, now: 0, excluded: 0b111) == nil)
    }

    @Test func singleNodeIsNeverFiltered() {
        let s = selector(.round, count: 1)
        s.markFailure(0, now: 0)
        #expect(s.select(clientKey: 0, now: 1) == 0)
    }
}
