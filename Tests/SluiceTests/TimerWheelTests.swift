import Testing

// Tests for the hashed timing wheel: due entries fire once, never early, across revolutions.
@testable import Sluice

@Suite struct TimerWheelTests {
    let ms = nanosecondsPerMillisecond

    @Test func firesAtDeadlineNotBefore() {
        var wheel = TimerWheel(now: 0, tickNanoseconds: 10 * ms, bucketCount: 8)
        wheel.schedule(at: 35 * ms, slot: 1, generation: 7)
        var fired: [TimerEntry] = []
        wheel.advance(to: 30 * ms) { fired.append($0) }
        #expect(fired.isEmpty)
        wheel.advance(to: 39 * ms) { fired.append($0) }
        #expect(fired.isEmpty)
        wheel.advance(to: 40 * ms) { fired.append($0) }
        #expect(fired.map(\.slot) == [1])
        #expect(fired.first?.generation == 7)
        #expect(wheel.count == 0)
    }

    @Test func entriesBeyondOneRevolutionWaitForTheirRound() {
        // 8 buckets of 10 ms: one revolution is 80 ms.
        var wheel = TimerWheel(now: 0, tickNanoseconds: 10 * ms, bucketCount: 8)
        wheel.schedule(at: 250 * ms, slot: 2, generation: 1)
        wheel.schedule(at: 20 * ms, slot: 3, generation: 1)
        var fired: [UInt32] = []
        var t: Int64 = 0
        while t <= 240 * ms {
            wheel.advance(to: t) { fired.append($0.slot) }
            t += 10 * ms
        }
        #expect(fired == [3])
        wheel.advance(to: 250 * ms) { fired.append($0.slot) }
        #expect(fired == [3, 2])
    }

    @Test func longSleepFiresEverythingDueOnce() {
        var wheel = TimerWheel(now: 0, tickNanoseconds: 10 * ms, bucketCount: 8)
        for i in 0..<20 { wheel.schedule(at: Int64(i) * 15 * ms + ms, slot: UInt32(i), generation: 0) }
        var fired: [UInt32] = []
        wheel.advance(to: 10_000 * ms) { fired.append($0.slot) }
        #expect(fired.sorted() == Array(0..<20))
        #expect(wheel.count == 0)
        #expect(wheel.millisecondsUntilNext(now: 10_000 * ms) == -1)
    }

    @Test func nextTimeoutPointsAtTheFirstOccupiedBucket() {
        var wheel = TimerWheel(now: 0, tickNanoseconds: 10 * ms, bucketCount: 64)
        #expect(wheel.millisecondsUntilNext(now: 0) == -1)
        wheel.schedule(at: 95 * ms, slot: 0, generation: 0)
        let wait = wheel.millisecondsUntilNext(now: 3 * ms)
        #expect(wait >= 92 && wait <= 98)
    }

    @Test func schedulingInThePastFiresOnTheNextTick() {
        var wheel = TimerWheel(now: 1000 * ms, tickNanoseconds: 10 * ms, bucketCount: 8)
        let tick = wheel.schedule(at: 0, slot: 9, generation: 0)
        #expect(tick == 101)
        var fired: [UInt32] = []
        wheel.advance(to: 1010 * ms) { fired.append($0.slot) }
        #expect(fired == [9])
    }

    @Test func churnLeavesNoEntriesBehind() {
        // A long idle timeout under churn: every connection schedules and then closes. The wheel
        // must hold no more entries than open sessions, and give back the storage of a burst.
        var wheel = TimerWheel(now: 0, tickNanoseconds: 10 * ms, bucketCount: 8)
        for i in 0..<50_000 {
            let slot = UInt32(i % 3)
            wheel.schedule(at: 3_600_000 * ms, slot: slot, generation: UInt32(i))
            wheel.cancel(slot: slot)
        }
        #expect(wheel.count == 0)
        for slot in 0..<10_000 { wheel.schedule(at: 3_600_000 * ms, slot: UInt32(slot), generation: 1) }
        #expect(wheel.count == 10_000)
        let burst = wheel.storedCapacity
        for slot in 0..<10_000 { wheel.cancel(slot: UInt32(slot)) }
        wheel.trim()
        #expect(wheel.count == 0)
        #expect(wheel.storedCapacity < burst / 10)
    }

    @Test func reschedulingMovesTheSlotsOneEntry() {
        var wheel = TimerWheel(now: 0, tickNanoseconds: 10 * ms, bucketCount: 8)
        wheel.schedule(at: 500 * ms, slot: 4, generation: 1)
        wheel.schedule(at: 30 * ms, slot: 4, generation: 1)
        wheel.schedule(at: 20 * ms, slot: 5, generation: 1)
        #expect(wheel.count == 2)
        var fired: [UInt32] = []
        wheel.advance(to: 1000 * ms) { fired.append($0.slot) }
        #expect(fired.sorted() == [4, 5])
        #expect(!wheel.isScheduled(slot: 4))
    }

    @Test func cancellingOneEntryKeepsTheOthersInTheirBucket() {
        // Slots 1, 2 and 3 share a bucket; removing the first moves the last into its place.
        var wheel = TimerWheel(now: 0, tickNanoseconds: 10 * ms, bucketCount: 8)
        for slot: UInt32 in 1...3 { wheel.schedule(at: 50 * ms, slot: slot, generation: slot) }
        wheel.cancel(slot: 1)
        wheel.cancel(slot: 1)
        #expect(wheel.count == 2)
        wheel.cancel(slot: 3)
        var fired: [UInt32] = []
        wheel.advance(to: 60 * ms) { fired.append($0.slot) }
        #expect(fired == [2])
    }

    @Test func aDeadlineAtTheEndOfTimeDoesNotTrap() {
        var wheel = TimerWheel(now: 1000 * ms, tickNanoseconds: 10 * ms, bucketCount: 8)
        wheel.schedule(at: Int64.max, slot: 0, generation: 0)
        wheel.schedule(at: GoDuration.deadline(after: Int64.max - 5, 9 * GoDuration.second), slot: 1, generation: 0)
        var fired = 0
        wheel.advance(to: 100_000 * ms) { _ in fired += 1 }
        #expect(fired == 0)
        #expect(wheel.millisecondsUntilNext(now: 100_000 * ms) >= 0)
        #expect(GoDuration.deadline(after: 5, -10) == 1)
        #expect(GoDuration.deadline(after: 100, 50) == 150)
    }
}
