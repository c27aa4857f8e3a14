// PeerCurl: runs the real curl (Debian 7.88) once and reports the body, the HTTP status and the
// local address curl used (the address a PROXY header from `--haproxy-protocol` carries).
import Glibc
import Sluice

/// What one curl run produced.
public struct CurlResult: Sendable, CustomStringConvertible {
    /// curl's exit code (0 on success; 7 = could not connect, 52 = empty reply, 56 = receive
    /// failure, 28 = timeout); nil when curl had to be killed.
    public var exitCode: Int32?
    /// The response body.
    public var body: String
    /// The HTTP status (0 when there was no response).
    public var status: Int
    /// curl's own socket address (`%{local_ip}:%{local_port}`); nil when it never connected.
    public var localAddress: SocketAddress?
    /// curl's stderr (its `-sS` error message).
    public var stderr: String

    public var description: String {
        "curl exit \(exitCode.map(String.init) ?? "killed"), status \(status), local \(localAddress.map(\.description) ?? "-"), body \(body.debugDescription), stderr \(stderr.debugDescription)"
    }
}

/// The real curl.
public enum Curl {
    /// The marker between the body and the `--write-out` summary on stdout.
    static let marker = "\n<<curl-write-out>>"

    /// Runs `curl -sS --max-time <timeout> <arguments> <url>` and parses its write-out. Throws
    /// only when curl cannot be found or started; a failed transfer is a result with a non-zero
    /// `exitCode`.
    public static func run(_ arguments: [String], url: String, timeout: Duration = .seconds(30)) throws -> CurlResult {
        let binary = try PeerBinary.find("curl")
        let seconds = String(max(1, timeout.totalMilliseconds / 1000))
        let result = try runProcess(
            binary,
            ["-sS", "--max-time", seconds, "--write-out", marker + "%{http_code} %{local_ip} %{local_port}"]
                + arguments + [url],
            timeout: timeout + .seconds(5))
        var body = result.stdout
        var status = 0
        var localAddress: SocketAddress?
        if let range = body.firstRange(of: marker) {
            let summary = body[range.upperBound...].split(separator: " ").map(String.init)
            body = String(body[..<range.lowerBound])
            if summary.count == 3 {
                status = Int(summary[0]) ?? 0
                if let ip = IPAddress(summary[1]), let port = UInt16(summary[2]), port != 0 {
                    localAddress = SocketAddress(ip, port: port)
                }
            }
        }
        return CurlResult(
            exitCode: result.exitCode, body: body, status: status, localAddress: localAddress, stderr: result.stderr)
    }
}
