// PeerPrometheus: a real Prometheus server (Debian 2.42) scraping targets on loopback every second,
// with a private TSDB directory, asked through its HTTP query API; and promtool.
import Glibc
import Sluice

/// One Prometheus process.
public final class PrometheusPeer: @unchecked Sendable {
    public let peer: PeerProcess
    /// Where its web server (and query API) listens.
    public var address: SocketAddress { SocketAddress(.v4(IPv4Address(127, 0, 0, 1)), port: peer.ports[0]) }

    /// Starts Prometheus scraping `targets` (`127.0.0.1:port`) at `path` every second.
    public static func start(scraping targets: [String], path: String = "/metrics") throws -> PrometheusPeer {
        let binary = try PeerBinary.find("prometheus")
        return try PeerProcess.startWithRetries(ports: 1) { ports in
            try PrometheusPeer(binary: binary, port: ports[0], targets: targets, path: path)
        }
    }

    private init(binary: String, port: UInt16, targets: [String], path: String) throws {
        let directory = try TemporaryDirectory(prefix: "prometheus")
        let list = targets.map { "'\($0)'" }.joined(separator: ", ")
        let configuration = """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: sluice
                metrics_path: \(path)
                static_configs:
                  - targets: [\(list)]

            """
        let config = try directory.write("prometheus.yml", configuration)
        peer = try PeerProcess(
            name: "prometheus", executable: binary,
            arguments: [
                "--config.file=\(config)", "--storage.tsdb.path=\(directory.file("data"))",
                "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
            ],
            directory: directory, ports: [port], timeout: .seconds(60))
    }

    deinit { peer.stop() }

    /// `GET /api/v1/query?query=<expression>`: the parsed JSON answer; nil while the server is still
    /// starting (it answers 503 until its storage is ready).
    public func query(_ expression: String) throws -> JSONValue? {
        let response = try HTTPExchange.request(address, "/api/v1/query?query=" + HTTPExchange.queryEncoded(expression))
        if response.status == 503 { return nil }
        guard response.status == 200 else {
            throw TestSupportError("prometheus query \(expression)", detail: "\(response)")
        }
        return try JSONValue.parse(bytes: response.body)
    }

    /// The value of the first series `expression` returns (an instant vector), nil when none (or
    /// while the server starts).
    public func value(_ expression: String) throws -> Double? {
        guard let answer = try query(expression), answer["status"]?.string == "success",
            let first = answer["data"]?["result"]?[0],
            let text = first["value"]?[1]?.string
        else { return nil }
        return Double(text)
    }

    /// The health of each scrape target (`up`, `down`, `unknown`) and its last error.
    public func targets() throws -> String {
        let response = try HTTPExchange.request(address, "/api/v1/targets")
        return response.text
    }

    public func stop() { peer.stop() }
}

/// promtool.
public enum Promtool {
    /// `promtool check metrics` on `text` (its standard input): exit code and output.
    public static func checkMetrics(_ text: String) throws -> ProcessResult {
        let binary = try PeerBinary.find("promtool")
        let directory = try TemporaryDirectory(prefix: "promtool")
        defer { directory.remove() }
        let file = try directory.write("metrics.txt", text)
        // promtool reads the exposition from standard input only.
        return try runProcess(
            "/bin/sh", ["-c", "exec \"$0\" check metrics < \"$1\"", binary, file], timeout: .seconds(60))
    }
}
