// PeerHAProxy: a real HAProxy (Debian 2.6) in the foreground (`-db`) with a generated
// configuration, its log on stdout, and its admin socket (`show stat`, `show servers state`).
import CSluice
import Glibc
import Sluice

/// One HAProxy process. The caller writes the `frontend`/`backend`/`listen` sections; this type
/// adds `global` (log to stdout in raw format, a stats socket in the private directory) and
/// `defaults` (the given mode, log global, 5 s connect and 30 s client/server timeouts).
public final class HAProxyPeer: @unchecked Sendable {
    /// The running process and its directory.
    public let peer: PeerProcess
    /// The whole configuration file, for failure messages.
    public let configuration: String

    /// The ports the sections listen on (`ports[0]`, …), chosen free before the start.
    public var ports: [UInt16] { peer.ports }
    public var port: UInt16 { ports[0] }

    /// The admin socket (`stats socket … level admin`).
    public var statsSocket: String { peer.directory.file("stats.sock") }

    /// Starts HAProxy with `ports` free ports; `sections(ports)` returns the proxies. HAProxy must
    /// listen on every one of the ports (bind lines) before this returns. Retries with fresh ports
    /// when a port was taken meanwhile.
    public static func start(
        mode: String = "tcp", ports count: Int = 1, _ sections: @escaping ([UInt16]) -> String
    ) throws -> HAProxyPeer {
        let binary = try PeerBinary.find("haproxy")
        return try PeerProcess.startWithRetries(ports: count) { ports in
            try HAProxyPeer(binary: binary, mode: mode, ports: ports, sections: sections(ports))
        }
    }

    private init(binary: String, mode: String, ports: [UInt16], sections: String) throws {
        let directory = try TemporaryDirectory(prefix: "haproxy")
        configuration = """
            global
                log stdout format raw local0 info
                stats socket \(directory.file("stats.sock")) mode 600 level admin
                nbthread 1
            defaults
                mode \(mode)
                log global
                timeout connect 5s
                timeout client 30s
                timeout server 30s
            \(sections)

            """
        let path = try directory.write("haproxy.cfg", configuration)
        let peer = try PeerProcess(
            name: "haproxy", executable: binary, arguments: ["-db", "-f", path], directory: directory, ports: ports)
        self.peer = peer
        // HAProxy binds its TCP listeners and its admin socket one after the other; the socket's
        // file appears (renamed into place) once it listens.
        let socket = directory.file("stats.sock")
        guard waitUntil(timeout: .seconds(30), { access(socket, F_OK) == 0 || !peer.isRunning }), peer.isRunning else {
            let output = peer.output
            peer.stop()
            throw TestSupportError("start haproxy", detail: "no admin socket at \(socket); \(output)")
        }
    }

    /// Kills HAProxy and removes its directory. Idempotent; also done on deinit.
    public func stop() { peer.stop() }

    /// The configuration and everything HAProxy printed, for failure messages.
    public var diagnostics: String { "haproxy.cfg:\n\(configuration)\n\(peer.output)" }

    /// The first log line containing `text` (existing or arriving within `timeout`).
    public func waitForLog(containing text: String, timeout: Duration = .seconds(10)) -> String? {
        peer.waitForOutput(containing: text, timeout: timeout)
    }

    // MARK: Admin socket

    /// Sends one command (e.g. `show stat`) to the admin socket and returns the whole reply.
    public func command(_ command: String, timeout: Duration = .seconds(5)) throws -> String {
        try UnixSocketClient.request(path: statsSocket, Array((command + "\n").utf8), timeout: timeout)
    }

    /// The `show stat` row of `proxy`/`server` as field name → value (`status` is `UP`, `DOWN`,
    /// `no check`, …; `check_status` is `L4OK`, `L7OK`, `L7RSP`, …); nil when there is no such row.
    public func stat(proxy: String, server: String) throws -> [String: String]? {
        let lines = try command("show stat").split(separator: "\n")
        guard let header = lines.first, header.hasPrefix("# ") else { return nil }
        let names = header.dropFirst(2).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        for line in lines.dropFirst() {
            let values = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard values.count >= 2, values[0] == proxy, values[1] == server else { continue }
            var row: [String: String] = [:]
            for (name, value) in zip(names, values) { row[name] = value }
            return row
        }
        return nil
    }
}

/// A one-shot client for a Unix stream socket (HAProxy's admin socket).
public enum UnixSocketClient {
    /// Connects to `path`, sends `request`, and reads until the peer closes (HAProxy closes after
    /// each command in non-interactive mode). Throws on error or after `timeout`.
    public static func request(path: String, _ request: [UInt8], timeout: Duration) throws -> String {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd != -1 else { throw TestSupportError.system("socket AF_UNIX") }
        defer { Glibc.close(fd) }
        guard sl_set_timeouts(fd, max(1, timeout.totalMilliseconds)) != -1 else {
            throw TestSupportError.system("setsockopt SO_RCVTIMEO/SO_SNDTIMEO")
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else { throw TestSupportError("connect to \(path)", detail: "path too long") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected != -1 else { throw TestSupportError.system("connect to \(path)") }
        var offset = 0
        while offset < request.count {
            let n = request.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, 0) }
            if n == -1 {
                if Errno.current == .interrupted { continue }
                throw TestSupportError.system("send to \(path)")
            }
            offset += n
        }
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress!, $0.count, 0) }
            if n > 0 {
                reply.append(contentsOf: chunk[0..<n])
            } else if n == 0 {
                return String(decoding: reply, as: UTF8.self)
            } else if Errno.current != .interrupted {
                throw TestSupportError.system("recv from \(path)")
            }
        }
    }
}
