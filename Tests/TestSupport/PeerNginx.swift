// PeerNginx: a real nginx (Debian 1.22, stream module from libnginx-mod-stream) as one foreground
// process (`daemon off; master_process off;`) with a generated configuration in a private directory.
import Glibc
import Sluice

/// One nginx process. The caller writes the `stream { … }` and/or `http { … }` blocks; this type
/// adds `load_module` for the stream module when a `stream` block is used, a private pid file, an
/// error log at `info` level, and temp paths inside the private directory.
public final class NginxPeer: @unchecked Sendable {
    /// The running process and its directory.
    public let peer: PeerProcess
    /// The whole configuration file, for failure messages.
    public let configuration: String

    public var ports: [UInt16] { peer.ports }
    public var port: UInt16 { ports[0] }

    /// Where Debian's libnginx-mod-stream installs the stream module.
    public static let streamModulePaths = [
        "/usr/lib/nginx/modules/ngx_stream_module.so", "/usr/share/nginx/modules/ngx_stream_module.so",
    ]

    /// Starts nginx with `ports` free ports; `blocks(ports)` returns the `stream`/`http` blocks,
    /// which must listen on every one of the ports. Retries with fresh ports when a port was taken
    /// meanwhile.
    public static func start(ports count: Int = 1, _ blocks: @escaping ([UInt16]) -> String) throws -> NginxPeer {
        let binary = try PeerBinary.find("nginx")
        return try PeerProcess.startWithRetries(ports: count) { ports in
            try NginxPeer(binary: binary, ports: ports, blocks: blocks(ports))
        }
    }

    private init(binary: String, ports: [UInt16], blocks: String) throws {
        let directory = try TemporaryDirectory(prefix: "nginx")
        var head = ""
        if blocks.contains("stream {") {
            guard let module = NginxPeer.streamModulePaths.first(where: PeerBinary.exists) else {
                throw TestSupportError(
                    "find nginx's stream module",
                    detail:
                        "none of \(NginxPeer.streamModulePaths) exists; scripts/install-test-deps installs libnginx-mod-stream"
                )
            }
            head = "load_module \(module);\n"
        }
        configuration =
            head + """
                worker_processes 1;
                pid \(directory.file("nginx.pid"));
                error_log \(directory.file("error.log")) info;
                events { worker_connections 256; }
                \(blocks)

                """
        let configured = configuration.replacingHTTPTempPaths(in: directory)
        let path = try directory.write("nginx.conf", configured)
        // `-e` keeps nginx from opening the packaged /var/log/nginx/error.log before it reads the
        // configuration; one process (no master) so that SIGKILL leaves no orphaned worker.
        peer = try PeerProcess(
            name: "nginx", executable: binary,
            arguments: [
                "-p", directory.path + "/", "-c", path, "-e", directory.file("error.log"), "-g",
                "daemon off; master_process off;",
            ], directory: directory, ports: ports)
    }

    /// Kills nginx and removes its directory. Idempotent; also done on deinit.
    public func stop() { peer.stop() }

    /// The error log (it also holds the `info` lines about each stream session).
    public var errorLog: String { peer.directory.read("error.log") }

    /// The configuration, the error log and the output, for failure messages.
    public var diagnostics: String { "nginx.conf:\n\(configuration)\nerror.log:\n\(errorLog)\n\(peer.output)" }
}

extension String {
    /// Adds temp paths inside `directory` to an `http {` block, so nginx never touches the packaged
    /// /var/lib/nginx directories.
    fileprivate func replacingHTTPTempPaths(in directory: TemporaryDirectory) -> String {
        guard let range = firstRange(of: "http {") else { return self }
        let temp = directory.file("tmp")
        let paths = [
            "client_body_temp_path", "proxy_temp_path", "fastcgi_temp_path", "uwsgi_temp_path", "scgi_temp_path",
        ]
        .map { " \($0) \(temp);" }.joined()
        var result = self
        result.replaceSubrange(range, with: "http {\(paths) access_log off;")
        return result
    }
}
