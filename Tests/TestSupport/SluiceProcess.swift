// SluiceProcess: the sluice binary under test: finding it, starting it and waiting for its
// `listening on …` lines, reading its JSON log lines, and stopping it.
import Glibc
import Sluice

/// A running `sluice`. Its stderr lines are kept (raw and parsed as JSON); `ports` holds the port
/// of every `listening on …` line in order. Killed and reaped on `stop()` or deinit.
public final class SluiceProcess: @unchecked Sendable {
    /// The process itself (pid, signals, exit, /proc readings).
    public let process: BackgroundProcess

    private init(process: BackgroundProcess) { self.process = process }

    /// Extra environment every sluice child gets: Swift's crash backtracer can hang for many
    /// seconds after a crash, which would turn a crash into a slow timeout.
    public static let environment = ["SWIFT_BACKTRACE": "enable=no"]

    /// The binary: `$SLUICE_BIN` if set, else `sluice` next to the running test bundle (SwiftPM puts
    /// both in `.build/<triple>/<configuration>/`).
    public static var binaryPath: String {
        if let value = getenv("SLUICE_BIN"), value.pointee != 0 { return String(cString: value) }
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return "sluice" }
        let path = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return "sluice" }
        return String(path[..<slash]) + "/sluice"
    }

    /// Starts sluice (or `binary`, for the self-tests) with `arguments` and waits until `expectListeners` `listening on …` lines
    /// appeared. Throws (with sluice's stderr) when the process exits first or the lines do not
    /// appear within `timeout` (then the process is killed).
    public static func start(
        _ arguments: [String], expectListeners: Int = 1, timeout: Duration = .seconds(30),
        environment: [String: String] = [:], binary: String = SluiceProcess.binaryPath
    ) throws -> SluiceProcess {
        let process = try BackgroundProcess(
            binary, arguments, environment: SluiceProcess.environment.merging(environment) { $1 },
            parseJSON: true)
        let sluice = SluiceProcess(process: process)
        let ready = waitUntil(timeout: timeout) {
            sluice.listeners.count >= expectListeners || !process.isRunning
        }
        if sluice.listeners.count >= expectListeners { return sluice }
        let status = process.waitForExitStatus(timeout: .milliseconds(200))
        process.stop()
        let why = ready ? "exited (\(status.map(\.description) ?? "?"))" : "no \(expectListeners) listeners in time"
        throw TestSupportError(
            "start sluice \(arguments.joined(separator: " "))",
            detail: "\(why); stderr:\n\(process.stderrText)")
    }

    /// Runs sluice to completion (for `-V`, `-h`, usage errors), killing it after `timeout`.
    public static func run(_ arguments: [String], timeout: Duration = .seconds(10)) throws -> ProcessResult {
        try runProcess(binaryPath, arguments, environment: environment, timeout: timeout)
    }

    deinit { process.stop() }

    // MARK: Listeners

    /// The addresses of the `listening on <address>/<network>` lines, in order (e.g.
    /// `127.0.0.1:41234`, `[::]:41234`).
    public var listeners: [SocketAddress] {
        process.stderrLines.compactMap { SluiceProcess.listeningAddress(in: $0) }
    }

    /// The ports of the `listening on …` lines, in order.
    public var ports: [UInt16] { listeners.map(\.port) }

    /// The first listener's port.
    public var port: UInt16 { ports.first ?? 0 }

    /// `127.0.0.1:<port of listener index>`: where a client connects for an IPv4 or wildcard service.
    public func address(_ index: Int = 0) -> SocketAddress {
        SocketAddress(.v4(IPv4Address(127, 0, 0, 1)), port: ports[index])
    }

    /// Connects a client to listener `index` (on 127.0.0.1, or on `[::1]` for an IPv6 loopback
    /// listener).
    public func connect(_ index: Int = 0, timeout: Duration = .seconds(10)) throws -> TestConnection {
        let listener = listeners[index]
        let host: IPAddress = listener.ip == .v6(.loopback) ? .v6(.loopback) : .v4(IPv4Address(127, 0, 0, 1))
        return try TestConnection.connect(to: SocketAddress(host, port: listener.port), timeout: timeout)
    }

    /// The address in a `listening on 127.0.0.1:41234/tcp` message (JSON `msg`, or the raw line
    /// when it is not JSON).
    public static func listeningAddress(in line: OutputLine) -> SocketAddress? {
        let prefix = "listening on "
        let message: Substring
        if let msg = line.json?["msg"]?.string {
            guard msg.hasPrefix(prefix) else { return nil }
            message = msg.dropFirst(prefix.count)
        } else if let range = line.text.firstRange(of: prefix) {
            message = line.text[range.upperBound...].prefix { $0 != "\"" && $0 != " " }
        } else {
            return nil
        }
        let address = message.split(separator: "/", maxSplits: 1).first ?? message
        return SocketAddress(String(address))
    }

    /// The address in a `listening on …` line read some other way (from a file or a pipe).
    public static func listeningAddress(inText text: String) -> SocketAddress? {
        var line = OutputLine(stream: .stderr, text: text, arrivedAt: Monotonic.now)
        line.json = try? JSONValue.parse(bytes: Array(text.utf8))
        return listeningAddress(in: line)
    }

    // MARK: Log lines

    /// Every stderr line so far (raw text).
    public var lines: [String] { process.stderrLines.map(\.text) }

    /// Every stderr line so far, with its parse result.
    public var logLines: [OutputLine] { process.stderrLines }

    /// Every stderr line that parsed as JSON.
    public var jsonLines: [JSONValue] { process.stderrLines.compactMap(\.json) }

    /// Everything written to stderr, for failure messages.
    public var stderrText: String { process.stderrText }

    /// The first JSON line (already logged or arriving within `timeout`) matching `predicate`.
    public func waitForLine(timeout: Duration = .seconds(10), where predicate: (JSONValue) -> Bool) -> JSONValue? {
        process.waitForLine(timeout: timeout) { line in line.json.map(predicate) ?? false }?.json
    }

    /// The first JSON line whose `msg` contains `text`.
    public func waitForMessage(containing text: String, timeout: Duration = .seconds(10)) -> JSONValue? {
        waitForLine(timeout: timeout) { $0["msg"]?.string?.contains(text) == true }
    }

    /// The JSON lines carrying `sid`, in order.
    public func lines(sid: String) -> [JSONValue] { jsonLines.filter { $0["sid"]?.string == sid } }

    /// The JSON lines at `level` (e.g. `error`).
    public func lines(level: String) -> [JSONValue] { jsonLines.filter { $0["level"]?.string == level } }

    // MARK: Process

    public var pid: pid_t { process.pid }

    /// Sends a signal (e.g. `SIGTERM`).
    public func signal(_ signal: Int32) { process.signal(signal) }

    /// Waits for exit; the exit code (128 + signal after a signal death), or nil on timeout.
    public func waitForExit(timeout: Duration) -> Int32? { process.waitForExit(timeout: timeout) }

    public var isRunning: Bool { process.isRunning }

    /// Resident memory in KiB.
    public func rssKiB() -> Int? { process.rssKiB() }

    /// Open descriptors.
    public func openFDCount() -> Int? { process.openFDCount() }

    /// Waits until sluice has acted on everything that woke it and sleeps again (see
    /// `BackgroundProcess.waitUntilQuiet`).
    public func waitUntilQuiet(timeout: Duration = .seconds(10)) -> Bool { process.waitUntilQuiet(timeout: timeout) }

    /// Kills (SIGKILL) and reaps the process. Idempotent; also done on deinit.
    public func stop() { process.stop() }
}
