// The PROXY protocol header model: what a v1 line or a v2 block says (version, command, family,
// transport, addresses) and which addresses a server must use as a result.

/// The PROXY protocol version a header was written in.
public enum ProxyVersion: UInt8, Sendable, Hashable {
    /// The text form, `PROXY TCP4 … \r\n` (spec §2.1).
    case v1 = 1
    /// The binary form that starts with the 12-byte signature (spec §2.2).
    case v2 = 2
}

/// What the sender asks for: the low nibble of the v2 `ver_cmd` byte (spec §2.2).
public enum ProxyCommand: UInt8, Sendable, Hashable {
    /// The sender opened the connection itself (a health check): use the real socket addresses.
    case local = 0
    /// The connection is relayed for a client whose addresses the header carries.
    /// A v1 line is always `.proxy`, `PROXY UNKNOWN` included (its family is `.unspec`).
    case proxy = 1
}

/// The address family: the high nibble of the v2 `fam` byte; v1 `TCP4` is `.inet`, `TCP6` `.inet6`,
/// `UNKNOWN` `.unspec`.
public enum ProxyFamily: UInt8, Sendable, Hashable {
    case unspec = 0
    case inet = 1
    case inet6 = 2
    case unix = 3
}

/// The transport: the low nibble of the v2 `fam` byte; a v1 `TCP4`/`TCP6` line is `.stream`.
public enum ProxyTransport: UInt8, Sendable, Hashable {
    case unspec = 0
    case stream = 1
    case dgram = 2
}

/// The addresses a header carries.
public enum ProxyAddresses: Equatable, Sendable {
    /// No address: LOCAL, UNSPEC, or v1 `UNKNOWN`.
    case none
    /// IPv4 or IPv6 addresses with ports (TCP or UDP). IPv4-mapped IPv6 addresses stay IPv6 here.
    case inet(source: SocketAddress, destination: SocketAddress)
    /// AF_UNIX paths (v2 only), each the 108-byte field with its trailing NUL padding removed, so an
    /// abstract name (leading NUL) keeps its bytes.
    case unix(source: [UInt8], destination: [UInt8])
}

/// A parsed PROXY protocol header.
public struct ProxyHeader: Equatable, Sendable {
    /// v1 or v2.
    public var version: ProxyVersion
    /// `.local` (v2 health checks) or `.proxy` (v1 always, `UNKNOWN` included).
    public var command: ProxyCommand
    /// The family as sent; LOCAL keeps the `fam` byte's family even though its addresses are ignored.
    public var family: ProxyFamily
    /// The transport as sent.
    public var transport: ProxyTransport
    /// The addresses; always `.none` for LOCAL, whose address block is skipped (spec §2.2).
    public var addresses: ProxyAddresses
    /// The v2 TLVs in wire order (always empty for v1).
    public var tlvs: [ProxyTLV]

    /// Makes a header from its parts (the parser and the tests build them).
    public init(
        version: ProxyVersion, command: ProxyCommand, family: ProxyFamily, transport: ProxyTransport,
        addresses: ProxyAddresses, tlvs: [ProxyTLV] = []
    ) {
        self.version = version
        self.command = command
        self.family = family
        self.transport = transport
        self.addresses = addresses
        self.tlvs = tlvs
    }

    /// True when the real socket addresses must be used: LOCAL, v1 UNKNOWN, UNSPEC, UNIX, DGRAM
    /// (Sluice serves TCP, and spec §2.2 says a receiver falls back to UNSPEC for what it does not support).
    public var usesRealAddresses: Bool {
        guard command == .proxy, transport == .stream, case .inet = addresses else { return true }
        return false
    }

    /// The client address to use instead of the TCP peer (nil when `usesRealAddresses`).
    public var source: SocketAddress? {
        guard !usesRealAddresses, case .inet(let source, _) = addresses else { return nil }
        return source
    }

    /// The original destination (nil when `usesRealAddresses`).
    public var destination: SocketAddress? {
        guard !usesRealAddresses, case .inet(_, let destination) = addresses else { return nil }
        return destination
    }

    /// The first AUTHORITY TLV (the client's SNI or host name), if any.
    public var authority: String? {
        for case .authority(let value) in tlvs { return value }
        return nil
    }

    /// The first UNIQUE_ID TLV, if any.
    public var uniqueID: [UInt8]? {
        for case .uniqueID(let value) in tlvs { return value }
        return nil
    }

    /// The first ALPN TLV, if any.
    public var alpn: [UInt8]? {
        for case .alpn(let value) in tlvs { return value }
        return nil
    }

    /// The first SSL TLV, if any.
    public var ssl: ProxySSL? {
        for case .ssl(let value) in tlvs { return value }
        return nil
    }
}

extension ProxyHeader: CustomStringConvertible {
    /// A short summary for logs and test failures, e.g. `v2 proxy inet/stream 1.2.3.4:5 -> 6.7.8.9:10 tlvs=2`.
    public var description: String {
        var text = "v\(version.rawValue) \(command) \(family)/\(transport)"
        switch addresses {
        case .none: break
        case .inet(let source, let destination): text += " \(source) -> \(destination)"
        case .unix(let source, let destination): text += " unix(\(source.count) -> \(destination.count) bytes)"
        }
        if !tlvs.isEmpty { text += " tlvs=\(tlvs.count)" }
        return text
    }
}
