// Integration tests for configuration files (`-C`, `-O`, SIGHUP): their parent suite and the helpers
// they share: temporary files, log lines compared without time, sid and ports, and HTTP heads.
//
// Each nested suite lives in its own `ConfigFile*Tests.swift` file. Like every suite of this
// target they run one test at a time (see `Integration`): the reload tests measure a grace period.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration {
    @Suite("Configuration files: -C, -O and SIGHUP", .timeLimit(.minutes(3)))
    struct ConfigFileTests {}
}

/// What the configuration-file tests share. A namespace, so that nothing here collides with the
/// other integration suites' top-level helpers.
enum ConfigFiles {
    /// A fresh directory for one test's configuration files (removed when released).
    static func directory() throws -> TemporaryDirectory { try TemporaryDirectory(prefix: "config") }

    /// Runs `sluice arguments` to completion (for `-O`, and for files that must be refused).
    static func run(_ arguments: [String]) throws -> ProcessResult {
        try SluiceProcess.run(arguments, timeout: .seconds(20))
    }

    /// Runs `sluice arguments` with standard input read from `file` (for `-C -`).
    static func run(_ arguments: [String], stdin file: String) throws -> ProcessResult {
        try runProcess(
            "/bin/sh", ["-c", "exec " + shellCommand([SluiceProcess.binaryPath] + arguments) + " < " + quoted(file)],
            environment: SluiceProcess.environment, timeout: .seconds(20))
    }

    /// Starts `sluice arguments` with standard input read from `file`: `exec` keeps the pid sluice's.
    static func start(_ arguments: [String], stdin file: String, expectListeners: Int) throws -> SluiceProcess {
        try SluiceProcess.start(
            ["-c", "exec " + shellCommand([SluiceProcess.binaryPath] + arguments) + " < " + quoted(file)],
            expectListeners: expectListeners, binary: "/bin/sh")
    }

    /// `text` in single quotes for `/bin/sh`.
    static func quoted(_ text: String) -> String { "'" + text.replacing("'", with: "'\\''") + "'" }

    static func shellCommand(_ words: [String]) -> String { words.map(quoted).joined(separator: " ") }

    // MARK: Log lines without what differs from run to run

    /// Every line of `lines` as text with the keys in order and without `time`, `sid` and
    /// `duration`; every port in an address (`1.2.3.4:5`, `[::]:5`) becomes `<pN>`, numbered in
    /// order of first appearance, so that two runs compare equal exactly when they logged the same
    /// lines with the same fields and the same ports in the same places.
    static func normalized(_ lines: [JSONValue]) -> [String] {
        var ports: [Substring: Int] = [:]
        return lines.map { render($0, ports: &ports) }
    }

    private static func render(_ value: JSONValue, ports: inout [Substring: Int]) -> String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s): return "\"" + withoutPorts(s, ports: &ports) + "\""
        case .array(let items): return "[" + items.map { render($0, ports: &ports) }.joined(separator: ",") + "]"
        case .object(let object):
            let fields = object.keys.sorted().filter { !["time", "sid", "duration"].contains($0) }
            return "{"
                + fields.map { key in "\(key)=" + (object[key].map { render($0, ports: &ports) } ?? "?") }
                .joined(separator: " ") + "}"
        }
    }

    /// `text` with the port of every IPv4 or bracketed IPv6 address, and of a bare `:port` at
    /// the start or after a space, replaced (see `normalized`).
    static func withoutPorts(_ text: String, ports: inout [Substring: Int]) -> String {
        text.replacing(/(?<host>\d{1,3}(?:\.\d{1,3}){3}|\]|^| ):(?<port>\d{1,5})\b/) { match in
            let port = match.output.port
            let number = ports[port] ?? (ports.count + 1)
            ports[port] = number
            return "\(match.output.host):<p\(number)>"
        }
    }

    /// Compares two normalized logs line by line; records one issue naming the first line that
    /// differs (with both logs), or a count mismatch.
    static func expectSameLog(
        _ first: [String], _ second: [String], _ what: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let both = "first:\n\(first.joined(separator: "\n"))\nsecond:\n\(second.joined(separator: "\n"))"
        if let index = (0..<min(first.count, second.count)).first(where: { first[$0] != second[$0] }) {
            Issue.record(
                "\(what): line \(index + 1) differs:\n  \(first[index])\n  \(second[index])\n\(both)",
                sourceLocation: sourceLocation)
        } else if first.count != second.count {
            Issue.record(
                "\(what): \(first.count) lines against \(second.count)\n\(both)", sourceLocation: sourceLocation)
        }
    }

    // MARK: HTTP heads

    /// Reads from `connection` up to and including the first blank line (`\r\n\r\n`), one byte at
    /// a time so that nothing after the head is consumed.
    static func readHead(_ connection: TestConnection, limit: Int = 4096) throws -> [UInt8] {
        var head: [UInt8] = []
        while !head.ends(with: [0x0D, 0x0A, 0x0D, 0x0A]) {
            guard head.count < limit else {
                throw TestSupportError("read an HTTP head", detail: "no end in \(limit) bytes")
            }
            let byte = try connection.receive(exactly: 1)
            head += byte
        }
        return head
    }

    /// `CONNECT <target> HTTP/1.1` with its `Host` field, as a client sends it.
    static func connectRequest(_ target: String) -> [UInt8] {
        ascii("CONNECT \(target) HTTP/1.1\r\nHost: \(target)\r\n\r\n")
    }
}

extension Array where Element == UInt8 {
    /// Whether the bytes end with `suffix`.
    func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}

extension SluiceProcess {
    /// The first JSON line after the first `from` lines whose `msg` contains `text`, waiting up to
    /// `timeout`: for a line that a later signal causes when an earlier one has the same words.
    func waitForMessage(containing text: String, after from: Int, timeout: Duration = .seconds(10)) -> JSONValue? {
        process.waitForLine(from: from, timeout: timeout) { line in
            line.json?["msg"]?.string?.contains(text) == true
        }?.json
    }

    /// Sends SIGTERM and waits for the exit; the exit code, or nil when it did not end in time.
    func terminate(timeout: Duration = .seconds(15)) -> Int32? {
        signal(SIGTERM)
        return waitForExit(timeout: timeout)
    }
}
