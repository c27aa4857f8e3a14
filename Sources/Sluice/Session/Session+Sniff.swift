// Session sniffing: the optional PROXY header at the start of a connection (`proxyProtocol=1`).
// Bytes are read into a small buffer of the session's own (grown up to the parser's cap) and parsed
// as they arrive; the first byte that rules a header out ends the phase at once. A header's source
// becomes the client; bytes after it are payload, kept in order in `input.pending`. An invalid
// header closes the connection before anything is dialled. A silent client (server-speaks-first)
// is served as plain when the deadline passes.
import CSluice
import Glibc

extension Session {
    /// The first buffer a sniffing connection gets: every common header (v1 ≤ 107 bytes, v2 with
    /// addresses and the usual TLVs) fits, so a connection still sending its header costs this
    /// much; a longer v2 header grows it, never past the parser's cap.
    static let sniffBufferSize = 512

    /// Room kept in front of the received bytes for the PROXY header this service sends, so the
    /// header and the early bytes leave in one write without another buffer.
    var sendHeaderRoom: Int { service.plan.sendProxyProtocol > 0 ? Self.maxSentHeaderLength : 0 }

    /// Reads what the client has sent and decides, as soon as the bytes allow, what they are.
    func sniff() {
        guard let parser = service.parser else { return }
        // Never read past the longest possible header: the rest stays in the socket.
        let cap = parser.maxHeaderLength
        let headroom = sendHeaderRoom
        while input.srcReadable {
            if input.pending.base == nil {
                input.pending = .allocate(capacity: headroom + min(cap, Self.sniffBufferSize))
                input.pending.start = headroom
                input.pending.end = headroom
            }
            let wanted = headroom + cap - input.pending.end
            guard wanted > 0 else { return }
            if input.pending.room == 0 {
                input.pending.grow(
                    to: headroom + min(cap, 2 * (input.pending.capacity - headroom)), reactor.resources.buffers)
            }
            let room = min(input.pending.room, wanted)
            switch Socket.recv(clientFD, input.pending.base! + input.pending.end, room) {
            case .bytes(let n):
                input.pending.end += n
                // A short read drained the socket (edge-triggered: the next bytes are a new event).
                if n < room && !input.srcClosing { input.srcReadable = false }
                if decide(parser, headroom: headroom) { return }
            case .eof: return clientClosedWhileSniffing(headroom: headroom)
            case .wouldBlock: input.srcReadable = false
            case .error(let e):
                logAccepted()
                return close(.clientError(e))
            }
        }
    }

    /// Parses the bytes so far; true when the sniff phase is over.
    private func decide(_ parser: ProxyParser, headroom: Int) -> Bool {
        let bytes = UnsafeRawBufferPointer(start: input.pending.base! + headroom, count: input.pending.end - headroom)
        switch parser.parse(bytes) {
        case .needMore:
            return false
        case .notProxy:
            noteProxyHeader(.none)
            if service.plan.receive!.required {
                rejectHeader("proxy protocol: no header from a peer that must send one", .headerMissing)
            } else {
                finishSniffing()
            }
        case .header(let header, let consumed):
            noteProxyHeader(header.version == .v1 ? .v1 : .v2)
            input.pending.start = headroom + consumed
            if service.plan.handler == .info { proxyHeader = ReceivedProxyHeader(header) }
            if let source = header.source, let target = header.destination {
                client = source.unmapped
                originalDestination = target.unmapped
            }
            finishSniffing()
        case .invalid(let error):
            noteProxyHeader(.invalid)
            rejectHeader("proxy protocol: \(error)", .headerInvalid)
        }
        return true
    }

    /// The header question is settled: what is left in the buffer is payload; go on to the handler.
    private func finishSniffing() {
        input.bytesRead += Int64(input.pending.count)
        if input.pending.isEmpty { input.pending.release(to: reactor.resources.buffers) }
        deadline = 0
        startHandler()
    }

    /// The header deadline passed with nothing decided: the client sent nothing or only a prefix of
    /// a signature. Optional mode serves it as plain (as GOST); required mode closes it.
    func headerDeadlinePassed() {
        noteProxyHeader(.none)
        if service.plan.receive!.required {
            rejectHeader("proxy protocol: no complete header within the deadline", .headerTimeout)
        } else {
            finishSniffing()
        }
    }

    /// The client closed before the question was settled. Nothing at all is a probe (a TCP health
    /// check), not an error; part of a signature is a truncated header.
    private func clientClosedWhileSniffing(headroom: Int) {
        noteProxyHeader(input.pending.end <= headroom ? .none : .invalid)
        if input.pending.end <= headroom {
            logAccepted()
            close(.clientClosedEarly)
        } else {
            rejectHeader("proxy protocol: connection closed inside the header", .headerInvalid)
        }
    }

    private func rejectHeader(_ message: String, _ reason: CloseReason) {
        logAccepted()
        reactor.logger.log(.warning) { line in
            addConnectionFields(&line)
            line.add(.msg, .text(message))
        }
        close(reason)
    }
}
