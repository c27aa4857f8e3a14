// Reactor: one epoll loop on one thread. Owns its listening sockets (SO_REUSEPORT), the sessions
// they accept, a timer wheel, pipe and buffer pools, and a logger. Every fd is registered once,
// edge-triggered, with `epoll_data` = generation << 32 | index << 2 | kind, so an event for a
// closed (and reused) descriptor is recognised as stale and dropped.
import CSluice
import Glibc

/// What an epoll token refers to.
enum TokenKind: UInt64 {
    case client = 0
    case upstream = 1
    case listener = 2
    case mailbox = 3
}

/// A listening socket of one service, as a reactor is given it.
public struct ListenerEntry: Sendable {
    public var fd: Int32
    public var service: Service
    /// The address accepted sockets are local to, when the listener is not bound to a wildcard.
    public var fixedLocal: SocketAddress?
}

/// A listening socket of one service on this reactor.
struct ReactorListener {
    var fd: Int32
    let service: Service
    /// The address accepted sockets are local to, when the listener is not bound to a wildcard.
    let fixedLocal: SocketAddress?
    /// Accepting stopped early (batch cap) while connections may still wait in the backlog.
    var backlogged = false
    /// Out of epoll interest: the service is at its `maxConns`; new clients wait in the backlog.
    var paused = false
    /// Stopped at the limit and not yet found the backlog empty (counted in the service's limit).
    var limited = false
}

/// An epoll event loop. All of its state belongs to its thread.
public final class Reactor: @unchecked Sendable {
    public let index: Int
    let epfd: Int32
    private let events: UnsafeMutablePointer<epoll_event>
    private let maxEvents: Int32 = 256
    private var sessions: [Session?] = []
    private var freeSlots: [UInt32] = []
    private var spareSessions: [Session] = []
    private var ready: [Session] = []
    private var resuming: [Session] = []
    private var listeners: [ReactorListener] = []
    var timers: TimerWheel
    private var firedTimers: [TimerEntry] = []
    private var lastHousekeeping: Int64 = 0
    private var pipeLeasesAtLastLook = 0
    private var bufferLeasesAtLastLook = 0
    let resources: RelayResources
    let logger: Logger
    let mailbox: Mailbox
    let resolver: Resolver
    /// This reactor's counters (MetricsHub sums every reactor's).
    let metrics = ReactorMetrics()
    /// The time at the start of this turn (monotonic ns).
    private(set) var now: Int64
    private var generationCounter: UInt32 = 0
    /// Open sessions.
    public private(set) var sessionCount = 0
    private var accepting = true
    private var finished = false
    /// A descriptor held back so that accept can still shed connections at the fd limit (an eventfd:
    /// it needs no file, so it exists in an empty root too).
    private var reserveFD: Int32
    private var lastDescriptorWarning: Int64 = 0
    private var lastRegistrationWarning: Int64 = 0
    /// Services a reload removed, and when their last connections are closed.
    private var retiredServices: [(services: [ObjectIdentifier], deadline: Int64)] = []
    private var registrationFailures = 0
    #if DEBUG
        /// Failures the integration tests inject (debug builds only).
        private var faults = FaultInjection.fromEnvironment()
    #endif
    private let onFinish: @Sendable () -> Void

    /// Creates a reactor serving `listeners` (already bound and listening, one per service).
    init(
        index: Int, listeners: [ListenerEntry], logger: Logger,
        resolver: Resolver, pipeLimit: Int, onFinish: @escaping @Sendable () -> Void
    ) throws(StartupError) {
        self.index = index
        self.logger = logger
        self.resolver = resolver
        self.onFinish = onFinish
        epfd = sl_epoll_create()
        guard epfd >= 0 else { throw StartupError(message: "epoll_create1: \(Errno.current)") }
        do {
            mailbox = try Mailbox()
        } catch {
            Glibc.close(epfd)
            throw StartupError(message: "eventfd: \(error)")
        }
        events = .allocate(capacity: Int(maxEvents))
        now = monotonicNanoseconds()
        timers = TimerWheel(now: now)
        // 56 KiB: one read and one write per loopback segment. A 64 KiB write (with its headers) is
        // one byte too many for a 64 KiB GSO segment: each becomes a full segment plus a tiny one,
        // which halved throughput in scripts/bench (10.4 vs 19.5 Gbit/s, 635 vs 219 ms CPU per GB).
        let scratchSize = 56 * 1024
        resources = RelayResources(
            scratch: .allocate(byteCount: scratchSize, alignment: 16), scratchSize: scratchSize,
            pipes: PipePool(limit: pipeLimit),
            // Room for a scratch-full of bytes plus a PROXY header, or the largest v2 header (16 + 65535).
            buffers: BufferPool(bufferSize: scratchSize + 8192, keep: 64),
            budget: 1 << 20, spliceChunk: 56 * 1024)
        reserveFD = sl_eventfd()
        sessions.reserveCapacity(1024)
        _ = sl_epoll_add(epfd, mailbox.fd, SL_EPOLLIN | SL_EPOLLET, Self.token(.mailbox, 0, 0))
        for (i, l) in listeners.enumerated() {
            self.listeners.append(ReactorListener(fd: l.fd, service: l.service, fixedLocal: l.fixedLocal))
            _ = sl_epoll_add(epfd, l.fd, SL_EPOLLIN | SL_EPOLLET, Self.token(.listener, UInt32(i), 0))
        }
    }

    deinit {
        events.deallocate()
        resources.scratch.deallocate()
        Glibc.close(epfd)
        if reserveFD >= 0 { Glibc.close(reserveFD) }
    }

    @inline(__always)
    static func token(_ kind: TokenKind, _ index: UInt32, _ generation: UInt32) -> UInt64 {
        UInt64(generation) << 32 | UInt64(index) << 2 | kind.rawValue
    }

    /// A generation number for a new registration (never 0).
    @inline(__always)
    func nextGeneration() -> UInt32 {
        generationCounter &+= 1
        if generationCounter == 0 { generationCounter = 1 }
        return generationCounter
    }

    /// Registers `fd` once for everything, edge-triggered. Returns the error when the kernel refuses
    /// (ENOSPC at `fs.epoll.max_user_watches`, ENOMEM): the caller closes that one connection.
    @inline(__always)
    func register(_ fd: Int32, kind: TokenKind, slot: UInt32, generation: UInt32) -> Errno? {
        let events = SL_EPOLLIN | SL_EPOLLOUT | SL_EPOLLRDHUP | SL_EPOLLET
        var error: Errno? = nil
        if sl_epoll_add(epfd, fd, events, Self.token(kind, slot, generation)) == -1 { error = Errno.current }
        #if DEBUG
            if error == nil && faults.failRegistration() {
                _ = sl_epoll_del(epfd, fd)
                error = Errno(ENOSPC)
            }
        #endif
        guard let error else { return nil }
        warnRegistrationFailed(error)
        return error
    }

    /// Logs a refused registration, once per second at most (a client holding many connections
    /// could otherwise flood the log).
    private func warnRegistrationFailed(_ error: Errno) {
        registrationFailures &+= 1
        guard now - lastRegistrationWarning >= nanosecondsPerSecond else { return }
        lastRegistrationWarning = now
        let count = registrationFailures
        registrationFailures = 0
        logger.log(.warning) {
            $0.add(.kind, .literal("service"))
            $0.add(
                .msg,
                .text("epoll_ctl: \(error); closed \(count) connection(s) (raise fs.epoll.max_user_watches?)"))
        }
    }

    /// Queues a session whose pump ran out of budget, to resume after this turn's events.
    @inline(__always)
    func enqueue(_ session: Session) { ready.append(session) }

    // MARK: - Loop

    /// Runs until shutdown has finished on this reactor.
    public func run() {
        while !finished {
            var timeout: Int32 = ready.isEmpty ? timers.millisecondsUntilNext(now: now) : 0
            if resources.pipes.idleCount > 0 || resources.buffers.idleCount > 0 {
                // Wake up to trim the pools even when nothing else is scheduled.
                timeout = timeout < 0 ? 500 : min(timeout, 500)
            }
            if let drain = retiredServices.map(\.deadline).min() {
                // A reload's drain deadline must come on time even on an idle reactor.
                let wait = Int32(
                    clamping: max(0, (drain - now + nanosecondsPerMillisecond - 1) / nanosecondsPerMillisecond))
                timeout = timeout < 0 ? wait : min(timeout, wait)
            }
            timeout = metricsTimeout(timeout, lastHousekeeping: lastHousekeeping)
            let n = sl_epoll_wait(epfd, events, maxEvents, timeout)
            now = monotonicNanoseconds()
            if n > 0 {
                for i in 0..<Int(n) { dispatch(events + i) }
            }
            runReady()
            if timers.count > 0 { fireTimers() }
            if !retiredServices.isEmpty { closeRetiredSessions() }
            if now - lastHousekeeping >= 500 * nanosecondsPerMillisecond { housekeeping() }
            logger.flush()
            if !accepting && sessionCount == metrics.endpointSessions { finishServingMetrics() }
        }
        logger.flush()
        onFinish()
    }

    @inline(__always)
    private func dispatch(_ event: UnsafeMutablePointer<epoll_event>) {
        let token = sl_epoll_event_token(event)
        let flags = sl_epoll_event_events(event)
        let index = Int(truncatingIfNeeded: (token >> 2) & 0x3fff_ffff)
        let generation = UInt32(truncatingIfNeeded: token >> 32)
        switch token & 3 {
        case TokenKind.client.rawValue:
            if let session = sessions[index], session.generation == generation { session.clientEvent(flags) }
        case TokenKind.upstream.rawValue:
            if let session = sessions[index], session.dial.attempt == generation {
                session.upstreamEvent(flags)
            }
        case TokenKind.listener.rawValue:
            // An event queued before a reload renumbered the listeners may name a gone index.
            if index < listeners.count { acceptConnections(index) }
        default:
            for message in mailbox.drain() { handle(message) }
        }
    }

    /// Twice a second: pools that were not used since the last look give their idle pipes and
    /// buffers back, so descriptors and memory return to baseline after a burst.
    private func housekeeping() {
        lastHousekeeping = now
        if resources.pipes.leases == pipeLeasesAtLastLook { resources.pipes.trim() }
        pipeLeasesAtLastLook = resources.pipes.leases
        if resources.buffers.leases == bufferLeasesAtLastLook { resources.buffers.trim() }
        bufferLeasesAtLastLook = resources.buffers.leases
        timers.trim()
        housekeepMetrics(sessions)
    }

    /// Fires the due timer entries. They are collected first: a session re-arms the wheel from its
    /// handler, which must not happen while the wheel is being walked.
    private func fireTimers() {
        timers.advance(to: now) { firedTimers.append($0) }
        for entry in firedTimers {
            let i = Int(entry.slot)
            if i < sessions.count, let session = sessions[i], session.generation == entry.generation {
                session.timerFired(tick: entry.tick)
            }
        }
        firedTimers.removeAll(keepingCapacity: true)
    }

    private func runReady() {
        // Listeners that stopped at their batch cap, then sessions that ran out of budget. Each
        // gets one more turn now; whoever is still not done queues itself again.
        var l = 0
        while l < listeners.count {
            if listeners[l].backlogged { acceptConnections(l) }
            l += 1
        }
        guard !ready.isEmpty else { return }
        // Two arrays taking turns: sessions re-queue themselves into `ready` while `resuming` is
        // walked, and neither array is ever copied or reallocated.
        swap(&ready, &resuming)
        var i = 0
        while i < resuming.count {
            let session = resuming[i]
            if session.queued { session.resume() }
            i += 1
        }
        resuming.removeAll(keepingCapacity: true)
    }

    private func handle(_ message: ReactorMessage) {
        switch message {
        case .stopAccepting:
            closeListeners()
        case .closeAll:
            closeListeners()
            for case let session? in sessions { session.close(.shutdown) }
        case .replaceListeners(let entries, let closing, let retired, let drainDeadline):
            replaceListeners(entries, closing: closing)
            if !retired.isEmpty { retiredServices.append((retired.map(ObjectIdentifier.init), drainDeadline)) }
        case .resolved(let slot, let generation, let attempt, let address):
            let i = Int(slot)
            if i < sessions.count, let session = sessions[i], session.generation == generation {
                session.resolved(address, attempt: attempt)
            }
        case .resumeAccepting(let limit):
            for i in listeners.indices where listeners[i].paused && listeners[i].service.limit === limit {
                resumeAccepting(i)
            }
        }
    }

    /// A reload: the new listener table. Sockets this reactor keeps get their new index as token
    /// (EPOLL_CTL_MOD, which also reports a connection already waiting), new ones are added, and
    /// the ones no service uses any more are closed.
    private func replaceListeners(_ entries: [ListenerEntry], closing: [Int32]) {
        guard accepting else {
            // Shutting down: nothing will accept again.
            for entry in entries where !listeners.contains(where: { $0.fd == entry.fd }) { Glibc.close(entry.fd) }
            for fd in closing { Glibc.close(fd) }
            return
        }
        let events = SL_EPOLLIN | SL_EPOLLET
        var table: [ReactorListener] = []
        for (i, entry) in entries.enumerated() {
            let token = Self.token(.listener, UInt32(i), 0)
            var listener = ReactorListener(fd: entry.fd, service: entry.service, fixedLocal: entry.fixedLocal)
            if let old = listeners.first(where: { $0.fd == entry.fd }) {
                // A socket paused at `maxConns` is out of epoll: it goes back in (ADD, not MOD).
                if old.paused {
                    _ = sl_epoll_add(epfd, entry.fd, events, token)
                } else {
                    _ = sl_epoll_mod(epfd, entry.fd, events, token)
                }
                carryLimitState(from: old, to: &listener)
            } else {
                _ = sl_epoll_add(epfd, entry.fd, events, token)
            }
            table.append(listener)
        }
        for old in listeners where old.limited && !table.contains(where: { $0.fd == old.fd }) {
            _ = old.service.limit?.listenerDrained()  // a removed service: nothing to log
        }
        for fd in closing { Glibc.close(fd) }
        listeners = table
    }

    /// A reload kept a socket that had stopped at `maxConns`: it tries accepting again this turn,
    /// under the new plan's limit (which may be higher, or gone). While the service keeps its count
    /// the pause goes on (logged once); with another limit or none, the old pause ends here.
    private func carryLimitState(from old: ReactorListener, to new: inout ReactorListener) {
        guard old.paused || old.limited else { return }
        new.backlogged = true
        guard old.limited else { return }
        if let limit = new.service.limit, limit === old.service.limit {
            new.limited = true
        } else {
            endWait(on: old.service)
        }
    }

    /// Closes what is still open of services a reload removed, once their drain deadline passed.
    private func closeRetiredSessions() {
        let due = retiredServices.filter { $0.deadline <= now }
        guard !due.isEmpty else { return }
        retiredServices.removeAll { $0.deadline <= now }
        let gone = Set(due.flatMap(\.services))
        for case let session? in sessions where session.service.map({ gone.contains(ObjectIdentifier($0)) }) == true {
            session.close(.shutdown)
        }
    }

    private func closeListeners() {
        guard accepting else { return }
        accepting = false
        // The metrics endpoint stays open through the drain (`/readyz` answers 503 meanwhile).
        for listener in listeners where listener.fd >= 0 && listener.service.plan.handler != .metrics {
            Glibc.close(listener.fd)
        }
        for i in listeners.indices where listeners[i].service.plan.handler != .metrics {
            listeners[i].fd = -1
            listeners[i].backlogged = false
            listeners[i].paused = false
            if listeners[i].limited {
                listeners[i].limited = false
                _ = listeners[i].service.limit?.listenerDrained()
            }
        }
    }

    // MARK: - Accept

    private func acceptConnections(_ index: Int) {
        guard accepting || listeners[index].service.plan.handler == .metrics, listeners[index].fd >= 0,
            !listeners[index].paused
        else { return }
        let listener = listeners[index]
        let limit = listener.service.limit
        listeners[index].backlogged = false
        var storage = sockaddr_storage()
        for _ in 0..<64 {
            // `maxConns`: a slot first, so the count never passes the limit, whichever reactor accepts.
            if let limit, !limit.tryReserve() { return pauseAccepting(index, limit) }
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = sl_accept4(listener.fd, &storage, &length)
            if fd == -1 {
                let error = Errno.current
                limit?.release()
                switch error {
                case .wouldBlock:
                    if listeners[index].limited {
                        listeners[index].limited = false
                        endWait(on: listener.service)
                    }
                    return
                case .interrupted, Errno(ECONNABORTED), Errno(EPROTO), Errno(EPERM): continue
                case .tooManyOpenFiles, .tooManyOpenFilesInSystem, Errno(ENOBUFS), Errno(ENOMEM):
                    shedConnections(listener.fd, error)
                    return
                default:
                    logger.log(.error) {
                        listener.service.addServiceFields(&$0)
                        $0.add(.kind, .literal("service"))
                        $0.add(.msg, .text("accept: \(error)"))
                    }
                    return
                }
            }
            guard let remote = SocketAddress(storage)?.unmapped,
                let local = listener.fixedLocal ?? Socket.localAddress(fd)
            else {
                Glibc.close(fd)
                limit?.release()
                continue
            }
            startSession(fd: fd, service: listener.service, remote: remote, local: local)
        }
        listeners[index].backlogged = true
    }

    /// The service is at its `maxConns`: take the listener out of epoll (arrivals wait in the
    /// backlog without waking anyone) until a connection of the service closes.
    private func pauseAccepting(_ index: Int, _ limit: ConnectionLimit) {
        listeners[index].paused = true
        _ = sl_epoll_del(epfd, listeners[index].fd)
        guard !listeners[index].limited else { return }
        listeners[index].limited = true
        guard limit.listenerStopped() else { return }
        let service = listeners[index].service
        logger.log(.warning) {
            service.addServiceFields(&$0)
            $0.add(.kind, .literal("service"))
            $0.add(.msg, .text("maxConns reached: \(limit.limit) open; accepting paused"))
        }
    }

    /// A connection of the service closed at the limit: watch the listener again (adding it reports
    /// the clients already waiting) and accept what the limit allows.
    private func resumeAccepting(_ index: Int) {
        guard accepting, listeners[index].fd >= 0 else { return }
        listeners[index].paused = false
        _ = sl_epoll_add(epfd, listeners[index].fd, SL_EPOLLIN | SL_EPOLLET, Self.token(.listener, UInt32(index), 0))
        acceptConnections(index)
    }

    /// A listener of `service` that stopped at the limit found its backlog empty: once none of the
    /// service's listeners has clients waiting, the pause is over.
    private func endWait(on service: Service) {
        guard service.limit?.listenerDrained() == true else { return }
        logger.log(.info) {
            service.addServiceFields(&$0)
            $0.add(.kind, .literal("service"))
            $0.add(.msg, .literal("accepting resumed"))
        }
    }

    /// At the descriptor limit the pending connections would keep the listener readable forever:
    /// free the reserve descriptor, accept and close each one (the client sees a prompt close, not
    /// a hang), then take the reserve back. Logged once per second at most.
    private func shedConnections(_ listener: Int32, _ error: Errno) {
        if reserveFD >= 0 {
            Glibc.close(reserveFD)
            reserveFD = -1
        }
        var shed = 0
        while true {
            let fd = sl_accept(listener)
            if fd == -1 {
                let e = Errno.current
                if e == .interrupted { continue }
                break
            }
            Socket.close(fd, reset: true)
            shed += 1
        }
        reserveFD = sl_eventfd()
        metrics.descriptorSheds &+= shed
        if now - lastDescriptorWarning >= nanosecondsPerSecond {
            lastDescriptorWarning = now
            logger.log(.warning) {
                $0.add(.kind, .literal("service"))
                $0.add(.msg, .text("accept: \(error); closed \(shed) new connections (raise ulimit -n)"))
            }
        }
    }

    private func startSession(fd: Int32, service: Service, remote: SocketAddress, local: SocketAddress) {
        let session: Session
        if let spare = spareSessions.popLast() {
            spare.reset()
            session = spare
        } else {
            session = Session(reactor: self)
        }
        let slot: UInt32
        if let free = freeSlots.popLast() {
            slot = free
            sessions[Int(free)] = session
        } else {
            slot = UInt32(sessions.count)
            sessions.append(session)
        }
        session.slot = slot
        session.generation = nextGeneration()
        sessionCount += 1
        if register(fd, kind: .client, slot: slot, generation: session.generation) != nil {
            // Refused by the kernel (logged, rate-limited): this connection goes, the rest keep serving.
            Socket.close(fd, reset: true)
            release(session)
            service.limit?.release()  // the session never started, so `release` did not see its service
            return
        }
        session.start(fd: fd, service: service, remote: remote, local: local)
    }

    /// The drain is over (only metrics endpoint connections are left): close them and the endpoint's
    /// listeners, and let the loop end.
    private func finishServingMetrics() {
        for case let session? in sessions { session.close(.shutdown) }
        for i in listeners.indices where listeners[i].fd >= 0 {
            Glibc.close(listeners[i].fd)
            listeners[i].fd = -1
        }
        finished = true
    }

    /// Called by a session as it closes: frees its slot and keeps the object for reuse.
    func release(_ session: Session) {
        sessions[Int(session.slot)] = nil
        freeSlots.append(session.slot)
        sessionCount -= 1
        session.service?.limit?.release()
        if spareSessions.count < 1024 { spareSessions.append(session) }
    }
}
