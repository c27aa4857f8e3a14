// SOCKS5Inbound: the server side of a SOCKS5 CONNECT (RFC 1928) with no authentication or
// username/password (RFC 1929), as a pure state machine fed with the client's bytes.

/// One SOCKS5 server handshake: greeting → (username/password) → request → (dial) → reply.
///
/// Method choice: with credentials configured only username/password (2) is acceptable; without, no
/// authentication (0) is preferred and username/password is accepted with any name (the name is
/// logged). GOST answers with its method even when the client did not offer it; this follows RFC 1928
/// §3 and answers X'FF' instead, which such a client could not have used anyway.
public struct SOCKS5Inbound: Equatable, Sendable {
    enum Stage: Equatable, Sendable { case greeting, authentication, request, dialing }

    let credentials: Credentials?
    private(set) var stage = Stage.greeting
    /// The name from the username/password exchange.
    public private(set) var user: String?

    public init(credentials: Credentials?) {
        self.credentials = credentials
    }

    /// RFC 1928 §6 reply codes.
    public enum Reply: UInt8, Sendable {
        case succeeded = 0
        case generalFailure = 1
        case notAllowed = 2
        case networkUnreachable = 3
        case hostUnreachable = 4
        case connectionRefused = 5
        case ttlExpired = 6
        case commandNotSupported = 7
        case addressTypeNotSupported = 8
    }

    /// Feeds all unconsumed client bytes (see `HandshakeStep`).
    public mutating func received(_ bytes: UnsafeRawBufferPointer) -> HandshakeStep {
        switch stage {
        case .greeting: return greeting(bytes)
        case .authentication: return authentication(bytes)
        case .request: return request(bytes)
        case .dialing: return .needMore
        }
    }

    // +----+----------+----------+
    // |VER | NMETHODS | METHODS  |
    private mutating func greeting(_ bytes: UnsafeRawBufferPointer) -> HandshakeStep {
        guard bytes.count >= 2 else {
            if let version = bytes.first, version != 5 { return .refuse([], .socks5BadVersion(version)) }
            return .needMore
        }
        guard bytes[0] == 5 else { return .refuse([], .socks5BadVersion(bytes[0])) }
        let count = Int(bytes[1])
        guard count > 0 else { return .refuse([5, 0xFF], .socks5NoMethods) }
        guard bytes.count >= 2 + count else { return .needMore }
        let methods = UnsafeRawBufferPointer(rebasing: bytes[2..<(2 + count)])
        if credentials == nil, methods.contains(0) {
            stage = .request
            return .reply([5, 0], consumed: 2 + count)
        }
        if methods.contains(2) {
            stage = .authentication
            return .reply([5, 2], consumed: 2 + count)
        }
        return .refuse([5, 0xFF], .socks5NoAcceptableMethod)
    }

    // +----+------+----------+------+----------+
    // |VER | ULEN |  UNAME   | PLEN |  PASSWD  |
    private mutating func authentication(_ bytes: UnsafeRawBufferPointer) -> HandshakeStep {
        guard let version = bytes.first else { return .needMore }
        guard version == 1 else { return .refuse([1, 1], .socks5BadAuthVersion(version)) }
        guard bytes.count >= 2 else { return .needMore }
        let userEnd = 2 + Int(bytes[1])
        guard bytes.count > userEnd else { return .needMore }
        let end = userEnd + 1 + Int(bytes[userEnd])
        guard bytes.count >= end else { return .needMore }
        let name = UnsafeRawBufferPointer(rebasing: bytes[2..<userEnd])
        let password = UnsafeRawBufferPointer(rebasing: bytes[(userEnd + 1)..<end])
        let user = String(decoding: name, as: UTF8.self)
        if let credentials, !credentials.admits(user: name, password: password) {
            return .refuse([1, 1], .socks5AuthenticationFailed(user: user))
        }
        self.user = user
        stage = .request
        return .reply([1, 0], consumed: end)
    }

    // +----+-----+-------+------+----------+----------+
    // |VER | CMD |  RSV  | ATYP | DST.ADDR | DST.PORT |
    // Checked byte by byte in wire order, so the answer never depends on how the bytes were split.
    private mutating func request(_ bytes: UnsafeRawBufferPointer) -> HandshakeStep {
        guard let version = bytes.first else { return .needMore }
        guard version == 5 else { return .refuse(Self.reply(.generalFailure), .socks5BadVersion(version)) }
        guard bytes.count >= 2 else { return .needMore }
        guard bytes[1] == 1 else {
            return .refuse(Self.reply(.commandNotSupported), .socks5CommandNotSupported(bytes[1]))
        }
        guard bytes.count >= 4 else { return .needMore }
        let end: Int
        switch bytes[3] {
        case 1: end = 4 + 4 + 2
        case 4: end = 4 + 16 + 2
        case 3:
            guard bytes.count >= 5 else { return .needMore }
            end = 5 + Int(bytes[4]) + 2
        default:
            return .refuse(Self.reply(.addressTypeNotSupported), .socks5AddressTypeNotSupported(bytes[3]))
        }
        guard bytes.count >= end else { return .needMore }
        let port = UInt16(bytes[end - 2]) << 8 | UInt16(bytes[end - 1])
        let destination: Destination
        switch bytes[3] {
        case 1:
            destination = Destination(SocketAddress(.v4(IPv4Address(bytes.loadBigEndianUInt32(at: 4))), port: port))
        case 4:
            let v6 = IPv6Address(high: bytes.loadBigEndianUInt64(at: 4), low: bytes.loadBigEndianUInt64(at: 12))
            destination = Destination(SocketAddress(.v6(v6), port: port))
        default:
            // A domain field holding an address literal is taken as that address.
            guard let parsed = Destination(host: UnsafeRawBufferPointer(rebasing: bytes[5..<(end - 2)]), port: port)
            else { return .refuse(Self.reply(.hostUnreachable), .socks5BadHostName) }
            destination = parsed
        }
        stage = .dialing
        return .connect(destination, consumed: end, user: user)
    }

    /// `05 00 00 ATYP BND.ADDR BND.PORT`; zeros (IPv4 0.0.0.0:0) when `bound` is nil, as GOST sends.
    public func successReply(bound: SocketAddress?) -> [UInt8] {
        Self.reply(.succeeded, bound: bound)
    }

    /// The RFC 1928 reply for a failed dial. GOST answers 3 (network unreachable) to every failure;
    /// this tells refused (5), unreachable (3, 4), timed out (6, "TTL expired": the closest code RFC 1928
    /// has), and not allowed (2) apart, and says 1 for the rest.
    public func failureReply(_ failure: DialFailure) -> [UInt8] {
        Self.reply(Self.code(for: failure))
    }

    /// The reply code for a dial failure.
    public static func code(for failure: DialFailure) -> Reply {
        switch failure {
        case .refused: .connectionRefused
        case .networkUnreachable: .networkUnreachable
        case .hostUnreachable, .resolveFailed: .hostUnreachable
        case .timedOut: .ttlExpired
        case .notAllowed: .notAllowed
        case .other: .generalFailure
        }
    }

    /// A reply with `code` and the bound address (zeros when nil).
    static func reply(_ code: Reply, bound: SocketAddress? = nil) -> [UInt8] {
        var out: [UInt8] = [5, code.rawValue, 0]
        switch bound?.ip {
        case .v4(let a)?:
            out.append(1)
            out.appendBigEndian(a.value)
        case .v6(let a)?:
            out.append(4)
            out.appendBigEndian(a.high)
            out.appendBigEndian(a.low)
        case nil:
            out += [1, 0, 0, 0, 0]
        }
        let port = bound?.port ?? 0
        out += [UInt8(port >> 8), UInt8(port & 0xFF)]
        return out
    }
}

extension UnsafeRawBufferPointer {
    /// The big-endian UInt32 at `offset` (the caller has checked the length).
    func loadBigEndianUInt32(at offset: Int) -> UInt32 {
        var value: UInt32 = 0
        for i in 0..<4 { value = value << 8 | UInt32(self[offset + i]) }
        return value
    }

    /// The big-endian UInt64 at `offset` (the caller has checked the length).
    func loadBigEndianUInt64(at offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in 0..<8 { value = value << 8 | UInt64(self[offset + i]) }
        return value
    }
}

extension [UInt8] {
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        var shift = T.bitWidth - 8
        while shift >= 0 {
            append(UInt8(truncatingIfNeeded: value >> shift))
            shift -= 8
        }
    }
}
