// HTTPConnect: the client side of an HTTP proxy tunnel (`CONNECT host:port HTTP/1.1`), as GOST's
// http connector writes it, and the parsing of the proxy's reply.

/// Builds CONNECT requests and reads their replies. Pure: no sockets.
public enum HTTPConnect {
    /// The longest reply head accepted before the tunnel is declared broken.
    public static let maxResponseHead = 8 * 1024
    /// The longest request Sluice sends (and the plan accepts); common proxies refuse longer heads.
    public static let maxRequestLength = 8 * 1024
    /// The longest "host:port" a request can name: a 253-byte DNS name and a five-digit port.
    public static let maxAuthorityLength = 253 + 6

    /// `CONNECT <target> HTTP/1.1` with `Host`, `Proxy-Connection: keep-alive`, Basic
    /// `Proxy-Authorization` when credentials are given, and any extra header fields.
    public static func request(target: String, auth: Credentials?, headers: [HeaderField]) -> [UInt8] {
        var text = "CONNECT \(target) HTTP/1.1\r\nHost: \(target)\r\n"
        if let auth {
            text += "Proxy-Authorization: Basic \(base64(Array("\(auth.username):\(auth.password)".utf8)))\r\n"
        }
        for field in headers { text += "\(field.name): \(field.value)\r\n" }
        text += "Proxy-Connection: keep-alive\r\n\r\n"
        return Array(text.utf8)
    }

    /// What a reply (so far) says.
    public enum Reply: Equatable {
        /// The head is not complete yet.
        case needMore
        /// 200: the tunnel is open; `consumed` bytes were the reply head (the rest is tunnel data).
        case established(consumed: Int)
        /// Any other status, e.g. "407 Proxy Authentication Required".
        case refused(status: String)
        /// Not an HTTP reply, or a head over the limit.
        case invalid(String)
    }

    /// Reads the reply head from `bytes` (everything received from the proxy so far).
    public static func parseReply(_ bytes: UnsafeRawBufferPointer) -> Reply {
        guard let end = headEnd(bytes) else {
            if bytes.count >= maxResponseHead { return .invalid("proxy reply head exceeds \(maxResponseHead) bytes") }
            // Fail early on a reply that is not HTTP at all.
            let prefix: [UInt8] = Array("HTTP/".utf8)
            for i in 0..<min(prefix.count, bytes.count) where bytes[i] != prefix[i] {
                return .invalid("malformed HTTP response")
            }
            return .needMore
        }
        guard let lineEnd = bytes.firstIndex(of: 0x0D) else { return .invalid("malformed HTTP response") }
        let line = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<lineEnd]), as: UTF8.self)
        // "HTTP/1.1 200 Connection established"
        let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].hasPrefix("HTTP/1."), let code = Int(parts[1].prefix(3)),
            parts[1].count == 3 || parts[1].dropFirst(3).first == " "
        else { return .invalid("malformed HTTP response \"\(line.prefix(64))\"") }
        if code == 200 { return .established(consumed: end) }
        return .refused(status: String(parts[1]))
    }

    /// The offset just past "\r\n\r\n", if present.
    private static func headEnd(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 3..<bytes.count
        where bytes[i] == 0x0A && bytes[i - 1] == 0x0D && bytes[i - 2] == 0x0A && bytes[i - 3] == 0x0D {
            return i + 1
        }
        return nil
    }

    /// Standard base64 with padding (RFC 4648 §4).
    public static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let b0 = UInt32(bytes[i])
            let b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
            let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
            let n = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(i + 1 < bytes.count ? alphabet[Int(n >> 6 & 63)] : 0x3D)
            out.append(i + 2 < bytes.count ? alphabet[Int(n & 63)] : 0x3D)
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
