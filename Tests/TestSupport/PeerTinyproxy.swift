// PeerTinyproxy: a real HTTP CONNECT proxy (Debian tinyproxy 1.11) in the foreground (`-d`) on
// 127.0.0.1, optionally with Basic authentication, logging every request to its output.
import Glibc
import Sluice

/// One tinyproxy process listening on `127.0.0.1:port`, allowing clients from 127.0.0.1 only and
/// `CONNECT` only to `connectPorts` (to any port when it is empty: tinyproxy's rule without
/// `ConnectPort` lines). tinyproxy cannot receive PROXY headers.
public final class TinyproxyPeer: @unchecked Sendable {
    /// The running process and its directory.
    public let peer: PeerProcess
    /// The configuration file, for failure messages.
    public let configuration: String

    public var port: UInt16 { peer.ports[0] }
    /// `127.0.0.1:port`.
    public var address: SocketAddress { SocketAddress(.v4(IPv4Address(127, 0, 0, 1)), port: port) }

    /// Starts tinyproxy allowing `CONNECT` to `connectPorts`; with `basicAuth`, every request must
    /// carry `Proxy-Authorization: Basic` for that user (tinyproxy 1.11 answers 407 without
    /// credentials and 401 with wrong ones).
    public static func start(
        connectPorts: [UInt16], basicAuth: (user: String, password: String)? = nil
    ) throws
        -> TinyproxyPeer
    {
        let binary = try PeerBinary.find("tinyproxy")
        return try PeerProcess.startWithRetries(ports: 1) { ports in
            try TinyproxyPeer(binary: binary, port: ports[0], connectPorts: connectPorts, basicAuth: basicAuth)
        }
    }

    private init(
        binary: String, port: UInt16, connectPorts: [UInt16], basicAuth: (user: String, password: String)?
    ) throws {
        let directory = try TemporaryDirectory(prefix: "tinyproxy")
        var lines = [
            "Port \(port)", "Listen 127.0.0.1", "Timeout 30", "LogLevel Info", "MaxClients 50", "Allow 127.0.0.1",
        ]
        lines += connectPorts.map { "ConnectPort \($0)" }
        if let basicAuth { lines.append("BasicAuth \(basicAuth.user) \(basicAuth.password)") }
        configuration = lines.joined(separator: "\n") + "\n"
        let path = try directory.write("tinyproxy.conf", configuration)
        peer = try PeerProcess(
            name: "tinyproxy", executable: binary, arguments: ["-d", "-c", path], directory: directory,
            ports: [port])
    }

    /// Kills tinyproxy and removes its directory. Idempotent; also done on deinit.
    public func stop() { peer.stop() }

    /// The first log line containing `text` (existing or arriving within `timeout`), e.g.
    /// `CONNECT 127.0.0.1:41234 HTTP/1.1`.
    public func waitForLog(containing text: String, timeout: Duration = .seconds(10)) -> String? {
        peer.waitForOutput(containing: text, timeout: timeout)
    }

    /// The configuration and everything tinyproxy printed, for failure messages.
    public var diagnostics: String { "tinyproxy.conf:\n\(configuration)\n\(peer.output)" }
}
