// SluiceLog: reading one connection's story out of sluice's JSON log lines (accept, connected,
// relay end, close and error lines, tied together by `sid`), and the `-L` URL builder.
import Sluice

/// The log lines of one connection (one `sid`), in the order sluice wrote them.
public struct ConnectionLog: Sendable, CustomStringConvertible {
    public var sid: String
    public var lines: [JSONValue]

    public init(sid: String, lines: [JSONValue]) {
        self.sid = sid
        self.lines = lines
    }

    /// The first line whose `msg` contains `separator` (with spaces around it).
    private func line(_ separator: String) -> JSONValue? {
        lines.first { $0["msg"]?.string?.contains(" \(separator) ") == true }
    }

    /// `"<client> <> <local>"`: accepted.
    public var accepted: JSONValue? { line("<>") }
    /// `"<client> <-> <target>"`: connected to the target.
    public var connected: JSONValue? { line("<->") }
    /// `"<client> >-< <target>"`: the relay ended.
    public var relayEnded: JSONValue? { line(">-<") }
    /// `"<client> >< <local>"`: closed, with `duration`, `inputBytes`, `outputBytes`.
    public var closed: JSONValue? { line("><") }
    /// Lines at level `error`.
    public var errors: [JSONValue] { lines.filter { $0["level"]?.string == "error" } }

    /// The index in `lines` of `line` (to check order), or nil.
    public func position(of line: JSONValue?) -> Int? {
        guard let line else { return nil }
        return lines.firstIndex(of: line)
    }

    public var description: String { lines.map(\.description).joined(separator: "\n") }
}

extension SluiceProcess {
    /// The `sid` of the connection whose client address (the accept line's `remote`) is `client`,
    /// waiting up to `timeout` for its accept line.
    public func sid(ofClient client: SocketAddress, timeout: Duration = .seconds(10)) -> String? {
        let text = client.description
        let accept = waitForLine(timeout: timeout) { line in
            line["remote"]?.string == text && line["msg"]?.string?.contains(" <> ") == true
        }
        return accept?["sid"]?.string
    }

    /// Every line logged so far for `sid`.
    public func connectionLog(sid: String) -> ConnectionLog { ConnectionLog(sid: sid, lines: lines(sid: sid)) }

    /// The log of the connection from `client`, once its close line (`" >< "`) has been written;
    /// nil when the accept or close line does not appear within `timeout`.
    public func closedConnectionLog(client: SocketAddress, timeout: Duration = .seconds(10)) -> ConnectionLog? {
        let deadline = Deadline(timeout)
        guard let sid = sid(ofClient: client, timeout: timeout) else { return nil }
        let closed = waitForLine(timeout: deadline.remaining) { line in
            line["sid"]?.string == sid && line["msg"]?.string?.contains(" >< ") == true
        }
        guard closed != nil else { return nil }
        return connectionLog(sid: sid)
    }

    /// The sids of `error` lines whose `msg` contains `text` (case-insensitive), each once.
    public func errorSIDs(containing text: String) -> Set<String> {
        let needle = text.lowercased()
        return Set(
            lines(level: "error").compactMap { line in
                line["msg"]?.string?.lowercased().contains(needle) == true ? line["sid"]?.string : nil
            })
    }
}

/// Builds a forwarding service URL: `tcp://<listen>/<target>,<target>…[?query]`.
public func forwardURL(listen: String = "127.0.0.1:0", to targets: [String], query: String = "") -> String {
    "tcp://\(listen)/\(targets.joined(separator: ","))" + (query.isEmpty ? "" : "?\(query)")
}
