// Session dialing: choose the route (forward target, and a node per chain hop), resolve names on the
// resolver thread, connect without blocking, and on failure mark the node and fail over to another
// one (each at most once per connection, more when `retries` allows) before giving up.
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

    /// Picks a route and starts connecting to its first address (the first chain node, or the
    /// target). Failures that happen at once (a refused or unreachable address on this host) fail
    /// over in this loop, never by recursion, however many attempts `retries` allows.
    func dial() {
        let plan = service.plan
        while true {
            guard pickRoute() else { return noRoute() }
            dialAttempts += 1
            setDeadline(plan.dialTimeout)
            // A new tag per attempt: a late resolver answer or socket event of an earlier attempt
            // is recognised and dropped.
            upstreamGeneration = reactor.nextGeneration()
            logRoute()
            let started: AttemptStart
            if let node = firstNode {
                started = connect(host: node.host, port: node.port, address: node.address)
            } else {
                let t = plan.targets[targetIndex]
                started = connect(host: t.host, port: t.port, address: t.address)
            }
            guard case .failed(let message, let reason, let local) = started else { return }
            if local {
                // Not the node's fault: mark nothing, and another node would fail the same way.
                logError { $0.add(.msg, .text(message)) }
                return close(reason)
            }
            markDialedNodeFailed()
            guard attemptFailed(message, reason) else { return }
        }
    }

    /// Chooses the target and a node per hop for this attempt; false when none is left.
    private func pickRoute() -> Bool {
        let now = reactor.now
        let key = Selector.hashKey(client.ip)
        guard let target = Self.pick(service.targets, key: key, now: now, tried: &triedTargets) else { return false }
        targetIndex = target
        hopNodes.removeAll(keepingCapacity: true)
        if triedHopNodes.count != service.hops.count {
            triedHopNodes = Array(repeating: 0, count: service.hops.count)
        }
        for (i, hop) in service.hops.enumerated() {
            guard let node = Self.pick(hop, key: key, now: now, tried: &triedHopNodes[i]) else { return false }
            hopNodes.append(node)
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
        close(.noTarget)
    }

    /// The first chain node of the current route, nil without a chain.
    var firstNode: NodePlan? {
        guard let chain = service.plan.chain, let first = hopNodes.first else { return nil }
        return chain.hops[0].nodes[first]
    }

    /// What the current dial connects to, for messages.
    var upstreamText: String {
        if let upstreamAddress { return "\(upstreamAddress)" }
        if let node = firstNode { return node.text }
        return targetIndex >= 0 ? service.plan.targets[targetIndex].text : "?"
    }

    private func connect(host: String, port: UInt16, address: SocketAddress?) -> AttemptStart {
        if let address { return connect(to: address) }
        if let cached = reactor.resolver.cached(host: host, port: port, now: reactor.now) {
            return connect(to: cached)
        }
        phase = .resolving
        armTimer()
        reactor.resolver.request(
            host: host, port: port, reply: reactor.mailbox, slot: slot, generation: generation,
            attempt: upstreamGeneration)
        return .pending
    }

    /// The resolver answered (on this reactor's thread, through its mailbox) for dial attempt
    /// `attempt`; an answer for an earlier attempt (which timed out and failed over) is dropped.
    func resolved(_ address: SocketAddress?, attempt: UInt32) {
        guard phase == .resolving, attempt == upstreamGeneration else { return }
        guard let address else {
            let host = firstNode?.host ?? service.plan.targets[targetIndex].host
            return dialFailed("dial tcp \(upstreamText): lookup \(host): no such host", .resolveFailed)
        }
        if case .failed(let message, let reason, let local) = connect(to: address) {
            if local {
                logError { $0.add(.msg, .text(message)) }
                return close(reason)
            }
            dialFailed(message, reason)
        }
    }

    private func connect(to address: SocketAddress) -> AttemptStart {
        upstreamAddress = address
        let fd: Int32
        do {
            fd = try Socket.startConnect(to: address)
        } catch {
            let message = "dial tcp \(address): connect: \(error)"
            switch error {
            case .tooManyOpenFiles, .tooManyOpenFilesInSystem: return .failed(message, .outOfDescriptors, local: true)
            case Errno(ENOBUFS), Errno(ENOMEM), Errno(EADDRNOTAVAIL), Errno(EAGAIN):
                return .failed(message, .localError(error), local: true)
            default: return .failed(message, .dialFailed(error), local: false)
            }
        }
        Socket.setNoDelay(fd)
        if let error = reactor.register(fd, kind: .upstream, slot: slot, generation: upstreamGeneration) {
            Socket.close(fd)
            return .failed("dial tcp \(address): epoll_ctl: \(error)", .localError(error), local: true)
        }
        upstreamFD = fd
        phase = .connecting
        armTimer()
        return .pending
    }

    /// The connect reported an error condition: read it (SO_ERROR) and fail the attempt.
    func finishConnect() {
        if let error = Socket.pendingError(upstreamFD) {
            return dialFailed("dial tcp \(upstreamText): connect: \(error)", .dialFailed(error))
        }
        connected()
    }

    /// The TCP connection to the first address is up.
    func connected() {
        if service.plan.chain != nil {
            startHandshake()
        } else {
            established()
        }
    }

    /// Connecting failed (the connect, its deadline or the lookup): mark the node that did not
    /// answer, then fail over or give up.
    func dialFailed(_ message: String, _ reason: CloseReason) {
        markDialedNodeFailed()
        if attemptFailed(message, reason) { dial() }
    }

    /// Marks what the current attempt dialled: the first chain node, else the target.
    private func markDialedNodeFailed() {
        if service.plan.chain != nil {
            markNodeFailed(hop: 0)
        } else {
            markTargetFailed()
        }
    }

    /// Marks the current node of `hop` as failed (fail marks) and tried (this connection).
    func markNodeFailed(hop: Int) {
        let node = hopNodes[hop]
        service.hops[hop].markFailure(node, now: reactor.now)
        if node < 64 { triedHopNodes[hop] |= 1 << UInt64(node) }
    }

    func markTargetFailed() {
        service.targets.markFailure(targetIndex, now: reactor.now)
        if targetIndex < 64 { triedTargets |= 1 << UInt64(targetIndex) }
    }

    /// Logs the failed attempt as GOST's router does and drops its socket. True when another
    /// attempt may follow (the caller dials again); else the session is closed with `reason`.
    func attemptFailed(_ message: String, _ reason: CloseReason) -> Bool {
        logError { $0.add(.msg, .text("route(retry=\(dialAttempts - 1)) \(message)")) }
        closeUpstream()
        if dialAttempts < service.maxAttempts { return true }
        logError { $0.add(.msg, .text(message)) }
        close(reason)
        return false
    }

    /// Drops the upstream socket of a failed attempt, and any handshake bytes held for it.
    func closeUpstream() {
        if upstreamFD >= 0 {
            Socket.close(upstreamFD)
            upstreamFD = -1
        }
        let resources = reactor.resources
        input.releaseAll(resources)
        output.releaseAll(resources)
        input.dstWritable = false
        output.srcReadable = false
        handshake = nil
        upstreamAddress = nil
    }

    /// The upstream is ready for the client's bytes: every node and the target answered.
    func established() {
        service.targets.markSuccess(targetIndex)
        for (hop, node) in hopNodes.enumerated() { service.hops[hop].markSuccess(node) }
        phase = .relaying
        deadline = 0
        connectedAt = reactor.now
        lastActivity = connectedAt
        logConnected()
        guard prepareFirstWrite() else { return }
        armTimer()
        relay()
    }
}
