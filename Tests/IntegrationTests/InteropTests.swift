// Interop with real peers: the parent suite of every interop test (serialized with all the others
// by `Integration`), and the helpers they share. Each nested suite lives in its own
// `Interop*Tests.swift` file.
//
// The peers are the real Debian programs (HAProxy 2.6, nginx 1.22 with the stream module, curl
// 7.88, tinyproxy 1.11, Dante 1.4), installed by `scripts/install-test-deps`. A missing peer fails
// the test with that hint; nothing is skipped. Every peer runs in the foreground in its own
// temporary directory, on ports chosen free just before (a peer counts as started only once it
// holds them, and is started again on fresh ports if another process took one), and is killed
// when its test ends.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration {
    @Suite("Interop with real peers", .timeLimit(.minutes(3)))
    struct InteropTests {}
}

/// What the interop tests share. A namespace, so that nothing here collides with the other
/// integration suites' top-level helpers.
enum Interop {
    /// `127.0.0.1`, `127.0.0.2`, `127.0.0.3`: loopback sources that tell clients apart.
    static let loopback1 = IPAddress.v4(IPv4Address(127, 0, 0, 1))
    static let loopback2 = IPAddress.v4(IPv4Address(127, 0, 0, 2))
    static let loopback3 = IPAddress.v4(IPv4Address(127, 0, 0, 3))
    static let loopback6 = IPAddress.v6(.loopback)

    /// The body the canned HTTP target answers with.
    static let cannedBody = "hello from the target\n"

    /// A tiny HTTP server: records each request and answers it with a 200 carrying `cannedBody`,
    /// then closes when the client does (`Connection: close`).
    static func httpTarget(address: SocketAddress = loopbackAnyPort) throws -> RecordingServer {
        let reply =
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(cannedBody.utf8.count)\r\n"
            + "Connection: close\r\n\r\n\(cannedBody)"
        return try RecordingServer(address: address, reply: Array(reply.utf8), replyWhen: .afterFirstBytes)
    }

    /// The text of the request bytes a target received (for checking there is no PROXY line).
    static func text(_ bytes: [UInt8]?) -> String { bytes.map { String(decoding: $0, as: UTF8.self) } ?? "<none>" }

    /// The whole HTTP request head (up to and including the blank line) that connection `index`
    /// of `target` received, waiting up to `timeout`; "<none>" when it did not arrive.
    static func request(_ target: RecordingServer, on index: Int = 0, timeout: Duration = .seconds(10)) -> String {
        let end: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A]
        let bytes = waitFor(timeout: timeout) { () -> [UInt8]? in
            let connections = target.connections
            guard index < connections.count else { return nil }
            let data = connections[index]
            return data.count >= 4 && data.indices.dropLast(3).contains { Array(data[$0..<($0 + 4)]) == end }
                ? data : nil
        }
        return text(bytes)
    }

    /// `http://127.0.0.1:port/` or `http://[::1]:port/`.
    static func url(_ ip: IPAddress, _ port: UInt16) -> String {
        "http://\(SocketAddress(ip, port: port))/"
    }

    // MARK: Peers that report the address they were told

    /// The body of the address reporters below: the PROXY header's source and destination as the
    /// peer understood them.
    static func reported(source: SocketAddress, destination: SocketAddress) -> String {
        "src=\(source.ip) sport=\(source.port) dst=\(destination.ip) dport=\(destination.port)\n"
    }

    /// An HAProxy `mode http` frontend on `ports[index]` that requires a PROXY header
    /// (`accept-proxy`, v1 or v2) and answers every request with `reported(…)` of the header's
    /// addresses plus `rcvd=1` (HAProxy's `fc_rcvd_proxy`).
    static func haproxyReporterSection(name: String = "fe_report", bind: String) -> String {
        """
        frontend \(name)
            mode http
            bind \(bind) accept-proxy
            http-request return status 200 content-type text/plain lf-string "src=%[src] sport=%[src_port] dst=%[dst] dport=%[dst_port] rcvd=%[fc_rcvd_proxy]\\n"
        """
    }

    /// What `haproxyReporterSection` answers for a header with these addresses.
    static func haproxyReported(source: SocketAddress, destination: SocketAddress) -> String {
        reported(source: source, destination: destination).dropLast() + " rcvd=1\n"
    }

    /// Starts an HAProxy whose only frontend is an address reporter on 127.0.0.1.
    static func haproxyReporter() throws -> HAProxyPeer {
        try HAProxyPeer.start { ports in haproxyReporterSection(bind: "127.0.0.1:\(ports[0])") }
    }

    /// Starts an nginx `http` server on 127.0.0.1 that requires a PROXY header (`listen …
    /// proxy_protocol`) and answers `reported(…)` of the header's addresses.
    static func nginxReporter() throws -> NginxPeer {
        try NginxPeer.start { ports in
            """
            http {
                server {
                    listen 127.0.0.1:\(ports[0]) proxy_protocol;
                    location / {
                        default_type text/plain;
                        return 200 "src=$proxy_protocol_addr sport=$proxy_protocol_port dst=$proxy_protocol_server_addr dport=$proxy_protocol_server_port\\n";
                    }
                }
            }
            """
        }
    }

    // MARK: Sluice

    /// Starts sluice with `count` fixed free ports (for services chained by port, or `tcp://:A`
    /// as in the seed examples); `arguments(ports)` builds the command line. Retries with fresh
    /// ports when one was taken meanwhile.
    static func sluice(ports count: Int, listeners: Int, _ arguments: ([UInt16]) -> [String]) throws -> SluiceProcess {
        try PeerProcess.startWithRetries(ports: count) { ports in
            try SluiceProcess.start(arguments(ports), expectListeners: listeners)
        }
    }
}

extension SluiceProcess {
    /// The accept line (`"<remote> <> <local>"`) whose `remote` is `remote`, waiting up to
    /// `timeout`; nil when there is none.
    func interopAcceptLine(
        remote: SocketAddress, service: String? = nil, timeout: Duration = .seconds(10)
    )
        -> JSONValue?
    {
        let text = remote.description
        return waitForLine(timeout: timeout) { line in
            line["remote"]?.string == text && line["msg"]?.string?.contains(" <> ") == true
                && (service == nil || line["service"]?.string == service)
        }
    }

    /// The accept line whose `client` (the PROXY header's source) is `client`.
    func interopAcceptLine(client: SocketAddress, timeout: Duration = .seconds(10)) -> JSONValue? {
        let text = client.description
        return waitForLine(timeout: timeout) { line in
            line["client"]?.string == text && line["msg"]?.string?.contains(" <> ") == true
        }
    }

    /// The `warning` lines (invalid PROXY headers and the like).
    var interopWarnings: [JSONValue] { lines(level: "warning") }
}
