// MetricsEndpoint: the metrics listener's HTTP/1.1 side as a pure machine. One request head in →
// which answer (`/metrics`, `/healthz`, `/readyz`, or an error status), whether the connection may
// stay open, and the response head. The session (Session+Metrics) does the I/O.

/// How the metrics listener answers requests.
public struct MetricsEndpoint: Sendable, Equatable {
    /// Where the exposition is served (`metrics.path`, `?path=`): `/metrics` by default.
    public let path: [UInt8]
    /// Basic credentials the exposition path requires (GOST's `metrics.auth`, `user:pass@` on
    /// `-metrics`); the health checks never ask for them (probes carry no credentials).
    public let credentials: Credentials?

    /// The longest request head read, empty lines before it included (Prometheus sends ~250 bytes).
    public static let maxHeadLength = 8 * 1024
    /// The default `path`.
    public static let defaultPath = ServicePlan.defaultMetricsPath

    /// An endpoint serving the exposition on `path`, guarded by `credentials` when given.
    public init(path: String = MetricsEndpoint.defaultPath, credentials: Credentials? = nil) {
        self.path = Array(path.utf8)
        self.credentials = credentials
    }

    /// The endpoint of a `metrics` service: its path and its handler's credentials.
    init(plan: ServicePlan) { self.init(path: plan.metricsPath, credentials: plan.auth) }

    /// What a request gets.
    public enum Answer: Equatable, Sendable {
        /// 200, the exposition.
        case metrics
        /// 200 `ok`: the process serves.
        case healthy
        /// 200 `ready`, or 503 once shutdown began (`notReady`).
        case ready, notReady
        /// 400: the head does not parse (or HTTP/1.1 without Host, or framing this endpoint refuses).
        case badRequest
        /// 401: the exposition needs credentials that the request did not carry.
        case unauthorized
        /// 404: another path.
        case notFound
        /// 405: a method other than GET and HEAD.
        case methodNotAllowed
        /// 431: no complete head within `maxHeadLength` bytes.
        case headTooLarge

        /// The status line's code and reason.
        public var status: StaticString {
            switch self {
            case .metrics, .healthy, .ready: "200 OK"
            case .notReady: "503 Service Unavailable"
            case .badRequest: "400 Bad Request"
            case .unauthorized: "401 Unauthorized"
            case .notFound: "404 Not Found"
            case .methodNotAllowed: "405 Method Not Allowed"
            case .headTooLarge: "431 Request Header Fields Too Large"
            }
        }

        /// The body of every answer but `.metrics` (whose body is the exposition).
        public var body: StaticString {
            switch self {
            case .metrics: ""
            case .healthy: "ok\n"
            case .ready: "ready\n"
            case .notReady: "not ready: shutting down\n"
            case .badRequest: "400 bad request\n"
            case .unauthorized: "401 unauthorized\n"
            case .notFound: "404 page not found\n"
            case .methodNotAllowed: "405 method not allowed\n"
            case .headTooLarge: "431 request header fields too large\n"
            }
        }
    }

    /// The answer to one request and how the connection goes on.
    public struct Reply: Equatable, Sendable {
        public var answer: Answer
        /// A HEAD request: the same head, no body.
        public var headOnly: Bool
        /// The connection may carry another request. Never after a malformed head, a request with a
        /// body (this endpoint does not read bodies), or `Connection: close`.
        public var keepAlive: Bool
        /// An HTTP/1.0 request (keep-alive must then be said).
        public var http10: Bool
        /// Bytes of the request head (the session drops them).
        public var consumed: Int

        /// Memberwise.
        public init(answer: Answer, headOnly: Bool, keepAlive: Bool, http10: Bool = false, consumed: Int) {
            self.answer = answer
            self.headOnly = headOnly
            self.keepAlive = keepAlive
            self.http10 = http10
            self.consumed = consumed
        }
    }

    /// What the bytes so far lead to.
    public enum Step: Equatable, Sendable {
        case needMore
        case reply(Reply)
    }

    /// Reads one request head from the start of `bytes` (what the client sent and was not consumed).
    /// `ready` decides `/readyz`.
    public func received(_ bytes: UnsafeRawBufferPointer, ready: Bool) -> Step {
        var scanner = HTTPHeadScanner()
        switch scanner.scan(bytes, limit: Self.maxHeadLength) {
        case .needMore:
            return .needMore
        case .tooLarge:
            return .reply(Reply(answer: .headTooLarge, headOnly: false, keepAlive: false, consumed: bytes.count))
        case .head(let start, let end):
            guard case .success(let head) = HTTPHead.request(Array(bytes[start..<end])) else {
                return .reply(Reply(answer: .badRequest, headOnly: false, keepAlive: false, consumed: end))
            }
            return .reply(answer(head, consumed: end, ready: ready))
        }
    }

    private func answer(_ head: HTTPHead, consumed: Int, ready: Bool) -> Reply {
        let http10 = head.minorVersion == 0
        let bad = Reply(answer: .badRequest, headOnly: false, keepAlive: false, http10: http10, consumed: consumed)
        // RFC 9112 §3.2: a server must answer 400 to an HTTP/1.1 request without exactly one Host.
        if !http10 && head.fields.count(where: { head.fieldNamed($0, "host") }) != 1 { return bad }
        let hasBody: Bool
        switch head.bodyLength(isRequest: true) {
        case .success(.none), .success(.length(0)): hasBody = false
        case .success: hasBody = true
        case .failure: return bad
        }
        let connection = head.listElements("connection")
        let wantsKeepAlive =
            http10
            ? connection.contains { head.equalsLowercase($0, "keep-alive") }
            : !connection.contains { head.equalsLowercase($0, "close") }
        var reply = Reply(
            answer: .notFound, headOnly: false, keepAlive: wantsKeepAlive && !hasBody, http10: http10,
            consumed: consumed)
        let isGet = head.equalsCase(head.first, "GET")
        reply.headOnly = head.equalsCase(head.first, "HEAD")
        guard isGet || reply.headOnly else {
            reply.answer = .methodNotAllowed
            return reply
        }
        guard let target = Self.path(of: head) else { return bad }
        if head.bytes[target].elementsEqual(path) {
            reply.answer = admits(head) ? .metrics : .unauthorized
        } else if head.equalsCase(target, "/healthz") {
            reply.answer = .healthy
        } else if head.equalsCase(target, "/readyz") {
            reply.answer = ready ? .ready : .notReady
        }
        return reply
    }

    /// The path of the request target (query and fragment cut off): origin-form `/p?q`, or
    /// absolute-form `http://host/p?q` (RFC 9112 §3.2.2: servers accept it). nil for other forms.
    static func path(of head: HTTPHead) -> Range<Int>? {
        var start = head.second.lowerBound
        let end = head.second.upperBound
        if head.hasLowercasePrefix(head.second, "http://") {
            start += 7
            while start < end && head.bytes[start] != 0x2F { start += 1 }
            // `http://host` with no path is the root.
            if start == end { return nil }
        }
        guard start < end, head.bytes[start] == 0x2F else { return nil }
        var stop = start
        while stop < end && head.bytes[stop] != 0x3F && head.bytes[stop] != 0x23 { stop += 1 }
        return start..<stop
    }

    /// Whether the request may read the exposition: no credentials are configured, or its
    /// `Authorization: Basic` field carries them.
    private func admits(_ head: HTTPHead) -> Bool {
        guard let credentials else { return true }
        guard let basic = head.basicCredentials("authorization") else { return false }
        return basic.user.withUnsafeBytes { user in
            basic.password.withUnsafeBytes { credentials.admits(user: user, password: $0) }
        }
    }

    /// Appends the response head of `reply` for a body of `contentLength` bytes.
    public static func writeHead(_ reply: Reply, contentLength: Int, into bytes: inout [UInt8]) {
        bytes.append("HTTP/1.1 ")
        bytes.append(reply.answer.status)
        bytes.append("\r\nContent-Type: ")
        bytes.append(
            reply.answer == .metrics ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8")
        bytes.append("\r\nContent-Length: ")
        bytes.appendDecimal(contentLength)
        bytes.append("\r\nCache-Control: no-store")
        if reply.answer == .methodNotAllowed { bytes.append("\r\nAllow: GET, HEAD") }
        if reply.answer == .unauthorized { bytes.append("\r\nWWW-Authenticate: Basic realm=\"metrics\"") }
        if !reply.keepAlive {
            bytes.append("\r\nConnection: close")
        } else if reply.http10 {
            bytes.append("\r\nConnection: keep-alive")
        }
        bytes.append("\r\n\r\n")
    }
}

extension HTTPHead {
    /// True when `bytes[range]` is exactly `text` (methods are case-sensitive, RFC 9110 §9.1; paths
    /// too).
    func equalsCase(_ range: Range<Int>, _ text: StaticString) -> Bool {
        guard range.count == text.utf8CodeUnitCount else { return false }
        let base = text.utf8Start
        for (i, index) in range.enumerated() where bytes[index] != base[i] { return false }
        return true
    }
}
