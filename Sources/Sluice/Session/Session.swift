// Session: one accepted connection from accept to close. Phases run in a fixed order — sniff the
// PROXY header (optional) → pick a route → dial (resolve names first) → chain handshakes → PROXY
// header to the target → relay both ways → close — each finishing or waiting for readiness. Lives on
// one reactor; never touched by another thread.
import CSluice
import Glibc

/// The state of one client connection and its upstream.
public final class Session {
    enum Phase { case idle, sniffing, resolving, connecting, handshaking, relaying, closed }

    unowned(unsafe) let reactor: Reactor
    var service: Service!
    var phase = Phase.idle
    /// Slot in the reactor's table and the generation of this use of it (client registration and
    /// timers carry it; the upstream registration has its own, renewed on every dial).
    var slot: UInt32 = 0
    var generation: UInt32 = 0
    var upstreamGeneration: UInt32 = 0
    var clientFD: Int32 = -1
    var upstreamFD: Int32 = -1
    /// The real socket addresses (GOST's `remote` and `local`).
    var remote = SocketAddress(.v4(IPv4Address(0)), port: 0)
    var local = SocketAddress(.v4(IPv4Address(0)), port: 0)
    /// The original client and destination: the PROXY header's, else the real ones.
    var client = SocketAddress(.v4(IPv4Address(0)), port: 0)
    var destination = SocketAddress(.v4(IPv4Address(0)), port: 0)
    var id = SessionID(high: 0, low: 0)
    var acceptedAt: Int64 = 0
    var connectedAt: Int64 = 0
    /// client → upstream and upstream → client.
    var input = Flow()
    var output = Flow()
    /// Client bytes read before the upstream was ready (while sniffing a PROXY header).
    var early = PendingBytes()
    /// The route of the current dial attempt: the target, and the node of each chain hop.
    var targetIndex = -1
    var hopNodes: [Int] = []
    /// Targets, and nodes of each hop, that failed in this connection: failover skips them.
    var triedTargets: UInt64 = 0
    var triedHopNodes: [UInt64] = []
    var dialAttempts = 0
    /// The address being (or last) connected to: the target's, or the first chain node's.
    var upstreamAddress: SocketAddress?
    var handshake: ChainHandshake?
    /// The deadline of the current phase (sniff, resolve, connect, handshake), 0 when none.
    var deadline: Int64 = 0
    var lastActivity: Int64 = 0
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
        destination = local
        acceptedAt = reactor.now
        lastActivity = acceptedAt
        id = SessionID.next(wallSeconds: wallNanoseconds() / nanosecondsPerSecond)
        input.spliceDisabled = !service.plan.splice
        output.spliceDisabled = !service.plan.splice
        if let receive = service.plan.receive, service.parser != nil, service.trusts(remote.ip) {
            phase = .sniffing
            setDeadline(receive.timeout)
            armTimer()
            return
        }
        logAccepted()
        dial()
    }

    /// Forgets everything so the object can serve another connection: every per-connection field
    /// goes back to its initial value (a test compares a reset session with a new one field by
    /// field). Only the reactor, and the slot and generation it assigns next, stay.
    func reset() {
        service = nil
        phase = .idle
        upstreamGeneration = 0
        clientFD = -1
        upstreamFD = -1
        remote = SocketAddress(.v4(IPv4Address(0)), port: 0)
        local = remote
        client = remote
        destination = remote
        id = SessionID(high: 0, low: 0)
        acceptedAt = 0
        connectedAt = 0
        input = Flow()
        output = Flow()
        early = PendingBytes()
        targetIndex = -1
        hopNodes.removeAll(keepingCapacity: true)
        triedTargets = 0
        triedHopNodes.removeAll(keepingCapacity: true)
        dialAttempts = 0
        upstreamAddress = nil
        handshake = nil
        deadline = 0
        lastActivity = 0
        armedTick = 0
        queued = false
    }

    // MARK: - Events

    @inline(__always)
    func clientEvent(_ events: UInt32) {
        if events & (SL_EPOLLIN | SL_EPOLLRDHUP | SL_EPOLLHUP | SL_EPOLLERR) != 0 { input.srcReadable = true }
        if events & (SL_EPOLLRDHUP | SL_EPOLLHUP | SL_EPOLLERR) != 0 { input.srcClosing = true }
        if events & (SL_EPOLLOUT | SL_EPOLLHUP | SL_EPOLLERR) != 0 { output.dstWritable = true }
        switch phase {
        case .relaying: relay()
        case .sniffing: sniff()
        default: break  // remembered in the flows until the upstream is ready
        }
    }

    @inline(__always)
    func upstreamEvent(_ events: UInt32) {
        if events & (SL_EPOLLIN | SL_EPOLLRDHUP | SL_EPOLLHUP | SL_EPOLLERR) != 0 { output.srcReadable = true }
        if events & (SL_EPOLLRDHUP | SL_EPOLLHUP | SL_EPOLLERR) != 0 { output.srcClosing = true }
        if events & (SL_EPOLLOUT | SL_EPOLLHUP | SL_EPOLLERR) != 0 { input.dstWritable = true }
        switch phase {
        case .relaying: relay()
        case .connecting:
            // A failed connect reports EPOLLERR/EPOLLHUP; plain EPOLLOUT means it succeeded.
            if events & (SL_EPOLLERR | SL_EPOLLHUP) != 0 {
                finishConnect()
            } else if input.dstWritable {
                connected()
            }
        case .handshaking: continueHandshake()
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
            case .resolving, .connecting: dialFailed("dial tcp \(upstreamText): i/o timeout", .dialTimeout)
            case .handshaking: handshakeFailed("connect \(upstreamText): i/o timeout", step: handshake?.current ?? 0)
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
        let now = reactor.now
        if connectedAt > 0 { logRelayEnded(now: now) }
        logClosed(now: now, reason: reason)
        if armedTick != 0 { reactor.timers.cancel(slot: slot) }
        let resources = reactor.resources
        input.releaseAll(resources)
        output.releaseAll(resources)
        early.release(to: resources.buffers)
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
