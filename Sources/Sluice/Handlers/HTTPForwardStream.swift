// HTTPForwardStream: the client side of a plain HTTP proxy connection after its first head, as a pure
// machine: it passes request bodies through unchanged (finding their ends), and turns each following
// request head into "same upstream" or "redial", keeping pipelined requests in order.

/// What to do with the client's next bytes on a forwarding connection.
public enum HTTPForwardStep: Equatable, Sendable {
    /// Nothing to do until more bytes arrive.
    case needMore
    /// Send the first `count` bytes to the current upstream unchanged and drop them (request body).
    case forward(count: Int)
    /// A request for the current upstream: drop `request.consumed` bytes, send `request.head` upstream,
    /// and tell the upstream's `HTTPResponseFraming` (`requestSent`).
    case request(HTTPForwardedRequest)
    /// A request for another destination: stop reading the client; once the current upstream's
    /// `HTTPResponseFraming` has no response pending, close that upstream, dial `request.destination`
    /// (on failure send `failureReply` and close), and go on as for `.request`.
    case redial(HTTPForwardedRequest)
    /// The last request asked to switch protocols: stop reading the client until the upstream answers;
    /// then call `upgradeAccepted()` (101: relay both ways untouched) or `upgradeDeclined()`.
    case awaitUpgrade
    /// The client has sent its last request (`Connection: close`, or HTTP/1.0 without keep-alive):
    /// stop reading it, relay the pending responses, then close.
    case end
    /// A malformed request head: once the pending responses are relayed, send these bytes, then close.
    case refuse([UInt8], InboundRefusal)
    /// A malformed request body, already partly relayed: close both sides now.
    case close(HTTPBodyError)
}

/// The client's byte stream on a forwarding connection, after the first request head.
///
/// Feeding contract as for `HandshakeStep`: pass all unconsumed client bytes; after `.forward`,
/// `.request` or `.redial`, drop what it says and feed the rest at once (it may hold pipelined requests).
/// Only the first request is authenticated (connection-level, as GOST); later requests must also be
/// absolute-form `http://` and are rewritten the same way. CONNECT after forwarded requests is refused
/// (400): the connection is already bound to request/response framing.
public struct HTTPForwardStream: Equatable, Sendable {
    enum State: Equatable, Sendable {
        /// Relaying a request body; then `after`.
        case body(HTTPBodyFraming, after: After)
        /// Waiting for the next request head.
        case head(HTTPHeadScanner)
        /// `lastRequest`: the upgrade request also said `Connection: close`.
        case awaitingUpgrade(lastRequest: Bool)
        /// The upgrade was accepted: every byte goes upstream.
        case tunnel
        case ended
        case failed(HTTPForwardStep)
    }

    enum After: Equatable, Sendable { case nextHead, awaitUpgrade(lastRequest: Bool), end }

    /// The upstream requests currently go to.
    public private(set) var destination: Destination
    let options: InboundOptions
    var state: State

    init(destination: Destination, body: HTTPBodyFraming, upgrade: Bool, lastRequest: Bool, options: InboundOptions) {
        self.destination = destination
        self.options = options
        let after: After = upgrade ? .awaitUpgrade(lastRequest: lastRequest) : lastRequest ? .end : .nextHead
        state = .body(body, after: after)
        if body.isDone { state = Self.state(after) }
    }

    private static func state(_ after: After) -> State {
        switch after {
        case .nextHead: .head(HTTPHeadScanner())
        case .awaitUpgrade(let last): .awaitingUpgrade(lastRequest: last)
        case .end: .ended
        }
    }

    /// Feeds all unconsumed client bytes.
    public mutating func received(_ bytes: UnsafeRawBufferPointer) -> HTTPForwardStep {
        switch state {
        case .failed(let step):
            return step
        case .ended:
            return .end
        case .awaitingUpgrade:
            return .awaitUpgrade
        case .tunnel:
            return bytes.isEmpty ? .needMore : .forward(count: bytes.count)
        case .body(var framing, let after):
            switch framing.consume(bytes) {
            case .invalid(let error):
                state = .failed(.close(error))
                return .close(error)
            case .body(let count, let ended):
                state = ended ? Self.state(after) : .body(framing, after: after)
                if count > 0 { return .forward(count: count) }
                return ended ? received(bytes) : .needMore
            }
        case .head(var scanner):
            let result = scanner.scan(bytes, limit: HTTPInbound.maxHeadLength)
            state = .head(scanner)
            switch result {
            case .needMore: return .needMore
            case .tooLarge: return fail(.httpHeadTooLarge)
            case .head(let start, let end): return nextRequest(Array(bytes[start..<end]), consumed: end)
            }
        }
    }

    private mutating func nextRequest(_ headBytes: [UInt8], consumed: Int) -> HTTPForwardStep {
        let head: HTTPHead
        switch HTTPHead.request(headBytes) {
        case .success(let parsed): head = parsed
        case .failure(.unsupportedVersion): return fail(.httpUnsupportedVersion)
        case .failure(.tooManyFields): return fail(.httpHeadTooLarge)
        case .failure(.badField): return fail(.httpBadHeaderField)
        case .failure(.badStartLine): return fail(.httpBadRequestLine)
        }
        switch HTTPProxyRequest.interpret(head, consumed: consumed) {
        case .failure(let refusal):
            return fail(refusal)
        case .success(.connect):
            return fail(.httpConnectAfterForward)
        case .success(.forward(let request, let body, let lastRequest)):
            let after: After =
                request.upgrade ? .awaitUpgrade(lastRequest: lastRequest) : lastRequest ? .end : .nextHead
            state = body.isDone ? Self.state(after) : .body(body, after: after)
            let sameUpstream = request.destination.isSameEndpoint(as: destination)
            destination = request.destination
            return sameUpstream ? .request(request) : .redial(request)
        }
    }

    private mutating func fail(_ refusal: InboundRefusal) -> HTTPForwardStep {
        let step = HTTPForwardStep.refuse(HTTPInbound.errorResponse(for: refusal, options: options), refusal)
        state = .failed(step)
        return step
    }

    /// The upstream answered 101 to the upgrade request: from now on every client byte is forwarded.
    public mutating func upgradeAccepted() {
        if case .awaitingUpgrade = state { state = .tunnel }
    }

    /// The upstream answered the upgrade request with a final status other than 101: the connection
    /// carries on with requests.
    public mutating func upgradeDeclined() {
        if case .awaitingUpgrade(let last) = state { state = last ? .ended : .head(HTTPHeadScanner()) }
    }
}
