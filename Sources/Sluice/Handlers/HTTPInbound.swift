// HTTPInbound: the http handler's first request, as a pure machine fed with the client's bytes: a
// CONNECT opens a tunnel, an absolute-form request is forwarded; GOST's status codes, Proxy-Agent
// and Basic realm on every reply.

/// How a plain HTTP proxy connection carries on after its first request head.
public struct HTTPForwardStart: Equatable, Sendable {
    /// The first request: dial its destination, then send its head upstream first.
    public var request: HTTPForwardedRequest
    /// The name in `Proxy-Authorization`, if any (GOST's `user` log field).
    public var user: String?
    /// Feed the client's bytes after `request.consumed` here: the first request's body comes first.
    public var stream: HTTPForwardStream
}

/// The http handler's handshake: one request head, then a tunnel or forwarding.
///
/// - The head must end within `maxHeadLength` bytes (431 otherwise, as Go's server answers a head over
///   its limit); a malformed one is 400, HTTP/2 or another major version 505.
/// - CONNECT `host[:port]` (port 80 when missing, as GOST) → `.connect`; the success reply is
///   `HTTP/1.1 200 Connection established` with `Proxy-Agent`.
/// - Another method with an absolute `http://` URI → `.forward` with the head rewritten (see
///   `HTTPForwardedRequest`); any other target → 400, as GOST. (GOST v3.2.6 also forwards an
///   origin-form request whose `Host` is a bare DNS name; that turns the proxy into an open relay to
///   whatever `Host` says and can loop back to itself, so it is a 400 here.)
/// - With credentials, `Proxy-Authorization: Basic` must pass them (GOST's check, `Credentials.admits`)
///   or the answer is 407 with `Proxy-Authenticate: Basic realm="<realm>"`. Only the first request of
///   a connection is checked, as in GOST.
/// - A failed dial is 503 (403 when not allowed), as GOST.
/// Every refusal is a complete HTTP/1.1 response with `Content-Length: 0` and `Connection: close`.
public struct HTTPInbound: Equatable, Sendable {
    /// The longest request head accepted, empty lines before it included.
    public static let maxHeadLength = 16 * 1024

    let options: InboundOptions
    private var scanner = HTTPHeadScanner()
    private var decided: Decided?

    enum Decided: Equatable, Sendable { case tunnel, forward }

    public init(options: InboundOptions) {
        self.options = options
    }

    /// Feeds all unconsumed client bytes (see `HandshakeStep`).
    public mutating func received(_ bytes: UnsafeRawBufferPointer) -> HandshakeStep {
        guard decided == nil else { return .needMore }
        let start: Int
        let end: Int
        switch scanner.scan(bytes, limit: Self.maxHeadLength) {
        case .needMore: return .needMore
        case .tooLarge: return refuse(.httpHeadTooLarge, proxyConnectionKeepAlive: false)
        case .head(let s, let e): (start, end) = (s, e)
        }
        let head: HTTPHead
        switch HTTPHead.request(Array(bytes[start..<end])) {
        case .success(let parsed): head = parsed
        case .failure(.unsupportedVersion): return refuse(.httpUnsupportedVersion, proxyConnectionKeepAlive: false)
        case .failure(.tooManyFields): return refuse(.httpHeadTooLarge, proxyConnectionKeepAlive: false)
        case .failure(.badField): return refuse(.httpBadHeaderField, proxyConnectionKeepAlive: false)
        case .failure(.badStartLine): return refuse(.httpBadRequestLine, proxyConnectionKeepAlive: false)
        }
        let request: HTTPProxyRequest
        switch HTTPProxyRequest.interpret(head, consumed: end) {
        case .success(let interpreted): request = interpreted
        case .failure(let refusal): return refuse(refusal, proxyConnectionKeepAlive: false)
        }
        let basic = head.basicCredentials("proxy-authorization")
        let user = basic.map { String(decoding: $0.user, as: UTF8.self) }
        if let credentials = options.credentials {
            let admitted =
                basic.map { basic in
                    basic.user.withUnsafeBytes { u in
                        basic.password.withUnsafeBytes { credentials.admits(user: u, password: $0) }
                    }
                } ?? false
            if !admitted {
                let keepAlive = head.listElements("proxy-connection").contains {
                    head.equalsLowercase($0, "keep-alive")
                }
                return refuse(.httpAuthenticationRequired(user: user), proxyConnectionKeepAlive: keepAlive)
            }
        }
        switch request {
        case .connect(let destination):
            decided = .tunnel
            return .connect(destination, consumed: end, user: user)
        case .forward(let forwarded, let body, let lastRequest):
            decided = .forward
            let stream = HTTPForwardStream(
                destination: forwarded.destination, body: body, upgrade: forwarded.upgrade, lastRequest: lastRequest,
                options: options)
            return .forward(HTTPForwardStart(request: forwarded, user: user, stream: stream))
        }
    }

    private func refuse(_ refusal: InboundRefusal, proxyConnectionKeepAlive: Bool) -> HandshakeStep {
        .refuse(
            Self.errorResponse(for: refusal, options: options, proxyConnectionKeepAlive: proxyConnectionKeepAlive),
            refusal)
    }

    /// After `.connect`: `HTTP/1.1 200 Connection established` and `Proxy-Agent` (GOST's exact bytes).
    /// After `.forward`: nothing (the upstream's response is the reply).
    public func successReply() -> [UInt8] {
        guard decided == .tunnel else { return [] }
        return Array("HTTP/1.1 200 Connection established\r\nProxy-Agent: \(options.proxyAgent)\r\n\r\n".utf8)
    }

    /// 503 Service Unavailable for every dial failure (as GOST), 403 Forbidden when not allowed.
    public func failureReply(_ failure: DialFailure) -> [UInt8] {
        Self.response(status: failure == .notAllowed ? 403 : 503, options: options)
    }

    /// The reply that goes with a refusal: its status, plus `Proxy-Authenticate` on 407 (and
    /// `Proxy-Connection: close` when the client asked `Proxy-Connection: keep-alive`, as GOST).
    public static func errorResponse(
        for refusal: InboundRefusal, options: InboundOptions, proxyConnectionKeepAlive: Bool = false
    ) -> [UInt8] {
        let status = HTTPProxyRequest.status(for: refusal)
        var extra = ""
        if status == 407 {
            extra = "Proxy-Authenticate: Basic realm=\"\(options.authRealm)\"\r\n"
            if proxyConnectionKeepAlive { extra += "Proxy-Connection: close\r\n" }
        }
        return response(status: status, options: options, extraFields: extra)
    }

    /// `HTTP/1.1 <status> <reason>`, `Proxy-Agent`, any extra fields, `Content-Length: 0`,
    /// `Connection: close`.
    static func response(status: Int, options: InboundOptions, extraFields: String = "") -> [UInt8] {
        Array(
            ("HTTP/1.1 \(status) \(reasonPhrase(status))\r\nProxy-Agent: \(options.proxyAgent)\r\n\(extraFields)"
                + "Content-Length: 0\r\nConnection: close\r\n\r\n").utf8)
    }

    /// RFC 9110 §15 reason phrases for the statuses this handler sends.
    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 403: "Forbidden"
        case 407: "Proxy Authentication Required"
        case 431: "Request Header Fields Too Large"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Error"
        }
    }
}
