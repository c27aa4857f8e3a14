// SyscallTrace: sluice run under strace (`TracedSluice`) and the calls of its log parsed
// (`TracedCall`). An upstream whose last bytes and FIN arrive in one segment is
// `SenderServer(then: .closeCorked)`.
import CSluice
import Glibc
import Sluice

// MARK: - One traced call

/// One completed system call of an strace log (`strace -f`): `<tid> name(arguments) = result`, with
/// a call split by another thread (`<unfinished ...>` … `<... name resumed>`) joined again.
public struct TracedCall: Sendable, CustomStringConvertible {
    /// Position in the log, from 0: the order the calls returned in.
    public var index: Int
    /// The thread that made the call.
    public var thread: Int
    public var name: String
    /// The top-level arguments as strace printed them, e.g. `5`, `SOL_TCP`, `[1]`, `{sa_family=…}`.
    public var arguments: [String]
    /// Everything after ` = `, e.g. `0` or `-1 EAGAIN (Resource temporarily unavailable)`.
    public var result: String
    /// The call as one line, for failure messages.
    public var text: String

    /// The first argument as a descriptor (every socket call here has one there).
    public var fd: Int32? { arguments.first.flatMap { Int32($0) } }

    /// The return value (`-1` for a failed call), nil when strace shows none (`?`).
    public var returnValue: Int? {
        Int(result.prefix { $0 == "-" || $0.isNumber })
    }

    /// The errno name of a failed call (`EAGAIN`), nil for a call that succeeded.
    public var errorName: String? {
        let words = result.split(separator: " ")
        guard words.first == "-1", words.count > 1 else { return nil }
        return String(words[1])
    }

    /// Argument `index`, or "" when there are fewer.
    public func argument(_ index: Int) -> String { index < arguments.count ? arguments[index] : "" }

    /// The words of a flags argument (`MSG_DONTWAIT|MSG_MORE` → both).
    public func flags(_ index: Int) -> Set<String> {
        Set(argument(index).split(separator: "|").map { String($0) })
    }

    /// The port of the first socket address among the arguments (`sin_port=htons(P)` or
    /// `sin6_port=htons(P)`).
    public var port: UInt16? {
        for argument in arguments {
            guard let match = argument.firstMatch(of: /sin6?_port=htons\((\d+)\)/) else { continue }
            return UInt16(match.1)
        }
        return nil
    }

    /// A `setsockopt` of the TCP level (`SOL_TCP` or `IPPROTO_TCP`) setting `option` (e.g.
    /// `TCP_NODELAY`), to `value` (e.g. `[1]`) when given.
    public func setsTCPOption(_ option: String, value: String? = nil) -> Bool {
        name == "setsockopt" && ["SOL_TCP", "IPPROTO_TCP", "6"].contains(argument(1)) && argument(2) == option
            && (value == nil || argument(3) == value)
    }

    public var description: String { text }
}

/// Parsing strace's output.
public enum StraceLog {
    /// The completed calls of `text` (lines of `strace -f`, with or without the thread column), in
    /// order. Signal, exit and status lines are skipped, and so are calls strace saw no end of.
    public static func parse(_ text: String) -> [TracedCall] {
        var calls: [TracedCall] = []
        var unfinished: [Int: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            var rest = Substring(line)
            var thread = 0
            if let match = rest.prefixMatch(of: /(\d+)\s+/) {
                thread = Int(match.1) ?? 0
                rest = rest[match.range.upperBound...]
            }
            if rest.hasSuffix(" <unfinished ...>") {
                unfinished[thread] = String(rest.dropLast(" <unfinished ...>".count))
                continue
            }
            var whole = String(rest)
            if let match = rest.prefixMatch(of: /<\.\.\. [a-z0-9_]+ resumed>/) {
                guard let start = unfinished.removeValue(forKey: thread) else { continue }
                whole = start + rest[match.range.upperBound...]
            }
            if let call = parseCall(whole, thread: thread, index: calls.count) { calls.append(call) }
        }
        return calls
    }

    /// `name(arguments) = result`, or nil for anything else. Strings (`"…"`, with `\"` escapes) and
    /// nested `{}`/`[]`/`()` are skipped over when splitting the arguments at top-level commas.
    static func parseCall(_ text: String, thread: Int, index: Int) -> TracedCall? {
        let bytes = Array(text.utf8)
        guard let open = bytes.firstIndex(of: UInt8(ascii: "(")), open > 0,
            bytes[..<open].allSatisfy({ $0 == 0x5F || (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) })
        else { return nil }
        var arguments: [String] = []
        var depth = 0
        var inString = false
        var escaped = false
        var start = open + 1
        var close: Int?
        for i in (open + 1)..<bytes.count {
            let byte = bytes[i]
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "("), UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: ")") where depth == 0:
                close = i
            case UInt8(ascii: ")"), UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            case UInt8(ascii: ",") where depth == 0:
                arguments.append(trimmed(bytes[start..<i]))
                start = i + 1
            default: break
            }
            if close != nil { break }
        }
        guard let close else { return nil }
        let last = trimmed(bytes[start..<close])
        if !last.isEmpty || !arguments.isEmpty { arguments.append(last) }
        let tail = trimmed(bytes[(close + 1)...])
        guard tail.hasPrefix("= ") else { return nil }
        let result = String(tail.dropFirst(2))
        guard result != "?" else { return nil }
        return TracedCall(
            index: index, thread: thread, name: String(decoding: bytes[..<open], as: UTF8.self),
            arguments: arguments, result: result, text: text)
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> String {
        var slice = bytes
        while let first = slice.first, first == 0x20 { slice = slice.dropFirst() }
        while let last = slice.last, last == 0x20 { slice = slice.dropLast() }
        return String(decoding: slice, as: UTF8.self)
    }
}

// MARK: - Sluice under strace

/// `sluice` started under `strace -D -f` (the tracer runs as a grandchild, so the process the
/// test holds is sluice itself): every call named in `syscalls`, of every thread, from the first
/// one, goes to a log file that strace writes line by line as the calls return. Stopping kills
/// sluice and waits for the tracer to exit with it, so neither outlives the test.
public final class TracedSluice: @unchecked Sendable {
    /// The traced process (its pid is sluice's own).
    public let sluice: SluiceProcess
    /// The tracer's pid (sluice's `TracerPid`).
    public let tracer: pid_t
    /// The strace log.
    public let logPath: String
    private let directory: TemporaryDirectory
    private let stopped = Locked(false)

    private init(sluice: SluiceProcess, tracer: pid_t, logPath: String, directory: TemporaryDirectory) {
        self.sluice = sluice
        self.tracer = tracer
        self.logPath = logPath
        self.directory = directory
    }

    /// Starts `strace -D -f -qq -e signal=none -e trace=<syscalls> -o <log> sluice <arguments>` and
    /// waits for `expectListeners` `listening on …` lines. Throws when strace is missing, when
    /// sluice does not come up, or when it is not traced.
    public static func start(
        _ arguments: [String], tracing syscalls: [String], expectListeners: Int = 1
    ) throws -> TracedSluice {
        let strace = try PeerBinary.find("strace")
        let directory = try TemporaryDirectory(prefix: "strace")
        let logPath = directory.file("trace.log")
        let straceArguments = [
            "-D", "-f", "-qq", "-e", "signal=none", "-e", "trace=" + syscalls.joined(separator: ","), "-o", logPath,
            SluiceProcess.binaryPath,
        ]
        let sluice = try SluiceProcess.start(
            straceArguments + arguments, expectListeners: expectListeners, binary: strace)
        let tracer = ProcFS.statusField(pid: sluice.pid, "TracerPid").flatMap { pid_t($0) } ?? 0
        guard tracer > 0 else {
            sluice.stop()
            throw TestSupportError("trace sluice", detail: "no tracer attached; stderr:\n\(sluice.stderrText)")
        }
        return TracedSluice(sluice: sluice, tracer: tracer, logPath: logPath, directory: directory)
    }

    deinit { stop() }

    /// The log as written so far.
    public var logText: String { ProcFS.readFile(logPath) ?? "" }

    /// Every completed call logged so far, in order.
    public var calls: [TracedCall] { StraceLog.parse(logText) }

    /// The first logged call (already there or logged within `timeout`) that satisfies `predicate`.
    public func waitForCall(timeout: Duration = .seconds(10), where predicate: (TracedCall) -> Bool) -> TracedCall? {
        waitFor(timeout: timeout) { calls.first(where: predicate) }
    }

    /// Kills sluice (SIGKILL) and waits up to 10 s for the tracer to exit after it, killing the
    /// tracer by its pid if it does not; removes the log. True when the tracer ended by itself.
    /// Idempotent (later calls return true); also done on deinit.
    @discardableResult
    public func stop() -> Bool {
        let first = stopped.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        guard first else { return true }
        sluice.stop()
        let ended = waitUntil(timeout: .seconds(10)) { !TracedSluice.isAlive(tracer) }
        if !ended { kill(tracer, SIGKILL) }
        directory.remove()
        return ended
    }

    /// Whether `pid` is a live strace (not gone, not a zombie, not another program that reused it).
    public static func isAlive(_ pid: pid_t) -> Bool {
        guard let stat = ProcFS.readFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return false }
        guard stat.contains("(strace)") else { return false }
        let state = stat[stat.index(after: close)...].drop { $0 == " " }.first
        return state != "Z" && state != "X"
    }
}
