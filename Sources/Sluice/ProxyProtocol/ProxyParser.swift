// The incremental PROXY header parser's entry point: it tells a v1 line, a v2 block and plain
// payload apart by the signature prefix, then hands off to ProxyParserV1 / ProxyParserV2.

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
