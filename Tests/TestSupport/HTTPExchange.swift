// HTTPExchange: requests to HTTP servers under test (the metrics endpoint, Prometheus's query API)
// over a TestConnection, responses read with HTTPResponseReader, and the samples of a Prometheus text
// exposition.
import Glibc
import Sluice

/// A client connection that writes requests and reads their responses in order
/// (`HTTPResponseReader` keeps the bytes of the next one).
public final class HTTPClientConnection: @unchecked Sendable {
    public let connection: TestConnection
    private let reader: HTTPResponseReader

    public init(_ connection: TestConnection) {
        self.connection = connection
        reader = HTTPResponseReader(connection)
    }

    /// Connects to `address`.
    public static func connect(
        to address: SocketAddress, timeout: Duration = .seconds(10)
    ) throws
        -> HTTPClientConnection
    {
        HTTPClientConnection(try TestConnection.connect(to: address, timeout: timeout))
    }

    /// Sends `text` as it is (a whole request, several, or a broken one).
    public func send(_ text: String) throws { try connection.sendAll(text) }

    /// A request with `Host` and the given extra header lines.
    public func request(_ method: String = "GET", _ target: String, headers: [String] = []) throws {
        var text = "\(method) \(target) HTTP/1.1\r\nHost: \(connection.remote)\r\n"
        for line in headers { text += line + "\r\n" }
        try send(text + "\r\n")
    }

    /// Reads one response; `headOnly` for the answer to a HEAD request (no body follows).
    public func readResponse(headOnly: Bool = false) throws -> HTTPResponse {
        try reader.next(bodyless: headOnly)
    }

    public func close() { connection.close() }
}

/// One-shot requests.
public enum HTTPExchange {
    /// Connects, sends one request (`Connection: close`) and reads its response.
    public static func request(
        _ address: SocketAddress, _ target: String, method: String = "GET", headers: [String] = [],
        timeout: Duration = .seconds(10)
    ) throws -> HTTPResponse {
        let client = try HTTPClientConnection.connect(to: address, timeout: timeout)
        defer { client.close() }
        try client.request(method, target, headers: headers + ["Connection: close"])
        return try client.readResponse(headOnly: method == "HEAD")
    }

    /// `target` percent-encoded for a query string value.
    public static func queryEncoded(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                result += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 15)]], as: UTF8.self)
            }
        }
        return result
    }
}

/// The samples of a Prometheus text exposition, keyed by the series as written
/// (`name{label="value",…}`, or the bare name).
public struct ExpositionSamples: Sendable {
    public var values: [String: Double] = [:]
    /// `# TYPE` of each family.
    public var types: [String: String] = [:]

    public init(_ text: String) {
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                if parts.count == 4 { types[String(parts[2])] = String(parts[3]) }
                continue
            }
            guard !line.hasPrefix("#"), let space = line.lastIndex(of: " ") else { continue }
            let value = line[line.index(after: space)...]
            values[String(line[..<space])] =
                value == "+Inf" ? Double.infinity : Double(String(value)) ?? Double.nan
        }
    }

    /// The value of `name` with `labels` (in the order the endpoint writes them).
    public subscript(name: String, labels: [(String, String)] = []) -> Double? {
        values[Self.key(name, labels)]
    }

    /// The integer value of `name` with `labels`, nil when absent.
    public func int(_ name: String, _ labels: [(String, String)] = []) -> Int? {
        values[Self.key(name, labels)].map { Int($0) }
    }

    static func key(_ name: String, _ labels: [(String, String)]) -> String {
        labels.isEmpty ? name : name + "{" + labels.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ",") + "}"
    }
}
