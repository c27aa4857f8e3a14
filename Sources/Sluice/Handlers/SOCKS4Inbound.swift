// SOCKS4Inbound: the server side of a SOCKS4 CONNECT, and its 4a extension (a host name after the user
// id), as a pure state machine fed with the client's bytes. Caps follow GOST's gosocks4 (255 bytes).

/// One SOCKS4/4a server handshake: request → (dial) → reply.
///
/// ```
/// +----+----+----+----+----+----+----+----+----+----+....+----+----+....+----+
/// | VN | CD | DSTPORT |      DSTIP        | USERID       |NUL | HOST (4a)|NUL |
/// ```
/// The user id is ignored unless credentials are configured; then, as in GOST (which authenticates
/// the user id with an empty password), it must equal the user name and the configured password must be
/// empty, so a SOCKS4 client can never pass a `user:pass` pair and is answered 93.
public struct SOCKS4Inbound: Equatable, Sendable {
    let credentials: Credentials?
    private var dialing = false
    /// The user id the client sent, when not empty.
    public private(set) var user: String?

    public init(credentials: Credentials?) {
        self.credentials = credentials
    }

    /// The longest user id and 4a host name, without their NUL (gosocks4's `maxUseridLen`,
    /// `maxHostnameLen`).
    public static let maxFieldLength = 255

    /// SOCKS4 reply codes (CD of the reply).
    public enum Reply: UInt8, Sendable {
        case granted = 90
        case rejected = 91
        /// "cannot connect to identd": GOST sends it for a bypassed destination.
        case noIdentd = 92
        case userIDRejected = 93
    }

    /// Feeds all unconsumed client bytes (see `HandshakeStep`).
    public mutating func received(_ bytes: UnsafeRawBufferPointer) -> HandshakeStep {
        guard !dialing else { return .needMore }
        // Checked in wire order, so the answer never depends on how the bytes were split.
        guard let version = bytes.first else { return .needMore }
        guard version == 4 else { return .refuse([], .socks4BadVersion(version)) }
        guard bytes.count >= 2 else { return .needMore }
        guard bytes[1] == 1 else { return .refuse(Self.reply(.rejected), .socks4CommandNotSupported(bytes[1])) }
        guard bytes.count >= 8 else { return .needMore }
        let port = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        let ip = bytes.loadBigEndianUInt32(at: 4)
        guard let userEnd = Self.nul(in: bytes, from: 8) else {
            return bytes.count > 8 + Self.maxFieldLength
                ? .refuse(Self.reply(.rejected), .socks4UserIDTooLong) : .needMore
        }
        let userID = UnsafeRawBufferPointer(rebasing: bytes[8..<userEnd])
        var end = userEnd + 1
        let destination: Destination
        // 4a: DSTIP 0.0.0.x with x ≠ 0 means a host name follows the user id.
        if ip >> 8 == 0, ip != 0 {
            guard let hostEnd = Self.nul(in: bytes, from: end) else {
                return bytes.count > end + Self.maxFieldLength
                    ? .refuse(Self.reply(.rejected), .socks4HostNameTooLong) : .needMore
            }
            guard let parsed = Destination(host: UnsafeRawBufferPointer(rebasing: bytes[end..<hostEnd]), port: port)
            else { return .refuse(Self.reply(.rejected), .socks4BadHostName) }
            destination = parsed
            end = hostEnd + 1
        } else {
            destination = Destination(SocketAddress(.v4(IPv4Address(ip)), port: port))
        }
        let name = userID.isEmpty ? nil : String(decoding: userID, as: UTF8.self)
        if let credentials,
            !(credentials.password.isEmpty
                && credentials.admits(user: userID, password: UnsafeRawBufferPointer(start: nil, count: 0)))
        {
            return .refuse(Self.reply(.userIDRejected), .socks4UserRejected(user: name ?? ""))
        }
        user = name
        dialing = true
        return .connect(destination, consumed: end, user: name)
    }

    /// The index of the first NUL in `bytes[start...]` within the field cap (`maxFieldLength` bytes
    /// before it), or nil.
    static func nul(in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        let limit = Swift.min(bytes.count, start + maxFieldLength + 1)
        var i = start
        while i < limit {
            if bytes[i] == 0 { return i }
            i += 1
        }
        return nil
    }

    /// `00 5A DSTPORT DSTIP`: the bound IPv4 address and port, or zeros when `bound` is nil or IPv6 (as
    /// GOST sends).
    public func successReply(bound: SocketAddress?) -> [UInt8] {
        Self.reply(.granted, bound: bound)
    }

    /// 91 for every dial failure (as GOST), 92 for a forbidden destination (as GOST's bypass).
    public func failureReply(_ failure: DialFailure) -> [UInt8] {
        Self.reply(failure == .notAllowed ? .noIdentd : .rejected)
    }

    /// An eight-byte reply.
    static func reply(_ code: Reply, bound: SocketAddress? = nil) -> [UInt8] {
        var out: [UInt8] = [0, code.rawValue]
        if let bound, case .v4(let a) = bound.ip {
            out += [UInt8(bound.port >> 8), UInt8(bound.port & 0xFF)]
            out.appendBigEndian(a.value)
        } else {
            out += [0, 0, 0, 0, 0, 0]
        }
        return out
    }
}
