// The incremental PROXY header parser's entry point and its answers: it tells a v1 line, a v2 block and
// plain payload apart by the signature prefix, hands off to ProxyParserV1 / ProxyParserV2, and names
// every reason a header is rejected (the phrase a log line prints after "proxy protocol: ").

/// What the bytes received so far amount to.
public enum ProxyParseResult: Equatable, Sendable {
    /// The bytes are a strict prefix of a possible header. A header cannot be complete with fewer than
    /// `atLeast` more bytes (a lower bound, at least 1), but `.notProxy` or `.invalid` may come sooner:
    /// parse again whenever bytes arrive.
    case needMore(atLeast: Int)
    /// The bytes cannot start a header (they match neither `"PROXY "` nor the v2 signature): all of
    /// them are payload.
    case notProxy
    /// A complete header in the first `consumed` bytes; any bytes after them are payload.
    case header(ProxyHeader, consumed: Int)
    /// A header that breaks a rule: close the connection.
    case invalid(ProxyHeaderError)
}

/// A header that started with a PROXY signature but breaks a rule. The connection must be closed.
public enum ProxyHeaderError: Error, Equatable, Sendable, CaseIterable, CustomStringConvertible {
    // v1 (spec §2.1)
    /// A bare LF, or a CR followed by something other than LF.
    case v1MissingCRLF
    /// No CRLF within the first 107 bytes.
    case v1TooLong
    /// The protocol field is not exactly `TCP4`, `TCP6` or `UNKNOWN`.
    case v1UnknownProtocol
    /// An address field is not a valid address of any family (empty, leading zeros, zone id, …).
    case v1InvalidAddress
    /// `TCP4` with IPv6 text, or `TCP6` with a dotted quad.
    case v1AddressFamilyMismatch
    /// A port field is empty, has a sign, a leading zero or a non-digit.
    case v1InvalidPort
    /// A port above 65535.
    case v1PortOutOfRange
    /// The line ends before the four address and port fields.
    case v1MissingField
    /// Something follows the destination port.
    case v1TrailingData

    // v2 fixed part (spec §2.2)
    /// The version nibble is not 2.
    case v2UnsupportedVersion
    /// The command nibble is neither LOCAL (0) nor PROXY (1).
    case v2InvalidCommand
    /// The family nibble is above 3.
    case v2InvalidFamily
    /// The transport nibble is above 2.
    case v2InvalidTransport
    /// Valid nibbles in a pairing the spec does not list (e.g. INET with transport UNSPEC).
    case v2InvalidFamilyTransport
    /// `len` is above the parser's `maxV2Length`.
    case v2LengthExceedsLimit
    /// `len` is smaller than the family's address block (12, 36 or 216) on a PROXY command.
    case v2LengthTooShortForAddresses

    // v2 TLVs (spec §2.2.1–2.2.8)
    /// Fewer than 3 bytes remain for a TLV's type and length.
    case v2TLVHeaderTruncated
    /// A TLV's value runs past the end of the header.
    case v2TLVExceedsLength
    /// The CRC32C TLV's value is not exactly 4 bytes.
    case v2CRC32CBadLength
    /// The CRC32C does not match the header.
    case v2CRC32CMismatch
    /// An AUTHORITY value longer than 255 bytes.
    case v2AuthorityTooLong
    /// A UNIQUE_ID value longer than 128 bytes.
    case v2UniqueIDTooLong
    /// An SSL TLV shorter than its 5-byte `client` + `verify` part.
    case v2SSLTooShort
    /// An SSL sub-TLV does not fit inside the SSL TLV.
    case v2SSLSubTLVExceedsLength

    /// A short lowercase phrase, e.g. "v1 port out of range".
    public var description: String {
        switch self {
        case .v1MissingCRLF: "v1 line must end with CRLF"
        case .v1TooLong: "v1 header too long"
        case .v1UnknownProtocol: "v1 unknown protocol"
        case .v1InvalidAddress: "v1 invalid address"
        case .v1AddressFamilyMismatch: "v1 address does not match protocol family"
        case .v1InvalidPort: "v1 invalid port"
        case .v1PortOutOfRange: "v1 port out of range"
        case .v1MissingField: "v1 missing field"
        case .v1TrailingData: "v1 unexpected data after ports"
        case .v2UnsupportedVersion: "v2 unsupported version"
        case .v2InvalidCommand: "v2 invalid command"
        case .v2InvalidFamily: "v2 invalid address family"
        case .v2InvalidTransport: "v2 invalid transport"
        case .v2InvalidFamilyTransport: "v2 invalid family and transport pair"
        case .v2LengthExceedsLimit: "v2 length exceeds limit"
        case .v2LengthTooShortForAddresses: "v2 length too short for addresses"
        case .v2TLVHeaderTruncated: "v2 truncated tlv header"
        case .v2TLVExceedsLength: "v2 tlv exceeds header length"
        case .v2CRC32CBadLength: "v2 crc32c tlv length is not 4"
        case .v2CRC32CMismatch: "v2 crc32c mismatch"
        case .v2AuthorityTooLong: "v2 authority tlv too long"
        case .v2UniqueIDTooLong: "v2 unique id tlv too long"
        case .v2SSLTooShort: "v2 ssl tlv too short"
        case .v2SSLSubTLVExceedsLength: "v2 ssl sub-tlv exceeds ssl tlv length"
        }
    }
}

/// Parses a PROXY v1 or v2 header from the first bytes of a connection. Pure: it never reads a socket,
/// never reads past the header, and does not allocate unless it builds a header (TLVs, UNIX paths).
///
/// Detection follows the recommendation for auto-detect (proxy-protocol.md §1.4): the bytes are a
/// header candidate while they match a prefix of `"PROXY "` (with its space, as HAProxy, nginx and
/// Envoy key on it) or of the 12-byte v2 signature; the first byte that matches neither makes them
/// plain payload. So `PROXYjunk…` and a v2 signature with one wrong byte are `.notProxy`, not invalid.
public struct ProxyParser: Sendable {
    /// Cap on the v2 `len` field (the bytes after the 16-byte fixed part); a larger `len` is rejected as
    /// soon as the fixed part arrives. Default 4096 (go-proxyproto, nginx ≥ 1.23); at most 65535.
    public var maxV2Length: Int

    /// Makes a parser; `maxV2Length` must be in 0...65535.
    public init(maxV2Length: Int = 4096) {
        precondition((0...65535).contains(maxV2Length), "maxV2Length must be in 0...65535")
        self.maxV2Length = maxV2Length
    }

    /// Largest number of bytes a header may need (107 for v1, 16 + maxV2Length for v2): a receiver
    /// buffer of this size always suffices.
    public var maxHeaderLength: Int { Swift.max(ProxyParserV1.maxLength, 16 + Swift.min(maxV2Length, 65535)) }

    /// Parses the bytes received so far (from the first byte of the connection).
    public func parse(_ bytes: UnsafeRawBufferPointer) -> ProxyParseResult {
        guard let first = bytes.first else { return .needMore(atLeast: ProxyParserV1.minLength) }
        switch first {
        case 0x50: return ProxyParserV1.parse(bytes)  // "P"
        case 0x0D: return ProxyParserV2.parse(bytes, maxLength: maxV2Length)  // "\r"
        default: return .notProxy
        }
    }

    /// Convenience for tests and callers holding an array.
    public func parse(_ bytes: [UInt8]) -> ProxyParseResult {
        bytes.withUnsafeBytes { parse($0) }
    }
}

/// True when `bytes[1..<min(count, signature length)]` matches the signature (byte 0 is already known).
@inline(__always)
func matchesSignaturePrefix(_ bytes: UnsafeRawBufferPointer, _ signature: StaticString) -> Bool {
    let n = Swift.min(bytes.count, signature.utf8CodeUnitCount)
    let sig = signature.utf8Start
    var i = 1
    while i < n {
        if bytes[i] != sig[i] { return false }
        i += 1
    }
    return true
}
