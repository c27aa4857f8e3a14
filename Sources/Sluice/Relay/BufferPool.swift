// BufferPool: fixed-size byte buffers for one reactor, leased while a direction holds bytes its
// writer could not take yet, and the reactor's scratch buffer for reads that go straight out.
import Glibc

/// A buffer of bytes waiting to be written: `base[start..<end]`, in `capacity` bytes. Either leased
/// from the reactor's `BufferPool` or a session's own allocation sized for one purpose (a PROXY
/// header being received); `release` gives it back to wherever it came from.
public struct PendingBytes {
    public var base: UnsafeMutableRawPointer?
    public var start = 0
    public var end = 0
    /// Bytes `base` points to (0 without a buffer).
    public private(set) var capacity = 0
    /// From the pool (else allocated for this session and freed on release).
    public private(set) var pooled = true
    public init() {}
    @inline(__always) public var count: Int { end - start }
    @inline(__always) public var isEmpty: Bool { start == end }
    /// Free bytes after `end`.
    @inline(__always) public var room: Int { capacity - end }

    /// An empty buffer leased from `pool`.
    @inline(__always)
    public static func lease(from pool: BufferPool) -> PendingBytes {
        var bytes = PendingBytes()
        bytes.base = pool.lease()
        bytes.capacity = pool.bufferSize
        return bytes
    }

    /// An empty buffer of its own, `capacity` bytes.
    public static func allocate(capacity: Int) -> PendingBytes {
        var bytes = PendingBytes()
        bytes.base = .allocate(byteCount: capacity, alignment: 16)
        bytes.capacity = capacity
        bytes.pooled = false
        return bytes
    }

    /// Moves the held bytes into a buffer of its own of `capacity` bytes (at least `end`), keeping
    /// their offsets; the old buffer goes back to where it came from.
    public mutating func grow(to capacity: Int, _ pool: BufferPool) {
        var bigger = PendingBytes.allocate(capacity: max(capacity, end))
        if let base { bigger.base!.copyMemory(from: base, byteCount: end) }
        bigger.start = start
        bigger.end = end
        release(to: pool)
        self = bigger
    }

    /// One send of the held bytes (consumed as they go): how many moved, or why none did.
    @inline(__always)
    public mutating func sendOnce(to fd: Int32) -> IOResult {
        let result = Socket.send(fd, base! + start, count)
        if case .bytes(let n) = result { start += n }
        return result
    }

    /// Puts `bytes` in front of what is held: in the room before `start` when they fit (a buffer
    /// made with headroom for them), else in a new buffer of its own sized for both.
    public mutating func prepend(_ bytes: UnsafeRawBufferPointer, _ pool: BufferPool) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        if base != nil && bytes.count <= start {
            start -= bytes.count
            (base! + start).copyMemory(from: source, byteCount: bytes.count)
            return
        }
        var joined = PendingBytes.allocate(capacity: bytes.count + count)
        joined.base!.copyMemory(from: source, byteCount: bytes.count)
        if !isEmpty { (joined.base! + bytes.count).copyMemory(from: base! + start, byteCount: count) }
        joined.end = bytes.count + count
        release(to: pool)
        self = joined
    }

    /// Moves the held bytes to the front of the buffer, so all the free room follows them.
    public mutating func compact() {
        guard let base, start > 0 else { return }
        let held = count
        memmove(base, base + start, held)
        start = 0
        end = held
    }

    /// Gives the buffer back (to the pool, or frees it) and forgets the bytes.
    @inline(__always)
    public mutating func release(to pool: BufferPool) {
        if let base {
            if pooled { pool.release(base) } else { base.deallocate() }
        }
        self = PendingBytes()
    }
}

/// Buffers of `bufferSize` bytes for one reactor; keeps at most `keep` idle ones.
public final class BufferPool {
    public let bufferSize: Int
    private var idle: [UnsafeMutableRawPointer] = []
    private let keep: Int
    /// Buffers currently leased (for tests and stats).
    public private(set) var leased = 0

    public init(bufferSize: Int, keep: Int) {
        self.bufferSize = bufferSize
        self.keep = keep
        idle.reserveCapacity(keep)
    }

    /// Idle buffers in the pool.
    public var idleCount: Int { idle.count }

    /// Frees the idle buffers (the reactor calls this when the pool was not used for a while).
    public func trim() {
        for buffer in idle { buffer.deallocate() }
        idle.removeAll(keepingCapacity: true)
    }

    /// Leases so far: the reactor trims the pool when this stops moving.
    public private(set) var leases = 0

    @inline(__always)
    public func lease() -> UnsafeMutableRawPointer {
        leased += 1
        leases &+= 1
        if let buffer = idle.popLast() { return buffer }
        return UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 16)
    }

    @inline(__always)
    public func release(_ buffer: UnsafeMutableRawPointer) {
        leased -= 1
        if idle.count < keep {
            idle.append(buffer)
        } else {
            buffer.deallocate()
        }
    }

    deinit {
        for buffer in idle { buffer.deallocate() }
    }
}
