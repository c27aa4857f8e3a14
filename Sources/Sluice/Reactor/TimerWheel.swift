// TimerWheel: a hashed timing wheel of per-session deadlines (header, dial, handshake, idle).
// Each slot has at most one entry: scheduling again moves it, and a closing session cancels it, so
// the wheel never holds more entries than there are open sessions, however fast connections churn.

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
    /// Where each slot's entry is (`bucket << 32 | index`), -1 when it has none. Indexed by slot:
    /// slots are dense (the reactor's session table), so this is as long as the peak of sessions.
    private var positions: [Int] = []
    private var lastTick: Int64
    /// Every bucket for the ticks after `lastTick` and before this one is empty (so the search for
    /// the next deadline does not rescan them every turn).
    private var emptyUntil: Int64
    /// Entries in the wheel: at most one per slot.
    public private(set) var count = 0

    public init(now: Int64, tickNanoseconds: Int64 = 10 * nanosecondsPerMillisecond, bucketCount: Int = 1024) {
        self.tickNanoseconds = tickNanoseconds
        buckets = Array(repeating: [], count: bucketCount)
        lastTick = now / tickNanoseconds
        emptyUntil = lastTick + 1
    }

    /// The tick a deadline falls in, rounded up so a timer never fires early.
    @inline(__always) public func tick(for deadline: Int64) -> Int64 {
        // Saturating: a deadline near Int64.max (a duration that never ends) must not trap.
        let (sum, overflow) = deadline.addingReportingOverflow(tickNanoseconds - 1)
        return (overflow ? Int64.max : sum) / tickNanoseconds
    }

    /// Schedules `slot`/`generation` at `deadline` (monotonic ns), replacing the slot's entry if it
    /// has one; returns the tick it was placed at.
    @discardableResult
    public mutating func schedule(at deadline: Int64, slot: UInt32, generation: UInt32) -> Int64 {
        cancel(slot: slot)
        let due = max(tick(for: deadline), lastTick + 1)
        let bucket = Int(due % Int64(buckets.count))
        buckets[bucket].append(TimerEntry(tick: due, slot: slot, generation: generation))
        let s = Int(slot)
        if s >= positions.count { positions.append(contentsOf: repeatElement(-1, count: s + 1 - positions.count)) }
        positions[s] = bucket << 32 | (buckets[bucket].count - 1)
        count += 1
        if due < emptyUntil { emptyUntil = due }
        return due
    }

    /// Removes the slot's entry, if any (its session closed).
    public mutating func cancel(slot: UInt32) {
        let s = Int(slot)
        guard s < positions.count, positions[s] >= 0 else { return }
        remove(bucket: positions[s] >> 32, index: positions[s] & 0xffff_ffff)
    }

    /// Whether the slot has an entry.
    public func isScheduled(slot: UInt32) -> Bool {
        Int(slot) < positions.count && positions[Int(slot)] >= 0
    }

    /// Takes the entry at `index` out of `bucket` by moving the bucket's last entry into its place.
    @inline(__always)
    private mutating func remove(bucket: Int, index: Int) {
        positions[Int(buckets[bucket][index].slot)] = -1
        let last = buckets[bucket].count - 1
        if index != last {
            let moved = buckets[bucket][last]
            buckets[bucket][index] = moved
            positions[Int(moved.slot)] = bucket << 32 | index
        }
        buckets[bucket].removeLast()
        count -= 1
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
                    remove(bucket: index, index: i)
                    fire(entry)
                } else {
                    i += 1
                }
            }
            t += 1
        }
        emptyUntil = max(emptyUntil, lastTick + 1)
    }

    /// Gives back bucket storage a burst left behind (a bucket keeps its capacity as entries leave).
    public mutating func trim() {
        for i in buckets.indices where buckets[i].capacity > 64 && buckets[i].count * 4 < buckets[i].capacity {
            var tight: [TimerEntry] = []
            tight.reserveCapacity(buckets[i].count)
            tight.append(contentsOf: buckets[i])
            buckets[i] = tight
        }
    }

    /// Bucket storage in entries, for tests of `trim`.
    public var storedCapacity: Int { buckets.reduce(0) { $0 + $1.capacity } }

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
