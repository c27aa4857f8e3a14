// Errno: the C `errno` values Sluice acts on, as a typed error with Swift names.
import CSluice
import Glibc

/// A C `errno` value. System wrappers throw it for real failures; `EAGAIN` and `EINTR` never reach
/// callers as errors (see `retryingInterrupts` and the `IOResult` shape of the data-path calls).
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The `errno` of the last failed call on this thread.
    @inline(__always) public static var current: Errno { Errno(sl_errno()) }

    public static let wouldBlock = Errno(EAGAIN)
    public static let interrupted = Errno(EINTR)
    public static let inProgress = Errno(EINPROGRESS)
    public static let connectionRefused = Errno(ECONNREFUSED)
    public static let connectionReset = Errno(ECONNRESET)
    public static let brokenPipe = Errno(EPIPE)
    public static let timedOut = Errno(ETIMEDOUT)
    public static let addressInUse = Errno(EADDRINUSE)
    public static let tooManyOpenFiles = Errno(EMFILE)
    public static let tooManyOpenFilesInSystem = Errno(ENFILE)
    public static let invalidArgument = Errno(EINVAL)
    public static let notSupported = Errno(ENOSYS)
    public static let networkUnreachable = Errno(ENETUNREACH)
    public static let hostUnreachable = Errno(EHOSTUNREACH)

    /// The C library's message, lowercased like Go's syscall errors ("connection refused").
    public var description: String {
        guard let text = strerror(rawValue) else { return "errno \(rawValue)" }
        let message = String(cString: text)
        guard let first = message.first else { return message }
        return first.lowercased() + message.dropFirst()
    }
}

/// Runs `body` until it stops failing with `EINTR`; returns its result, or throws the `errno` it
/// failed with. The corresponding C convention is "-1 and errno".
@inline(__always)
func retryingInterrupts<T: FixedWidthInteger>(_ body: () -> T) throws(Errno) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let error = Errno.current
        if error != .interrupted { throw error }
    }
}
