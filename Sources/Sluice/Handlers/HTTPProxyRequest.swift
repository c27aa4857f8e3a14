// HTTPProxyRequest: what one proxy request head asks for (a CONNECT tunnel, or an absolute-form
// request to forward), the rewrite of the latter to origin form without hop-by-hop fields
// (RFC 9110 §7.6.1, RFC 9112 §3.2), and the base64 decoding Basic credentials need.

/// A request to send upstream on the client's behalf: its rewritten head and what its response looks
/// like (for `HTTPResponseFraming`).
public struct HTTPForwardedRequest: Equatable, Sendable {
    /// Where it goes: the absolute URI's authority (port 80 by default).
    public var destination: Destination
    /// The head to send upstream: origin-form request line, `Host` first, hop-by-hop fields removed.
    public var head: [UInt8]
    /// How many client bytes its original head took (with any empty lines before it).
    public var consumed: Int
    /// A HEAD request: its response has no body whatever its fields say.
    public var isHead: Bool
    /// It asks to switch protocols (`Connection: upgrade` + `Upgrade`, HTTP/1.1), which are kept.
    public var upgrade: Bool
}

/// The meaning of one proxy request head.
enum HTTPProxyRequest: Equatable {
    /// CONNECT: open a tunnel.
    case connect(Destination)
    /// Anything else with an absolute `http://` URI: forward it, then relay a body framed by `body`;
    /// `lastRequest` when the client will send no more (`Connection: close`, or HTTP/1.0 without
    /// keep-alive).
    case forward(HTTPForwardedRequest, body: HTTPBodyFraming, lastRequest: Bool)

    /// The refusal's HTTP status.
    static func status(for refusal: InboundRefusal) -> Int {
        switch refusal {
        case .httpHeadTooLarge: 431
        case .httpUnsupportedVersion: 505
        case .httpUnsupportedTransferCoding: 501
        case .httpAuthenticationRequired: 407
        default: 400
        }
    }

    /// Reads a request head (`consumed` client bytes, empty lines before it included). Every check that
    /// GOST's `http.ReadRequest` and its 400 do comes here, before authentication, as in GOST v3.2.6.
    static func interpret(_ head: HTTPHead, consumed: Int) -> Result<HTTPProxyRequest, InboundRefusal> {
        // "PRI * HTTP/2.0" fails the version check already; a PRI on 1.x is as meaningless.
        // Methods are case-sensitive (RFC 9110 §9.1).
        if head.bytes[head.first].elementsEqual("PRI".utf8) { return .failure(.httpUnsupportedVersion) }
        if head.fields.lazy.filter({ head.fieldNamed($0, "host") }).count > 1 { return .failure(.httpBadFraming) }
        let isConnect = head.bytes[head.first].elementsEqual("CONNECT".utf8)
        if isConnect {
            // GOST (Go's net/http) dials port 80 when the authority has none.
            let destination = head.bytes.withUnsafeBytes {
                Destination(authority: UnsafeRawBufferPointer(rebasing: $0[head.second]), defaultPort: 80)
            }
            guard let destination else { return .failure(.httpBadTarget) }
            return .success(.connect(destination))
        }
        guard head.hasLowercasePrefix(head.second, "http://") else { return .failure(.httpNotProxyRequest) }
        let authorityStart = head.second.lowerBound + 7
        var authorityEnd = authorityStart
        while authorityEnd < head.second.upperBound, !"/?#".utf8.contains(head.bytes[authorityEnd]) {
            authorityEnd += 1
        }
        let authority = authorityStart..<authorityEnd
        // User info in an http URI is deprecated and a phishing vector (RFC 9110 §4.2.4): refuse it.
        guard !head.bytes[authority].contains(0x40) else { return .failure(.httpBadTarget) }
        let destination = head.bytes.withUnsafeBytes {
            Destination(authority: UnsafeRawBufferPointer(rebasing: $0[authority]), defaultPort: 80)
        }
        guard let destination else { return .failure(.httpBadTarget) }
        let body: HTTPBodyFraming
        switch head.bodyLength(isRequest: true) {
        case .failure(let refusal): return .failure(refusal)
        case .success(.length(let n)): body = .length(n)
        case .success(.chunked): body = .chunked
        case .success(.none), .success(.untilClose): body = .none
        }
        var pathEnd = authorityEnd
        while pathEnd < head.second.upperBound, head.bytes[pathEnd] != 0x23 { pathEnd += 1 }  // drop a "#fragment"
        let rewrite = rewrite(head, authority: authority, path: authorityEnd..<pathEnd)
        let request = HTTPForwardedRequest(
            destination: destination, head: rewrite.head, consumed: consumed,
            isHead: head.bytes[head.first].elementsEqual("HEAD".utf8), upgrade: rewrite.upgrade)
        return .success(.forward(request, body: body, lastRequest: rewrite.lastRequest))
    }

    /// The origin-form head: `method SP path SP HTTP/1.x`, `Host: <authority>`, then the client's fields
    /// in order without `Host`, `Proxy-*`, `Connection`, `Keep-Alive`, `TE`, GOST's `Gost-Target` /
    /// `X-Gost-Target`, `Upgrade` (unless upgrading), and the fields `Connection` names. `Connection`
    /// itself comes back with only its `close`, `keep-alive` and (when upgrading) `upgrade` tokens:
    /// the upstream connection lives exactly as long as the client's, so persistence is end to end.
    ///
    /// Kept on purpose: `Content-Length` and `Transfer-Encoding` (the body is relayed unchanged, so its
    /// framing must stay, even if `Connection` names them) and `Trailer` (the trailer section is relayed
    /// too, so its announcement stays true). No `Via` is added, as GOST adds none.
    private static func rewrite(
        _ head: HTTPHead, authority: Range<Int>, path: Range<Int>
    ) -> (head: [UInt8], upgrade: Bool, lastRequest: Bool) {
        let tokens = head.listElements("connection")
        let close = tokens.contains { head.equalsLowercase($0, "close") }
        let keepAlive = tokens.contains { head.equalsLowercase($0, "keep-alive") }
        let upgrade =
            head.minorVersion == 1 && tokens.contains { head.equalsLowercase($0, "upgrade") }
            && head.fields.contains { head.fieldNamed($0, "upgrade") }
        let bytes = head.bytes
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 16)
        out += bytes[head.first]
        out.append(0x20)
        if path.isEmpty {
            // RFC 9112 §3.2.1 and §3.2.4: an empty path is "/", or "*" for OPTIONS.
            out.append(bytes[head.first].elementsEqual("OPTIONS".utf8) ? 0x2A : 0x2F)
        } else {
            if bytes[path.lowerBound] == 0x3F { out.append(0x2F) }  // "?q" → "/?q"
            out += bytes[path]
        }
        out += " HTTP/1.".utf8
        out.append(0x30 + head.minorVersion)
        out += "\r\nHost: ".utf8
        out += bytes[authority]
        out += "\r\n".utf8
        for field in head.fields {
            let name = field.name
            if head.equalsLowercase(name, "content-length") || head.equalsLowercase(name, "transfer-encoding") {
                // framing: always kept
            } else if head.equalsLowercase(name, "host") || head.hasLowercasePrefix(name, "proxy-")
                || head.equalsLowercase(name, "connection") || head.equalsLowercase(name, "keep-alive")
                || head.equalsLowercase(name, "te") || head.equalsLowercase(name, "gost-target")
                || head.equalsLowercase(name, "x-gost-target")
            {
                continue
            } else if head.equalsLowercase(name, "upgrade") {
                if !upgrade { continue }
            } else if tokens.contains(where: { sameIgnoringCase(bytes[$0], bytes[name]) }) {
                continue
            }
            out += bytes[name]
            out += ": ".utf8
            out += bytes[field.value]
            out += "\r\n".utf8
        }
        var options: [String] = []
        if close { options.append("close") }
        if keepAlive && !close { options.append("keep-alive") }
        if upgrade { options.append("upgrade") }
        if !options.isEmpty {
            out += "Connection: ".utf8
            out += options.joined(separator: ", ").utf8
            out += "\r\n".utf8
        }
        out += "\r\n".utf8
        let lastRequest = close || (head.minorVersion == 0 && !keepAlive)
        return (out, upgrade, lastRequest)
    }
}

/// ASCII case-insensitive equality.
func sameIgnoringCase(_ a: ArraySlice<UInt8>, _ b: ArraySlice<UInt8>) -> Bool {
    a.elementsEqual(b) { asciiLowercase($0) == asciiLowercase($1) }
}

/// Standard base64 (RFC 4648 §4), padding optional; nil on any other byte or a dangling sextet.
func base64Decode(_ text: ArraySlice<UInt8>) -> [UInt8]? {
    var body = text
    while body.last == 0x3D { body = body.dropLast() }
    guard text.count - body.count <= 2, body.count % 4 != 1 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(body.count * 3 / 4)
    var accumulator: UInt32 = 0
    var bits = 0
    for byte in body {
        let sextet: UInt32
        switch byte {
        case 0x41...0x5A: sextet = UInt32(byte - 0x41)
        case 0x61...0x7A: sextet = UInt32(byte - 0x61 + 26)
        case 0x30...0x39: sextet = UInt32(byte - 0x30 + 52)
        case 0x2B: sextet = 62
        case 0x2F: sextet = 63
        default: return nil
        }
        accumulator = accumulator << 6 | sextet
        bits += 6
        if bits >= 8 {
            bits -= 8
            out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
        }
    }
    return out
}
