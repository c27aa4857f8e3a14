// Clock: monotonic and wall time in nanoseconds, read through the C shim (no Foundation).
import CSluice

/// Nanoseconds on the monotonic clock: for deadlines and durations.
@inline(__always) public func monotonicNanoseconds() -> Int64 { sl_monotonic_ns() }

/// Nanoseconds since the Unix epoch: for log timestamps and ids.
@inline(__always) public func wallNanoseconds() -> Int64 { sl_realtime_ns() }

public let nanosecondsPerMillisecond: Int64 = 1_000_000
public let nanosecondsPerSecond: Int64 = 1_000_000_000
