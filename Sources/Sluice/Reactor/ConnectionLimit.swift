// ConnectionLimit: a service's `maxConns`, counted over every reactor. A reactor reserves a slot
// before each accept and stops accepting on the service's socket when none is left; a slot given
// back at the limit tells every reactor to try again. Only accept and close touch it.
import Synchronization

/// The open connections of one service and its limit, shared by every reactor thread.
///
/// One process-wide count, not a share of N per reactor: SO_REUSEPORT spreads clients over the
/// reactors' sockets by hash, so fixed shares would leave clients waiting on one socket while
/// another reactor has room. The count is an atomic touched once per accept and once per close.
/// A reload that changes the service but keeps its listening sockets keeps this object (and so the
/// count of the connections still open) with the new limit.
public final class ConnectionLimit: @unchecked Sendable {
    private let maximum: Atomic<Int>
    private let open = Atomic<Int>(0)
    /// Listeners that stopped at the limit and have not yet found their backlog empty.
    private let waitingListeners = Atomic<Int>(0)
    /// Every reactor's mailbox: written once, before any reactor can see this object (before the
    /// threads start, or before the reload that introduces it is posted), then only read.
    private var mailboxes: [Mailbox] = []

    public init(limit: Int) { maximum = Atomic(limit) }

    /// Most connections open at once.
    public var limit: Int { maximum.load(ordering: .relaxed) }

    /// Connections open now (reserved slots included).
    public var openCount: Int { open.load(ordering: .relaxed) }

    /// Gives the limit the reactors to wake when a slot frees up; a limit that has them already
    /// (kept across a reload) is left as it is.
    func attach(_ mailboxes: [Mailbox]) {
        if self.mailboxes.isEmpty { self.mailboxes = mailboxes }
    }

    /// A reload changed the limit: a higher one may let waiting clients in at once.
    func update(limit: Int) {
        let previous = maximum.exchange(limit, ordering: .acquiringAndReleasing)
        if limit > previous { wakeReactors() }
    }

    /// Takes a slot for the connection about to be accepted; false at the limit.
    func tryReserve() -> Bool {
        var current = open.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = open.compareExchange(
                expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            current = original
        }
        return false
    }

    /// Gives a slot back (the connection closed, or the accept it was reserved for found nothing).
    /// From the limit, every reactor is told to resume: one may have stopped after reading the
    /// full count. A reactor that stops does so while handling an event, and reads the mailbox only
    /// after, so it cannot miss the message that follows the count it read.
    func release() {
        let previous = open.wrappingSubtract(1, ordering: .acquiringAndReleasing).oldValue
        if previous >= limit { wakeReactors() }
    }

    private func wakeReactors() {
        for mailbox in mailboxes { mailbox.post(.resumeAccepting(self)) }
    }

    /// A listener stopped at the limit with clients possibly waiting; true for the first one, when
    /// the service as a whole starts refusing to accept (log it).
    func listenerStopped() -> Bool {
        waitingListeners.wrappingAdd(1, ordering: .relaxed).newValue == 1
    }

    /// A stopped listener found its backlog empty again (or closed); true for the last one, when
    /// nobody waits on the service any more (log it).
    func listenerDrained() -> Bool {
        waitingListeners.wrappingSubtract(1, ordering: .relaxed).newValue == 0
    }
}
