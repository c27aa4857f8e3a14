// Destination: where a connection is to be dialled (a host name or IP literal and a port), as proxy
// handlers hand it to the dialer and as log lines and CONNECT requests print it. Pure (no Glibc).

/// A host (a DNS name or an IP literal, never bracketed) and a port.
///
/// Made only through the checking initialisers, so `host` is either the canonical text of `address`
/// or a host name that passes `Destination.isHostName`: a resolver, a log line and a CONNECT line can
/// take it as it is.
public struct Destination: Hashable, Sendable {
    /// A host name (as given, case kept) or the canonical text of an IP literal, without brackets.
    public let host: String
    public let port: UInt16
    /// Set exactly when `host` is an IP literal: no resolution is needed.
    public let address: SocketAddress?

    /// An IP literal destination.
    public init(_ address: SocketAddress) {
        self.init(checkedHost: address.ip.description, port: address.port, address: address)
    }

    /// A name the configuration's own rules accepted though `isHostName` is stricter (a numeric
    /// last label, say): it goes to the resolver as written.
    init(uncheckedHost host: String, port: UInt16) {
        self.init(checkedHost: host, port: port, address: nil)
    }

    private init(checkedHost: String, port: UInt16, address: SocketAddress?) {
        self.host = checkedHost
        self.port = port
        self.address = address
    }

    /// `host` is an IP literal (IPv6 without brackets) or a host name; nil when it is neither.
    public init?(host: String, port: UInt16) {
        var host = host
        guard let parsed = host.withUTF8({ Destination(host: UnsafeRawBufferPointer($0), port: port) }) else {
            return nil
        }
        self = parsed
    }

    /// The same from raw bytes (a SOCKS domain field, a slice of an HTTP request).
    public init?(host: UnsafeRawBufferPointer, port: UInt16) {
        if let ip = IPAddress(text: host) {
            self.init(SocketAddress(ip, port: port))
        } else if Destination.isHostName(host) {
            self.init(checkedHost: String(decoding: host, as: UTF8.self), port: port, address: nil)
        } else {
            return nil
        }
    }

    /// Parses an authority: `host:port`, `a.b.c.d:port`, `[v6]:port`, or (when `defaultPort` is given)
    /// the same without `:port` or with an empty port (RFC 3986 §3.2.3). No user info, no zone ids.
    public init?(authority: UnsafeRawBufferPointer, defaultPort: UInt16? = nil) {
        let count = authority.count
        guard count > 0 else { return nil }
        var hostEnd = count
        var portStart = count  // == count: no port given
        if authority[0] == 0x5B {  // "["
            guard let close = authority.firstIndex(of: 0x5D) else { return nil }
            hostEnd = close + 1
            if hostEnd < count {
                guard authority[hostEnd] == 0x3A else { return nil }
                portStart = hostEnd + 1
            }
        } else if let colon = authority.lastIndex(of: 0x3A) {
            hostEnd = colon
            portStart = colon + 1
        }
        let port: UInt16
        if portStart == count {
            guard let defaultPort else { return nil }
            port = defaultPort
        } else {
            guard let parsed = Destination.parsePort(UnsafeRawBufferPointer(rebasing: authority[portStart...])) else {
                return nil
            }
            port = parsed
        }
        if authority[0] == 0x5B {
            guard let v6 = IPv6Address(text: UnsafeRawBufferPointer(rebasing: authority[1..<(hostEnd - 1)])) else {
                return nil
            }
            self.init(SocketAddress(.v6(v6), port: port))
        } else {
            let host = UnsafeRawBufferPointer(rebasing: authority[..<hostEnd])
            // An unbracketed IPv6 literal has colons left in the host part: not an authority.
            guard !host.contains(0x3A), let parsed = Destination(host: host, port: port) else { return nil }
            self = parsed
        }
    }

    /// Parses `host:port` or `[v6]:port` text (a port is required).
    public init?(_ text: String) {
        var text = text
        guard let parsed = text.withUTF8({ Destination(authority: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = parsed
    }

    /// `host:port`, or `[v6]:port` for an IPv6 literal: the form of log fields and CONNECT targets.
    public var text: String {
        if let address { return address.description }
        return "\(host):\(port)"
    }

    /// True when both name the same endpoint: host names compare without regard to ASCII case.
    public func isSameEndpoint(as other: Destination) -> Bool {
        guard port == other.port else { return false }
        if address != nil || other.address != nil { return address == other.address }
        return host.utf8.elementsEqual(other.host.utf8) { asciiLowercase($0) == asciiLowercase($1) }
    }

    /// The longest host name accepted (the SOCKS5 domain field's limit).
    public static let maxHostNameLength = 255

    /// A host name a resolver can be given: 1–255 bytes of ASCII letters, digits, `-`, `_` and `.`,
    /// not an IP literal, and whose last label is not numeric. glibc's getaddrinfo reads `127.1`,
    /// `2130706433` or `0x7f.1` as IPv4 addresses (inet_aton forms); such names are refused instead of
    /// being dialled as an address nobody wrote.
    public static func isHostName(_ name: UnsafeRawBufferPointer) -> Bool {
        guard !name.isEmpty, name.count <= maxHostNameLength else { return false }
        for byte in name {
            switch byte {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E, 0x5F: continue
            default: return false
            }
        }
        var end = name.count
        if name[end - 1] == 0x2E { end -= 1 }  // a fully qualified name's trailing dot
        guard end > 0 else { return false }
        var start = end
        while start > 0, name[start - 1] != 0x2E { start -= 1 }
        let label = UnsafeRawBufferPointer(rebasing: name[start..<end])
        guard !label.isEmpty else { return false }
        if label.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { return false }
        if label.count >= 2, label[0] == 0x30, label[1] | 0x20 == 0x78 {  // "0x…"
            if label.dropFirst(2).allSatisfy({ hexValue($0) != nil }) { return false }
        }
        return true
    }

    /// 1–5 decimal digits, at most 65535.
    static func parsePort(_ digits: UnsafeRawBufferPointer) -> UInt16? {
        guard !digits.isEmpty, digits.count <= 5 else { return nil }
        var value: UInt32 = 0
        for byte in digits {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            value = value * 10 + UInt32(byte - 0x30)
        }
        return value <= 65535 ? UInt16(value) : nil
    }
}

extension Destination: CustomStringConvertible {
    public var description: String { text }
}

@inline(__always) func asciiLowercase(_ byte: UInt8) -> UInt8 {
    byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
}

extension Destination {
    /// From a plan's parts: the address when there is one (an IP literal, or 127.0.0.1 for an
    /// empty host), else `host` as a name the configuration parser has already checked.
    public init(host: String, port: UInt16, address: SocketAddress?) {
        if let address {
            self.init(address)
        } else if let checked = Destination(host: host, port: port) {
            self = checked
        } else {
            self.init(uncheckedHost: host, port: port)
        }
    }
}
