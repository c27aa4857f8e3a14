// HTTPResponseFraming: the upstream side of a plain HTTP proxy connection, as a pure machine: it finds
// where each response ends (RFC 9112 §6.3) while the bytes are relayed unchanged, so the session knows
// when an upstream may be closed for a redial, when a refusal may be written, and when an upgrade took.

/// Why an upstream's response stream cannot be followed; the session closes both sides.
public enum HTTPResponseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Bytes arrived with no request awaiting a response.
    case unsolicited
    /// No end of the response head within `HTTPResponseFraming.maxHeadLength` bytes.
    case headTooLarge
    /// A status line or field the parser refuses, or an invalid Content-Length.
    case badHead
    /// 101 Switching Protocols to a request that did not ask to upgrade.
    case unexpectedSwitch
    /// A chunked body that breaks the coding.
    case badBody(HTTPBodyError)

    public var description: String {
        switch self {
        case .unsolicited: "http: upstream sent a response nobody asked for"
        case .headTooLarge: "http: upstream response head too large"
        case .badHead: "http: malformed upstream response head"
        case .unexpectedSwitch: "http: upstream switched protocols unasked"
        case .badBody(let error): "upstream \(error)"
        }
    }
}

/// What to do with the upstream's next bytes.
public enum HTTPResponseStep: Equatable, Sendable {
    /// Nothing to do until more bytes arrive.
    case needMore
    /// Relay the first `count` bytes to the client: part of the current response (an interim 1xx head,
    /// the head, or body bytes; a body that runs until the upstream closes comes this way to the end).
    case relay(count: Int)
    /// Relay `count` bytes; they complete a response (one fewer pending).
    case responseEnded(count: Int)
    /// Relay `count` bytes; they complete the final, non-101 response to an upgrade request: call
    /// `HTTPForwardStream.upgradeDeclined()`.
    case upgradeDeclined(count: Int)
    /// Relay `count` bytes (the 101 head); from now on relay both directions untouched, and call
    /// `HTTPForwardStream.upgradeAccepted()`.
    case switchedProtocols(count: Int)
    /// Close both sides.
    case invalid(HTTPResponseError)
}

/// The responses expected from one upstream connection, in request order.
///
/// Feeding contract as for `HandshakeStep`: pass all upstream bytes not yet relayed; after a step with a
/// count, drop that many and feed the rest at once. Call `requestSent(_:)` for every request written to
/// this upstream, in order, before its response can arrive (a session may pause reading the client
/// while `pendingResponses` is high, to bound pipelining).
public struct HTTPResponseFraming: Equatable, Sendable {
    /// The longest response head accepted (upstream heads carry cookies; Go's client allows 10 MB, most
    /// proxies 64 KiB).
    public static let maxHeadLength = 64 * 1024

    struct Pending: Equatable, Sendable {
        var isHead: Bool
        var upgrade: Bool
    }

    enum State: Equatable, Sendable {
        case head(HTTPHeadScanner)
        case body(HTTPBodyFraming)
        case tunnel
        case failed(HTTPResponseError)
    }

    private var pending: [Pending] = []
    private var state = State.head(HTTPHeadScanner())

    public init() {}

    /// Responses still expected (the one being received included).
    public var pendingResponses: Int { pending.count }

    /// A request went upstream; its response comes after those already pending.
    public mutating func requestSent(_ request: HTTPForwardedRequest) {
        pending.append(Pending(isHead: request.isHead, upgrade: request.upgrade))
    }

    /// Feeds all upstream bytes not yet relayed.
    public mutating func received(_ bytes: UnsafeRawBufferPointer) -> HTTPResponseStep {
        switch state {
        case .failed(let error):
            return .invalid(error)
        case .tunnel:
            return bytes.isEmpty ? .needMore : .relay(count: bytes.count)
        case .body(var framing):
            switch framing.consume(bytes) {
            case .invalid(let error):
                return fail(.badBody(error))
            case .body(let count, let ended):
                guard ended else {
                    state = .body(framing)
                    return count > 0 ? .relay(count: count) : .needMore
                }
                return finish(count)
            }
        case .head(var scanner):
            guard !bytes.isEmpty else { return .needMore }
            guard let request = pending.first else { return fail(.unsolicited) }
            let result = scanner.scan(bytes, limit: Self.maxHeadLength)
            state = .head(scanner)
            switch result {
            case .needMore: return .needMore
            case .tooLarge: return fail(.headTooLarge)
            case .head(let start, let end):
                guard case .success(let head) = HTTPHead.response(Array(bytes[start..<end])) else {
                    return fail(.badHead)
                }
                return responseHead(head, length: end, request: request)
            }
        }
    }

    private mutating func responseHead(_ head: HTTPHead, length: Int, request: Pending) -> HTTPResponseStep {
        let code = head.bytes[head.second].reduce(0) { $0 * 10 + Int($1 - 0x30) }
        if code == 101 {
            guard request.upgrade else { return fail(.unexpectedSwitch) }
            pending.removeFirst()
            state = .tunnel
            return .switchedProtocols(count: length)
        }
        if code < 200 {
            // An interim response (100 Continue, 103 Early Hints): the final one is still to come.
            state = .head(HTTPHeadScanner())
            return .relay(count: length)
        }
        // RFC 9112 §6.3 rule 1: no body after HEAD, 204 or 304, whatever the fields say.
        if request.isHead || code == 204 || code == 304 { return finish(length) }
        switch head.bodyLength(isRequest: false) {
        case .failure: return fail(.badHead)
        case .success(.length(let n)) where n > 0: state = .body(.length(n))
        case .success(.chunked): state = .body(.chunked)
        case .success(.untilClose): state = .body(.untilClose)
        case .success(.length), .success(.none): return finish(length)
        }
        return .relay(count: length)
    }

    /// The current response ended after `count` more bytes.
    private mutating func finish(_ count: Int) -> HTTPResponseStep {
        let request = pending.removeFirst()
        state = .head(HTTPHeadScanner())
        return request.upgrade ? .upgradeDeclined(count: count) : .responseEnded(count: count)
    }

    private mutating func fail(_ error: HTTPResponseError) -> HTTPResponseStep {
        state = .failed(error)
        return .invalid(error)
    }
}
