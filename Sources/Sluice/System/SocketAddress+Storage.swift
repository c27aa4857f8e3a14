// SocketAddress <-> sockaddr_storage, for the socket calls.
import CSluice
import Glibc

// MARK: - sockaddr

extension SocketAddress {
    /// The address family (`AF_INET` or `AF_INET6`).
    public var family: Int32 { ip.isIPv4 ? AF_INET : AF_INET6 }

    /// Fills `storage` and returns the length to pass with it.
    public func fill(_ storage: inout sockaddr_storage) -> socklen_t {
        withUnsafeMutableBytes(of: &storage) { raw in
            raw.initializeMemory(as: UInt8.self, repeating: 0)
            switch ip {
            case .v4(let a):
                var sin = sockaddr_in()
                sin.sin_family = sa_family_t(AF_INET)
                sin.sin_port = port.bigEndian
                sin.sin_addr.s_addr = a.value.bigEndian
                raw.storeBytes(of: sin, as: sockaddr_in.self)
                return socklen_t(MemoryLayout<sockaddr_in>.size)
            case .v6(let a):
                var sin6 = sockaddr_in6()
                sin6.sin6_family = sa_family_t(AF_INET6)
                sin6.sin6_port = port.bigEndian
                withUnsafeMutableBytes(of: &sin6.sin6_addr) { bytes in
                    bytes.storeBytes(of: a.high.bigEndian, toByteOffset: 0, as: UInt64.self)
                    bytes.storeBytes(of: a.low.bigEndian, toByteOffset: 8, as: UInt64.self)
                }
                raw.storeBytes(of: sin6, as: sockaddr_in6.self)
                return socklen_t(MemoryLayout<sockaddr_in6>.size)
            }
        }
    }

    /// Reads an `AF_INET`/`AF_INET6` address; nil for other families.
    public init?(_ storage: sockaddr_storage) {
        let family = Int32(storage.ss_family)
        guard
            let parsed = withUnsafeBytes(
                of: storage,
                { raw -> SocketAddress? in
                    switch family {
                    case AF_INET:
                        let sin = raw.load(as: sockaddr_in.self)
                        return SocketAddress(
                            .v4(IPv4Address(UInt32(bigEndian: sin.sin_addr.s_addr))),
                            port: UInt16(bigEndian: sin.sin_port))
                    case AF_INET6:
                        let sin6 = raw.load(as: sockaddr_in6.self)
                        let (high, low) = withUnsafeBytes(of: sin6.sin6_addr) {
                            (
                                UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                                UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
                            )
                        }
                        return SocketAddress(
                            .v6(IPv6Address(high: high, low: low)), port: UInt16(bigEndian: sin6.sin6_port))
                    default:
                        return nil
                    }
                })
        else { return nil }
        self = parsed
    }
}
