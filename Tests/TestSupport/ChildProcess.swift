// Child processes: spawning with posix_spawn (stdin from /dev/null, stdout and stderr captured),
// exit statuses, and the one-shot `runProcess`.
import CSluice
import Glibc
import Sluice

/// How a child process ended.
public enum ExitStatus: Equatable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    /// Decodes a `waitpid` status (the `WIFEXITED`/`WEXITSTATUS`/`WTERMSIG` macros, which Swift
    /// cannot import).
    init(waitStatus status: Int32) {
        if status & 0x7f == 0 {
            self = .exited((status >> 8) & 0xff)
        } else {
            self = .signaled(status & 0x7f)
        }
    }

    /// The shell's view: the exit code, or 128 + the signal number.
    public var code: Int32 {
        switch self {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
    }

    public var description: String {
        switch self {
        case .exited(let code): "exit \(code)"
        case .signaled(let signal): "killed by signal \(signal)"
        }
    }
}

/// A spawned child: its pid and the parent's ends of its stdout and stderr.
struct SpawnedChild {
    var pid: pid_t
    var stdoutFD: Int32
    var stderrFD: Int32
}

/// Spawns `executable` (searched in `PATH` when it has no `/`) with `arguments` (not including
/// argv[0]). stdin is `/dev/null`; stdout and stderr go to socket pairs whose parent ends are
/// returned (close-on-exec, blocking). The child starts with an empty signal mask and default
/// dispositions for the usual signals (notably SIGPIPE, whatever the test process ignores).
/// `environment` entries override or extend the inherited environment.
func spawnChild(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> SpawnedChild {
    var stdoutPair: [Int32] = [-1, -1]
    var stderrPair: [Int32] = [-1, -1]
    let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
    guard socketpair(AF_UNIX, type, 0, &stdoutPair) == 0 else { throw TestSupportError.system("socketpair") }
    guard socketpair(AF_UNIX, type, 0, &stderrPair) == 0 else {
        let error = TestSupportError.system("socketpair")
        stdoutPair.forEach { _ = Glibc.close($0) }
        throw error
    }
    defer {
        // The child's ends: the child has its own copies (or spawning failed).
        Glibc.close(stdoutPair[1])
        Glibc.close(stderrPair[1])
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, stdoutPair[1], 1)
    posix_spawn_file_actions_adddup2(&actions, stderrPair[1], 2)

    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD] {
        sigaddset(&defaults, signal)
    }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    var emptyMask = sigset_t()
    sigemptyset(&emptyMask)
    posix_spawnattr_setsigmask(&attributes, &emptyMask)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

    var environmentLines: [String] = []
    var overridden = Set<String>()
    for (key, value) in environment {
        environmentLines.append("\(key)=\(value)")
        overridden.insert(key)
    }
    var entry = Glibc.environ
    while let line = entry.pointee {
        let text = String(cString: line)
        let key = text.split(separator: "=", maxSplits: 1).first.map(String.init) ?? text
        if !overridden.contains(key) { environmentLines.append(text) }
        entry += 1
    }

    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    let envp = environmentLines.map { strdup($0) } + [nil]
    defer {
        argv.forEach { free($0) }
        envp.forEach { free($0) }
    }
    ResourceWatch.starting("process \(executable)")
    var pid = pid_t()
    let result = posix_spawnp(&pid, executable, &actions, &attributes, argv, envp)
    guard result == 0 else {
        Glibc.close(stdoutPair[0])
        Glibc.close(stderrPair[0])
        throw TestSupportError("posix_spawn \(executable)", errno: Errno(result))
    }
    return SpawnedChild(pid: pid, stdoutFD: stdoutPair[0], stderrFD: stderrPair[0])
}

/// The result of `runProcess`.
public struct ProcessResult: Sendable {
    /// How the process ended; nil when it was killed for overrunning the timeout.
    public var status: ExitStatus?
    public var stdout: String
    public var stderr: String
    /// True when the timeout passed and the process was killed.
    public var timedOut: Bool

    /// The exit code (128 + signal for a signal death); nil after a timeout.
    public var exitCode: Int32? { timedOut ? nil : status?.code }
}

/// Runs `executable` with `arguments` to completion, capturing stdout and stderr. After `timeout`
/// the process is killed (SIGKILL), reaped, and the result says `timedOut`.
public func runProcess(
    _ executable: String, _ arguments: [String] = [], environment: [String: String] = [:],
    timeout: Duration = .seconds(30)
) throws -> ProcessResult {
    let child = try spawnChild(executable, arguments, environment: environment)
    let deadline = Deadline(timeout)
    var collectors = [OutputCollector(fd: child.stdoutFD), OutputCollector(fd: child.stderrFD)]
    defer { collectors.forEach { Glibc.close($0.fd) } }
    var timedOut = false
    while collectors.contains(where: { !$0.atEOF }) {
        if deadline.hasPassed {
            timedOut = true
            break
        }
        OutputCollector.pollOnce(&collectors, timeoutMilliseconds: min(100, deadline.remainingMilliseconds))
    }
    var status: ExitStatus?
    while true {
        var raw: Int32 = 0
        let reaped = waitpid(child.pid, &raw, WNOHANG)
        if reaped == child.pid {
            status = ExitStatus(waitStatus: raw)
            break
        }
        if reaped == -1 && Errno.current != .interrupted { break }
        if deadline.hasPassed {
            timedOut = true
            kill(child.pid, SIGKILL)
            var ignored: Int32 = 0
            while waitpid(child.pid, &ignored, 0) == -1 && Errno.current == .interrupted {}
            break
        }
        sleep(for: .milliseconds(2))
    }
    return ProcessResult(
        status: status, stdout: String(decoding: collectors[0].bytes, as: UTF8.self),
        stderr: String(decoding: collectors[1].bytes, as: UTF8.self), timedOut: timedOut)
}

/// Reads one output stream into memory with `poll` + `read`.
struct OutputCollector {
    let fd: Int32
    var bytes: [UInt8] = []
    var atEOF = false

    init(fd: Int32) { self.fd = fd }

    /// Waits up to `timeoutMilliseconds` for any of `collectors` to be readable and reads once
    /// from each that is; returns the indices that received bytes.
    @discardableResult
    static func pollOnce(_ collectors: inout [OutputCollector], timeoutMilliseconds: Int32) -> [Int] {
        var entries = collectors.map { pollfd(fd: $0.atEOF ? -1 : $0.fd, events: Int16(POLLIN), revents: 0) }
        let ready = poll(&entries, nfds_t(entries.count), timeoutMilliseconds)
        guard ready > 0 else { return [] }
        var changed: [Int] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        for i in entries.indices where entries[i].revents != 0 && !collectors[i].atEOF {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(collectors[i].fd, $0.baseAddress!, $0.count) }
            if n > 0 {
                collectors[i].bytes.append(contentsOf: chunk[0..<n])
                changed.append(i)
            } else if n == 0 || (Errno.current != .interrupted && Errno.current != .wouldBlock) {
                collectors[i].atEOF = true
            }
        }
        return changed
    }
}
