// PipePool: a per-reactor pool of splice pipes, leased only while bytes are in flight.
// Pipes cost two fds and kernel pages each, so the pool is capped; when it is empty the relay
// falls back to buffered copying.
import CSluice
import Glibc

/// A pipe's two ends. `read` is where spliced bytes come out, `write` where they go in.
public struct Pipe: Equatable, Sendable {
    public var read: Int32
    public var write: Int32
    public static let none = Pipe(read: -1, write: -1)
    public var isNone: Bool { read < 0 }
}

/// Pipes for one reactor. Not thread-safe: it belongs to its reactor's thread.
public final class PipePool {
    private var idle: [Pipe] = []
    /// Pipes that exist (idle or leased); never more than `limit`.
    public private(set) var created = 0
    public let limit: Int
    /// The capacity each pipe is set to (`F_SETPIPE_SZ`), in bytes.
    public let pipeSize: Int32

    public init(limit: Int, pipeSize: Int32 = 64 * 1024) {
        self.limit = limit
        self.pipeSize = pipeSize
        idle.reserveCapacity(limit)
    }

    /// Leases so far: the reactor trims the pool when this stops moving.
    public private(set) var leases = 0
    /// Idle pipes in the pool.
    public var idleCount: Int { idle.count }

    /// An empty pipe, or `.none` when the cap is reached or the kernel refuses one.
    @inline(__always)
    public func lease() -> Pipe {
        leases &+= 1
        if let pipe = idle.popLast() { return pipe }
        guard created < limit else { return .none }
        var fds: (Int32, Int32) = (-1, -1)
        let ok = withUnsafeMutablePointer(to: &fds) {
            $0.withMemoryRebound(to: Int32.self, capacity: 2) { sl_pipe($0) }
        }
        guard ok != -1 else { return .none }
        // Best effort: the default is 64 KiB already; a user over pipe-user-pages-soft gets less.
        if pipeSize != 64 * 1024 { _ = sl_set_pipe_size(fds.1, pipeSize) }
        created += 1
        return Pipe(read: fds.0, write: fds.1)
    }

    /// Returns an empty pipe to the pool.
    @inline(__always)
    public func release(_ pipe: Pipe) {
        idle.append(pipe)
    }

    /// Closes the idle pipes (the reactor calls this when none was leased for a while), so a past
    /// burst does not keep descriptors and pipe pages forever.
    public func trim() {
        for pipe in idle {
            Glibc.close(pipe.read)
            Glibc.close(pipe.write)
        }
        created -= idle.count
        idle.removeAll(keepingCapacity: true)
    }

    /// Closes a pipe that may still hold bytes (its session is closing).
    public func discard(_ pipe: Pipe) {
        Glibc.close(pipe.read)
        Glibc.close(pipe.write)
        created -= 1
    }

    deinit {
        for pipe in idle {
            Glibc.close(pipe.read)
            Glibc.close(pipe.write)
        }
    }
}
