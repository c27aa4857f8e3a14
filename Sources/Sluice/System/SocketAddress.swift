// SocketAddress: an IP address and port, and its text forms `1.2.3.4:80` and `[::1]:80` as GOST
// logs them. Pure (no Glibc), so the fuzz build can compile it on its own.

/// An IPv4 or IPv6 address with a port.
public struct SocketAddress: Hashable, Sendable {
    public var ip: IPAddress
    public var port: UInt16

    public init(_ ip: IPAddress, port: UInt16) {
        self.ip = ip
        self.port = port
    }

    /// `IPv4-mapped IPv6` peers on dual-stack listeners become IPv4, as Go shows them.
    public var unmapped: SocketAddress { SocketAddress(ip.unmapped, port: port) }

    /// Longest text: "[" + 45 + "]:" + 5.
    public static let maxTextLength = IPAddress.maxTextLength + 8

    /// Writes `a.b.c.d:port` or `[v6]:port` at `out` (at least `maxTextLength` bytes).
    public func write(to out: UnsafeMutablePointer<UInt8>) -> Int {
        var n = 0
        switch ip {
        case .v4(let a):
            n = a.write(to: out)
        case .v6(let a):
            out[0] = 0x5B
            n = 1 + a.write(to: out + 1)
            out[n] = 0x5D
            n += 1
        }
        out[n] = 0x3A
        n += 1
        return n + writeDecimal(UInt64(port), to: out + n)
    }

    /// Parses `a.b.c.d:port` or `[v6]:port` (literal addresses only).
    public init?(_ text: String) {
        var text = text
        guard let parsed = text.withUTF8({ SocketAddress(text: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = parsed
    }

    public init?(text: UnsafeRawBufferPointer) {
        guard let colon = text.lastIndex(of: 0x3A), colon + 1 < text.count else { return nil }
        var port: UInt32 = 0
        for byte in text[(colon + 1)...] {
            guard byte >= 0x30, byte <= 0x39, port <= 65535 else { return nil }
            port = port * 10 + UInt32(byte - 0x30)
        }
        guard port <= 65535 else { return nil }
        var host = UnsafeRawBufferPointer(rebasing: text[..<colon])
        if host.first == 0x5B {
            guard host.count >= 2, host.last == 0x5D else { return nil }
            host = UnsafeRawBufferPointer(rebasing: host[1..<(host.count - 1)])
            guard let v6 = IPv6Address(text: host) else { return nil }
            ip = .v6(v6)
        } else {
            guard let v4 = IPv4Address(text: host) else { return nil }
            ip = .v4(v4)
        }
        self.port = UInt16(port)
    }
}

extension SocketAddress: CustomStringConvertible {
    public var description: String { formatText(Self.maxTextLength) { write(to: $0) } }
}
