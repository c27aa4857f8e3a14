// Threads for the test helpers: a pthread wrapper, a mutex-protected box, an atomic counter, and
// `concurrently`, which spreads N blocking jobs over a bounded number of threads.
import Glibc
import Synchronization

/// A plain POSIX thread running one closure. Servers and reader loops use these instead of Swift
/// concurrency so that blocking calls never starve the test runner's cooperative pool.
public final class TestThread: @unchecked Sendable {
    private var thread: pthread_t
    private let joined = Mutex(false)

    private init(thread: pthread_t) { self.thread = thread }

    /// Starts `body` on a new thread. Traps when the system cannot create a thread (the tests could
    /// not go on anyway).
    public static func spawn(_ body: @escaping @Sendable () -> Void) -> TestThread {
        final class Box {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        let context = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { raw in
                let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                box.body()
                return nil
            }, context)
        precondition(result == 0, "pthread_create failed: \(result)")
        return TestThread(thread: thread)
    }

    /// Waits for the thread to finish. Safe to call more than once, from one thread at a time.
    public func join() {
        let first = joined.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        if first { pthread_join(thread, nil) }
    }
}

/// A value behind a mutex, shareable across threads.
public final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    public init(_ value: Value) { mutex = Mutex(value) }

    /// Runs `body` with exclusive access to the value.
    public func withLock<R: Sendable>(_ body: (inout Value) throws -> R) rethrows -> R {
        try mutex.withLock { try body(&$0) }
    }

    /// A copy of the current value.
    public var value: Value { mutex.withLock { $0 } }

    /// Replaces the value.
    public func set(_ newValue: Value) { mutex.withLock { $0 = newValue } }
}

/// A counter many threads bump without a lock.
public final class AtomicCounter: Sendable {
    private let storage: Atomic<Int>

    public init(_ value: Int = 0) { storage = Atomic(value) }

    /// Adds `amount`; returns the new value.
    @discardableResult
    public func add(_ amount: Int = 1) -> Int { storage.wrappingAdd(amount, ordering: .relaxed).newValue }

    public var value: Int { storage.load(ordering: .relaxed) }
}

/// The failures of a `concurrently` run: how many jobs failed, and the first few errors.
public struct ConcurrentFailures: Error, CustomStringConvertible {
    public var failed: Int
    public var total: Int
    /// Up to five `(job index, error)` pairs, lowest index first.
    public var samples: [(Int, any Error)]

    public var description: String {
        let shown = samples.map { "#\($0.0): \($0.1)" }.joined(separator: "; ")
        return "\(failed) of \(total) concurrent jobs failed: \(shown)"
    }
}

/// Runs `body(i)` for every `i` in `0..<count` on at most `threads` threads (job `i` runs on
/// thread `i % threads`, jobs of one thread run in order), waits for all of them, and throws
/// `ConcurrentFailures` when any job threw. With `count <= threads` every job gets its own thread.
public func concurrently(
    count: Int, threads: Int = 64, _ body: @escaping @Sendable (Int) throws -> Void
) throws {
    guard count > 0 else { return }
    let width = max(1, min(threads, count))
    let failedCount = AtomicCounter()
    let failures = Locked<[(Int, any Error)]>([])
    var workers: [TestThread] = []
    workers.reserveCapacity(width)
    for lane in 0..<width {
        workers.append(
            TestThread.spawn {
                var index = lane
                while index < count {
                    do {
                        try body(index)
                    } catch {
                        failures.withLock { list in
                            if list.count < 64 { list.append((index, error)) }
                        }
                        failedCount.add()
                    }
                    index += width
                }
            })
    }
    for worker in workers { worker.join() }
    let failed = failedCount.value
    if failed > 0 {
        let samples = failures.value.sorted { $0.0 < $1.0 }.prefix(5)
        throw ConcurrentFailures(failed: failed, total: count, samples: Array(samples))
    }
}
