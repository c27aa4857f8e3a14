// CIDR: an IP network ("10.0.0.0/8", "fd00::/8", or a single address) and membership tests, for
// lists such as `proxyProtocol.trusted`.

/// An IPv4 or IPv6 network. IPv4-mapped IPv6 networks (`::ffff:10.0.0.0/104`) are stored as
/// their IPv4 equivalent, so one rule covers IPv4 peers on IPv4 and on dual-stack sockets.
public struct CIDR: Sendable, Equatable, CustomStringConvertible {
    /// The network address, host bits cleared.
    public private(set) var address: IPAddress
    /// 0–32 for IPv4, 0–128 for IPv6.
    public private(set) var prefixLength: Int

    /// Parses `address/prefix` or a bare address (a /32 or /128). Host bits are cleared, as Go's
    /// `net.ParseCIDR` does ("10.1.2.3/8" is 10.0.0.0/8). Nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let ip = IPAddress(String(parts[0])) else { return nil }
        let bits = ip.isIPv4 ? 32 : 128
        var length = bits
        if parts.count == 2 {
            let digits = parts[1]
            guard !digits.isEmpty, digits.count <= 3, digits.utf8.allSatisfy(isDigit),
                digits == "0" || !digits.hasPrefix("0"), let n = Int(digits), n <= bits
            else { return nil }
            length = n
        }
        if case .v6(let v6) = ip, length >= 96, let v4 = v6.mappedIPv4 {
            self.init(network: .v4(v4), prefixLength: length - 96)
        } else {
            self.init(network: ip, prefixLength: length)
        }
    }

    private init(network: IPAddress, prefixLength: Int) {
        self.prefixLength = prefixLength
        switch network {
        case .v4(let a): address = .v4(IPv4Address(a.value & Self.mask32(prefixLength)))
        case .v6(let a):
            let (high, low) = Self.mask128(prefixLength)
            address = .v6(IPv6Address(high: a.high & high, low: a.low & low))
        }
    }

    /// Whether `ip` is in the network. An IPv4-mapped IPv6 address counts as its IPv4 address.
    public func contains(_ ip: IPAddress) -> Bool {
        switch (address, ip.unmapped) {
        case (.v4(let network), .v4(let a)):
            return a.value & Self.mask32(prefixLength) == network.value
        case (.v6(let network), .v6(let a)):
            let (high, low) = Self.mask128(prefixLength)
            return a.high & high == network.high && a.low & low == network.low
        default:
            return false
        }
    }

    /// "10.0.0.0/8", "fd00::/8".
    public var description: String { "\(address)/\(prefixLength)" }

    private static func mask32(_ length: Int) -> UInt32 {
        length == 0 ? 0 : UInt32.max << UInt32(32 - length)
    }

    private static func mask128(_ length: Int) -> (UInt64, UInt64) {
        func mask64(_ n: Int) -> UInt64 { n <= 0 ? 0 : n >= 64 ? .max : UInt64.max << UInt64(64 - n) }
        return (mask64(length), mask64(length - 64))
    }
}
