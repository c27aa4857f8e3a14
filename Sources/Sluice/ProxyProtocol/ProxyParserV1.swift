// The PROXY v1 text line (spec §2.1): find the CRLF within 107 bytes, then check every field
// strictly (single spaces, no leading zeros, ports 0–65535, address text matching TCP4/TCP6).

enum ProxyParserV1 {
    /// §2.1: the worst case, `UNKNOWN` with two full IPv6 addresses and ports, is 107 bytes with CRLF.
    static let maxLength = 107
    /// The shortest line, `PROXY UNKNOWN\r\n`.
    static let minLength = 15

    private static let signature: StaticString = "PROXY "
    private static let cr: UInt8 = 0x0D
    private static let lf: UInt8 = 0x0A
    private static let space: UInt8 = 0x20

    /// Parses `bytes`, whose first byte is "P".
    static func parse(_ bytes: UnsafeRawBufferPointer) -> ProxyParseResult {
        guard matchesSignaturePrefix(bytes, signature) else { return .notProxy }
        let count = bytes.count
        let start = signature.utf8CodeUnitCount
        // §2.1: the line ends at the first CR, which must be followed by LF; a lone CR or LF anywhere
        // is an error, found as soon as the byte arrives. Deciding byte by byte keeps the answer for a
        // trickled line the same as for the whole line at once.
        var index = start
        let limit = Swift.min(count, maxLength)
        while index < limit {
            let byte = bytes[index]
            if byte == lf { return .invalid(.v1MissingCRLF) }
            if byte == cr {
                // The LF must be byte 107 at the latest.
                guard index + 1 < maxLength else { return .invalid(.v1TooLong) }
                guard index + 1 < count else { return .needMore(atLeast: 1) }
                guard bytes[index + 1] == lf else { return .invalid(.v1MissingCRLF) }
                return decode(UnsafeRawBufferPointer(rebasing: bytes[start..<index]), consumed: index + 2)
            }
            index += 1
        }
        // CVE-2021-23351: never wait for more than 107 bytes.
        if count >= maxLength { return .invalid(.v1TooLong) }
        let lowerBound = Swift.max(minLength - count, 2)  // at least CR and LF still to come
        return .needMore(atLeast: Swift.max(1, Swift.min(lowerBound, maxLength - count)))
    }

    /// Decodes the fields between `"PROXY "` and the CRLF.
    private static func decode(_ line: UnsafeRawBufferPointer, consumed: Int) -> ProxyParseResult {
        var fields = Fields(line: line)
        let proto = fields.next()
        let family: ProxyFamily
        if equals(proto, "TCP4") {
            family = .inet
        } else if equals(proto, "TCP6") {
            family = .inet6
        } else if equals(proto, "UNKNOWN") {
            // §2.1: the receiver must ignore anything after UNKNOWN up to the CRLF.
            let header = ProxyHeader(
                version: .v1, command: .proxy, family: .unspec, transport: .unspec, addresses: .none)
            return .header(header, consumed: consumed)
        } else {
            return .invalid(.v1UnknownProtocol)
        }
        do throws(ProxyHeaderError) {
            let source = try address(fields.nextRequired(), family: family)
            let destination = try address(fields.nextRequired(), family: family)
            let sourcePort = try port(fields.nextRequired())
            let destinationPort = try port(fields.nextRequired())
            guard fields.atEnd else { throw .v1TrailingData }
            let header = ProxyHeader(
                version: .v1, command: .proxy, family: family, transport: .stream,
                addresses: .inet(
                    source: SocketAddress(source, port: sourcePort),
                    destination: SocketAddress(destination, port: destinationPort)))
            return .header(header, consumed: consumed)
        } catch {
            return .invalid(error)
        }
    }

    /// §2.1: "the advertised protocol family dictates what format to use"; text that is valid in the
    /// other family is reported as a mismatch, anything else (zone ids included) as invalid.
    private static func address(
        _ text: UnsafeRawBufferPointer, family: ProxyFamily
    ) throws(ProxyHeaderError)
        -> IPAddress
    {
        if family == .inet {
            if let v4 = IPv4Address(text: text) { return .v4(v4) }
            throw IPv6Address(text: text) == nil ? .v1InvalidAddress : .v1AddressFamilyMismatch
        }
        if let v6 = IPv6Address(text: text) { return .v6(v6) }
        throw IPv4Address(text: text) == nil ? .v1InvalidAddress : .v1AddressFamilyMismatch
    }

    /// §2.1: decimal 0–65535, no sign, no leading zero ("0" itself is fine).
    private static func port(_ text: UnsafeRawBufferPointer) throws(ProxyHeaderError) -> UInt16 {
        guard !text.isEmpty, text.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { throw .v1InvalidPort }
        guard text.count == 1 || text[0] != 0x30 else { throw .v1InvalidPort }
        guard text.count <= 5 else { throw .v1PortOutOfRange }
        var value = 0
        for byte in text { value = value * 10 + Int(byte - 0x30) }
        guard value <= 65535 else { throw .v1PortOutOfRange }
        return UInt16(value)
    }

    private static func equals(_ field: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        field.count == text.utf8CodeUnitCount && text.withUTF8Buffer { field.elementsEqual($0) }
    }

    /// Splits the line on single spaces: two spaces in a row give an empty field, which the address and
    /// port checks reject.
    private struct Fields {
        let line: UnsafeRawBufferPointer
        var position = 0
        var started = false

        init(line: UnsafeRawBufferPointer) { self.line = line }

        var atEnd: Bool { position >= line.count }

        /// The next field (possibly empty), or an empty buffer at the end of the line.
        mutating func next() -> UnsafeRawBufferPointer {
            if started {
                if position >= line.count { return UnsafeRawBufferPointer(rebasing: line[line.count...]) }
                position += 1  // the single space before this field
            }
            started = true
            let start = position
            while position < line.count, line[position] != ProxyParserV1.space { position += 1 }
            return UnsafeRawBufferPointer(rebasing: line[start..<position])
        }

        /// The next field; the line ending before it is a missing field.
        mutating func nextRequired() throws(ProxyHeaderError) -> UnsafeRawBufferPointer {
            guard position < line.count else { throw .v1MissingField }
            return next()
        }
    }
}
