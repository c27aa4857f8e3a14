// Logger: one per thread. Builds lines with a LineBuilder and hands them to the shared LogSink in
// batches (once per reactor turn), so the data path never waits on the log.

/// A thread's logger: check `enabled` before building a line; call `flush` at the end of a turn.
public final class Logger {
    public let level: LogLevel
    public let sink: LogSink
    private var builder = LineBuilder()
    private var clock = LogClock()
    private var batchedLines = 0

    public init(level: LogLevel, sink: LogSink) {
        self.level = level
        self.sink = sink
    }

    deinit { builder.deallocate() }

    @inline(__always) public func enabled(_ level: LogLevel) -> Bool { level >= self.level }

    /// Builds one line: `fill` adds fields (`msg` included); `level` and `time` are added here.
    @inline(__always)
    public func log(_ level: LogLevel, _ fill: (inout LineBuilder) -> Void) {
        guard level >= self.level else { return }
        builder.begin()
        fill(&builder)
        builder.write(level: level, wall: wallNanoseconds(), clock: &clock)
        batchedLines += 1
        if builder.count >= 48 * 1024 { flush() }
    }

    /// Hands the lines built so far to the sink.
    public func flush() {
        guard batchedLines > 0 else { return }
        sink.submit(builder.output, lines: batchedLines)
        builder.clearOutput()
        batchedLines = 0
    }
}
