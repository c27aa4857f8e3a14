// BackgroundProcess: a long-running child (sluice, haproxy, nginx, …) whose stdout and stderr a
// background thread splits into lines; signals, exit with a timeout, /proc readings, and cleanup.
import Glibc
import Sluice

/// One line a child wrote, without its newline.
public struct OutputLine: Sendable {
    public enum Stream: Sendable { case stdout, stderr }

    public var stream: Stream
    public var text: String
    /// When the line arrived (monotonic).
    public var arrivedAt: Monotonic.Instant
    /// The line parsed as JSON (only when the process was started with `parseJSON`).
    public var json: JSONValue?
    /// Why the line is not JSON (only when the process was started with `parseJSON`).
    public var jsonError: JSONError?
}

/// A child process running while a test talks to it. It is killed (SIGKILL) and reaped on `stop()`
/// or deinit, so a failing test never leaks it.
public final class BackgroundProcess: @unchecked Sendable {
    public let pid: pid_t
    public let executable: String
    public let arguments: [String]
    private let state = Locked(State())
    private let reaped = Locked<ExitStatus?>(nil)
    private let readerDone = Locked(false)
    /// The thread splitting output into lines; joined by `stop` once it has finished.
    private let reader = Locked<TestThread?>(nil)

    struct State {
        var stdout: [OutputLine] = []
        var stderr: [OutputLine] = []
        var stdoutBytes: [UInt8] = []
        var stderrBytes: [UInt8] = []
    }

    /// Starts `executable` (searched in `PATH` when it has no `/`). With `parseJSON`, every stderr
    /// line is parsed as JSON as it arrives (see `OutputLine.json`).
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], parseJSON: Bool = false
    ) throws {
        let child = try spawnChild(executable, arguments, environment: environment)
        pid = child.pid
        self.executable = executable
        self.arguments = arguments
        let state = self.state
        let readerDone = self.readerDone
        reader.set(
            TestThread.spawn {
                BackgroundProcess.readLoop(child: child, parseJSON: parseJSON, into: state)
                readerDone.set(true)
            })
    }

    deinit { stop() }

    /// Splits both streams into lines until both reach EOF, then closes them.
    private static func readLoop(child: SpawnedChild, parseJSON: Bool, into state: Locked<State>) {
        var collectors = [OutputCollector(fd: child.stdoutFD), OutputCollector(fd: child.stderrFD)]
        var unfinished: [[UInt8]] = [[], []]
        var flushed = [false, false]
        while !flushed.allSatisfy({ $0 }) {
            OutputCollector.pollOnce(&collectors, timeoutMilliseconds: 1000)
            for i in 0..<2 where !flushed[i] {
                let fresh = collectors[i].bytes
                collectors[i].bytes = []
                guard !fresh.isEmpty || collectors[i].atEOF else { continue }
                unfinished[i].append(contentsOf: fresh)
                var lines: [OutputLine] = []
                var start = 0
                for index in unfinished[i].indices where unfinished[i][index] == 0x0A {
                    lines.append(makeLine(unfinished[i][start..<index], stream: i, parseJSON: parseJSON))
                    start = index + 1
                }
                if collectors[i].atEOF {
                    if start < unfinished[i].count {
                        lines.append(makeLine(unfinished[i][start...], stream: i, parseJSON: parseJSON))
                    }
                    start = unfinished[i].count
                    flushed[i] = true
                }
                unfinished[i].removeSubrange(0..<start)
                state.withLock { s in
                    if i == 0 {
                        s.stdout.append(contentsOf: lines)
                        s.stdoutBytes.append(contentsOf: fresh)
                    } else {
                        s.stderr.append(contentsOf: lines)
                        s.stderrBytes.append(contentsOf: fresh)
                    }
                }
            }
        }
        collectors.forEach { Glibc.close($0.fd) }
    }

    private static func makeLine(_ bytes: ArraySlice<UInt8>, stream: Int, parseJSON: Bool) -> OutputLine {
        var trimmed = bytes
        if trimmed.last == 0x0D { trimmed = trimmed.dropLast() }
        let text = String(decoding: trimmed, as: UTF8.self)
        var line = OutputLine(stream: stream == 0 ? .stdout : .stderr, text: text, arrivedAt: Monotonic.now)
        if parseJSON && stream == 1 {
            do {
                line.json = try JSONValue.parse(bytes: Array(trimmed))
            } catch {
                line.jsonError = error
            }
        }
        return line
    }

    // MARK: Output

    /// Every complete stderr line so far.
    public var stderrLines: [OutputLine] { state.withLock { $0.stderr } }
    /// Every complete stdout line so far.
    public var stdoutLines: [OutputLine] { state.withLock { $0.stdout } }
    /// Everything written to stderr so far, as text.
    public var stderrText: String { String(decoding: state.withLock { $0.stderrBytes }, as: UTF8.self) }
    /// Everything written to stdout so far, as text.
    public var stdoutText: String { String(decoding: state.withLock { $0.stdoutBytes }, as: UTF8.self) }

    /// The first line (existing or arriving within `timeout`) of `stream` from index `start` on
    /// that satisfies `predicate`; nil on timeout.
    public func waitForLine(
        stream: OutputLine.Stream = .stderr, from start: Int = 0, timeout: Duration,
        where predicate: (OutputLine) -> Bool
    ) -> OutputLine? {
        var checked = start
        return waitFor(timeout: timeout) { () -> OutputLine? in
            let lines = state.withLock {
                stream == .stderr ? Array($0.stderr.dropFirst(checked)) : Array($0.stdout.dropFirst(checked))
            }
            checked += lines.count
            return lines.first(where: predicate)
        }
    }

    // MARK: Lifetime

    /// Sends `signal` unless the process has already been reaped (its pid may be reused then).
    public func signal(_ signal: Int32) {
        reaped.withLock { status in
            if status == nil { kill(pid, signal) }
        }
    }

    /// The exit status if the process has ended (reaping it), else nil. Never blocks.
    public var exitStatus: ExitStatus? {
        reaped.withLock { status -> ExitStatus? in
            if let status { return status }
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid { status = ExitStatus(waitStatus: raw) }
            return status
        }
    }

    public var isRunning: Bool { exitStatus == nil }

    /// Waits up to `timeout` for the process to end; returns how it ended, or nil on timeout. After
    /// an exit it also waits (up to 1 s) for the last output to be read.
    public func waitForExitStatus(timeout: Duration) -> ExitStatus? {
        guard let status = waitFor(timeout: timeout, interval: .milliseconds(2), { exitStatus }) else { return nil }
        waitUntil(timeout: .seconds(1)) { readerDone.value }
        return status
    }

    /// Waits up to `timeout` for the process to end; returns its exit code (128 + signal number
    /// after a signal death), or nil on timeout.
    public func waitForExit(timeout: Duration) -> Int32? { waitForExitStatus(timeout: timeout)?.code }

    /// Resident memory in KiB (`VmRSS`), nil once the process is gone.
    public func rssKiB() -> Int? { ProcFS.rssKiB(pid: pid) }

    /// Open descriptors (entries of `/proc/<pid>/fd`), nil once the process is gone.
    public func openFDCount() -> Int? { ProcFS.openFDCount(pid: pid) }

    /// Waits until the process has finished reacting to whatever woke it (bytes a test sent, a
    /// signal): every thread sleeps, and none uses any CPU time over `window`. False when that
    /// does not happen within `timeout` or the process is gone.
    ///
    /// A send to a process on loopback wakes the thread waiting for those bytes before the send
    /// returns, so after `waitUntilQuiet` that thread has run, acted on them (dialled, closed,
    /// written) and gone back to waiting.
    public func waitUntilQuiet(window: Duration = .milliseconds(20), timeout: Duration = .seconds(10)) -> Bool {
        let deadline = Deadline(timeout)
        while !deadline.hasPassed {
            guard let before = ProcFS.schedulingSample(pid: pid) else { return false }
            guard before.allSleeping else {
                sleep(for: .milliseconds(2))
                continue
            }
            sleep(for: window)
            guard let after = ProcFS.schedulingSample(pid: pid) else { return false }
            if after.allSleeping && after.states.count == before.states.count
                && after.cpuNanoseconds == before.cpuNanoseconds
            {
                return true
            }
        }
        return false
    }

    /// Kills the process (SIGKILL) if it still runs and reaps it. Idempotent.
    public func stop() {
        reaped.withLock { status in
            guard status == nil else { return }
            kill(pid, SIGKILL)
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) == -1 && Errno.current == .interrupted {}
            status = ExitStatus(waitStatus: raw)
        }
        // The reader ends at EOF on both streams, which the kill guarantees unless a grandchild
        // still holds them; then it is left running rather than blocking the test.
        if waitUntil(timeout: .seconds(2), { readerDone.value }),
            let thread = reader.withLock({ r -> TestThread? in
                defer { r = nil }
                return r
            })
        {
            thread.join()
        }
    }
}
