// The PROXY header writer: v1 lines and v2 blocks (optional TLVs, CRC32C patched in last), written
// straight into the caller's buffer without allocating.

/// The optional TLVs `ProxyEncoder.writeV2` appends, in this order: ALPN, AUTHORITY, UNIQUE_ID, NOOP,
/// CRC32C. Unset fields are not written; `.none` writes no TLV.
public struct ProxyEncodeTLVs: Equatable, Sendable {
    /// 0x01: the negotiated ALPN protocol.
    public var alpn: [UInt8]?
    /// 0x02: the client's host name (SNI); at most 255 bytes of UTF-8.
    public var authority: String?
    /// 0x05: an opaque connection id; at most 128 bytes.
    public var uniqueID: [UInt8]?
    /// 0x04: a NOOP TLV with this many value bytes (zeros); 3 + `noopPadding` bytes in all.
    public var noopPadding: Int?
    /// 0x03: a CRC32C over the whole header, computed after everything else is written.
    public var crc32c: Bool

    /// No TLVs. (Computed, so passing it costs no global access or copy.)
    public static var none: ProxyEncodeTLVs { ProxyEncodeTLVs() }

    public init(
        alpn: [UInt8]? = nil, authority: String? = nil, uniqueID: [UInt8]? = nil, noopPadding: Int? = nil,
        crc32c: Bool = false
    ) {
        self.alpn = alpn
        self.authority = authority
        self.uniqueID = uniqueID
        self.noopPadding = noopPadding
        self.crc32c = crc32c
    }

    /// The bytes these TLVs take, checked against the per-TLV limits.
    func encodedLength() throws(ProxyEncodeError) -> Int {
        // Optional chaining reads the counts without copying (retaining) the values.
        var length = 0
        if let count = alpn?.count { length += 3 + count }
        if let count = authority?.utf8.count {
            guard count <= ProxyTLVType.maxAuthorityLength else { throw .authorityTooLong }
            length += 3 + count
        }
        if let count = uniqueID?.count {
            guard count <= ProxyTLVType.maxUniqueIDLength else { throw .uniqueIDTooLong }
            length += 3 + count
        }
        if let noopPadding {
            guard noopPadding >= 0 else { throw .invalidPadding }
            length += 3 + noopPadding
        }
        if crc32c { length += 7 }
        return length
    }
}

/// Why a header could not be written.
public enum ProxyEncodeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The buffer is smaller than the header, which needs `needed` bytes.
    case bufferTooSmall(needed: Int)
    /// AUTHORITY above 255 bytes.
    case authorityTooLong
    /// UNIQUE_ID above 128 bytes.
    case uniqueIDTooLong
    /// A negative NOOP padding.
    case invalidPadding
    /// The v2 `len` (addresses + TLVs) would exceed 65535.
    case lengthExceedsLimit

    public var description: String {
        switch self {
        case .bufferTooSmall(let needed): "buffer too small for header (\(needed) bytes)"
        case .authorityTooLong: "authority tlv too long"
        case .uniqueIDTooLong: "unique id tlv too long"
        case .invalidPadding: "negative noop padding"
        case .lengthExceedsLimit: "v2 length exceeds 65535"
        }
    }
}

/// Writes PROXY headers for an upstream connection.
///
/// Addresses are written as canonical text (lowercase, compressed IPv6, no zone). When exactly one of
/// the two addresses is IPv4 it is mapped to `::ffff:a.b.c.d` and the header says TCP6 / INET6, as
/// HAProxy does (never TCP6 with a dotted quad). IPv4-mapped IPv6 addresses are written as given:
/// unmap them first to get TCP4.
public enum ProxyEncoder {
    /// The longest v1 line (spec §2.1); a buffer of this size always suffices for `writeV1`.
    public static let maxV1Length = 107

    /// Writes a v1 line ("PROXY TCP4 …\r\n", TCP6 with ::ffff: mapping for mixed families, or
    /// "PROXY UNKNOWN\r\n" when an address is nil). Returns bytes written; throws if the buffer is too small.
    public static func writeV1(
        source: SocketAddress?, destination: SocketAddress?, into buffer: UnsafeMutableRawBufferPointer
    ) throws(ProxyEncodeError) -> Int {
        if buffer.count >= maxV1Length, let base = buffer.baseAddress {
            return line(source, destination, base.assumingMemoryBound(to: UInt8.self))
        }
        // A smaller buffer may still hold this line: write it to a scratch line and copy it if it fits.
        let length = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxV1Length) { scratch -> Int in
            let length = line(source, destination, scratch.baseAddress!)
            if length <= buffer.count, let base = buffer.baseAddress {
                base.copyMemory(from: scratch.baseAddress!, byteCount: length)
            }
            return length
        }
        guard length <= buffer.count else { throw .bufferTooSmall(needed: length) }
        return length
    }

    /// Writes a v2 header: PROXY/STREAM INET or INET6 (mixed → INET6 mapped), LOCAL with family UNSPEC
    /// when an address is nil, with optional TLVs (alpn, authority, uniqueID, noop padding, crc32c last).
    /// Returns bytes written.
    public static func writeV2(
        source: SocketAddress?, destination: SocketAddress?, tlvs: ProxyEncodeTLVs = .none,
        into buffer: UnsafeMutableRawBufferPointer
    ) throws(ProxyEncodeError) -> Int {
        let total = try v2Length(source: source, destination: destination, tlvs: tlvs)
        guard buffer.count >= total, let out = buffer.baseAddress else { throw .bufferTooSmall(needed: total) }
        let signature = ProxyParserV2.signature
        out.copyMemory(from: signature.utf8Start, byteCount: signature.utf8CodeUnitCount)
        var n = signature.utf8CodeUnitCount
        if let source, let destination {
            let v4 = source.ip.isIPv4 && destination.ip.isIPv4
            put(0x21, 12)  // version 2, PROXY
            put(v4 ? 0x11 : 0x21, 13)  // TCP over IPv4 / IPv6
            store(UInt16(total - 16), 14)
            n = 16
            if v4 {
                store(ipv4(source).value, 16)
                store(ipv4(destination).value, 20)
                n = 24
            } else {
                let (from, to) = (source.ip.asIPv6, destination.ip.asIPv6)
                store(from.high, 16)
                store(from.low, 24)
                store(to.high, 32)
                store(to.low, 40)
                n = 48
            }
            store(source.port, n)
            store(destination.port, n + 2)
            n += 4
        } else {
            // §2.2: LOCAL "should not present any address", so family UNSPEC and no address block.
            put(0x20, 12)
            put(0x00, 13)
            store(UInt16(total - 16), 14)
            n = 16
        }
        n = writeTLVs(tlvs, out, at: n)
        if tlvs.crc32c {
            // §2.2.3: the value was written as zeros; the CRC covers the whole header.
            store(ProxyTLVType.crc32c, UInt16(4), n)
            store(UInt32(0), n + 3)
            n += 7
            store(CRC32C.checksum(UnsafeRawBufferPointer(start: out, count: n)), n - 4)
        }
        return n

        func put(_ byte: UInt8, _ offset: Int) { out.storeBytes(of: byte, toByteOffset: offset, as: UInt8.self) }
        func store<T: FixedWidthInteger>(_ value: T, _ offset: Int) {
            out.storeBytes(of: value.bigEndian, toByteOffset: offset, as: T.self)
        }
        func store(_ type: UInt8, _ length: UInt16, _ offset: Int) {
            put(type, offset)
            store(length, offset + 1)
        }
        func ipv4(_ address: SocketAddress) -> IPv4Address {
            if case .v4(let v4) = address.ip { return v4 }
            preconditionFailure("not IPv4")
        }
    }

    /// The bytes `writeV2` needs for these arguments (16 + `len`).
    public static func v2Length(
        source: SocketAddress?, destination: SocketAddress?, tlvs: ProxyEncodeTLVs = .none
    ) throws(ProxyEncodeError) -> Int {
        var length = try tlvs.encodedLength()
        if let source, let destination { length += source.ip.isIPv4 && destination.ip.isIPv4 ? 12 : 36 }
        guard length <= 65535 else { throw .lengthExceedsLimit }
        return 16 + length
    }

    // MARK: - Private

    /// Writes the v1 line at `out` (at least 107 bytes).
    private static func line(
        _ source: SocketAddress?, _ destination: SocketAddress?, _ out: UnsafeMutablePointer<UInt8>
    ) -> Int {
        var n = text("PROXY ", out)
        guard let source, let destination else { return n + text("UNKNOWN\r\n", out + n) }
        let v4 = source.ip.isIPv4 && destination.ip.isIPv4
        n += text(v4 ? "TCP4 " : "TCP6 ", out + n)
        n += address(source.ip, v4: v4, out + n)
        out[n] = 0x20
        n += 1
        n += address(destination.ip, v4: v4, out + n)
        out[n] = 0x20
        n += 1
        n += writeDecimal(UInt64(source.port), to: out + n)
        out[n] = 0x20
        n += 1
        n += writeDecimal(UInt64(destination.port), to: out + n)
        return n + text("\r\n", out + n)
    }

    private static func address(_ ip: IPAddress, v4: Bool, _ out: UnsafeMutablePointer<UInt8>) -> Int {
        v4 ? ip.write(to: out) : ip.asIPv6.write(to: out)
    }

    private static func text(_ text: StaticString, _ out: UnsafeMutablePointer<UInt8>) -> Int {
        out.update(from: text.utf8Start, count: text.utf8CodeUnitCount)
        return text.utf8CodeUnitCount
    }

    /// Writes every TLV but the CRC at `offset`; returns the offset after them.
    private static func writeTLVs(_ tlvs: ProxyEncodeTLVs, _ out: UnsafeMutableRawPointer, at offset: Int) -> Int {
        var n = offset
        func tlv(_ type: UInt8, _ value: UnsafeRawBufferPointer) {
            out.storeBytes(of: type, toByteOffset: n, as: UInt8.self)
            out.storeBytes(of: UInt16(value.count).bigEndian, toByteOffset: n + 1, as: UInt16.self)
            if let base = value.baseAddress, value.count > 0 {
                (out + n + 3).copyMemory(from: base, byteCount: value.count)
            }
            n += 3 + value.count
        }
        tlvs.alpn?.withUnsafeBytes { tlv(ProxyTLVType.alpn, $0) }
        if tlvs.authority != nil {
            // Native Strings are contiguous UTF-8 (small ones are copied to the stack): no allocation.
            let written: Void? = tlvs.authority!.utf8.withContiguousStorageIfAvailable {
                tlv(ProxyTLVType.authority, UnsafeRawBufferPointer($0))
            }
            if written == nil {
                var authority = tlvs.authority!
                authority.withUTF8 { tlv(ProxyTLVType.authority, UnsafeRawBufferPointer($0)) }
            }
        }
        tlvs.uniqueID?.withUnsafeBytes { tlv(ProxyTLVType.uniqueID, $0) }
        if let padding = tlvs.noopPadding {
            out.storeBytes(of: ProxyTLVType.noop, toByteOffset: n, as: UInt8.self)
            out.storeBytes(of: UInt16(padding).bigEndian, toByteOffset: n + 1, as: UInt16.self)
            (out + n + 3).initializeMemory(as: UInt8.self, repeating: 0, count: padding)
            n += 3 + padding
        }
        return n
    }
}
