// Mailbox: how other threads talk to a reactor. Messages queue under a lock and an eventfd in the
// reactor's epoll set wakes it; the reactor drains the queue on its own thread.
import CSluice
import Glibc

/// A message for a reactor.
public enum ReactorMessage: Sendable {
    /// Close the listeners (shutdown has begun); finish when the last session ends.
    case stopAccepting
    /// Close every session now (the grace period is over) and finish.
    case closeAll
    /// A configuration reload: serve `listeners` from now on (sockets already listening; those this
    /// reactor had that are not in the list are in `closing`, to close), and close what is still
    /// open of the `retired` services (removed by the reload) once `drainDeadline` passes.
    case replaceListeners(
        listeners: [ListenerEntry], closing: [Int32], retired: [Service], drainDeadline: Int64)
    /// A host name lookup for dial attempt `attempt` of the session in `slot`/`generation` finished.
    case resolved(slot: UInt32, generation: UInt32, attempt: UInt32, address: SocketAddress?)
    /// A connection of the service with this limit closed at its `maxConns` (or a reload raised
    /// it): accept again where stopped.
    case resumeAccepting(ConnectionLimit)
}

/// A reactor's inbox.
public final class Mailbox: @unchecked Sendable {
    /// The eventfd the reactor polls.
    public let fd: Int32
    private let lock = ConditionLock()
    private var messages: [ReactorMessage] = []

    public init() throws(Errno) {
        fd = sl_eventfd()
        guard fd >= 0 else { throw Errno.current }
    }

    deinit { Glibc.close(fd) }

    /// Queues `message` and wakes the reactor.
    public func post(_ message: ReactorMessage) {
        lock.withLock { messages.append(message) }
        var one: UInt64 = 1
        _ = Glibc.write(fd, &one, 8)
    }

    /// Takes every queued message (reactor thread only).
    func drain() -> [ReactorMessage] {
        var counter: UInt64 = 0
        _ = Glibc.read(fd, &counter, 8)
        return lock.withLock {
            let taken = messages
            messages.removeAll()
            return taken
        }
    }
}
