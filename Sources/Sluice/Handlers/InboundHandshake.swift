// The inbound proxy handshake shared by the http, socks4, socks5 and auto handlers: what the session
// does next (read, reply, dial, forward or refuse), why a client is refused, and how a dial failed.

/// What a handler's handshake asks the session to do after being fed the client's bytes.
///
/// Feeding contract (every inbound machine): pass *all* client bytes received and not yet consumed,
/// starting at the first unconsumed one. After `.needMore`, feed the same bytes again with what arrives
/// next appended (a machine may remember how far it has looked). After `.reply`, drop `consumed` bytes
/// and feed the rest at once, even if it is empty: a client may send its next message without waiting.
public enum HandshakeStep: Equatable, Sendable {
    /// Nothing to do until more bytes arrive.
    case needMore
    /// Send these bytes to the client, drop `consumed` bytes, and keep feeding (SOCKS5 method choice
    /// and authentication status).
    case reply([UInt8], consumed: Int)
    /// Dial `destination`; drop `consumed` bytes (what follows is tunnel data for the upstream). Then
    /// send the client `successReply(bound:)` and relay, or `failureReply(_:)` and close.
    /// `user` is the name the client gave (GOST's `user` log field), if any.
    case connect(Destination, consumed: Int, user: String?)
    /// A plain HTTP proxy request (absolute-form URI): dial `destination` and carry on as
    /// `HTTPForwardStart` says. A dial failure is answered with `failureReply(_:)` as for `.connect`.
    case forward(HTTPForwardStart)
    /// Send these bytes to the client (maybe none), then close. Nothing is dialled.
    case refuse([UInt8], InboundRefusal)
}

/// How a dial on a client's behalf failed; each handler turns it into its own reply code. The session
/// maps `errno` (and resolver and timer outcomes) to it.
public enum DialFailure: Equatable, Sendable, CaseIterable {
    /// ECONNREFUSED: nothing listens there.
    case refused
    /// ENETUNREACH (and EADDRNOTAVAIL / EAFNOSUPPORT: no route from here).
    case networkUnreachable
    /// EHOSTUNREACH.
    case hostUnreachable
    /// The connect (or chain handshake) deadline passed, or ETIMEDOUT.
    case timedOut
    /// The host name did not resolve.
    case resolveFailed
    /// A policy (a bypass list) forbids the destination.
    case notAllowed
    /// Anything else, including a chain node refusing the tunnel.
    case other
}

/// Why a client is refused during its handshake: the phrase a log line prints after the handler name.
public enum InboundRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    /// A dedicated handler (`socks4://`, `socks5://`) got a first byte of another protocol.
    case wrongProtocol(UInt8)

    // SOCKS5 (RFC 1928, RFC 1929)
    /// The greeting's or request's version byte is not 5.
    case socks5BadVersion(UInt8)
    /// The greeting offers no method at all.
    case socks5NoMethods
    /// No offered method is acceptable (username/password is required but not offered).
    case socks5NoAcceptableMethod
    /// The username/password sub-negotiation's version byte is not 1.
    case socks5BadAuthVersion(UInt8)
    /// The username and password do not match the credentials.
    case socks5AuthenticationFailed(user: String)
    /// BIND (2), UDP ASSOCIATE (3) or an unknown command: only CONNECT is served.
    case socks5CommandNotSupported(UInt8)
    /// ATYP other than 1 (IPv4), 3 (domain) or 4 (IPv6).
    case socks5AddressTypeNotSupported(UInt8)
    /// A domain field that is empty or not a host name.
    case socks5BadHostName

    // SOCKS4 / SOCKS4a
    /// The version byte is not 4.
    case socks4BadVersion(UInt8)
    /// BIND (2) or an unknown command: only CONNECT is served.
    case socks4CommandNotSupported(UInt8)
    /// No NUL within the user id's 255-byte cap.
    case socks4UserIDTooLong
    /// No NUL within the 4a host name's 255-byte cap.
    case socks4HostNameTooLong
    /// A 4a host name that is empty or not a host name.
    case socks4BadHostName
    /// Credentials are configured and the user id does not pass them.
    case socks4UserRejected(user: String)

    // HTTP (RFC 9110, RFC 9112)
    /// No end of the request head within `HTTPInbound.maxHeadLength` bytes, or too many fields (431).
    case httpHeadTooLarge
    /// The request line is not `method SP target SP HTTP/1.x` (400).
    case httpBadRequestLine
    /// A version other than HTTP/1.0 and HTTP/1.1 (505), or the HTTP/2 preface `PRI` (400).
    case httpUnsupportedVersion
    /// A header line that is not `name: value`, a folded line, or a bare CR (400).
    case httpBadHeaderField
    /// A CONNECT target that is not `host[:port]`, or an absolute URI whose authority is invalid (400).
    case httpBadTarget
    /// A request other than CONNECT whose target is not an absolute `http://` URI (400).
    case httpNotProxyRequest
    /// Several different Content-Length values, a non-numeric one, or no Host/several Host fields
    /// where one is needed (400).
    case httpBadFraming
    /// Both Transfer-Encoding and Content-Length, Transfer-Encoding on HTTP/1.0, or a coding list whose
    /// last coding is not `chunked` (400).
    case httpAmbiguousFraming
    /// A transfer coding other than `chunked` before the final `chunked` (501).
    case httpUnsupportedTransferCoding
    /// Credentials are configured and `Proxy-Authorization` does not pass them (407).
    case httpAuthenticationRequired(user: String?)
    /// CONNECT on a connection that has already forwarded plain requests (400).
    case httpConnectAfterForward

    /// A short lowercase phrase, e.g. "socks5: command not supported (2)".
    public var description: String {
        switch self {
        case .wrongProtocol(let byte): "unexpected first byte \(byte)"
        case .socks5BadVersion(let v): "socks5: bad version \(v)"
        case .socks5NoMethods: "socks5: no authentication methods offered"
        case .socks5NoAcceptableMethod: "socks5: no acceptable authentication method"
        case .socks5BadAuthVersion(let v): "socks5: bad username/password version \(v)"
        case .socks5AuthenticationFailed(let user): "socks5: authentication failed for user \"\(user)\""
        case .socks5CommandNotSupported(let c): "socks5: command not supported (\(c))"
        case .socks5AddressTypeNotSupported(let t): "socks5: address type not supported (\(t))"
        case .socks5BadHostName: "socks5: invalid host name"
        case .socks4BadVersion(let v): "socks4: bad version \(v)"
        case .socks4CommandNotSupported(let c): "socks4: command not supported (\(c))"
        case .socks4UserIDTooLong: "socks4: user id too long"
        case .socks4HostNameTooLong: "socks4: host name too long"
        case .socks4BadHostName: "socks4: invalid host name"
        case .socks4UserRejected(let user): "socks4: user id \"\(user)\" rejected"
        case .httpHeadTooLarge: "http: request head too large"
        case .httpBadRequestLine: "http: malformed request line"
        case .httpUnsupportedVersion: "http: unsupported protocol version"
        case .httpBadHeaderField: "http: malformed header field"
        case .httpBadTarget: "http: invalid request target"
        case .httpNotProxyRequest: "http: not a proxy request"
        case .httpBadFraming: "http: invalid Content-Length or Host"
        case .httpAmbiguousFraming: "http: ambiguous message framing"
        case .httpUnsupportedTransferCoding: "http: unsupported transfer coding"
        case .httpAuthenticationRequired(let user):
            user.map { "http: authentication failed for user \"\($0)\"" } ?? "http: authentication required"
        case .httpConnectAfterForward: "http: CONNECT after forwarded requests"
        }
    }
}

/// The handler settings an inbound handshake needs.
public struct InboundOptions: Equatable, Sendable {
    /// When set, clients must authenticate (handler `auth`, the `user:pass@` of `-L`).
    public var credentials: Credentials?
    /// The http handler's `Proxy-Agent` header value (metadata `proxyAgent`).
    public var proxyAgent: String
    /// The http handler's Basic realm (metadata `authBasicRealm`).
    public var authRealm: String

    /// GOST's defaults: `gost/3.0` and realm `gost`.
    public init(credentials: Credentials? = nil, proxyAgent: String = "gost/3.0", authRealm: String = "gost") {
        self.credentials = credentials
        self.proxyAgent = proxyAgent
        self.authRealm = authRealm
    }
}

/// The protocol a proxy handler speaks to its client (GOST's `handler` log field for auto's sub-handlers).
public enum InboundProtocol: String, Equatable, Sendable, CaseIterable {
    case http, socks4, socks5

    /// GOST's auto handler (`handler/auto`): one byte decides. 0x05 is SOCKS5, 0x04 is SOCKS4/4a, and
    /// anything else is HTTP (whose methods start with a letter).
    public static func detect(firstByte: UInt8) -> InboundProtocol {
        switch firstByte {
        case 0x05: .socks5
        case 0x04: .socks4
        default: .http
        }
    }
}

/// The inbound handshake of one proxy connection, whichever handler serves it: `auto` picks the
/// protocol from the first byte, the others insist on theirs. Pure: the session feeds it client bytes
/// (see `HandshakeStep` for the contract) and carries out the steps.
public struct InboundHandshake: Equatable, Sendable {
    /// Which handler kind the service runs.
    public enum Handler: Equatable, Sendable {
        /// GOST's default (`-L :8080`): HTTP, SOCKS4 or SOCKS5 by the first byte.
        case auto
        /// Only this protocol.
        case only(InboundProtocol)
    }

    enum Machine: Equatable, Sendable {
        case undecided
        case http(HTTPInbound)
        case socks4(SOCKS4Inbound)
        case socks5(SOCKS5Inbound)
    }

    public let handler: Handler
    public let options: InboundOptions
    var machine = Machine.undecided

    public init(handler: Handler, options: InboundOptions) {
        self.handler = handler
        self.options = options
    }

    /// The protocol being spoken, once the first byte has arrived (for `auto`), else nil.
    public var inboundProtocol: InboundProtocol? {
        switch machine {
        case .undecided: nil
        case .http: .http
        case .socks4: .socks4
        case .socks5: .socks5
        }
    }

    /// Feeds all unconsumed client bytes.
    public mutating func received(_ bytes: UnsafeRawBufferPointer) -> HandshakeStep {
        if case .undecided = machine {
            guard let first = bytes.first else { return .needMore }
            let detected = InboundProtocol.detect(firstByte: first)
            if case .only(let wanted) = handler, wanted != detected {
                // A SOCKS handler that gets anything but its version byte closes, as GOST's does (the
                // version check fails before any reply); an http handler takes every byte as HTTP.
                if wanted != .http { return .refuse([], .wrongProtocol(first)) }
            }
            switch handler {
            case .auto: machine = Machine(detected, options)
            case .only(let wanted): machine = Machine(wanted, options)
            }
        }
        switch machine {
        case .undecided: return .needMore
        case .http(var m):
            let step = m.received(bytes)
            machine = .http(m)
            return step
        case .socks4(var m):
            let step = m.received(bytes)
            machine = .socks4(m)
            return step
        case .socks5(var m):
            let step = m.received(bytes)
            machine = .socks5(m)
            return step
        }
    }

    /// The reply to send the client once the upstream is connected (after `.connect`); `bound` is the
    /// upstream socket's local address, or nil to send zeros as GOST does. Empty after `.forward`.
    public func successReply(bound: SocketAddress?) -> [UInt8] {
        switch machine {
        case .undecided: []
        case .http(let m): m.successReply()
        case .socks4(let m): m.successReply(bound: bound)
        case .socks5(let m): m.successReply(bound: bound)
        }
    }

    /// The reply to send the client when the dial failed, before closing.
    public func failureReply(_ failure: DialFailure) -> [UInt8] {
        switch machine {
        case .undecided: []
        case .http(let m): m.failureReply(failure)
        case .socks4(let m): m.failureReply(failure)
        case .socks5(let m): m.failureReply(failure)
        }
    }
}

extension InboundHandshake.Machine {
    init(_ proto: InboundProtocol, _ options: InboundOptions) {
        switch proto {
        case .http: self = .http(HTTPInbound(options: options))
        case .socks4: self = .socks4(SOCKS4Inbound(credentials: options.credentials))
        case .socks5: self = .socks5(SOCKS5Inbound(credentials: options.credentials))
        }
    }
}

extension Credentials {
    /// GOST's check (`auth.authenticator`): the user name must match, and the password too unless the
    /// configured one is empty (`-L user@:8080` accepts any password). Compares in time that does not
    /// depend on where the bytes differ.
    public func admits(user: UnsafeRawBufferPointer, password: UnsafeRawBufferPointer) -> Bool {
        var username = username
        var expected = self.password
        let userMatches = username.withUTF8 { constantTimeEqual(UnsafeRawBufferPointer($0), user) }
        let passwordMatches =
            expected.isEmpty || expected.withUTF8 { constantTimeEqual(UnsafeRawBufferPointer($0), password) }
        return userMatches && passwordMatches
    }

    /// The same for strings.
    public func admits(user: String, password: String) -> Bool {
        var user = user
        var password = password
        return user.withUTF8 { u in
            password.withUTF8 { p in admits(user: UnsafeRawBufferPointer(u), password: UnsafeRawBufferPointer(p)) }
        }
    }
}

/// Equal length and bytes, looking at every byte of `a` whatever the contents.
func constantTimeEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    var difference = UInt8(a.count == b.count ? 0 : 1)
    for i in 0..<a.count { difference |= a[i] ^ (i < b.count ? b[i] : 0) }
    return difference == 0
}
