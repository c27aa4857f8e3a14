// Session first write: the upstream is ready. What goes to it first — the target's PROXY header
// (`handler.proxyProtocol`), an absolute-form HTTP request rewritten for the origin, then the
// client's early bytes — leaves in one write; what goes to the client first — the handler's success
// reply, then the target's first bytes from the chain handshake — likewise. Then the relay starts.
import CSluice
import Glibc

extension Session {
    /// The most a forwarder reads before it dials (`readEarlyBytes`), held while the dial lasts.
    static let earlyReadLimit = 16 * 1024

    /// The longest header `writeProxyHeader` writes: a v1 line (a v2 block without TLVs is shorter).
    static let maxSentHeaderLength = ProxyEncoder.maxV1Length

    /// Whether bytes go to the upstream the moment its connect completes: a chain's first request,
    /// the target's PROXY header, a proxy client's HTTP request, or client bytes already read.
    var firstWriteWaiting: Bool {
        service.plan.chain != nil || service.plan.sendProxyProtocol > 0 || !input.pending.isEmpty
            || inbound?.forward != nil
    }

    /// A forwarder reads what the client already sent before it dials, so those bytes are in hand
    /// when the connect completes (`firstWriteWaiting`: the handshake's last ACK rides on them).
    /// Nothing waits for bytes that are not there: a client that has not spoken yet (a protocol
    /// where the server speaks first) is dialled at once, and its bytes are relayed when they come.
    /// At most `earlyReadLimit` bytes are taken: a request's first flight fits, and a client that
    /// uploads at once leaves the rest in its socket until the upstream is there. Returns false if
    /// the session closed.
    func readEarlyBytes() -> Bool {
        guard input.srcReadable, input.pending.isEmpty else { return true }
        let resources = reactor.resources
        let limit = min(Self.earlyReadLimit, resources.scratchSize)
        switch Socket.recv(clientFD, resources.scratch, limit) {
        case .bytes(let n):
            input.bytesRead += Int64(n)
            if n < limit && !input.srcClosing { input.srcReadable = false }
            // A buffer of the session's own, the bytes' size: a dial can take seconds, and a pool
            // buffer per waiting connection would cost 64 KiB each.
            let headroom = sendHeaderRoom
            input.pending.release(to: resources.buffers)
            input.pending = .allocate(capacity: headroom + n)
            input.pending.start = headroom
            input.pending.end = headroom + n
            (input.pending.base! + headroom).copyMemory(from: resources.scratch, byteCount: n)
        case .eof: input.eof = true
        case .wouldBlock: input.srcReadable = false
        case .error(let e):
            close(.clientError(e))
            return false
        }
        return true
    }

    /// The upstream is ready for the client's bytes: every node and the target answered.
    func upstreamReady() {
        if dial.requested == nil { service.targets.markSuccess(dial.targetIndex) }
        for (hop, node) in dial.hopNodes.enumerated() { service.hops[hop].markSuccess(node) }
        let pool = reactor.resources.buffers
        dial.step = .idle
        dial.tunnel?.requests.release(to: pool)
        phase = .relaying
        deadline = 0
        connectedAt = reactor.now
        lastActivity = connectedAt
        logConnected()
        // To the client, in order: what the handshake still had to say, the handler's success
        // reply, then the target's bytes that followed the last chain reply.
        let reply = inbound?.handshake.successReply(bound: nil) ?? []
        if output.pending.isEmpty {
            output.pending.release(to: pool)
            if let tunnel = dial.tunnel, !tunnel.replies.isEmpty {
                output.pending = tunnel.replies
                tunnel.replies = PendingBytes()
            }
            reply.withUnsafeBytes { output.pending.prepend($0, pool) }
        } else {
            let resources = reactor.resources
            var fits = reply.withUnsafeBytes { $0.isEmpty || output.hold($0.baseAddress!, $0.count, resources) }
            if fits, let tunnel = dial.tunnel, !tunnel.replies.isEmpty {
                fits = output.hold(tunnel.replies.base! + tunnel.replies.start, tunnel.replies.count, resources)
            }
            guard fits else { return close(.clientError(Errno(ENOBUFS))) }
        }
        dial.tunnel?.replies.release(to: pool)
        guard prepareFirstWrite() else { return }
        armTimer()
        relay()
    }

    /// Puts the target's PROXY header (when `handler.proxyProtocol` is set) and a rewritten HTTP
    /// request head in front of the client's early bytes, so they leave in one write. With nothing
    /// early, payload already waiting in the socket joins the header. Returns false if the session
    /// closed.
    func prepareFirstWrite() -> Bool {
        let pool = reactor.resources.buffers
        if inbound?.forward != nil { prepareHTTPForwardWrite() }
        let version = service.plan.sendProxyProtocol
        guard version > 0 else { return true }
        if !input.pending.isEmpty {
            // Sniffing kept `sendHeaderRoom` bytes free in front of a forwarder's early bytes, so
            // the header usually goes in place; `prepend` makes room otherwise.
            withUnsafeTemporaryAllocation(byteCount: Self.maxSentHeaderLength, alignment: 1) { scratch in
                let length = writeProxyHeader(version: version, into: scratch.baseAddress!)
                input.pending.prepend(UnsafeRawBufferPointer(rebasing: scratch[..<length]), pool)
            }
            return true
        }
        input.pending.release(to: pool)
        var first = PendingBytes.lease(from: pool)
        first.end = writeProxyHeader(version: version, into: first.base!)
        if input.srcReadable {
            // Payload already waiting in the socket joins the header's write.
            switch Socket.recv(clientFD, first.base! + first.end, min(first.room, reactor.resources.scratchSize)) {
            case .bytes(let n):
                first.end += n
                input.bytesRead += Int64(n)
            case .eof: input.eof = true
            case .wouldBlock: input.srcReadable = false
            case .error(let e):
                first.release(to: pool)
                close(.clientError(e))
                return false
            }
        }
        input.pending = first
        return true
    }

    /// Writes a v1 (`version` 1) or v2 (any other value > 0, as GOST) header for the original client
    /// and destination into `base`, which holds at least `maxSentHeaderLength` bytes. Mixed families
    /// are sent as IPv6 with the IPv4 side mapped.
    func writeProxyHeader(version: Int, into base: UnsafeMutableRawPointer) -> Int {
        noteProxyHeaderSent(version: version)
        let buffer = UnsafeMutableRawBufferPointer(start: base, count: Self.maxSentHeaderLength)
        do {
            if version == 1 {
                return try ProxyEncoder.writeV1(source: client, destination: originalDestination, into: buffer)
            }
            return try ProxyEncoder.writeV2(source: client, destination: originalDestination, into: buffer)
        } catch {
            preconditionFailure("a v1 line or a v2 block without TLVs fits in \(Self.maxSentHeaderLength) bytes")
        }
    }
}
