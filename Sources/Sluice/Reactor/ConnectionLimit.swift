// ConnectionLimit: a service's `maxConns`, counted over every reactor. A reactor reserves a slot
// before each accept and stops accepting on the service's socket when none is left; a slot given
// back at the limit tells every reactor to try again. Only accept and close touch it.
import Synchronization

/// The open connections of one service and its limit, shared by every reactor thread.
///
/// One process-wide count, not a share of N per reactor: SO_REUSEPORT spreads clients over the
/// reactors' sockets by hash, so fixed shares would leave clients waiting on one socket while
/// another reactor has room. The count is an atomic touched once per accept and once per close.
public final class ConnectionLimit: @unchecked Sendable {
    /// Most connections open at once.
    public let limit: Int
    /// The service's position in the run plan (the reactors' listener index).
    let serviceIndex: Int
    private let open = Atomic<Int>(0)
    /// Listeners that stopped at the limit and have not yet found their backlog empty.
    private let waitingListeners = Atomic<Int>(0)
    /// Every reactor's mailbox: written once by `ReactorGroup.start` before the reactor threads
    /// start (thread creation orders it before any read), then only read.
    private var mailboxes: [Mailbox] = []

    public init(limit: Int, serviceIndex: Int) {
        self.limit = limit
        self.serviceIndex = serviceIndex
    }

    /// Connections open now (reserved slots included).
    public var openCount: Int { open.load(ordering: .relaxed) }

    /// Gives the limit the reactors to wake when a slot frees up (before they run).
    func attach(_ mailboxes: [Mailbox]) { self.mailboxes = mailboxes }

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
        guard previous >= limit else { return }
        for mailbox in mailboxes { mailbox.post(.resumeAccepting(service: serviceIndex)) }
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
