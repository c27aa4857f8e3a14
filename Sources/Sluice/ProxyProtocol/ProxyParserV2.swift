// The PROXY v2 binary header (spec §2.2): the 16-byte fixed part checked byte by byte as it arrives,
// the `len` cap applied before waiting for the rest, then the address block and the TLVs.

enum ProxyParserV2 {
    /// §2.2: `\r\n\r\n\0\r\nQUIT\n`.
    static let signature: StaticString = "\r\n\r\n\0\r\nQUIT\n"
    /// Signature, `ver_cmd`, `fam` and the 2-byte `len`.
    static let fixedLength = 16

    /// Parses `bytes`, whose first byte is CR, with `len` capped at `maxLength`.
    static func parse(_ bytes: UnsafeRawBufferPointer, maxLength: Int) -> ProxyParseResult {
        guard matchesSignaturePrefix(bytes, signature) else { return .notProxy }
        let count = bytes.count
        // Each fixed-part byte is judged as soon as it arrives, in wire order, so a trickled header
        // gets the same answer as the whole header at once.
        guard count > 12 else { return .needMore(atLeast: fixedLength - count) }
        let versionCommand = bytes[12]
        guard versionCommand >> 4 == 2 else { return .invalid(.v2UnsupportedVersion) }
        guard let command = ProxyCommand(rawValue: versionCommand & 0x0F) else { return .invalid(.v2InvalidCommand) }
        guard count > 13 else { return .needMore(atLeast: fixedLength - count) }
        let family: ProxyFamily
        let transport: ProxyTransport
        switch familyAndTransport(bytes[13]) {
        case .success(let pair): (family, transport) = pair
        case .failure(let error): return .invalid(error)
        }
        guard count >= fixedLength else { return .needMore(atLeast: fixedLength - count) }
        let length = Int(bytes[14]) << 8 | Int(bytes[15])
        // proxy-protocol.md §2.7: reject an oversized `len` at once instead of buffering up to 64 KiB.
        guard length <= maxLength else { return .invalid(.v2LengthExceedsLimit) }
        let blockLength = addressBlockLength(family)
        // CVE-2019-14243: a PROXY header whose `len` cannot hold its addresses is invalid.
        if command == .proxy, length < blockLength { return .invalid(.v2LengthTooShortForAddresses) }
        let total = fixedLength + length
        guard count >= total else { return .needMore(atLeast: total - count) }
        return decode(
            UnsafeRawBufferPointer(rebasing: bytes[0..<total]), command: command, family: family,
            transport: transport, blockLength: blockLength)
    }

    /// Decodes a complete header (exactly 16 + `len` bytes).
    private static func decode(
        _ header: UnsafeRawBufferPointer, command: ProxyCommand, family: ProxyFamily, transport: ProxyTransport,
        blockLength: Int
    ) -> ProxyParseResult {
        var result = ProxyHeader(version: .v2, command: command, family: family, transport: transport, addresses: .none)
        // §2.2: LOCAL must be accepted with the real endpoints and `len` bytes skipped whatever the
        // family says. When the family's address block fits, the TLVs after it are still checked (a
        // CRC32C must verify even for LOCAL); when it does not, the bytes are skipped unread.
        if command == .local, header.count - fixedLength < blockLength {
            return .header(result, consumed: header.count)
        }
        if command == .proxy { result.addresses = addresses(header, family: family) }
        do throws(ProxyHeaderError) {
            result.tlvs = try ProxyTLVDecoder.decode(header, from: fixedLength + blockLength)
        } catch {
            return .invalid(error)
        }
        return .header(result, consumed: header.count)
    }

    /// §2.2: families 0–3, transports 0–2, and only the pairs the spec lists (0x00, 0x11, 0x12,
    /// 0x21, 0x22, 0x31, 0x32); go-proxyproto also rejects the others.
    private static func familyAndTransport(_ byte: UInt8) -> Result<(ProxyFamily, ProxyTransport), ProxyHeaderError> {
        guard let family = ProxyFamily(rawValue: byte >> 4) else { return .failure(.v2InvalidFamily) }
        guard let transport = ProxyTransport(rawValue: byte & 0x0F) else { return .failure(.v2InvalidTransport) }
        guard (family == .unspec) == (transport == .unspec) else { return .failure(.v2InvalidFamilyTransport) }
        return .success((family, transport))
    }

    /// §2.2: 2×4 + 2×2 for IPv4, 2×16 + 2×2 for IPv6, 2×108 for UNIX.
    static func addressBlockLength(_ family: ProxyFamily) -> Int {
        switch family {
        case .unspec: 0
        case .inet: 12
        case .inet6: 36
        case .unix: 216
        }
    }

    /// The address block at offset 16 (the caller checked that it fits).
    private static func addresses(_ header: UnsafeRawBufferPointer, family: ProxyFamily) -> ProxyAddresses {
        func u16(_ offset: Int) -> UInt16 { header.loadUnaligned(fromByteOffset: offset, as: UInt16.self).bigEndian }
        func u64(_ offset: Int) -> UInt64 { header.loadUnaligned(fromByteOffset: offset, as: UInt64.self).bigEndian }
        switch family {
        case .unspec:
            return .none
        case .inet:
            let source = IPv4Address(header.loadUnaligned(fromByteOffset: 16, as: UInt32.self).bigEndian)
            let destination = IPv4Address(header.loadUnaligned(fromByteOffset: 20, as: UInt32.self).bigEndian)
            return .inet(
                source: SocketAddress(.v4(source), port: u16(24)),
                destination: SocketAddress(.v4(destination), port: u16(26)))
        case .inet6:
            let source = IPv6Address(high: u64(16), low: u64(24))
            let destination = IPv6Address(high: u64(32), low: u64(40))
            return .inet(
                source: SocketAddress(.v6(source), port: u16(48)),
                destination: SocketAddress(.v6(destination), port: u16(50)))
        case .unix:
            return .unix(source: unixPath(header, at: 16), destination: unixPath(header, at: 124))
        }
    }

    /// A 108-byte `sun_path` without its trailing NUL padding.
    private static func unixPath(_ header: UnsafeRawBufferPointer, at offset: Int) -> [UInt8] {
        var end = offset + 108
        while end > offset, header[end - 1] == 0 { end -= 1 }
        return Array(header[offset..<end])
    }
}
