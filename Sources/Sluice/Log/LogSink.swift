// LogSink: the one writer thread that drains every reactor's log lines to stderr (or a file).
// A sink that cannot keep up (a full pipe) never stalls a reactor: lines are dropped, counted,
// and the count is logged once the sink drains again.
import CSluice
import Glibc

/// Collects batches of finished JSON lines from every thread and writes them on its own thread.
public final class LogSink: @unchecked Sendable {
    private let lock = ConditionLock()
    private let fd: Int32
    private let capacity: Int
    // Guarded by `lock`.
    private var pending: [UInt8] = []
    private var droppedLines = 0
    private var droppedSinceStart = 0
    private var stopping = false
    private var writing = false
    /// The writer waits for lines, and whether a wake-up is already on its way.
    private var writerIdle = false
    private var wakeSent = false
    private var thread: OSThread?
    /// Lines go out as logrus text (`log.format: text`) instead of JSON.
    private let text: Bool
    private var converted: [UInt8] = []

    /// `capacity` bounds the bytes waiting for the writer (besides the batch it is writing, so at
    /// most twice this is held); beyond it whole batches are dropped.
    public init(fd: Int32 = 2, capacity: Int = 1 << 20, text: Bool = false) {
        self.fd = fd
        self.text = text
        self.capacity = capacity
        pending.reserveCapacity(64 * 1024)
        thread = OSThread(name: "sluice-log") { [unowned self] in self.run() }
    }

    /// Queues `bytes` (`lines` whole lines). Never blocks on I/O; drops the batch when full. Wakes
    /// the writer only when it sleeps with nothing to do (not once per batch): a busy writer finds
    /// the new lines itself.
    public func submit(_ bytes: UnsafeRawBufferPointer, lines: Int) {
        lock.lock()
        if pending.count + bytes.count > capacity {
            droppedLines += lines
            droppedSinceStart += lines
        } else {
            pending.append(contentsOf: bytes)
        }
        let wake = writerIdle && !wakeSent
        if wake { wakeSent = true }
        lock.unlock()
        if wake { lock.signal() }
    }

    /// Lines dropped so far and not yet reported.
    public var dropped: Int { lock.withLock { droppedLines } }

    /// Lines dropped since the sink started (`sluice_log_lines_dropped_total`).
    public var droppedTotal: Int { lock.withLock { droppedSinceStart } }

    /// Writes what is queued, waiting at most until `deadline` (monotonic ns), then stops the writer.
    public func close(deadline: Int64 = monotonicNanoseconds() + 2 * nanosecondsPerSecond) {
        lock.lock()
        stopping = true
        lock.unlock()
        lock.broadcast()
        lock.lock()
        while (!pending.isEmpty || writing) && monotonicNanoseconds() < deadline {
            lock.wait(until: min(deadline, monotonicNanoseconds() + 50 * nanosecondsPerMillisecond))
        }
        let done = pending.isEmpty && !writing
        lock.unlock()
        if done { thread?.join() }
        thread = nil
    }

    private func run() {
        var batch: [UInt8] = []
        batch.reserveCapacity(64 * 1024)
        while true {
            lock.lock()
            var slept = false
            while pending.isEmpty && droppedLines == 0 && !stopping {
                writerIdle = true
                lock.wait()
                slept = true
            }
            writerIdle = false
            wakeSent = false
            if pending.isEmpty && droppedLines == 0 && stopping {
                lock.unlock()
                lock.broadcast()
                return
            }
            if slept && !stopping {
                // Let a few milliseconds of lines gather: one write and one wake-up per batch
                // instead of one per reactor turn.
                lock.unlock()
                var pause = timespec(tv_sec: 0, tv_nsec: 2_000_000)
                nanosleep(&pause, nil)
                lock.lock()
            }
            swap(&batch, &pending)
            let dropped = droppedLines
            droppedLines = 0
            writing = true
            lock.unlock()
            writeAll(batch)
            batch.removeAll(keepingCapacity: true)
            if dropped > 0 { writeAll(Array(droppedLine(dropped).utf8)) }
            lock.lock()
            writing = false
            lock.unlock()
            lock.broadcast()
        }
    }

    private func droppedLine(_ count: Int) -> String {
        var logger = LineBuilder()
        defer { logger.deallocate() }
        logger.begin()
        logger.add(.kind, .literal("log"))
        logger.add(.msg, .text("log sink too slow: dropped \(count) lines"))
        return logger.finish(level: .warning, clock: &fallbackClock)
    }
    private var fallbackClock = LogClock()

    private func writeAll(_ bytes: [UInt8]) {
        if text {
            converted.removeAll(keepingCapacity: true)
            bytes.withUnsafeBytes { TextFormat.convert($0, into: &converted) }
            write(converted)
        } else {
            write(bytes)
        }
    }

    private func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n > 0 {
                    offset += n
                } else if n == -1 && sl_errno() == EINTR {
                    continue
                } else if n == -1 && sl_errno() == EAGAIN {
                    // A non-blocking stderr: wait for it rather than spin.
                    var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&p, 1, 100)
                } else {
                    return  // EPIPE, EBADF…: the sink is gone; drop silently
                }
            }
        }
    }
}
