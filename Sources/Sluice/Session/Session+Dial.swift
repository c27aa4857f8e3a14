// Session dialing: choose the route (forward target, and a node per chain hop), resolve names on the
// resolver thread, connect without blocking, and on failure mark the node and fail over to another
// one (each at most once per connection, more when `retries` allows) before giving up.
import CSluice
import Glibc

extension Session {
    /// Picks a route and starts connecting to its first address (the first chain node, or the target).
    func dial() {
        let plan = service.plan
        let now = reactor.now
        let key = Selector.hashKey(client.ip)
        guard let target = Self.pick(service.targets, key: key, now: now, tried: &triedTargets) else {
            return noRoute()
        }
        targetIndex = target
        hopNodes.removeAll(keepingCapacity: true)
        if triedHopNodes.count != service.hops.count {
            triedHopNodes = Array(repeating: 0, count: service.hops.count)
        }
        for (i, hop) in service.hops.enumerated() {
            guard let node = Self.pick(hop, key: key, now: now, tried: &triedHopNodes[i]) else { return noRoute() }
            hopNodes.append(node)
        }
        dialAttempts += 1
        deadline = now + plan.dialTimeout
        logRoute()
        if let node = firstNode {
            connect(host: node.host, port: node.port, address: node.address)
        } else {
            let t = plan.targets[target]
            connect(host: t.host, port: t.port, address: t.address)
        }
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

    private func connect(host: String, port: UInt16, address: SocketAddress?) {
        if let address {
            connect(to: address)
        } else if let cached = reactor.resolver.cached(host: host, port: port, now: reactor.now) {
            connect(to: cached)
        } else {
            phase = .resolving
            armTimer()
            reactor.resolver.request(host: host, port: port, reply: reactor.mailbox, slot: slot, generation: generation)
        }
    }

    /// The resolver answered (on this reactor's thread, through its mailbox).
    func resolved(_ address: SocketAddress?) {
        guard phase == .resolving else { return }
        guard let address else {
            let host = firstNode?.host ?? service.plan.targets[targetIndex].host
            return dialFailed("dial tcp \(upstreamText): lookup \(host): no such host", .resolveFailed)
        }
        connect(to: address)
    }

    private func connect(to address: SocketAddress) {
        upstreamAddress = address
        let fd: Int32
        do {
            fd = try Socket.startConnect(to: address)
        } catch {
            let out = error == .tooManyOpenFiles || error == .tooManyOpenFilesInSystem
            return dialFailed(
                "dial tcp \(address): socket: \(error)", out ? .outOfDescriptors : .dialFailed(error))
        }
        Socket.setNoDelay(fd)
        upstreamFD = fd
        upstreamGeneration = reactor.nextGeneration()
        reactor.register(fd, kind: .upstream, slot: slot, generation: upstreamGeneration)
        phase = .connecting
        armTimer()
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

    /// Connecting failed: mark the node that did not answer (the first chain node, else the
    /// target), then fail over or give up.
    func dialFailed(_ message: String, _ reason: CloseReason) {
        if service.plan.chain != nil {
            markNodeFailed(hop: 0)
        } else {
            markTargetFailed()
        }
        retryOrClose(message, reason)
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

    /// Logs the failed attempt as GOST's router does, then dials again while attempts remain.
    func retryOrClose(_ message: String, _ reason: CloseReason) {
        logError { $0.add(.msg, .text("route(retry=\(dialAttempts - 1)) \(message)")) }
        closeUpstream()
        if dialAttempts < service.maxAttempts {
            dial()
            return
        }
        logError { $0.add(.msg, .text(message)) }
        close(reason)
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
