// ProxyHandlerSupport: what the proxy-handler tests need beyond the other helpers: an HTTP/1.1 origin
// (python3's http.server, keep-alive and pipelining aware, logging every request), and a reader of
// HTTP responses on a raw client connection.
import Glibc
import Sluice

/// A python3 `http.server` origin on one or more addresses (one process, one thread per server). Each
/// request, GET or with a body (Content-Length or chunked), is answered `200` with the body
/// `<METHOD> <path> server=<name> conn=<peer port> seq=<n>\n` followed by the request's body, so a test
/// sees which server answered, over which upstream connection, as which request on it. HEAD gets the
/// fields without the body; a path starting `/chunked-response` is answered chunked (three chunks, the
/// last `tail\n`), one starting `/until-close` without a length, delimited by closing, and one starting
/// `/close-after` with a length and `Connection: close`, after which the origin closes. HTTP/1.1
/// persistent connections and pipelined requests are served in order. Every request is also written to
/// stderr as one JSON object (`event` `request`: `server`, `method`, `path`, `version`, `headers` as
/// `[name, value]` pairs, `peerPort`, `seq`, `bodyLength`). Killed on `stop()` or deinit.
public final class HTTPOrigin: @unchecked Sendable {
    /// The python process.
    public let process: BackgroundProcess
    /// Server name → bound address, in the order given.
    public let addresses: [String: SocketAddress]

    /// The origin's program (python3 standard library only).
    static let script = #"""
        import json, socket, socketserver, sys, threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        lock = threading.Lock()

        def log(obj):
            with lock:
                sys.stderr.write(json.dumps(obj) + "\n")
                sys.stderr.flush()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def read_body(self):
                if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
                    body = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return body
                        body += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def serve(self):
                self.seq = getattr(self, "seq", 0) + 1
                body = self.read_body()
                port = self.client_address[1]
                log({"event": "request", "server": self.server.name, "method": self.command,
                     "path": self.path, "version": self.request_version,
                     "headers": [[k, v] for k, v in self.headers.items()],
                     "peerPort": port, "seq": self.seq, "bodyLength": len(body)})
                out = f"{self.command} {self.path} server={self.server.name} conn={port} seq={self.seq}\n".encode() + body
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                if self.path.startswith("/chunked-response"):
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for piece in (out[:10], out[10:], b"tail\n"):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.write(b"0\r\n\r\n")
                elif self.path.startswith("/close-after"):
                    self.send_header("Content-Length", str(len(out)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(out)
                    self.close_connection = True
                elif self.path.startswith("/until-close"):
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(out)
                    self.close_connection = True
                else:
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(out)

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = serve

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128

            def server_bind(self):
                # HTTPServer.server_bind looks up the host's FQDN, which may wait on DNS.
                socketserver.TCPServer.server_bind(self)
                self.server_name, self.server_port = "localhost", self.server_address[1]

        class Server6(Server):
            address_family = socket.AF_INET6

        for spec in sys.argv[1:]:
            name, host = spec.split("=", 1)
            server = (Server6 if ":" in host else Server)((host, 0), Handler)
            server.name = name
            threading.Thread(target=server.serve_forever, daemon=True).start()
            log({"event": "listening", "server": name, "host": host, "port": server.server_address[1]})
        threading.Event().wait()
        """#

    /// Starts one server per `(name, address)` (address an IP literal, e.g. `127.0.0.1` or `::1`) and
    /// waits until all of them listen.
    public init(_ servers: [(name: String, host: String)] = [("origin", "127.0.0.1")]) throws {
        let python = PeerBinary.exists("/usr/bin/python3") ? "/usr/bin/python3" : try PeerBinary.find("python3")
        process = try BackgroundProcess(
            python, ["-u", "-c", Self.script] + servers.map { "\($0.name)=\($0.host)" }, parseJSON: true)
        let process = self.process
        let listening = waitFor(timeout: .seconds(15)) { () -> [String: SocketAddress]? in
            var found: [String: SocketAddress] = [:]
            for line in process.stderrLines {
                guard let json = line.json, json["event"]?.string == "listening", let name = json["server"]?.string,
                    let host = json["host"]?.string, let ip = IPAddress(host), let port = json["port"]?.int,
                    let port16 = UInt16(exactly: port)
                else { continue }
                found[name] = SocketAddress(ip, port: port16)
            }
            return found.count == servers.count || !process.isRunning ? found : nil
        }
        guard let listening, listening.count == servers.count else {
            process.stop()
            throw TestSupportError("start the python http.server origin", detail: "stderr:\n\(process.stderrText)")
        }
        addresses = listening
    }

    deinit { process.stop() }

    /// Kills the process. Idempotent; also done on deinit.
    public func stop() { process.stop() }

    /// The address of server `name`.
    public func address(_ name: String = "origin") -> SocketAddress { addresses[name]! }

    /// `http://<address of name><path>`, e.g. `http://127.0.0.1:41234/a` or `http://[::1]:41234/a`.
    public func url(_ name: String = "origin", path: String = "/") -> String { "http://\(address(name))\(path)" }

    /// Every request logged so far, in order.
    public var requests: [JSONValue] {
        process.stderrLines.compactMap(\.json).filter { $0["event"]?.string == "request" }
    }

    /// The first `count` requests, once that many were logged within `timeout`; nil otherwise.
    public func waitForRequests(_ count: Int, timeout: Duration = .seconds(5)) -> [JSONValue]? {
        waitFor(timeout: timeout) { () -> [JSONValue]? in
            let list = requests
            return list.count >= count ? list : nil
        }
    }

    /// Everything the process wrote, for failure messages.
    public var diagnostics: String { "origin stderr:\n\(process.stderrText)\nstdout:\n\(process.stdoutText)" }

    /// The body the origin answers for a request without a body.
    public static func body(
        method: String = "GET", path: String, server: String = "origin", connection: Int, sequence: Int
    ) -> String {
        "\(method) \(path) server=\(server) conn=\(connection) seq=\(sequence)\n"
    }
}

/// One parsed response head and body.
public struct HTTPResponse: Sendable, CustomStringConvertible {
    /// The status code (e.g. 200).
    public var status: Int
    /// The status line without CRLF.
    public var statusLine: String
    /// The fields in order.
    public var fields: [(name: String, value: String)]
    /// The body (delimited by Content-Length, chunked, or EOF).
    public var body: [UInt8]

    /// The first field named `name` (case-insensitive).
    public func field(_ name: String) -> String? {
        fields.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The body as text.
    public var text: String { String(decoding: body, as: UTF8.self) }

    public var description: String {
        ([statusLine] + fields.map { "\($0.name): \($0.value)" }).joined(separator: "\r\n") + "\r\n\r\n" + text
    }
}

/// Reads HTTP/1.1 responses one after another from a client connection, keeping the bytes that
/// belong to the next response (pipelining).
public final class HTTPResponseReader {
    public let connection: TestConnection
    private var buffer: [UInt8] = []

    public init(_ connection: TestConnection) { self.connection = connection }

    /// Bytes received and not yet part of a returned response.
    public var leftover: [UInt8] { buffer }

    /// The next response. `bodyless` for the answer to HEAD or a 2xx to CONNECT. Throws on EOF before
    /// the head ends, on a malformed head, or when the connection's timeout passes.
    public func next(bodyless: Bool = false) throws -> HTTPResponse {
        let end: Int = try {
            while true {
                if let end = headEnd() { return end }
                let more = try connection.receive(upTo: 64 << 10)
                guard !more.isEmpty else {
                    throw TestSupportError(
                        "read a response head",
                        detail: "EOF after \(String(decoding: buffer, as: UTF8.self).debugDescription)")
                }
                buffer += more
            }
        }()
        let head = String(decoding: buffer[0..<end], as: UTF8.self)
        buffer.removeFirst(end + 4)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw TestSupportError("parse a response head", detail: head.debugDescription)
        }
        let fields = lines.compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let value = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
            return (String(line[..<colon]), String(value))
        }
        var response = HTTPResponse(status: status, statusLine: statusLine, fields: fields, body: [])
        if bodyless || status == 204 || status == 304 || (100..<200).contains(status) { return response }
        if let length = response.field("content-length").flatMap({ Int($0) }) {
            response.body = try take(length)
        } else if response.field("transfer-encoding")?.lowercased().contains("chunked") == true {
            response.body = try chunked()
        } else {
            response.body = buffer + (try connection.receiveUntilEOF())
            buffer = []
        }
        return response
    }

    private func headEnd() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for i in 0...(buffer.count - 4)
        where buffer[i] == 0x0D && buffer[i + 1] == 0x0A && buffer[i + 2] == 0x0D && buffer[i + 3] == 0x0A {
            return i
        }
        return nil
    }

    private func fill(_ count: Int) throws {
        while buffer.count < count {
            let more = try connection.receive(upTo: 64 << 10)
            guard !more.isEmpty else {
                throw TestSupportError("read a response body", detail: "EOF after \(buffer.count) of \(count) bytes")
            }
            buffer += more
        }
    }

    private func take(_ count: Int) throws -> [UInt8] {
        try fill(count)
        defer { buffer.removeFirst(count) }
        return Array(buffer[0..<count])
    }

    private func line() throws -> String {
        while true {
            if let i = buffer.indices.dropLast().first(where: { buffer[$0] == 0x0D && buffer[$0 + 1] == 0x0A }) {
                defer { buffer.removeFirst(i + 2) }
                return String(decoding: buffer[0..<i], as: UTF8.self)
            }
            try fill(buffer.count + 1)
        }
    }

    private func chunked() throws -> [UInt8] {
        var body: [UInt8] = []
        while true {
            let sizeText = try line().split(separator: ";").first.map(String.init) ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: " "), radix: 16) else {
                throw TestSupportError("parse a chunk size", detail: sizeText.debugDescription)
            }
            if size == 0 {
                while try !line().isEmpty {}
                return body
            }
            body += try take(size)
            _ = try line()
        }
    }
}

extension String {
    /// The text without leading and trailing characters from `set`.
    fileprivate func trimmingCharacters(in set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}
