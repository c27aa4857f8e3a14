// TimerWheel: a hashed timing wheel of per-session deadlines (header, dial, handshake, idle).
// Cancellation is lazy: an entry names a slot and generation, and a stale entry is ignored on firing.

/// One scheduled deadline: which session (slot and generation) and the tick it is due at.
public struct TimerEntry: Equatable, Sendable {
    public var tick: Int64
    public var slot: UInt32
    public var generation: UInt32
}

/// A timing wheel with `bucketCount` buckets of `tickNanoseconds` each. Deadlines further away than
/// one revolution stay in their bucket until their round comes (the entry keeps its absolute tick).
public struct TimerWheel {
    public let tickNanoseconds: Int64
    private var buckets: [[TimerEntry]]
    private var lastTick: Int64
    /// Every bucket for the ticks after `lastTick` and before this one is empty (so the search for
    /// the next deadline does not rescan them every turn).
    private var emptyUntil: Int64
    /// Entries in the wheel, stale ones included.
    public private(set) var count = 0

    public init(now: Int64, tickNanoseconds: Int64 = 10 * nanosecondsPerMillisecond, bucketCount: Int = 1024) {
        self.tickNanoseconds = tickNanoseconds
        buckets = Array(repeating: [], count: bucketCount)
        lastTick = now / tickNanoseconds
        emptyUntil = lastTick + 1
    }

    /// The tick a deadline falls in, rounded up so a timer never fires early.
    @inline(__always) public func tick(for deadline: Int64) -> Int64 {
        (deadline + tickNanoseconds - 1) / tickNanoseconds
    }

    /// Schedules `slot`/`generation` at `deadline` (monotonic ns); returns the tick it was placed at.
    @discardableResult
    public mutating func schedule(at deadline: Int64, slot: UInt32, generation: UInt32) -> Int64 {
        let due = max(tick(for: deadline), lastTick + 1)
        buckets[Int(due % Int64(buckets.count))].append(TimerEntry(tick: due, slot: slot, generation: generation))
        count += 1
        if due < emptyUntil { emptyUntil = due }
        return due
    }

    /// Fires every entry due at or before `now`, in no particular order within a tick.
    public mutating func advance(to now: Int64, _ fire: (TimerEntry) -> Void) {
        let nowTick = now / tickNanoseconds
        guard nowTick > lastTick, count > 0 else {
            lastTick = max(lastTick, nowTick)
            emptyUntil = max(emptyUntil, lastTick + 1)
            return
        }
        // Visit each bucket at most once, however long the reactor slept; skip the known-empty ones.
        let bucketCount = Int64(buckets.count)
        var t = max(lastTick + 1, emptyUntil)
        let last = min(nowTick, lastTick + bucketCount)
        lastTick = nowTick
        while t <= last {
            let index = Int(t % bucketCount)
            var i = 0
            while i < buckets[index].count {
                let entry = buckets[index][i]
                if entry.tick <= nowTick {
                    buckets[index].swapAt(i, buckets[index].count - 1)
                    buckets[index].removeLast()
                    count -= 1
                    fire(entry)
                } else {
                    i += 1
                }
            }
            t += 1
        }
        emptyUntil = max(emptyUntil, lastTick + 1)
    }

    /// Milliseconds until the next occupied bucket is due (for `epoll_wait`), or -1 when empty.
    /// An occupied bucket may only hold entries of a later revolution: then the reactor wakes early
    /// and finds nothing due, which is harmless.
    public mutating func millisecondsUntilNext(now: Int64) -> Int32 {
        guard count > 0 else { return -1 }
        let bucketCount = Int64(buckets.count)
        var t = max(lastTick + 1, emptyUntil)
        let last = lastTick + bucketCount
        while t <= last && buckets[Int(t % bucketCount)].isEmpty { t += 1 }
        emptyUntil = t
        let wait = max(0, t * tickNanoseconds - now)
        return Int32(min((wait + nanosecondsPerMillisecond - 1) / nanosecondsPerMillisecond, 60_000))
    }
}
