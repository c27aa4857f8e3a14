// SOCKS5Connect: the client side of a SOCKS5 CONNECT (RFC 1928) with no authentication or
// username/password (RFC 1929), as a pure state machine fed with the server's bytes.

/// One SOCKS5 client handshake: greeting → (authentication) → CONNECT request → reply.
public struct SOCKS5Connect: Equatable {
    enum Stage: Equatable { case greeting, authentication, reply, done }

    /// The longest user name or password RFC 1929 can carry.
    public static let maxCredentialLength = 255

    let target: String
    let auth: Credentials?
    private(set) var stage = Stage.greeting

    /// `target` is "host:port", "a.b.c.d:port" or "[v6]:port".
    public init(target: String, auth: Credentials?) {
        self.target = target
        self.auth = auth
    }

    /// What the handshake needs next.
    public enum Step: Equatable {
        case needMore
        /// Send these bytes, then wait for the server; `consumed` bytes of the input were used.
        case send([UInt8], consumed: Int)
        /// The tunnel is open; `consumed` bytes were the reply (the rest is tunnel data).
        case established(consumed: Int)
        case failed(String)
    }

    /// The greeting: version 5 and the methods offered (username/password only with credentials).
    public func greeting() -> [UInt8] {
        auth == nil ? [5, 1, 0] : [5, 2, 0, 2]
    }

    /// Feeds the bytes received so far in the current stage.
    public mutating func received(_ bytes: UnsafeRawBufferPointer) -> Step {
        switch stage {
        case .greeting:
            guard bytes.count >= 2 else { return .needMore }
            guard bytes[0] == 5 else { return .failed("socks5: bad version \(bytes[0])") }
            switch bytes[1] {
            case 0:
                stage = .reply
                guard let request = connectRequest() else { return .failed("socks5: bad target \(target)") }
                return .send(request, consumed: 2)
            case 2 where auth != nil:
                stage = .authentication
                // RFC 1929 gives each a one-byte length; the plan rejects longer ones, never truncate.
                let user = Array(auth!.username.utf8)
                let pass = Array(auth!.password.utf8)
                guard user.count <= Self.maxCredentialLength, pass.count <= Self.maxCredentialLength else {
                    return .failed("socks5: user name or password longer than \(Self.maxCredentialLength) bytes")
                }
                return .send([1, UInt8(user.count)] + user + [UInt8(pass.count)] + pass, consumed: 2)
            case 0xFF: return .failed("socks5: no acceptable authentication method")
            default: return .failed("socks5: unsupported authentication method \(bytes[1])")
            }
        case .authentication:
            guard bytes.count >= 2 else { return .needMore }
            // RFC 1929 §2: the status reply starts with the sub-negotiation version, 1.
            guard bytes[0] == 1 else { return .failed("socks5: bad authentication reply version \(bytes[0])") }
            guard bytes[1] == 0 else { return .failed("socks5: authentication failed") }
            stage = .reply
            guard let request = connectRequest() else { return .failed("socks5: bad target \(target)") }
            return .send(request, consumed: 2)
        case .reply:
            guard bytes.count >= 5 else { return .needMore }
            guard bytes[0] == 5 else { return .failed("socks5: bad version \(bytes[0])") }
            guard bytes[1] == 0 else { return .failed("socks5: \(Self.replyText(bytes[1]))") }
            let length: Int
            switch bytes[3] {
            case 1: length = 4 + 4 + 2
            case 4: length = 4 + 16 + 2
            case 3: length = 4 + 1 + Int(bytes[4]) + 2
            default: return .failed("socks5: bad address type \(bytes[3])")
            }
            guard bytes.count >= length else { return .needMore }
            stage = .done
            return .established(consumed: length)
        case .done:
            return .established(consumed: 0)
        }
    }

    /// `05 01 00 ATYP ADDR PORT` for the target: IPv4, IPv6 or a domain name.
    func connectRequest() -> [UInt8]? {
        guard let colon = target.lastIndex(of: ":"), let port = UInt16(target[target.index(after: colon)...]) else {
            return nil
        }
        var host = target[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        var request: [UInt8] = [5, 1, 0]
        if let v4 = IPv4Address(String(host)) {
            request += [1] + withUnsafeBytes(of: v4.value.bigEndian, Array.init)
        } else if let v6 = IPv6Address(String(host)) {
            request +=
                [4] + withUnsafeBytes(of: v6.high.bigEndian, Array.init)
                + withUnsafeBytes(of: v6.low.bigEndian, Array.init)
        } else {
            let name = Array(host.utf8)
            guard !name.isEmpty, name.count <= 255 else { return nil }
            request += [3, UInt8(name.count)] + name
        }
        return request + [UInt8(port >> 8), UInt8(port & 0xff)]
    }

    /// RFC 1928 §6 reply codes.
    static func replyText(_ code: UInt8) -> String {
        switch code {
        case 1: "general SOCKS server failure"
        case 2: "connection not allowed by ruleset"
        case 3: "network unreachable"
        case 4: "host unreachable"
        case 5: "connection refused"
        case 6: "TTL expired"
        case 7: "command not supported"
        case 8: "address type not supported"
        default: "reply code \(code)"
        }
    }
}
