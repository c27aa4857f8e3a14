// PeerDante: a real SOCKS5 server (Debian dante-server 1.4, `danted`) in the foreground on
// 127.0.0.1, without authentication, logging every CONNECT to stderr.
import Glibc
import Sluice

/// One `danted` listening on `127.0.0.1:port` for clients from 127.0.0.0/8, allowing `connect` to
/// anywhere, without authentication (`socksmethod: none`; Dante's username method checks system
/// accounts, which a test must not create). Dante forks its worker processes; `stop()` sends
/// SIGTERM first so that they go with it.
public final class DantePeer: @unchecked Sendable {
    /// The running process and its directory.
    public let peer: PeerProcess
    /// The configuration file, for failure messages.
    public let configuration: String

    public var port: UInt16 { peer.ports[0] }
    /// `127.0.0.1:port`.
    public var address: SocketAddress { SocketAddress(.v4(IPv4Address(127, 0, 0, 1)), port: port) }

    /// Starts danted on a free port.
    public static func start() throws -> DantePeer {
        let binary = try PeerBinary.find("danted")
        return try PeerProcess.startWithRetries(ports: 1) { ports in try DantePeer(binary: binary, port: ports[0]) }
    }

    private init(binary: String, port: UInt16) throws {
        let directory = try TemporaryDirectory(prefix: "dante")
        configuration = """
            logoutput: stderr
            internal: 127.0.0.1 port = \(port)
            external: 127.0.0.1
            socksmethod: none
            clientmethod: none
            user.privileged: root
            user.unprivileged: nobody
            client pass {
                from: 127.0.0.0/8 to: 0.0.0.0/0
                log: connect disconnect error
            }
            socks pass {
                from: 127.0.0.0/8 to: 0.0.0.0/0
                command: connect
                log: connect disconnect error
            }

            """
        let path = try directory.write("danted.conf", configuration)
        peer = try PeerProcess(
            name: "danted", executable: binary, arguments: ["-f", path, "-N", "1"], directory: directory,
            ports: [port], terminationSignal: SIGTERM)
    }

    /// Stops danted and its workers and removes the directory. Idempotent; also done on deinit.
    public func stop() { peer.stop() }

    /// The first log line containing `text` (existing or arriving within `timeout`). Dante writes
    /// addresses as `ip.port`, e.g. `tcp/connect [: 127.0.0.1.41000 127.0.0.1.1080 -> … 127.0.0.1.8080`.
    public func waitForLog(containing text: String, timeout: Duration = .seconds(10)) -> String? {
        peer.waitForOutput(containing: text, timeout: timeout)
    }

    /// The configuration and everything danted printed, for failure messages.
    public var diagnostics: String { "danted.conf:\n\(configuration)\n\(peer.output)" }
}
