// The parent suite of the proxy-handler integration tests (http, socks4, socks5 and auto handlers run
// by the real binary) and the helpers they share: starting a proxy service, finding one client's
// connection in the log, and raw requests. The suites live in the other `ProxyHandler*Tests.swift` files.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration {
    /// The parent of the proxy-handler suites (`ProxyHandler*Tests.swift`).
    @Suite("Proxy handlers", .timeLimit(.minutes(2)))
    struct ProxyHandlerTests {}
}

/// What the proxy-handler suites share. A namespace, so nothing collides with the other suites' helpers.
enum ProxyHandlerTesting {
    /// `127.0.0.1`, `127.0.0.2`: loopback sources that tell clients apart.
    static let loopback1 = IPAddress.v4(IPv4Address(127, 0, 0, 1))
    static let loopback2 = IPAddress.v4(IPv4Address(127, 0, 0, 2))

    /// GOST's CONNECT success reply, byte for byte.
    static let connectEstablished = "HTTP/1.1 200 Connection established\r\nProxy-Agent: gost/3.0\r\n\r\n"

    /// One `-L` service whose handler is `scheme` (empty for GOST's default, `auto`), on 127.0.0.1 with
    /// an ephemeral port: `scheme://[userinfo@]127.0.0.1:0[?query]`.
    static func serviceURL(_ scheme: String, userinfo: String = "", query: String = "") -> String {
        (scheme.isEmpty ? "" : "\(scheme)://") + userinfo + "127.0.0.1:0" + (query.isEmpty ? "" : "?\(query)")
    }

    /// Starts `sluice -L <serviceURL> [extra]` and waits for its listener.
    static func start(
        _ scheme: String, userinfo: String = "", query: String = "", extra: [String] = []
    ) throws -> SluiceProcess {
        try SluiceProcess.start(["-L", serviceURL(scheme, userinfo: userinfo, query: query)] + extra)
    }

    /// The `handler` field a connection's lines carry: auto names the sub-handler the first byte chose.
    static func handlerField(scheme: String, spoken: String) -> String { scheme.isEmpty ? spoken : scheme }

    /// The first whole HTTP response on `connection` after sending `request` (read until the head and a
    /// Content-Length body are in, or EOF).
    static func exchange(_ connection: TestConnection, _ request: String) throws -> HTTPResponse {
        try connection.sendAll(request)
        return try HTTPResponseReader(connection).next()
    }

    /// Sends `text` on an open tunnel to an echo server and expects the same bytes back.
    static func echoes(_ connection: TestConnection, _ text: String) throws -> Bool {
        let bytes = Array(text.utf8)
        return try connection.exchange(bytes, expecting: bytes.count) == bytes
    }
}

extension SluiceProcess {
    /// `127.0.0.1:<port>` of listener 0, for curl's `-x`/`--socks5` arguments.
    var proxyAuthority: String { "127.0.0.1:\(port)" }

    /// The log of the connection whose accept line's `client` is `client`, once its close line was
    /// written (within `timeout`). Fails the test (and says what was logged) when it is not there.
    func closedLog(
        ofClient client: SocketAddress, timeout: Duration = .seconds(10),
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> ConnectionLog {
        let text = client.description
        let accept = waitForLine(timeout: timeout) { line in
            line["client"]?.string == text && line["msg"]?.string?.contains(" <> ") == true
        }
        let sid = try #require(
            accept?["sid"]?.string, "no accept line with client \(client):\n\(stderrText)",
            sourceLocation: sourceLocation)
        let closed = waitForLine(timeout: timeout) { line in
            line["sid"]?.string == sid && line["msg"]?.string?.contains(" >< ") == true
        }
        try #require(closed != nil, "no close line for \(sid):\n\(stderrText)", sourceLocation: sourceLocation)
        return connectionLog(sid: sid)
    }

    /// The `warning` line of connection `sid` (a refused handshake), waiting up to `timeout`.
    func refusal(sid: String, timeout: Duration = .seconds(5)) -> JSONValue? {
        waitForLine(timeout: timeout) { $0["sid"]?.string == sid && $0["level"]?.string == "warning" }
    }

    /// How many accept lines (`" <> "`) were logged.
    var acceptLineCount: Int { jsonLines.filter { $0["msg"]?.string?.contains(" <> ") == true }.count }

    /// The accept lines once at least one has arrived (log lines trail the bytes they describe; an
    /// accept line comes before anything the connection answered, so the count is final then).
    func settledAcceptLineCount() -> Int {
        _ = waitUntil(timeout: .seconds(10)) { acceptLineCount >= 1 }
        return acceptLineCount
    }

    /// How many close lines (`" >< "`) were logged.
    var closeLinesLogged: Int { jsonLines.filter { $0["msg"]?.string?.contains(" >< ") == true }.count }
}

extension ConnectionLog {
    /// The close line's `reason`.
    var reason: String? { closed?["reason"]?.string }
}
