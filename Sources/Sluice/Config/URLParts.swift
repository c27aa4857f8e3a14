// The URL grammar shared by `-L` and `-F`: splitting into scheme, user info, host, path and query,
// percent-decoding as Go's net/url does, host:port splitting as net.SplitHostPort, port ranges.

/// Why a piece of a command-line URL is invalid; the caller adds which flag and argument.
struct URLError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// A command-line URL split into its parts.
struct URLParts {
    /// Lowercased, as Go's url.Parse does; `auto` when the text had none.
    var scheme: String
    /// Decoded user name and password (nil when the text had no `:` in the user info).
    var user: (name: String, password: String?)?
    /// The authority's host part, raw: `:8080`, `[::1]:80`, `a:1,b:2`, `:8000-8010`.
    var host: String
    /// The raw path, as Go's `EscapedPath` gives it (targets are not percent-decoded).
    var path: String
    /// Decoded query pairs in order; for repeated keys only the first, as Go's `Query().Get`.
    var query: [(key: String, value: String)]

    /// Splits `text` as GOST does: trims spaces, prepends `auto://` when it starts with `:` or
    /// has no `://` (`cmd.Norm`), then cuts the authority at the first `/` or `?` and the user
    /// info at the last `@` (`cutHost`), so the host may hold port ranges and commas.
    init(_ text: String) throws(URLError) {
        var s = trimSpace(text)
        guard !s.isEmpty else { throw URLError("empty URL") }
        if s.hasPrefix(":") || !s.contains("://") { s = "auto://" + s }
        let bytes = Array(s.utf8)
        if let bad = bytes.first(where: { $0 < 0x20 || $0 == 0x7F }) {
            throw URLError("invalid control character 0x\(String(bad, radix: 16)) in URL")
        }
        // A `#` would start a URL fragment and silently cut a password or the query short.
        guard !bytes.contains(UInt8(ascii: "#")) else { throw URLError("unexpected \"#\" (write it as %23)") }

        let schemeEnd = s.utf8.firstRange(of: "://".utf8)!
        let scheme = String(s[..<schemeEnd.lowerBound])
        guard Self.isValidScheme(scheme) else { throw URLError("invalid scheme \"\(scheme)\"") }
        // `cmd.Norm`: https is http over tls.
        self.scheme = scheme.lowercased() == "https" ? "http+tls" : scheme.lowercased()

        var rest = s[schemeEnd.upperBound...]
        var queryText: Substring = ""
        if let q = rest.firstIndex(of: "?") {
            queryText = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<slash]
        path = String(rest[slash...])

        user = nil
        if let at = authority.lastIndex(of: "@") {
            user = try Self.parseUser(authority[..<at])
            authority = authority[authority.index(after: at)...]
        }
        host = String(authority)
        query = try Self.parseQuery(queryText)
    }

    /// Go's rule: a letter, then letters, digits, `+`, `-` or `.`.
    static func isValidScheme(_ s: String) -> Bool {
        guard let first = s.utf8.first, isLetter(first) else { return false }
        return s.utf8.allSatisfy {
            isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".")
        }
    }

    /// `name[:password]`, checked against the characters Go's url.Parse allows there
    /// (`validUserinfo`), split at the first `:` and percent-decoded.
    static func parseUser(_ text: Substring) throws(URLError) -> (name: String, password: String?) {
        for byte in text.utf8 where !(isLetter(byte) || isDigit(byte) || userinfoPunctuation.contains(byte)) {
            let c = String(decoding: [byte], as: UTF8.self)
            throw URLError("invalid character \"\(c)\" in user info (percent-encode it)")
        }
        guard let colon = text.firstIndex(of: ":") else {
            return (try percentDecode(text, plusIsSpace: false, part: "user info"), nil)
        }
        let name = try percentDecode(text[..<colon], plusIsSpace: false, part: "user info")
        let password = try percentDecode(text[text.index(after: colon)...], plusIsSpace: false, part: "user info")
        return (name, password)
    }

    private static let userinfoPunctuation = Set("-._:~!$&'()*+,;=%@".utf8)

    /// `k=v&k2=v2` as Go's `url.ParseQuery`: `+` is a space, `%XX` decoded; a `;` is an error
    /// (Go skips such pairs silently); the first of repeated keys wins.
    static func parseQuery(_ text: Substring) throws(URLError) -> [(key: String, value: String)] {
        var pairs: [(key: String, value: String)] = []
        for segment in text.split(separator: "&", omittingEmptySubsequences: true) {
            guard !segment.contains(";") else {
                throw URLError("invalid semicolon in query \"\(segment)\" (separate parameters with &)")
            }
            let eq = segment.firstIndex(of: "=")
            let key = try percentDecode(segment[..<(eq ?? segment.endIndex)], plusIsSpace: true, part: "query")
            var value = ""
            if let eq {
                value = try percentDecode(segment[segment.index(after: eq)...], plusIsSpace: true, part: "query")
            }
            guard !key.isEmpty, !pairs.contains(where: { $0.key == key }) else { continue }
            pairs.append((key, value))
        }
        return pairs
    }
}

/// Decodes `%XX` escapes (and `+` as a space in queries); the result must be valid UTF-8.
func percentDecode(_ text: Substring, plusIsSpace: Bool, part: String) throws(URLError) -> String {
    guard text.utf8.contains(UInt8(ascii: "%")) || (plusIsSpace && text.contains("+")) else { return String(text) }
    let bytes = Array(text.utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var i = 0
    while i < bytes.count {
        let byte = bytes[i]
        if byte == UInt8(ascii: "%") {
            guard i + 2 < bytes.count, let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) else {
                let bad = String(decoding: bytes[i..<min(i + 3, bytes.count)], as: UTF8.self)
                throw URLError("invalid URL escape \"\(bad)\" in \(part)")
            }
            out.append(hi << 4 | lo)
            i += 3
        } else {
            out.append(plusIsSpace && byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
            i += 1
        }
    }
    guard let decoded = String(validating: out, as: UTF8.self) else {
        throw URLError("invalid UTF-8 after percent-decoding \(part)")
    }
    return decoded
}

@inline(__always) func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A }

/// Splits `host:port` or `[v6]:port` as Go's `net.SplitHostPort`; brackets are removed.
func splitHostPort(_ text: String) throws(URLError) -> (host: String, port: String) {
    if text.hasPrefix("[") {
        guard let close = text.firstIndex(of: "]") else { throw URLError("missing \"]\" in address \"\(text)\"") }
        let after = text[text.index(after: close)...]
        guard after.hasPrefix(":") else {
            throw URLError(after.isEmpty ? "missing port in address \"\(text)\"" : "invalid address \"\(text)\"")
        }
        let host = text[text.index(after: text.startIndex)..<close]
        guard !host.contains("["), !host.contains("]") else { throw URLError("invalid address \"\(text)\"") }
        return (String(host), String(after.dropFirst()))
    }
    guard let colon = text.lastIndex(of: ":") else { throw URLError("missing port in address \"\(text)\"") }
    let host = text[..<colon]
    guard !host.contains(":") else {
        throw URLError("too many colons in address \"\(text)\" (write IPv6 addresses as [::1]:80)")
    }
    guard !host.contains("["), !host.contains("]") else { throw URLError("invalid address \"\(text)\"") }
    return (String(host), String(text[text.index(after: colon)...]))
}

/// `host:port`, with brackets around IPv6 hosts, as Go's `net.JoinHostPort`.
func joinHostPort(_ host: String, _ port: Int) -> String {
    host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
}

/// A port (0–65535) or an ascending range `min-max` of ports 1–65535 (`xnet.PortRange`, which
/// silently reads bad text as port 0; here it is an error).
func parsePortRange(_ text: String) throws(URLError) -> ClosedRange<Int> {
    guard !text.isEmpty else { throw URLError("missing port") }
    let parts = text.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count <= 2, let low = parsePort(parts[0]), let high = parsePort(parts.last!) else {
        throw URLError(text.contains("-") ? "invalid port range \"\(text)\"" : "invalid port \"\(text)\"")
    }
    if parts.count == 2 {
        guard low >= 1, low <= high else { throw URLError("invalid port range \"\(text)\"") }
    }
    return low...high
}

/// A decimal port 0–65535; at most five digits, so "080" is fine but "000080" is not.
func parsePort(_ text: Substring) -> Int? {
    guard !text.isEmpty, text.count <= 5, text.utf8.allSatisfy(isDigit), let port = Int(text), port <= 65535 else {
        return nil
    }
    return port
}

/// Decodes base64 as GOST's `auth=` parameter: URL-safe without padding first, then standard
/// padded (`parseAuthFromCmd` at x HEAD).
func decodeBase64(_ text: String) -> [UInt8]? {
    decodeBase64(Array(text.utf8), urlSafe: true) ?? decodeBase64(Array(text.utf8), urlSafe: false)
}

private func decodeBase64(_ input: [UInt8], urlSafe: Bool) -> [UInt8]? {
    var data = input[...]
    if !urlSafe {
        guard input.count % 4 == 0 else { return nil }
        while data.last == UInt8(ascii: "=") { data = data.dropLast() }
        guard input.count - data.count <= 2 else { return nil }
    }
    guard data.count % 4 != 1 else { return nil }
    var out: [UInt8] = []
    var buffer: UInt32 = 0
    var bits = 0
    for byte in data {
        let value: UInt8
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = byte - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): value = byte - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): value = byte - UInt8(ascii: "0") + 52
        case UInt8(ascii: "-") where urlSafe, UInt8(ascii: "+") where !urlSafe: value = 62
        case UInt8(ascii: "_") where urlSafe, UInt8(ascii: "/") where !urlSafe: value = 63
        default: return nil
        }
        buffer = buffer << 6 | UInt32(value)
        bits += 6
        if bits >= 8 {
            bits -= 8
            out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
        }
    }
    return out
}

/// `user[:password]` from decoded `auth=` bytes.
func parseAuthParameter(_ text: String) throws(URLError) -> AuthConfig {
    guard let bytes = decodeBase64(text), let decoded = String(validating: bytes, as: UTF8.self) else {
        throw URLError("invalid value \"\(text)\" for auth: expected base64 of user:password")
    }
    guard let colon = decoded.firstIndex(of: ":") else { return AuthConfig(username: decoded) }
    return AuthConfig(
        username: String(decoded[..<colon]), password: String(decoded[decoded.index(after: colon)...]))
}

/// The URL text with the user info's password replaced by "xxxxx", as Go's `URL.Redacted`, so
/// that error messages can quote an argument without leaking its secret.
func redactPassword(_ text: String) -> String {
    let start = text.utf8.firstRange(of: "://".utf8)?.upperBound ?? text.startIndex
    let rest = text[start...]
    let authority = rest[..<(rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex)]
    guard let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") else {
        return text
    }
    return String(text[...colon]) + "xxxxx" + String(text[at...])
}
