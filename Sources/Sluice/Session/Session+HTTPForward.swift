// Session plain HTTP proxying: absolute-form requests (`GET http://host/path`) after the first.
// The client's bytes go through `HTTPForwardStream` (heads rewritten to origin form, bodies passed
// through, pipelined requests kept in order) and the upstream's through `HTTPResponseFraming` (which
// finds where each response ends), so a keep-alive connection can carry many requests, redial when
// the host changes, and turn into a tunnel after a 101.
import CSluice
import Glibc

/// The state of a plain HTTP proxy connection between its requests and responses.
struct HTTPForwardState {
    /// Why the client is not being read.
    enum Waiting: Equatable {
        case none
        /// The next request goes elsewhere: once every response is relayed, redial.
        case redial(HTTPForwardedRequest)
        /// An upgrade was asked for: the upstream's answer decides.
        case upgrade
        /// The client sent its last request: close once every response is relayed.
        case end
        /// A malformed request: once every response is relayed, send this and close.
        case refuse([UInt8])
    }

    var stream: HTTPForwardStream
    var framing = HTTPResponseFraming()
    /// The request whose head opens the next upstream connection.
    var next: HTTPForwardedRequest
    /// Client bytes the stream has not taken yet.
    var client = PendingBytes()
    /// Bytes at the front of `output.pending` that the framing has passed (they may go to the client).
    var passed = 0
    var waiting = Waiting.none
    /// The upstream closed between responses: the next request redials even to the same host.
    var upstreamGone = false

    init(_ start: HTTPForwardStart) {
        stream = start.stream
        next = start.request
    }
}

extension Session {
    /// The most requests a client may have sent upstream and not yet had answered.
    static let maxPipelined = 32

    /// What one pass over a forwarding connection asks for.
    private enum HTTPRelayAction {
        case wait
        case yield
        case close(CloseReason)
        case redial(HTTPForwardedRequest)
        case refuse([UInt8])
        case tunnel
    }

    /// The first write of a new upstream connection: the request that opened it (its head), with
    /// the client's early bytes kept for the stream machine rather than sent raw.
    func prepareHTTPForwardWrite() {
        guard var forward = inbound?.forward else { return }
        let pool = reactor.resources.buffers
        if !input.pending.isEmpty {
            if forward.client.isEmpty {
                forward.client.release(to: pool)
                forward.client = input.pending
            } else {
                // A redial: the client buffer already holds what follows; nothing else waits here.
                input.pending.release(to: pool)
            }
            input.pending = PendingBytes()
        }
        input.pending.release(to: pool)
        forward.next.head.withUnsafeBytes { input.pending.prepend($0, pool) }
        forward.framing.requestSent(forward.next)
        inbound?.forward = forward
    }

    /// Relays a forwarding connection until it blocks; carries out what the machines ask for.
    func relayHTTP() {
        guard var forward = inbound?.forward else { return relay() }
        inbound?.forward = nil
        let before = input.bytesRead &+ output.bytesRead
        let action = pumpHTTP(&forward)
        if input.bytesRead &+ output.bytesRead != before { lastActivity = reactor.now }
        let pool = reactor.resources.buffers
        switch action {
        case .wait:
            inbound?.forward = forward
        case .yield:
            inbound?.forward = forward
            if !queued {
                queued = true
                reactor.enqueue(self)
            }
        case .close(let reason):
            forward.client.release(to: pool)
            close(reason)
        case .refuse(let reply):
            forward.client.release(to: pool)
            closeUpstream()
            closeAfterReply(reply, .requestRefused)
        case .tunnel:
            // 101: from here on both directions are relayed untouched.
            if !forward.client.isEmpty {
                let resources = reactor.resources
                let moved = input.hold(forward.client.base! + forward.client.start, forward.client.count, resources)
                forward.client.release(to: pool)
                guard moved else { return close(.requestRefused) }
            }
            forward.client.release(to: pool)
            relay()
        case .redial(let request):
            forward.next = request
            forward.framing = HTTPResponseFraming()
            forward.passed = 0
            forward.waiting = .none
            forward.upstreamGone = false
            inbound?.forward = forward
            logRelayEnded(now: reactor.now)
            closeUpstream()
            output.eof = false
            input.eof = false
            dial.attempts = 0
            dial.triedHopNodes.removeAll(keepingCapacity: true)
            dialUpstream(to: request.destination)
        }
    }

    /// One pass: responses to the client, requests to the upstream, until nothing moves.
    private func pumpHTTP(_ forward: inout HTTPForwardState) -> HTTPRelayAction {
        let resources = reactor.resources
        var budget = resources.budget
        var moved = true
        while moved {
            moved = false
            // Upstream → client: relay what the framing passed, read more, frame it.
            switch relayResponses(&forward, &budget, &moved) {
            case .wait: break
            case let other: return other
            }
            // Client → upstream: write what is queued, then read and frame the next requests.
            switch input.flushHeld(to: upstreamFD, resources) {
            case .writeFailed(let e): return .close(.upstreamError(e))
            case .blocked: continue
            default: break
            }
            switch forward.waiting {
            case .none:
                switch forwardRequests(&forward, &budget, &moved) {
                case .wait: break
                case let other: return other
                }
            case .redial(let request):
                if responsesRelayed(forward) { return .redial(request) }
            case .end:
                if responsesRelayed(forward) { return .close(.done) }
            case .refuse(let reply):
                if responsesRelayed(forward) { return .refuse(reply) }
            case .upgrade: break
            }
            if budget <= 0 { return .yield }
        }
        return .wait
    }

    /// Every response asked for has reached the client.
    private func responsesRelayed(_ forward: HTTPForwardState) -> Bool {
        forward.framing.pendingResponses == 0 && output.pending.isEmpty
    }

    private func relayResponses(
        _ forward: inout HTTPForwardState, _ budget: inout Int, _ moved: inout Bool
    ) -> HTTPRelayAction {
        let pool = reactor.resources.buffers
        // 1. The passed bytes go to the client.
        while forward.passed > 0 && output.dstWritable {
            output.willWrite(to: clientFD)
            switch Socket.send(clientFD, output.pending.base! + output.pending.start, forward.passed) {
            case .bytes(let n):
                output.pending.start += n
                output.bytesWritten += Int64(n)
                forward.passed -= n
                moved = true
            case .wouldBlock, .eof: output.dstWritable = false
            case .error(let e): return .close(.clientError(e))
            }
        }
        if output.pending.isEmpty { output.pending.release(to: pool) }
        // 2. Read what the upstream sent (only while the client takes it: bounded by one buffer).
        if output.srcReadable && !output.eof && budget > 0 {
            if output.pending.base == nil { output.pending = .lease(from: pool) }
            if output.pending.room == 0 { output.pending.compact() }
            if output.pending.room > 0 {
                let room = output.pending.room
                switch Socket.recv(upstreamFD, output.pending.base! + output.pending.end, room) {
                case .bytes(let n):
                    output.pending.end += n
                    output.bytesRead += Int64(n)
                    budget -= n
                    if n < room && !output.srcClosing { output.srcReadable = false }
                    moved = true
                case .eof: output.eof = true
                case .wouldBlock: output.srcReadable = false
                case .error(let e): return .close(.upstreamError(e))
                }
            }
        }
        // 3. Frame what has not been looked at yet.
        while output.pending.count > forward.passed {
            let unexamined = UnsafeRawBufferPointer(
                start: output.pending.base! + output.pending.start + forward.passed,
                count: output.pending.count - forward.passed)
            switch forward.framing.received(unexamined) {
            case .needMore:
                if output.pending.room == 0 && output.pending.start == 0 && forward.passed == 0 {
                    return .close(.upstreamError(Errno(EMSGSIZE)))  // a head larger than a buffer
                }
                return output.eof ? upstreamEnded(&forward, &moved) : .wait
            case .relay(let n):
                forward.passed += n
                moved = true
            case .responseEnded(let n):
                forward.passed += n
                moved = true
            case .upgradeDeclined(let n):
                forward.passed += n
                forward.stream.upgradeDeclined()
                if forward.waiting == .upgrade { forward.waiting = .none }
                moved = true
            case .switchedProtocols(let n):
                forward.passed += n
                forward.stream.upgradeAccepted()
                forward.waiting = .none
                return .tunnel
            case .invalid(let error):
                logError { $0.add(.msg, .text("\(error)")) }
                return .close(.upstreamError(Errno(EPROTO)))
            }
        }
        return output.eof ? upstreamEnded(&forward, &moved) : .wait
    }

    /// The upstream closed its side: a response that runs until close ends here (the client learns
    /// it by the close); between responses, the next request redials.
    private func upstreamEnded(_ forward: inout HTTPForwardState, _ moved: inout Bool) -> HTTPRelayAction {
        guard forward.framing.pendingResponses > 0 else {
            forward.upstreamGone = true
            return .wait
        }
        if output.pending.isEmpty { return .close(.done) }
        // A body until close, or a response cut short: finish writing what came, then close.
        if forward.passed != output.pending.count {
            forward.passed = output.pending.count
            moved = true
        }
        return .wait
    }

    private func forwardRequests(
        _ forward: inout HTTPForwardState, _ budget: inout Int, _ moved: inout Bool
    ) -> HTTPRelayAction {
        let resources = reactor.resources
        let pool = resources.buffers
        // Only with nothing queued for the upstream: then whatever one pass adds (at most the
        // client buffer, plus a little per rewritten head) fits one pool buffer. Pipelining is
        // bounded too: past `maxPipelined` unanswered requests the client waits.
        guard input.pending.isEmpty, forward.framing.pendingResponses < Self.maxPipelined else { return .wait }
        // The stream is fed even with nothing new: after a request it may already know it was the
        // last (`Connection: close`, HTTP/1.0), which must end the connection without more bytes.
        var fed = true
        while true {
            if fed {
                fed = false
                let bytes = UnsafeRawBufferPointer(
                    start: forward.client.base.map { $0 + forward.client.start }, count: forward.client.count)
                let step = forward.stream.received(bytes)
                var taken = 0
                switch step {
                case .needMore: break
                case .forward(let count):
                    taken = count
                    guard input.hold(bytes.baseAddress!, count, resources) else { return .close(.requestRefused) }
                case .request(let request):
                    taken = request.consumed
                    if forward.upstreamGone {
                        forward.waiting = .redial(request)
                    } else {
                        let held = request.head.withUnsafeBytes { input.hold($0.baseAddress!, $0.count, resources) }
                        guard held else { return .close(.requestRefused) }
                        forward.framing.requestSent(request)
                    }
                case .redial(let request):
                    taken = request.consumed
                    forward.waiting = .redial(request)
                case .awaitUpgrade: forward.waiting = .upgrade
                case .end: forward.waiting = .end
                case .refuse(let reply, let refusal):
                    logError { $0.add(.msg, .text("\(refusal)")) }
                    forward.waiting = .refuse(reply)
                case .close(let error):
                    logError { $0.add(.msg, .text("\(error)")) }
                    return .close(.requestRefused)
                }
                forward.client.start += min(taken, forward.client.count)
                if forward.client.isEmpty { forward.client.release(to: pool) }
                if taken > 0 { moved = true }
                if forward.waiting != .none {
                    moved = true  // the caller checks at once whether the wait is already over
                    return .wait
                }
                if taken > 0 {
                    fed = true  // the machine's contract: feed the rest at once, even if empty
                    if input.pending.count >= pool.bufferSize / 2 { return .wait }
                    continue
                }
            }
            // Read more of the client.
            guard input.srcReadable, !input.eof, budget > 0 else { break }
            if forward.client.base == nil {
                forward.client = .allocate(capacity: Self.greetingBufferSize)
            } else if forward.client.room == 0 {
                if forward.client.start > 0 {
                    forward.client.compact()
                } else if forward.client.capacity < Self.greetingBufferCap {
                    forward.client.grow(to: min(Self.greetingBufferCap, 2 * forward.client.capacity), pool)
                } else {
                    return .close(.requestRefused)  // the stream refuses long heads before this
                }
            }
            let room = forward.client.room
            switch Socket.recv(clientFD, forward.client.base! + forward.client.end, room) {
            case .bytes(let n):
                forward.client.end += n
                input.bytesRead += Int64(n)
                budget -= n
                if n < room && !input.srcClosing { input.srcReadable = false }
                fed = true
                moved = true
            case .eof:
                input.eof = true
                // The client is done: once the responses it asked for are relayed, close.
                forward.waiting = .end
                moved = true
                return .wait
            case .wouldBlock: input.srcReadable = false
            case .error(let e): return .close(.clientError(e))
            }
        }
        return .wait
    }
}
