// Session preambles: what goes to the upstream before the client's bytes. Through a chain: the
// first node's PROXY header (if it wants one) and the connector handshakes, hop by hop. Then, to
// the target: its PROXY header (`handler.proxyProtocol`), in one write with the first payload.
import CSluice
import Glibc

extension Session {
    // MARK: - Chain handshake

    /// The first node answered TCP: send its PROXY header (if set) and the first connector request.
    func startHandshake() {
        let chain = service.plan.chain!
        var steps: [ChainHandshake.Step] = []
        for (hop, index) in hopNodes.enumerated() {
            let node = chain.hops[hop].nodes[index]
            let next: String
            if hop + 1 < hopNodes.count {
                let nextNode = chain.hops[hop + 1].nodes[hopNodes[hop + 1]]
                next = Self.authority(host: nextNode.host, port: nextNode.port, address: nextNode.address)
            } else {
                let target = service.plan.targets[targetIndex]
                next = Self.authority(host: target.host, port: target.port, address: target.address)
            }
            steps.append(
                .init(
                    connector: node.connector, target: next, auth: node.auth, headers: node.headers, nodeName: node.name
                ))
        }
        var chainHandshake = ChainHandshake(steps: steps)
        let request = chainHandshake.begin()
        handshake = chainHandshake
        let first = chain.hops[0].nodes[hopNodes[0]]
        var held = PendingBytes.lease(from: reactor.resources.buffers)
        if first.proxyProtocol > 0 {
            // GOST's dialer writes the header first, then the connector talks (wire order matters).
            held.end = writeProxyHeader(version: first.proxyProtocol, into: held.base!)
        }
        // The plan bounds every request (`HTTPConnect.maxRequestLength`); check the copy anyway.
        guard request.count <= held.room else {
            held.release(to: reactor.resources.buffers)
            return handshakeFailed("proxy request of \(request.count) bytes is too large", step: 0)
        }
        request.withUnsafeBytes { (held.base! + held.end).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        held.end += request.count
        input.pending.release(to: reactor.resources.buffers)
        input.pending = held
        phase = .handshaking
        setDeadline(first.connectTimeout ?? service.plan.dialTimeout)
        armTimer()
        continueHandshake()
    }

    /// "host:port" for a CONNECT or SOCKS5 request: the literal address when there is one (an empty
    /// host means this machine), else the name, unresolved, as GOST passes it on.
    static func authority(host: String, port: UInt16, address: SocketAddress?) -> String {
        if let address { return "\(address)" }
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Writes pending handshake bytes and reads the node's replies.
    func continueHandshake() {
        let resources = reactor.resources
        if case .writeFailed(let e) = input.flushHeld(to: upstreamFD, resources) {
            return handshakeFailed("write \(upstreamText): \(e)", step: handshake?.current ?? 0)
        }
        while output.srcReadable {
            if output.pending.base == nil { output.pending = .lease(from: resources.buffers) }
            let room = output.pending.room
            guard room > 0 else { return handshakeFailed("proxy reply too large", step: handshake!.current) }
            let n = sl_recv(upstreamFD, output.pending.base! + output.pending.end, room)
            if n > 0 {
                output.pending.end += n
                output.bytesRead += Int64(n)
                if !processReplies() { return }
                continue
            }
            if n == 0 { return handshakeFailed("connection closed by \(upstreamText)", step: handshake!.current) }
            let e = Errno.current
            if e == .wouldBlock {
                output.srcReadable = false
            } else if e != .interrupted {
                return handshakeFailed("read \(upstreamText): \(e)", step: handshake!.current)
            }
        }
    }

    /// Feeds the received bytes to the handshake; false when the handshake phase ended.
    private func processReplies() -> Bool {
        let resources = reactor.resources
        while true {
            let received = UnsafeRawBufferPointer(
                start: output.pending.base! + output.pending.start, count: output.pending.count)
            switch handshake!.received(received) {
            case .needMore:
                return true
            case .send(let bytes, let consumed):
                output.pending.start += consumed
                guard bytes.withUnsafeBytes({ input.hold($0.baseAddress!, $0.count, resources) }) else {
                    handshakeFailed("proxy request of \(bytes.count) bytes is too large", step: handshake!.current)
                    return false
                }
                if case .writeFailed(let e) = input.flushHeld(to: upstreamFD, resources) {
                    handshakeFailed("write \(upstreamText): \(e)", step: handshake!.current)
                    return false
                }
            case .established(let consumed):
                output.pending.start += consumed
                if output.pending.isEmpty { output.pending.release(to: resources.buffers) }
                // What followed the last reply is the target's first bytes: they stay held in
                // `output` and reach the client first.
                handshake = nil
                established()
                return false
            case .failed(let reason, let step):
                handshakeFailed(reason, step: step)
                return false
            }
        }
    }

    /// A hop refused or broke the handshake. The node that answered is marked (and not tried again
    /// in this connection), so failover moves to another node of its hop; so is what it could not
    /// reach: the next hop's node, or the target after the last hop.
    func handshakeFailed(_ reason: String, step: Int) {
        let chain = service.plan.chain!
        let node = chain.hops[step].nodes[hopNodes[step]]
        markNodeFailed(hop: step)
        if step + 1 < hopNodes.count {
            markNodeFailed(hop: step + 1)
        } else {
            markTargetFailed()
        }
        if attemptFailed("\(node.name)@\(node.text): \(reason)", .handshakeFailed) { dial() }
    }

    // MARK: - The first write to the target

    /// Puts the target's PROXY header (when `handler.proxyProtocol` is set) and the client's first
    /// bytes in one buffer, so they leave in one write. Returns false if the session closed.
    func prepareFirstWrite() -> Bool {
        let resources = reactor.resources
        // Whatever a chain handshake left unsent is moot now that the tunnel is open.
        input.pending.release(to: resources.buffers)
        let version = service.plan.sendProxyProtocol
        if !early.isEmpty {
            if version > 0 {
                // Sniffing kept `sendHeaderRoom` bytes free in front of the early bytes (`start`
                // never moves back), so the header fits there by construction.
                withUnsafeTemporaryAllocation(byteCount: Self.maxSentHeaderLength, alignment: 1) { scratch in
                    let length = writeProxyHeader(version: version, into: scratch.baseAddress!)
                    precondition(length <= early.start, "sniffing reserves room for the sent header")
                    early.start -= length
                    (early.base! + early.start).copyMemory(from: scratch.baseAddress!, byteCount: length)
                }
            }
            input.pending = early
            early = PendingBytes()
            return true
        }
        early.release(to: resources.buffers)
        guard version > 0 else { return true }
        var first = PendingBytes.lease(from: resources.buffers)
        first.end = writeProxyHeader(version: version, into: first.base!)
        if input.srcReadable {
            // Payload already waiting in the socket joins the header's write.
            let n = sl_recv(clientFD, first.base! + first.end, min(first.room, resources.scratchSize))
            if n > 0 {
                first.end += n
                input.bytesRead += Int64(n)
            } else if n == 0 {
                input.eof = true
            } else if Errno.current == .wouldBlock {
                input.srcReadable = false
            } else if Errno.current != .interrupted {
                first.release(to: resources.buffers)
                close(.clientError(Errno.current))
                return false
            }
        }
        input.pending = first
        return true
    }

    /// The longest header `writeProxyHeader` writes: a v1 line (a v2 block without TLVs is shorter).
    static let maxSentHeaderLength = ProxyEncoder.maxV1Length

    /// Writes a v1 (`version` 1) or v2 (any other value > 0, as GOST) header for the original client
    /// and destination into `base`, which holds at least `maxSentHeaderLength` bytes. Mixed families
    /// are sent as IPv6 with the IPv4 side mapped.
    func writeProxyHeader(version: Int, into base: UnsafeMutableRawPointer) -> Int {
        let buffer = UnsafeMutableRawBufferPointer(start: base, count: Self.maxSentHeaderLength)
        do {
            if version == 1 {
                return try ProxyEncoder.writeV1(source: client, destination: destination, into: buffer)
            }
            return try ProxyEncoder.writeV2(source: client, destination: destination, into: buffer)
        } catch {
            preconditionFailure("a v1 line or a v2 block without TLVs fits in \(Self.maxSentHeaderLength) bytes")
        }
    }
}
