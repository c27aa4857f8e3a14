// Session inbound handshake: the proxy handlers (http, socks4, socks5, auto). The client's bytes
// collect in `input.pending` and are fed to the handler's pure machine (`InboundHandshake`), which
// answers: read more, reply and go on, dial this destination, or refuse. Replies to the client wait
// in `output.pending`. A refusal sends its reply and lingers until the client's EOF.
import CSluice
import Glibc

extension Session {
    /// The most a client may send before its handshake completes: an HTTP request head's cap and
    /// one byte more (so the machine sees the head is too long); SOCKS messages are far shorter.
    static let greetingBufferCap = HTTPInbound.maxHeadLength + 1
    /// The first buffer of a greeting: a SOCKS message or a short HTTP head fits.
    static let greetingBufferSize = 1024
    /// How long a refused client may take to read its reply and close.
    static let lingerTimeout = 2 * nanosecondsPerSecond

    /// Starts the handler's handshake with what the client has sent so far.
    func startGreeting() {
        phase = .greeting
        setDeadline(service.plan.handshakeTimeout)
        armTimer()
        // `auto` names its sub-handler in the log: the accept line waits for the first byte.
        if service.plan.handler != .auto { logAccepted() }
        greet()
    }

    /// Sends pending replies, reads what the client sent and advances the handshake.
    func greet() {
        if service.plan.handler == .metrics { return serveMetrics() }
        let resources = reactor.resources
        if case .writeFailed(let e) = output.flushHeld(to: clientFD, resources) { return close(.clientError(e)) }
        var feed = !input.pending.isEmpty
        while true {
            if feed {
                feed = false
                switch advanceHandshake() {
                case .ended: return
                case .feedAgain:
                    feed = true
                    continue
                case .needMore: break
                }
            }
            guard input.srcReadable else { return }
            if input.pending.base == nil {
                input.pending = .allocate(capacity: Self.greetingBufferSize)
            } else if input.pending.room == 0 {
                guard input.pending.capacity < Self.greetingBufferCap else {
                    // The machines refuse long messages before this; never read without bound.
                    return refuse([], "request larger than \(Self.greetingBufferCap) bytes")
                }
                input.pending.grow(to: min(Self.greetingBufferCap, 2 * input.pending.capacity), resources.buffers)
            }
            let room = input.pending.room
            switch Socket.recv(clientFD, input.pending.base! + input.pending.end, room) {
            case .bytes(let n):
                input.pending.end += n
                input.bytesRead += Int64(n)
                if n < room && !input.srcClosing { input.srcReadable = false }
                feed = true
            case .eof:
                noteInboundProtocol()
                return close(.clientClosedEarly)
            case .wouldBlock: input.srcReadable = false
            case .error(let e):
                noteInboundProtocol()
                return close(.clientError(e))
            }
        }
    }

    /// What one feeding of the handshake led to.
    private enum GreetingProgress { case needMore, feedAgain, ended }

    /// Feeds the unconsumed client bytes to the handshake and carries out its answer.
    private func advanceHandshake() -> GreetingProgress {
        guard let state = inbound else { return .ended }
        let bytes = UnsafeRawBufferPointer(
            start: input.pending.base.map { $0 + input.pending.start }, count: input.pending.count)
        let step = state.handshake.received(bytes)
        noteInboundProtocol()
        switch step {
        case .needMore:
            return .needMore
        case .reply(let reply, let consumed):
            consumeInput(consumed)
            guard sendToClient(reply) else { return .ended }
            return .feedAgain
        case .connect(let destination, let consumed, let user):
            consumeInput(consumed)
            inbound?.user = user
            logRequest(destination)
            dialUpstream(to: destination)
            return .ended
        case .forward(let start):
            consumeInput(start.request.consumed)
            inbound?.user = start.user
            inbound?.forward = HTTPForwardState(start)
            logRequest(start.request.destination)
            dialUpstream(to: start.request.destination)
            return .ended
        case .refuse(let reply, let refusal):
            refuse(reply, "\(refusal)")
            return .ended
        }
    }

    /// Drops `count` handshake bytes from the front of what the client sent.
    private func consumeInput(_ count: Int) {
        input.pending.start += min(count, input.pending.count)
        if input.pending.isEmpty { input.pending.release(to: reactor.resources.buffers) }
    }

    /// Queues `bytes` for the client and writes what the socket takes; false if the session closed.
    private func sendToClient(_ bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty else { return true }
        let resources = reactor.resources
        let held = bytes.withUnsafeBytes { output.hold($0.baseAddress!, $0.count, resources) }
        guard held else {
            close(.requestRefused)
            return false
        }
        if case .writeFailed(let e) = output.flushHeld(to: clientFD, resources) {
            close(.clientError(e))
            return false
        }
        return true
    }

    /// For `auto`: once the first byte chose the protocol, the log names it, and the accept line
    /// (held back until then) is written.
    private func noteInboundProtocol() {
        guard service.plan.handler == .auto, handlerText == nil else { return }
        let detected = inbound?.handshake.inboundProtocol
        handlerText = detected.map { inboundProtocolTexts[$0] } ?? service.handlerText
        logAccepted()
    }

    /// The client broke its handshake: log why, answer (if the protocol has an answer) and close.
    private func refuse(_ reply: [UInt8], _ why: String) {
        reactor.logger.log(.warning) { line in
            addConnectionFields(&line)
            line.add(.msg, .text(why))
        }
        closeAfterReply(reply, .requestRefused)
    }

    /// The client did not complete its handshake in time.
    func greetingDeadlinePassed() {
        noteInboundProtocol()
        close(.requestTimeout)
    }

    /// Sends `reply` to the client, shuts the write side and lingers until the client's EOF (or
    /// `lingerTimeout`), then closes with `reason`. Reading what the client still sends keeps the
    /// close from becoming a reset that would destroy the reply before the client reads it.
    func closeAfterReply(_ reply: [UInt8], _ reason: CloseReason) {
        guard sendToClient(reply) else { return }
        phase = .lingering(reason)
        setDeadline(Self.lingerTimeout)
        armTimer()
        linger()
    }

    /// Finishes the reply, then reads and drops what the client sends until its EOF.
    func linger() {
        guard case .lingering(let reason) = phase else { return }
        let resources = reactor.resources
        switch output.flushHeld(to: clientFD, resources) {
        case .blocked: return
        case .writeFailed: return close(reason)
        default: break
        }
        if !output.shutdownSent {
            Socket.shutdownWrite(clientFD)
            output.shutdownSent = true
        }
        input.pending.release(to: resources.buffers)
        while input.srcReadable {
            switch Socket.recv(clientFD, resources.scratch, resources.scratchSize) {
            case .bytes(let n): input.bytesRead += Int64(n)
            case .wouldBlock: input.srcReadable = false
            case .eof, .error: return close(reason)
            }
        }
    }
}

/// The `handler` log field of auto's sub-handlers, escaped once.
let inboundProtocolTexts: [InboundProtocol: LogText] = Dictionary(
    uniqueKeysWithValues: InboundProtocol.allCases.map { ($0, LogText($0.rawValue)) })
