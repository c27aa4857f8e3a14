// Session: one accepted connection from accept to close. The data walks one way — accept → sniff
// the PROXY header (optional) → the handler's inbound handshake (proxy handlers) → dial (resolve,
// connect, chain handshakes, outbound PROXY header) → reply to the client → relay both ways → close
// — each phase finishing or waiting for readiness. Lives on one reactor; never touched by another
// thread. The phases live in their own files: Session+Sniff, +Inbound, +Dial, +Chain, +FirstWrite.
import CSluice
import Glibc

/// The state of one client connection and its upstream.
public final class Session {
    /// Where the connection is on its one-way walk.
    enum Phase: Equatable {
        case idle
        /// Reading a PROXY header (`proxyProtocol=1`).
        case sniffing
        /// A proxy handler's inbound handshake (HTTP request head, SOCKS greeting and request).
        case greeting
        /// Resolving, connecting and opening the chain (`dial.step` says which).
        case dialing
        /// Moving bytes both ways.
        case relaying
        /// A reply to a refused client is on its way: its write side is shut and its last bytes
        /// are read and dropped (so the close does not turn into a reset that eats the reply)
        /// until EOF or the deadline; then the session closes with this reason.
        case lingering(CloseReason)
        case closed
    }

    unowned(unsafe) let reactor: Reactor
    /// Set at accept, for the session's whole life.
    var service: Service!
    var phase = Phase.idle
    /// Slot in the reactor's table and the generation of this use of it (client registration and
    /// timers carry it; the upstream registration and resolver answers carry `dial.attempt`).
    var slot: UInt32 = 0
    var generation: UInt32 = 0
    var clientFD: Int32 = -1
    var upstreamFD: Int32 = -1
    /// The real socket addresses (GOST's `remote` and `local`).
    var remote = SocketAddress(.v4(IPv4Address(0)), port: 0)
    var local = SocketAddress(.v4(IPv4Address(0)), port: 0)
    /// The original client and destination: the PROXY header's, else the real ones.
    var client = SocketAddress(.v4(IPv4Address(0)), port: 0)
    var originalDestination = SocketAddress(.v4(IPv4Address(0)), port: 0)
    /// The received PROXY header, kept for the `info` handler only (it reports every field).
    var proxyHeader: ReceivedProxyHeader?
    var id = SessionID(high: 0, low: 0)
    var acceptedAt: Int64 = 0
    var connectedAt: Int64 = 0
    var lastActivity: Int64 = 0
    /// client → upstream and upstream → client. Before the upstream is ready, `input.pending` holds
    /// what the client sent early (after its PROXY header, after its handshake) and `output.pending`
    /// what the handler says to the client.
    var input = Flow()
    var output = Flow()
    /// The `handler` log field: the service's type, or the protocol `auto` detected.
    var handlerText: LogText?
    /// A proxy handler's inbound handshake; nil for forwarders.
    var inbound: InboundState?
    /// Route, attempts and chain handshake of the dial path.
    var dial = DialState()
    /// The deadline of the current phase (sniff, greeting, dial attempt, linger), 0 when none.
    var deadline: Int64 = 0
    /// The earliest tick this session has an entry in the timer wheel for, 0 when none.
    var armedTick: Int64 = 0
    /// In the reactor's ready queue (it has work left after its budget ran out).
    var queued = false

    init(reactor: Reactor) {
        self.reactor = reactor
    }

    // MARK: - Start

    /// Takes over an accepted socket.
    func start(fd: Int32, service: Service, remote: SocketAddress, local: SocketAddress) {
        self.service = service
        clientFD = fd
        self.remote = remote
        self.local = local
        client = remote
        originalDestination = local
        acceptedAt = reactor.now
        lastActivity = acceptedAt
        id = SessionID.next(wallSeconds: wallNanoseconds() / nanosecondsPerSecond)
        input.spliceDisabled = !service.plan.splice
        output.spliceDisabled = !service.plan.splice
        noteStarted()
        // A socket just accepted has often received the client's first bytes already (a PROXY
        // header, a proxy request, a forwarded request): read them now rather than after another
        // epoll turn. A wrong guess costs one EAGAIN; the readiness event still comes when they
        // arrive. (Holding connections in the kernel until their first bytes, TCP_DEFER_ACCEPT,
        // measured slower on PROXY receive and CONNECT churn: it stays off.)
        input.srcReadable = true
        if let receive = service.plan.receive, service.parser != nil, service.trusts(remote.ip) {
            phase = .sniffing
            setDeadline(receive.timeout)
            armTimer()
            return sniff()
        }
        startHandler()
    }

    /// The PROXY header question is settled (or was never asked): run the handler.
    func startHandler() {
        if service.plan.handler == .metrics { return startMetrics() }
        if service.plan.handler.isBuiltin { return startBuiltin() }
        if let handler = service.plan.handler.inbound {
            inbound = InboundState(handshake: InboundHandshake(handler: handler, options: service.inboundOptions))
            startGreeting()
        } else {
            logAccepted()
            guard readEarlyBytes() else { return }
            dialUpstream(to: nil)
        }
    }

    /// Forgets everything so the object can serve another connection: every per-connection field
    /// goes back to its initial value (a test compares a reset session with a new one field by
    /// field). Only the reactor, and the slot and generation it assigns next, stay.
    func reset() {
        service = nil
        phase = .idle
        clientFD = -1
        upstreamFD = -1
        remote = SocketAddress(.v4(IPv4Address(0)), port: 0)
        local = remote
        client = remote
        originalDestination = remote
        proxyHeader = nil
        id = SessionID(high: 0, low: 0)
        acceptedAt = 0
        connectedAt = 0
        lastActivity = 0
        input = Flow()
        output = Flow()
        handlerText = nil
        inbound = nil
        dial.reset()
        deadline = 0
        armedTick = 0
        queued = false
    }

    // MARK: - Events

    @inline(__always)
    func clientEvent(_ events: UInt32) {
        if events & (SL_EPOLLIN | SL_EPOLLRDHUP | SL_EPOLLHUP | SL_EPOLLERR) != 0 { input.srcReadable = true }
        if events & (SL_EPOLLRDHUP | SL_EPOLLHUP | SL_EPOLLERR) != 0 { input.srcClosing = true }
        if events & (SL_EPOLLRDHUP | SL_EPOLLERR) == SL_EPOLLRDHUP { input.srcFinReceived = true }
        if events & (SL_EPOLLOUT | SL_EPOLLHUP | SL_EPOLLERR) != 0 { output.dstWritable = true }
        switch phase {
        case .relaying: relay()
        case .sniffing: sniff()
        case .greeting: greet()
        case .lingering: linger()
        default: break  // remembered in the flows until the upstream is ready
        }
    }

    @inline(__always)
    func upstreamEvent(_ events: UInt32) {
        if events & (SL_EPOLLIN | SL_EPOLLRDHUP | SL_EPOLLHUP | SL_EPOLLERR) != 0 { output.srcReadable = true }
        if events & (SL_EPOLLRDHUP | SL_EPOLLHUP | SL_EPOLLERR) != 0 { output.srcClosing = true }
        if events & (SL_EPOLLRDHUP | SL_EPOLLERR) == SL_EPOLLRDHUP { output.srcFinReceived = true }
        if events & (SL_EPOLLOUT | SL_EPOLLHUP | SL_EPOLLERR) != 0 { input.dstWritable = true }
        switch phase {
        case .relaying: relay()
        case .dialing: upstreamEventWhileDialing(events)
        default: break
        }
    }

    /// Called from the ready queue: the last pump ran out of budget.
    func resume() {
        queued = false
        if phase == .relaying { relay() }
    }

    // MARK: - Relay

    /// Pumps both directions until each is blocked, done or out of budget.
    func relay() {
        if inbound?.forward != nil { return relayHTTP() }
        if service.plan.handler.isBuiltin { return relayBuiltin() }
        let resources = reactor.resources
        let before = input.bytesRead &+ output.bytesRead
        let inward = input.pump(from: clientFD, to: upstreamFD, resources, reverseFinished: output.isFinished)
        switch inward {
        case .readFailed(let e): return close(.clientError(e))
        case .writeFailed(let e): return close(.upstreamError(e))
        default: break
        }
        let outward = output.pump(from: upstreamFD, to: clientFD, resources, reverseFinished: input.isFinished)
        switch outward {
        case .readFailed(let e): return close(.upstreamError(e))
        case .writeFailed(let e): return close(.clientError(e))
        default: break
        }
        if input.bytesRead &+ output.bytesRead != before { lastActivity = reactor.now }
        if inward == .finished && outward == .finished {
            close(.done)
        } else if (inward == .yielded || outward == .yielded) && !queued {
            queued = true
            reactor.enqueue(self)
        }
    }

    // MARK: - Timers

    /// The next deadline: the phase's, else the idle timeout while relaying; 0 when none.
    private var nextDeadline: Int64 {
        if deadline > 0 { return deadline }
        if phase == .relaying && service.plan.idleTimeout > 0 {
            return GoDuration.deadline(after: lastActivity, service.plan.idleTimeout)
        }
        return 0
    }

    /// Starts the current phase's deadline `duration` from now. A duration of 0 or less means no
    /// deadline: this is the one place that rule lives (a negative `dialTimeout` is "none").
    func setDeadline(_ duration: Int64) {
        deadline = duration > 0 ? GoDuration.deadline(after: reactor.now, duration) : 0
    }

    /// Makes sure the timer wheel holds an entry at or before the next deadline.
    func armTimer() {
        let next = nextDeadline
        guard next > 0 else { return }
        let tick = reactor.timers.tick(for: next)
        if armedTick == 0 || tick < armedTick {
            armedTick = reactor.timers.schedule(at: next, slot: slot, generation: generation)
        }
    }

    /// A timer entry of this session fired.
    func timerFired(tick: Int64) {
        if tick == armedTick { armedTick = 0 }
        let now = reactor.now
        if deadline > 0 && now >= deadline {
            deadline = 0
            switch phase {
            case .sniffing: headerDeadlinePassed()
            case .greeting: greetingDeadlinePassed()
            case .dialing: dialDeadlinePassed()
            case .lingering(let reason): close(reason)
            default: break
            }
        } else if phase == .relaying && service.plan.idleTimeout > 0
            && now - lastActivity >= service.plan.idleTimeout
        {
            close(.idleTimeout)
        }
        if phase != .closed { armTimer() }
    }

    // MARK: - Close

    /// Ends the session: logs once, gives back pipes and buffers, closes both sockets.
    func close(_ reason: CloseReason) {
        guard phase != .closed else { return }
        if service.plan.handler == .metrics { return closeMetrics() }
        let now = reactor.now
        noteClosed(reason, now: now)
        if connectedAt > 0 { logRelayEnded(now: now) }
        logClosed(now: now, reason: reason)
        if armedTick != 0 { reactor.timers.cancel(slot: slot) }
        let resources = reactor.resources
        input.releaseAll(resources)
        output.releaseAll(resources)
        dial.releaseBuffers(resources)
        inbound?.forward?.client.release(to: resources.buffers)
        var resetClient = false
        var resetUpstream = false
        switch reason {
        case .clientError(let e): resetUpstream = e == .connectionReset
        case .upstreamError(let e): resetClient = e == .connectionReset
        default: break
        }
        if upstreamFD >= 0 { Socket.close(upstreamFD, reset: resetUpstream) }
        if clientFD >= 0 { Socket.close(clientFD, reset: resetClient) }
        upstreamFD = -1
        clientFD = -1
        phase = .closed
        reactor.release(self)
    }
}
