// BufferPool: fixed-size byte buffers for one reactor, leased while a direction holds bytes its
// writer could not take yet, and the reactor's scratch buffer for reads that go straight out.

/// A leased buffer: the bytes waiting to be written are `base[start..<end]`.
public struct PendingBytes {
    public var base: UnsafeMutableRawPointer?
    public var start = 0
    public var end = 0
    public init() {}
    @inline(__always) public var count: Int { end - start }
    @inline(__always) public var isEmpty: Bool { start == end }
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
