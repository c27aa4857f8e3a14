// Session chain handshakes: once the first chain node answers TCP, its PROXY header (if it wants
// one) and the connector handshakes (HTTP CONNECT, SOCKS5) open the tunnel hop by hop, the last
// hop to the target. The requests wait in `tunnel.requests`, the replies in `tunnel.replies`.
import CSluice
import Glibc

extension Session {
    /// The first node answered TCP: send its PROXY header (if set) and the first connector request.
    func startChainHandshake() {
        guard let chain = service.plan.chain else { return upstreamReady() }
        noteFirstNodeConnected()
        var steps: [ChainHandshake.Step] = []
        for (hop, index) in dial.hopNodes.enumerated() {
            let node = chain.hops[hop].nodes[index]
            let next =
                hop + 1 < dial.hopNodes.count
                ? chain.hops[hop + 1].nodes[dial.hopNodes[hop + 1]].destination.text : target.text
            steps.append(
                .init(
                    connector: node.connector, target: next, auth: node.auth, headers: node.headers, nodeName: node.name
                ))
        }
        var handshake = ChainHandshake(steps: steps)
        let request = handshake.begin()
        let pool = reactor.resources.buffers
        dial.releaseBuffers(reactor.resources)
        let tunnel = ChainTunnel(handshake)
        dial.tunnel = tunnel
        let first = chain.hops[0].nodes[dial.hopNodes[0]]
        tunnel.requests = .lease(from: pool)
        if first.proxyProtocol > 0 {
            // GOST's dialer writes the header first, then the connector talks (wire order matters).
            tunnel.requests.end = writeProxyHeader(version: first.proxyProtocol, into: tunnel.requests.base!)
        }
        // The plan bounds every request (`HTTPConnect.maxRequestLength`); check the copy anyway.
        guard request.count <= tunnel.requests.room else {
            return chainHandshakeFailed("proxy request of \(request.count) bytes is too large", step: 0)
        }
        request.withUnsafeBytes {
            (tunnel.requests.base! + tunnel.requests.end).copyMemory(from: $0.baseAddress!, byteCount: $0.count)
        }
        tunnel.requests.end += request.count
        dial.step = .handshaking
        setDeadline(first.connectTimeout ?? service.plan.dialTimeout)
        armTimer()
        continueChainHandshake()
    }

    /// Writes pending handshake bytes and reads the node's replies.
    func continueChainHandshake() {
        guard let tunnel = dial.tunnel, flushRequests(tunnel) else { return }
        let pool = reactor.resources.buffers
        while output.srcReadable {
            if tunnel.replies.base == nil { tunnel.replies = .lease(from: pool) }
            let room = tunnel.replies.room
            guard room > 0 else {
                return chainHandshakeFailed("proxy reply too large", step: tunnel.handshake?.current ?? 0)
            }
            switch Socket.recv(upstreamFD, tunnel.replies.base! + tunnel.replies.end, room) {
            case .bytes(let n):
                tunnel.replies.end += n
                output.bytesRead += Int64(n)
                if !processReplies(tunnel) { return }
            case .eof:
                return chainHandshakeFailed(
                    "connection closed by \(upstreamText)", step: tunnel.handshake?.current ?? 0)
            case .wouldBlock: output.srcReadable = false
            case .error(let e):
                return chainHandshakeFailed("read \(upstreamText): \(e)", step: tunnel.handshake?.current ?? 0)
            }
        }
    }

    /// Writes what `tunnel.requests` holds while the upstream takes it; false when the handshake
    /// failed (and was handled).
    private func flushRequests(_ tunnel: ChainTunnel) -> Bool {
        while !tunnel.requests.isEmpty && input.dstWritable {
            input.willWrite(to: upstreamFD)
            switch tunnel.requests.sendOnce(to: upstreamFD) {
            case .bytes: continue
            case .wouldBlock, .eof: input.dstWritable = false
            case .error(let e):
                chainHandshakeFailed("write \(upstreamText): \(e)", step: tunnel.handshake?.current ?? 0)
                return false
            }
        }
        if tunnel.requests.isEmpty { tunnel.requests.release(to: reactor.resources.buffers) }
        return true
    }

    /// Feeds the received bytes to the handshake; false when the handshake phase ended.
    private func processReplies(_ tunnel: ChainTunnel) -> Bool {
        let pool = reactor.resources.buffers
        while var handshake = tunnel.handshake {
            let received = UnsafeRawBufferPointer(
                start: tunnel.replies.base! + tunnel.replies.start, count: tunnel.replies.count)
            let event = handshake.received(received)
            tunnel.handshake = handshake
            switch event {
            case .needMore:
                return true
            case .send(let bytes, let consumed):
                tunnel.replies.start += consumed
                if tunnel.requests.base == nil { tunnel.requests = .lease(from: pool) }
                guard bytes.count <= tunnel.requests.room else {
                    chainHandshakeFailed("proxy request of \(bytes.count) bytes is too large", step: handshake.current)
                    return false
                }
                bytes.withUnsafeBytes {
                    (tunnel.requests.base! + tunnel.requests.end).copyMemory(from: $0.baseAddress!, byteCount: $0.count)
                }
                tunnel.requests.end += bytes.count
                guard flushRequests(tunnel) else { return false }
            case .established(let consumed):
                tunnel.replies.start += consumed
                if tunnel.replies.isEmpty { tunnel.replies.release(to: pool) }
                // What followed the last reply is the target's first bytes: they stay in
                // `tunnel.replies` and reach the client first.
                tunnel.handshake = nil
                upstreamReady()
                return false
            case .failed(let reason, let step):
                chainHandshakeFailed(reason, step: step)
                return false
            }
        }
        return false
    }

    /// A hop refused or broke the handshake. The node that answered is marked (and not tried again
    /// in this connection), so failover moves to another node of its hop; so is what it could not
    /// reach: the next hop's node, or the forward target after the last hop.
    func chainHandshakeFailed(_ reason: String, step: Int) {
        guard let chain = service.plan.chain, step < dial.hopNodes.count else {
            return dialGaveUp("chain: \(reason)", .handshakeFailed)
        }
        let node = chain.hops[step].nodes[dial.hopNodes[step]]
        markNodeFailed(hop: step)
        if step + 1 < dial.hopNodes.count {
            markNodeFailed(hop: step + 1)
            noteChainError()
        } else {
            markTargetFailed()
        }
        if attemptFailed("\(node.name)@\(node.text): \(reason)", .handshakeFailed) { dialNextAttempt() }
    }
}
