// TestSupport: the shared vocabulary of the integration-test helpers: the error they throw, the
// monotonic clock, sleeping, and waiting for a condition with a deadline.
import CSluice
import Glibc
import Sluice

/// A failure inside a test helper: a system call that failed (with its `errno`), a deadline that
/// passed, or a peer that behaved unexpectedly. The description is meant to be read in a test log.
public struct TestSupportError: Error, CustomStringConvertible, Sendable {
    /// What was being done, e.g. `connect to 127.0.0.1:80`.
    public var operation: String
    /// The `errno` of the failed call, when a call failed.
    public var errno: Errno?
    /// Free text for failures that are not an `errno` (timeouts, protocol surprises).
    public var detail: String?

    public init(_ operation: String, errno: Errno? = nil, detail: String? = nil) {
        self.operation = operation
        self.errno = errno
        self.detail = detail
    }

    /// Captures `errno` of the call that just failed on this thread.
    public static func system(_ operation: String) -> TestSupportError {
        TestSupportError(operation, errno: Errno.current)
    }

    public var description: String {
        var text = operation
        if let errno { text += ": \(errno) (errno \(errno.rawValue))" }
        if let detail { text += ": \(detail)" }
        return text
    }

    /// True when the failure is a socket timeout (`SO_RCVTIMEO`/`SO_SNDTIMEO` expired, or a
    /// deadline of this library passed).
    public var isTimeout: Bool {
        errno == .wouldBlock || errno == .inProgress || errno == .timedOut || detail == "timed out"
    }
}

// MARK: - Clock

/// The monotonic clock every helper measures with (`CLOCK_MONOTONIC`, never adjusted).
public enum Monotonic {
    /// Now, in nanoseconds since an arbitrary fixed point.
    @inline(__always) public static var nanoseconds: Int64 { sl_monotonic_ns() }

    /// Now, as a point to measure from.
    public static var now: Instant { Instant(nanoseconds: nanoseconds) }

    /// A point on the monotonic clock.
    public struct Instant: Sendable, Comparable, Hashable {
        public var nanoseconds: Int64

        public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

        /// Time passed since this instant.
        public var elapsed: Duration { .nanoseconds(Monotonic.nanoseconds - nanoseconds) }

        /// Seconds passed since this instant, as a `Double` (handy in `#expect` bounds).
        public var elapsedSeconds: Double { Double(Monotonic.nanoseconds - nanoseconds) / 1e9 }

        /// This instant moved by `duration`.
        public func advanced(by duration: Duration) -> Instant {
            Instant(nanoseconds: nanoseconds + duration.totalNanoseconds)
        }

        public static func < (l: Instant, r: Instant) -> Bool { l.nanoseconds < r.nanoseconds }
    }
}

/// A moment after which a helper gives up.
public struct Deadline: Sendable {
    public let instant: Monotonic.Instant

    /// The deadline `timeout` from now.
    public init(_ timeout: Duration) { instant = Monotonic.now.advanced(by: timeout) }

    public var hasPassed: Bool { Monotonic.nanoseconds >= instant.nanoseconds }

    /// Time left, never negative.
    public var remaining: Duration { .nanoseconds(max(0, instant.nanoseconds - Monotonic.nanoseconds)) }

    /// Time left in whole milliseconds (at least 1 while the deadline has not passed), for
    /// `poll`/`epoll_wait`/socket timeouts.
    public var remainingMilliseconds: Int32 {
        let ns = instant.nanoseconds - Monotonic.nanoseconds
        if ns <= 0 { return 0 }
        return Int32(clamping: max(1, ns / 1_000_000))
    }
}

extension Duration {
    /// The whole duration in nanoseconds (saturating).
    public var totalNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return scaled &+ attoseconds / 1_000_000_000
    }

    /// The duration in milliseconds (saturating), for C timeouts.
    public var totalMilliseconds: Int64 { totalNanoseconds / 1_000_000 }

    /// The duration in seconds as a `Double`.
    public var seconds: Double { Double(totalNanoseconds) / 1e9 }
}

// MARK: - Sleeping and waiting

/// Blocks the calling thread for `duration` (retrying `nanosleep` after signals).
public func sleep(for duration: Duration) {
    let ns = max(0, duration.totalNanoseconds)
    var request = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) == -1 && Errno.current == .interrupted { request = remaining }
}

/// Polls `condition` every `interval` until it holds (true) or `timeout` passes (false). The
/// condition is checked once more at the deadline, so a condition that holds is never missed.
@discardableResult
public func waitUntil(
    timeout: Duration, interval: Duration = .milliseconds(5), _ condition: () throws -> Bool
) rethrows -> Bool {
    let deadline = Deadline(timeout)
    while true {
        if try condition() { return true }
        if deadline.hasPassed { return false }
        sleep(for: min(interval, deadline.remaining))
    }
}

/// Polls `produce` until it returns a value or `timeout` passes (nil).
public func waitFor<T>(
    timeout: Duration, interval: Duration = .milliseconds(5), _ produce: () throws -> T?
) rethrows -> T? {
    let deadline = Deadline(timeout)
    while true {
        if let value = try produce() { return value }
        if deadline.hasPassed { return nil }
        sleep(for: min(interval, deadline.remaining))
    }
}

// MARK: - Timing bounds

/// Bounds for "how long did it take" checks that hold on a loaded machine: each compares with the
/// deadline under test (a timeout the test configured or the documented default), never with a
/// guess of how fast the machine is.
public enum TimingBound {
    /// "At once", meaning not by way of `deadline` firing: under half of it.
    public static func isWellBefore(_ elapsed: Double, deadline: Double) -> Bool { elapsed < deadline / 2 }

    /// "When `deadline` fired": not before 0.8 × `deadline` (slack for the timer's granularity)
    /// and under 2.5 × `deadline` (so not never, and not at some other, longer timeout).
    public static func isAt(_ elapsed: Double, deadline: Double) -> Bool {
        elapsed >= deadline * 0.8 && elapsed < deadline * 2.5
    }
}

// MARK: - Resource watch

/// Where the helpers announce that they start a process or bind a listening port, so that the test
/// target can check this happens only inside its serialized suite (see `Integration`).
public enum ResourceWatch {
    private static let observer = Locked<(@Sendable (String) -> Void)?>(nil)

    /// Installs the function told about every process start and port bind (`what` names it).
    public static func observe(_ body: @escaping @Sendable (_ what: String) -> Void) { observer.set(body) }

    /// Tells the observer, if any, that `what` is about to start.
    static func starting(_ what: @autoclosure () -> String) {
        if let body = observer.value { body(what()) }
    }
}
