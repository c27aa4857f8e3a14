// ChainHandshake: opens a tunnel through every hop of a chain in turn. The first node is reached by
// TCP; each node is then asked (HTTP CONNECT or SOCKS5) to connect to the next node, and the last
// node to the target. Pure: the session feeds it what the first node's socket delivers.

/// The connector handshakes of a chain, run one after the other over one connection.
public struct ChainHandshake {
    /// One hop's request: ask a node of kind `connector` to connect to `target`.
    public struct Step: Equatable {
        public var connector: ConnectorKind
        public var target: String
        public var auth: Credentials?
        public var headers: [HeaderField]
        /// The node answering this step (for fail marks and messages).
        public var nodeName: String

        public init(
            connector: ConnectorKind, target: String, auth: Credentials?, headers: [HeaderField], nodeName: String
        ) {
            self.connector = connector
            self.target = target
            self.auth = auth
            self.headers = headers
            self.nodeName = nodeName
        }
    }

    public enum Event: Equatable {
        case needMore
        /// Send these bytes (the next step's request); `consumed` input bytes were used.
        case send([UInt8], consumed: Int)
        /// Every hop answered; `consumed` bytes were the last reply (what follows is tunnel data).
        case established(consumed: Int)
        /// Step `step` failed with `reason` (e.g. "407 Proxy Authentication Required").
        case failed(String, step: Int)
    }

    public let steps: [Step]
    /// The step whose reply is awaited.
    public private(set) var current = 0
    private var socks: SOCKS5Connect?

    public init(steps: [Step]) {
        precondition(!steps.isEmpty, "a chain handshake has at least one step")
        self.steps = steps
    }

    /// The first bytes to send: the first step's request.
    public mutating func begin() -> [UInt8] { request(for: 0) }

    private mutating func request(for index: Int) -> [UInt8] {
        let step = steps[index]
        switch step.connector {
        case .http:
            socks = nil
            return HTTPConnect.request(target: step.target, auth: step.auth, headers: step.headers)
        case .socks5:
            let handshake = SOCKS5Connect(target: step.target, auth: step.auth)
            socks = handshake
            return handshake.greeting()
        }
    }

    /// Feeds what the current node has sent (and not yet consumed).
    public mutating func received(_ bytes: UnsafeRawBufferPointer) -> Event {
        let consumed: Int
        switch steps[current].connector {
        case .http:
            switch HTTPConnect.parseReply(bytes) {
            case .needMore: return .needMore
            case .established(let n): consumed = n
            case .refused(let status): return .failed(status, step: current)
            case .invalid(let reason): return .failed(reason, step: current)
            }
        case .socks5:
            switch socks!.received(bytes) {
            case .needMore: return .needMore
            case .send(let bytes, let n): return .send(bytes, consumed: n)
            case .established(let n): consumed = n
            case .failed(let reason): return .failed(reason, step: current)
            }
        }
        guard current + 1 < steps.count else { return .established(consumed: consumed) }
        current += 1
        return .send(request(for: current), consumed: consumed)
    }
}
