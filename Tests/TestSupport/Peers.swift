// Peers: the machinery under the real-peer launchers (HAProxy, nginx, tinyproxy, Dante): finding an
// installed binary, a private temporary directory, free ports, and a foreground peer process that
// counts as ready once it holds a listening socket on each of its ports (asked of the kernel).
import CSluice
import Glibc
import Sluice

// MARK: - Binaries

/// Finding the real peer programs. A missing one is a failure, never a skip: CI installs every
/// peer with `scripts/install-test-deps`.
public enum PeerBinary {
    /// The absolute path of `name`, searched in `PATH` and then in `/usr/sbin`, `/sbin`, `/usr/bin`
    /// (HAProxy and nginx live in `/usr/sbin`, which a non-root `PATH` may lack).
    public static func find(_ name: String) throws -> String {
        var directories: [String] = []
        if let path = getenv("PATH") {
            directories = String(cString: path).split(separator: ":").map(String.init)
        }
        directories += ["/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/bin", "/usr/local/sbin"]
        for directory in directories where !directory.isEmpty {
            let candidate = directory + "/" + name
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw TestSupportError(
            "find the peer program `\(name)`",
            detail: "not installed; scripts/install-test-deps installs every interop peer (run it, then the tests)")
    }

    /// Whether a file exists at `path`.
    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }
}

// MARK: - Temporary directory

/// A fresh private directory under /tmp for one peer's config, logs, pid file and sockets.
/// Removed (recursively) by `remove()` or on deinit.
public final class TemporaryDirectory: @unchecked Sendable {
    /// The absolute path, without a trailing slash.
    public let path: String
    private let removed = Locked(false)

    /// Creates `/tmp/sluice-interop-<prefix>-XXXXXX` (mode 0700).
    public init(prefix: String) throws {
        var template = Array("/tmp/sluice-interop-\(prefix)-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TestSupportError.system("mkdtemp for \(prefix)")
        }
        path = String(cString: made)
    }

    deinit { remove() }

    /// `path/name`.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Writes `text` to `path/name` (created or truncated); returns the file's path.
    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String {
        let target = file(name)
        guard let stream = fopen(target, "w") else { throw TestSupportError.system("fopen \(target)") }
        defer { fclose(stream) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, stream) }
        guard written == bytes.count, fflush(stream) == 0 else { throw TestSupportError.system("write \(target)") }
        return target
    }

    /// The content of `path/name`, or "" when it cannot be read.
    public func read(_ name: String) -> String { ProcFS.readFile(file(name)) ?? "" }

    /// Deletes the directory and everything in it. Idempotent.
    public func remove() {
        let first = removed.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        guard first, path.hasPrefix("/tmp/sluice-interop-") else { return }
        _ = try? runProcess("/bin/rm", ["-rf", path], timeout: .seconds(10))
    }
}

// MARK: - Ports

/// Ports for peers whose configuration needs a fixed port (HAProxy, nginx, tinyproxy, and sluice
/// services that must be chained by port).
public enum FreePorts {
    /// `count` distinct ports that were free a moment ago on every address (each is bound on the
    /// dual-stack wildcard `[::]`, so it is also free on 127.0.0.x and ::1). They are released
    /// before returning: another process may take one before the peer binds it, which
    /// `PeerProcess.startWithRetries` absorbs by starting again with fresh ports.
    public static func take(_ count: Int) throws -> [UInt16] {
        ResourceWatch.starting("\(count) free ports")
        var descriptors: [Int32] = []
        defer { descriptors.forEach { _ = Glibc.close($0) } }
        var ports: [UInt16] = []
        for _ in 0..<count {
            let fd: Int32
            do {
                fd = try Socket.listen(
                    on: SocketAddress(.v6(IPv6Address(high: 0, low: 0)), port: 0), reusePort: false, backlog: 1)
            } catch {
                throw TestSupportError("bind [::]:0 to find a free port", errno: error)
            }
            descriptors.append(fd)
            guard let address = Socket.localAddress(fd) else { throw TestSupportError.system("getsockname") }
            ports.append(address.port)
        }
        return ports
    }

    /// True when every port in `ports` has a listening socket that `pid` or one of its descendants
    /// holds. A port that another process listens on does not count.
    public static func areListening(_ ports: [UInt16], heldBy pid: pid_t) -> Bool {
        guard let listening = try? SocketTable.listeners().filter({ ports.contains($0.port) }),
            Set(listening.map(\.port)) == Set(ports)
        else { return false }
        var held = Set<UInt64>()
        for member in ProcFS.processTree(pid: pid) { held.formUnion(ProcFS.socketInodes(pid: member)) }
        return ports.allSatisfy { port in listening.contains { $0.port == port && held.contains($0.inode) } }
    }
}

// MARK: - Peer process

/// A real peer (HAProxy, nginx, tinyproxy, Dante) running in the foreground with its own temporary
/// directory. Ready once it (or a process it started) holds a listening socket on every one of its
/// ports. `stop()` (also on deinit) kills it with SIGKILL, reaps it and deletes the directory, so a
/// failing test leaks nothing.
public final class PeerProcess: @unchecked Sendable {
    /// A short name for messages, e.g. `haproxy`.
    public let name: String
    /// The peer's private directory (config, logs, sockets).
    public let directory: TemporaryDirectory
    /// The ports the peer listens on, in the order its configuration uses them.
    public let ports: [UInt16]
    /// The running program.
    public let process: BackgroundProcess
    /// The signal `stop()` sends first, for peers that must take their own children down (Dante
    /// forks a dozen); nil for single-process peers, which are simply killed.
    public let terminationSignal: Int32?

    /// Starts `executable arguments` and waits up to `timeout` until it listens on every port in
    /// `ports`. Throws, with the peer's output, when it exits first (say, because another process
    /// took one of its ports) or is not ready in time (then it is killed).
    public init(
        name: String, executable: String, arguments: [String], directory: TemporaryDirectory, ports: [UInt16],
        terminationSignal: Int32? = nil, timeout: Duration = .seconds(30)
    ) throws {
        self.name = name
        self.terminationSignal = terminationSignal
        self.directory = directory
        self.ports = ports
        process = try BackgroundProcess(executable, arguments)
        let process = self.process
        let ready = waitUntil(timeout: timeout, interval: .milliseconds(10)) {
            !process.isRunning || FreePorts.areListening(ports, heldBy: process.pid)
        }
        if ready && process.isRunning { return }
        let status = process.waitForExitStatus(timeout: .milliseconds(300))
        if status == nil, let terminationSignal {
            process.signal(terminationSignal)
            _ = process.waitForExitStatus(timeout: .seconds(2))
        }
        process.stop()
        let why =
            status.map { "exited (\($0))" } ?? "ports \(ports) not listening within \(timeout); killed"
        let output = "stdout:\n\(process.stdoutText)\nstderr:\n\(process.stderrText)"
        directory.remove()
        throw TestSupportError("start \(name) \(arguments.joined(separator: " "))", detail: "\(why); \(output)")
    }

    /// Runs `start` with `count` fresh free ports, up to `attempts` times: a port taken by another
    /// process between `FreePorts.take` and the peer's bind makes the peer exit, and the next
    /// attempt uses new ports. Rethrows the last failure.
    public static func startWithRetries<Peer>(
        ports count: Int, attempts: Int = 3, _ start: ([UInt16]) throws -> Peer
    ) throws -> Peer {
        var lastError: (any Error)?
        for _ in 0..<max(1, attempts) {
            do {
                return try start(try FreePorts.take(count))
            } catch {
                lastError = error
            }
        }
        throw lastError!
    }

    deinit { stop() }

    /// Stops the peer (with `terminationSignal` first, waiting up to 2 s, when it has one), kills
    /// and reaps it, and deletes its directory. Idempotent.
    public func stop() {
        if let terminationSignal, process.isRunning {
            process.signal(terminationSignal)
            _ = process.waitForExitStatus(timeout: .seconds(2))
        }
        process.stop()
        directory.remove()
    }

    public var isRunning: Bool { process.isRunning }

    /// Everything the peer wrote to stdout and stderr so far, for failure messages.
    public var output: String { "stdout:\n\(process.stdoutText)\nstderr:\n\(process.stderrText)" }

    /// The first output line (stdout or stderr, existing or arriving within `timeout`) that
    /// contains `text`; nil on timeout.
    public func waitForOutput(containing text: String, timeout: Duration = .seconds(10)) -> String? {
        waitForOutput(timeout: timeout) { $0.contains(text) }
    }

    /// The first output line (stdout or stderr, existing or arriving within `timeout`) that
    /// satisfies `predicate`; nil on timeout.
    public func waitForOutput(timeout: Duration = .seconds(10), where predicate: (String) -> Bool) -> String? {
        waitFor(timeout: timeout) { () -> String? in
            let lines = process.stdoutLines + process.stderrLines
            return lines.first { predicate($0.text) }?.text
        }
    }

    /// Every output line (stdout, then stderr) that contains `text`.
    public func outputLines(containing text: String) -> [String] {
        (process.stdoutLines + process.stderrLines).map(\.text).filter { $0.contains(text) }
    }
}
