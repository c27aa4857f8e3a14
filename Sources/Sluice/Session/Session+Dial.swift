// Session dialing: the one dial path every handler uses. Choose the route (a forward target, or the
// destination a proxy client asked for, and a node per chain hop), resolve names on the resolver
// pool, connect without blocking, open the chain, and on failure mark the node and fail over to
// another (each at most once per connection, more when `retries` allows). It ends in
// `upstreamReady()` (connected; the target's first bytes may already wait in `dial.tunnel`) or in
// `dialGaveUp` with a typed failure the handler answers.
import CSluice
import Glibc

extension Session {
    /// How the start of a dial attempt went.
    enum AttemptStart {
        /// Waiting for the resolver or the connect.
        case pending
        /// Failed at once; `local` failures are this machine's (descriptors, buffers, ports).
        case failed(String, CloseReason, local: Bool)
    }

    /// Starts the dial path towards `requested` (a proxy client's destination) or, when nil, the
    /// plan's forward targets.
    func dialUpstream(to requested: Destination?) {
        phase = .dialing
        dial.requested = requested
        dialNextAttempt()
    }

    /// Picks a route and starts connecting to its first address (the first chain node, or the
    /// target). Failures that happen at once (a refused or unreachable address on this host) fail
    /// over in this loop, never by recursion, however many attempts `retries` allows.
    func dialNextAttempt() {
        let plan = service.plan
        while true {
            guard pickRoute() else { return noRoute() }
            dial.attempts += 1
            setDeadline(plan.dialTimeout)
            // A new tag per attempt: a late resolver answer or socket event of an earlier attempt
            // is recognised and dropped.
            dial.attempt = reactor.nextGeneration()
            logRoute()
            let started = connect(to: firstNode?.destination ?? target)
            guard case .failed(let message, let reason, let local) = started else { return }
            if local {
                // Not the node's fault: mark nothing, and another node would fail the same way.
                return dialGaveUp(message, reason)
            }
            markDialedNodeFailed()
            guard attemptFailed(message, reason) else { return }
        }
    }

    /// Chooses the target (forwarders) and a node per hop for this attempt; false when none is left.
    private func pickRoute() -> Bool {
        let now = reactor.now
        let key = Selector.hashKey(client.ip)
        if dial.requested == nil {
            guard let target = Self.pick(service.targets, key: key, now: now, tried: &dial.triedTargets) else {
                return false
            }
            dial.targetIndex = target
        }
        dial.hopNodes.removeAll(keepingCapacity: true)
        if dial.triedHopNodes.count != service.hops.count {
            dial.triedHopNodes = Array(repeating: 0, count: service.hops.count)
        }
        for (i, hop) in service.hops.enumerated() {
            guard let node = Self.pick(hop, key: key, now: now, tried: &dial.triedHopNodes[i]) else { return false }
            dial.hopNodes.append(node)
        }
        return true
    }

    /// Selects a node not yet tried in this connection; once every node was tried (and `retries`
    /// allows more attempts), starts over.
    private static func pick(_ selector: Selector, key: UInt64, now: Int64, tried: inout UInt64) -> Int? {
        if let node = selector.select(clientKey: key, now: now, excluded: tried) { return node }
        guard tried != 0 else { return nil }
        tried = 0
        return selector.select(clientKey: key, now: now, excluded: 0)
    }

    private func noRoute() {
        logError { $0.add(.msg, .literal("node not available")) }
        dialGaveUp(nil, .noTarget)
    }

    /// Where the connection finally goes: the requested destination, else the picked target.
    var target: Destination {
        dial.requested ?? service.plan.targets[dial.targetIndex].destination
    }

    /// The first chain node of the current route, nil without a chain.
    var firstNode: NodePlan? {
        guard let chain = service.plan.chain, let first = dial.hopNodes.first else { return nil }
        return chain.hops[0].nodes[first]
    }

    /// What the current dial connects to, for messages.
    var upstreamText: String {
        if let address = dial.address { return "\(address)" }
        if let node = firstNode { return node.text }
        return dial.requested?.text ?? (dial.targetIndex >= 0 ? service.plan.targets[dial.targetIndex].text : "?")
    }

    private func connect(to destination: Destination) -> AttemptStart {
        if let address = destination.address { return connect(to: address) }
        if let cached = reactor.resolver.cached(host: destination.host, port: destination.port, now: reactor.now) {
            return connect(to: cached)
        }
        dial.step = .resolving
        armTimer()
        reactor.resolver.request(
            host: destination.host, port: destination.port, reply: reactor.mailbox, slot: slot,
            generation: generation, attempt: dial.attempt)
        return .pending
    }

    /// The resolver answered (on this reactor's thread, through its mailbox) for dial attempt
    /// `attempt`; an answer for an earlier attempt (which timed out and failed over) is dropped.
    func resolved(_ address: SocketAddress?, attempt: UInt32) {
        guard phase == .dialing, dial.step == .resolving, attempt == dial.attempt else { return }
        guard let address else {
            let host = firstNode?.destination.host ?? target.host
            return dialFailed("dial tcp \(upstreamText): lookup \(host): no such host", .resolveFailed)
        }
        if case .failed(let message, let reason, let local) = connect(to: address) {
            if local { return dialGaveUp(message, reason) }
            dialFailed(message, reason)
        }
    }

    private func connect(to address: SocketAddress) -> AttemptStart {
        dial.address = address
        noteConnectStarted()
        let fd: Int32
        do {
            fd = try Socket.startConnect(to: address, dataFollows: firstWriteWaiting)
        } catch {
            let message = "dial tcp \(address): connect: \(error)"
            switch error {
            case .tooManyOpenFiles, .tooManyOpenFilesInSystem: return .failed(message, .outOfDescriptors, local: true)
            case Errno(ENOBUFS), Errno(ENOMEM), Errno(EADDRNOTAVAIL), Errno(EAGAIN):
                return .failed(message, .localError(error), local: true)
            default: return .failed(message, .dialFailed(error), local: false)
            }
        }
        if let error = reactor.register(fd, kind: .upstream, slot: slot, generation: dial.attempt) {
            Socket.close(fd)
            return .failed("dial tcp \(address): epoll_ctl: \(error)", .localError(error), local: true)
        }
        upstreamFD = fd
        dial.step = .connecting
        armTimer()
        return .pending
    }

    /// An upstream event before the relay: the connect finished, or a chain node answered.
    func upstreamEventWhileDialing(_ events: UInt32) {
        switch dial.step {
        case .connecting:
            // A failed connect reports EPOLLERR/EPOLLHUP; plain EPOLLOUT means it succeeded.
            if events & (SL_EPOLLERR | SL_EPOLLHUP) != 0 {
                if let error = Socket.pendingError(upstreamFD) {
                    return dialFailed("dial tcp \(upstreamText): connect: \(error)", .dialFailed(error))
                }
            } else if !input.dstWritable {
                return
            }
            if service.plan.chain != nil {
                startChainHandshake()
            } else {
                upstreamReady()
            }
        case .handshaking: continueChainHandshake()
        case .idle, .resolving: break
        }
    }

    /// The current attempt's deadline passed.
    func dialDeadlinePassed() {
        switch dial.step {
        case .resolving, .connecting: dialFailed("dial tcp \(upstreamText): i/o timeout", .dialTimeout)
        case .handshaking:
            chainHandshakeFailed("connect \(upstreamText): i/o timeout", step: dial.tunnel?.handshake?.current ?? 0)
        case .idle: break
        }
    }

    /// Connecting failed (the connect, its deadline or the lookup): mark the node that did not
    /// answer, then fail over or give up.
    func dialFailed(_ message: String, _ reason: CloseReason) {
        markDialedNodeFailed()
        if attemptFailed(message, reason) { dialNextAttempt() }
    }

    /// Marks what the current attempt dialled: the first chain node, else the forward target.
    private func markDialedNodeFailed() {
        if service.plan.chain != nil {
            markNodeFailed(hop: 0)
            noteChainError()
        } else {
            markTargetFailed()
        }
    }

    /// Marks the current node of `hop` as failed (fail marks) and tried (this connection).
    func markNodeFailed(hop: Int) {
        let node = dial.hopNodes[hop]
        service.hops[hop].markFailure(node, now: reactor.now)
        if node < 64 { dial.triedHopNodes[hop] |= 1 << UInt64(node) }
    }

    /// Marks the forward target as failed; a proxy client's destination has no fail marks.
    func markTargetFailed() {
        let index = dial.targetIndex
        guard dial.requested == nil, index >= 0 else { return }
        service.targets.markFailure(index, now: reactor.now)
        if index < 64 { dial.triedTargets |= 1 << UInt64(index) }
    }

    /// Logs the failed attempt as GOST's router does and drops its socket. True when another
    /// attempt may follow (the caller dials again); else the dial has given up.
    func attemptFailed(_ message: String, _ reason: CloseReason) -> Bool {
        logError { $0.add(.msg, .text("route(retry=\(dial.attempts - 1)) \(message)")) }
        closeUpstream()
        if dial.attempts < service.maxAttempts { return true }
        dialGaveUp(message, reason)
        return false
    }

    /// Drops the upstream socket of a failed attempt, and any handshake bytes held for it.
    func closeUpstream() {
        if upstreamFD >= 0 {
            Socket.close(upstreamFD)
            upstreamFD = -1
        }
        dial.releaseBuffers(reactor.resources)
        dial.step = .idle
        dial.tunnel = nil
        dial.address = nil
        input.dstWritable = false
        output.srcReadable = false
        output.srcClosing = false
        output.srcFinReceived = false
        input.dstWrites = 0  // the next upstream is a new socket
    }

    /// No attempt is left: a proxy client is told why (its handler's reply) before the close.
    func dialGaveUp(_ message: String?, _ reason: CloseReason) {
        if let message { logError { $0.add(.msg, .text(message)) } }
        closeUpstream()
        guard let inbound else { return close(reason) }
        closeAfterReply(inbound.handshake.failureReply(DialFailure(reason)), reason)
    }
}

extension DialFailure {
    /// What a handler tells its client for a dial that ended with `reason`.
    init(_ reason: CloseReason) {
        switch reason {
        case .dialFailed(let e):
            switch e {
            case .connectionRefused: self = .refused
            case .networkUnreachable, Errno(EADDRNOTAVAIL), Errno(EAFNOSUPPORT): self = .networkUnreachable
            case .hostUnreachable: self = .hostUnreachable
            case .timedOut: self = .timedOut
            default: self = .other
            }
        case .dialTimeout: self = .timedOut
        case .resolveFailed: self = .resolveFailed
        default: self = .other
        }
    }
}
