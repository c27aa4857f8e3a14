// Flow: one direction of a relay (client → upstream or upstream → client). Starts buffered
// (recv into the reactor's scratch, send straight out) and switches to splice(2) through a pooled
// pipe once a read fills the scratch buffer, like HAProxy's splice-auto. Holds at most one pipe or
// one buffer of bytes its writer has not taken yet, and stops reading until the writer drains.
import CSluice
import Glibc

/// What a pump stopped on.
public enum FlowOutcome: Equatable {
    /// Waiting for readiness (source readable or destination writable).
    case blocked
    /// The per-turn byte budget ran out while there is more to do: resume next turn.
    case yielded
    /// The source reached EOF and everything was written; the destination's write side is shut.
    case finished
    /// The source read failed.
    case readFailed(Errno)
    /// The destination write failed.
    case writeFailed(Errno)
}

/// The reactor-owned resources a flow borrows while pumping.
public struct RelayResources {
    public let scratch: UnsafeMutableRawPointer
    public let scratchSize: Int
    public let pipes: PipePool
    public let buffers: BufferPool
    /// Bytes one flow may move per turn before yielding to other connections.
    public let budget: Int
    /// Bytes asked of one splice into a pipe.
    public let spliceChunk: Int
}

/// One direction of a relay. The readiness bits it owns: its source's `readable` and its
/// destination's `writable` (each socket bit belongs to exactly one flow).
public struct Flow {
    public var srcReadable = false
    public var dstWritable = false
    /// The source signalled a hang-up (EPOLLRDHUP/HUP/ERR): an EOF or error waits behind its data,
    /// so a short read does not mean "drained" and reading goes on until it shows.
    public var srcClosing = false
    /// The source's FIN has arrived cleanly (EPOLLRDHUP without EPOLLERR): every byte before it is
    /// already queued, so a read that comes back short has drained the socket up to the EOF.
    public var srcFinReceived = false
    /// Bytes read but not yet written, when held in a buffer.
    public var pending = PendingBytes()
    /// The leased pipe and how many bytes it holds, when splicing.
    public var pipe = Pipe.none
    public var pipeBytes = 0
    /// Reads fill the scratch buffer: use splice.
    public var splicing = false
    /// Stay buffered: splice is off for the service, or not possible between these descriptors.
    public var spliceDisabled = false
    /// The source reached EOF.
    public var eof = false
    /// The destination's write side was shut (after EOF and the last byte).
    public var shutdownSent = false
    /// Writes to the destination so far, counted up to 2 (see `willWrite`).
    public var dstWrites: UInt8 = 0
    public var bytesRead: Int64 = 0
    public var bytesWritten: Int64 = 0

    public init() {}

    /// Bytes this flow holds (in its pipe or its buffer).
    @inline(__always) public var held: Int { pipeBytes + pending.count }

    /// True once EOF has been passed on and nothing is held.
    @inline(__always) public var isFinished: Bool { shutdownSent }

    /// Called before every write to the destination. Nagle stays on for the first write (with
    /// nothing unacknowledged it cannot hold it back) and is turned off before the second, so a
    /// connection that writes once each way — HTTP/1.0-style churn — spends no `setsockopt` on it,
    /// and every later write leaves at once as before.
    @inline(__always)
    public mutating func willWrite(to dst: Int32) {
        guard dstWrites < 2 else { return }
        dstWrites += 1
        if dstWrites == 2 { Socket.setNoDelay(dst) }
    }

    /// Moves bytes from `src` to `dst` until blocked, finished, failed or out of budget.
    ///
    /// Edge-triggered readiness lets a short read stand for "drained" (the kernel signals the next
    /// arrival), and a short write for "full": neither is followed by a call that would only
    /// return EAGAIN. When `reverseFinished` (the other direction already passed its EOF on, so
    /// the session closes both sockets as soon as this one finishes), EOF is not passed on with a
    /// shutdown: the close right after sends the FIN.
    public mutating func pump(
        from src: Int32, to dst: Int32, _ r: RelayResources, reverseFinished: Bool = false
    )
        -> FlowOutcome
    {
        var budget = r.budget
        while true {
            // 1. Write what is held: the pipe's bytes, else the buffer's.
            if pipeBytes > 0 {
                guard dstWritable else { return .blocked }
                willWrite(to: dst)
                switch Socket.splice(pipe.read, dst, pipeBytes, isRead: false) {
                case .bytes(let n):
                    if n < pipeBytes { dstWritable = false }
                    pipeBytes -= n
                    bytesWritten += Int64(n)
                    continue
                case .wouldBlock, .eof:
                    dstWritable = false
                    return .blocked
                case .error(let e): return .writeFailed(e)
                }
            }
            if !pending.isEmpty {
                guard dstWritable else { return .blocked }
                if let outcome = writeHeld(to: dst, r) { return outcome }
                continue
            }
            // 2. Nothing held.
            if eof {
                if !shutdownSent {
                    if !reverseFinished { Socket.shutdownWrite(dst) }
                    shutdownSent = true
                }
                releasePipe(r)
                return .finished
            }
            guard srcReadable else {
                releasePipe(r)
                return .blocked
            }
            guard budget > 0 else { return .yielded }
            // 3. Read.
            if splicing && !spliceDisabled {
                if pipe.isNone { pipe = r.pipes.lease() }
                if !pipe.isNone {
                    switch Socket.splice(src, pipe.write, r.spliceChunk, isRead: true) {
                    case .bytes(let n):
                        pipeBytes = n
                        bytesRead += Int64(n)
                        budget -= n
                    case .eof: eof = true
                    case .wouldBlock: srcReadable = false
                    case .error(let e):
                        // EINVAL/ENOSYS: a descriptor type splice cannot serve; copy instead.
                        guard e == .invalidArgument || e == .notSupported else { return .readFailed(e) }
                        spliceDisabled = true
                    }
                    continue
                }
                // The pool is empty: copy through the scratch buffer this time.
            }
            switch Socket.recv(src, r.scratch, r.scratchSize) {
            case .bytes(let n):
                bytesRead += Int64(n)
                budget -= n
                if n == r.scratchSize {
                    splicing = !spliceDisabled
                } else if srcFinReceived {
                    // Short with the FIN queued: these were the last bytes. The EOF needs no read of
                    // its own, and they go out with MSG_MORE so the FIN (the shutdown or close that
                    // follows) rides in their segment instead of one of its own.
                    eof = true
                } else if !srcClosing {
                    srcReadable = false  // drained: the next arrival is another edge
                }
                if let outcome = forward(r.scratch, n, to: dst, r, last: eof) { return outcome }
            case .eof: eof = true
            case .wouldBlock: srcReadable = false
            case .error(let e): return .readFailed(e)
            }
        }
    }

    /// One write of the held buffer: nil when bytes moved (go on), else what stopped it.
    @inline(__always)
    private mutating func writeHeld(to dst: Int32, _ r: RelayResources) -> FlowOutcome? {
        let before = pending.count
        willWrite(to: dst)
        switch pending.sendOnce(to: dst) {
        case .bytes(let n):
            if n < before { dstWritable = false }
            bytesWritten += Int64(n)
            if pending.isEmpty { releaseBuffer(r) }
            return nil
        case .wouldBlock, .eof:
            dstWritable = false
            return .blocked
        case .error(let e): return .writeFailed(e)
        }
    }

    /// Writes the held buffer without reading the source (handshake bytes, replies, the first
    /// write). `.finished` here means everything held was written.
    public mutating func flushHeld(to dst: Int32, _ r: RelayResources) -> FlowOutcome {
        while !pending.isEmpty {
            guard dstWritable else { return .blocked }
            if let outcome = writeHeld(to: dst, r) { return outcome }
        }
        releaseBuffer(r)
        return .finished
    }

    /// Sends `count` freshly read bytes; keeps what the destination does not take in a buffer.
    /// `last`: the source's EOF follows them (see `pump`).
    @inline(__always)
    private mutating func forward(
        _ bytes: UnsafeMutableRawPointer, _ count: Int, to dst: Int32, _ r: RelayResources, last: Bool
    )
        -> FlowOutcome?
    {
        var sent = 0
        while dstWritable && sent < count {
            willWrite(to: dst)
            let result =
                last ? Socket.sendMore(dst, bytes + sent, count - sent) : Socket.send(dst, bytes + sent, count - sent)
            switch result {
            case .bytes(let n):
                sent += n
                bytesWritten += Int64(n)
                if sent < count { dstWritable = false }  // the send buffer is full
            case .wouldBlock, .eof: dstWritable = false
            case .error(let e): return .writeFailed(e)
            }
        }
        // Nothing is held when the pump reads, and a read is at most the scratch size, smaller than
        // a pool buffer: the rest always fits.
        if sent < count && !hold(bytes + sent, count - sent, r) {
            preconditionFailure("a scratch read fits in an empty pool buffer")
        }
        return nil
    }

    /// Keeps bytes for later in the held buffer (appending to what is held). False when they do not
    /// fit in one buffer: the caller fails the connection.
    public mutating func hold(_ bytes: UnsafeRawPointer, _ count: Int, _ r: RelayResources) -> Bool {
        if pending.isEmpty && count > pending.room { pending.release(to: r.buffers) }
        if pending.base == nil { pending = .lease(from: r.buffers) }
        if count > pending.room {
            guard pending.count + count <= pending.capacity else { return false }
            pending.compact()
        }
        memcpy(pending.base! + pending.end, bytes, count)
        pending.end += count
        return true
    }

    @inline(__always)
    private mutating func releaseBuffer(_ r: RelayResources) {
        if pending.base != nil { pending.release(to: r.buffers) }
    }

    @inline(__always)
    private mutating func releasePipe(_ r: RelayResources) {
        if !pipe.isNone && pipeBytes == 0 {
            r.pipes.release(pipe)
            pipe = .none
        }
    }

    /// Gives back everything the flow holds (the session is closing); a pipe with bytes in it is
    /// closed rather than pooled.
    public mutating func releaseAll(_ r: RelayResources) {
        releaseBuffer(r)
        if !pipe.isNone {
            if pipeBytes > 0 { r.pipes.discard(pipe) } else { r.pipes.release(pipe) }
            pipe = .none
            pipeBytes = 0
        }
    }
}
