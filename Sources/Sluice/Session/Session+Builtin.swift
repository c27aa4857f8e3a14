// Session built-in targets: `echo`, `discard` and `info`, the load-test handlers whose upstream is
// the client itself (echo, info) or nothing (discard). They start where a forwarder would dial, log
// as the other handlers do (`<>` on accept, `><` with inputBytes/outputBytes on close; no upstream,
// so no `<->`/`>-<`), and run in the relaying phase, so the idle timeout, the ready queue and
// shutdown treat them as any relay.
import CSluice
import Glibc

/// Zeros the `discard` reply is sent from: read-only, shared by every reactor.
nonisolated(unsafe) private let zeroChunk: UnsafeRawPointer = {
    let bytes = UnsafeMutableRawPointer.allocate(byteCount: Session.replyChunk, alignment: 16)
    bytes.initializeMemory(as: UInt8.self, repeating: 0, count: Session.replyChunk)
    return UnsafeRawPointer(bytes)
}()

/// A received PROXY header a session keeps for the `info` handler. A class, so that every other
/// session pays one pointer for the field rather than the header's 64 bytes inline.
final class ReceivedProxyHeader {
    let header: ProxyHeader
    init(_ header: ProxyHeader) { self.header = header }
}

extension Session {
    /// Bytes of the `discard` reply per send: the scratch buffer's size, one loopback GSO segment.
    static let replyChunk = 56 * 1024

    /// Starts a built-in target: the PROXY question is settled and any early bytes are in
    /// `input.pending` (already counted in `inputBytes`).
    func startBuiltin() {
        logAccepted()
        phase = .relaying
        deadline = 0
        lastActivity = reactor.now
        // A socket just accepted has room in its send buffer: write at once rather than wait for
        // the first EPOLLOUT edge (a wrong guess costs one EAGAIN).
        output.dstWritable = true
        let pool = reactor.resources.buffers
        switch service.plan.handler {
        case .info:
            let line = InfoReport(
                service: service.plan.name, sid: id, remote: remote, local: local, client: client,
                header: proxyHeader?.header
            ).line()
            if service.plan.closeAfterInfo { return closeAfterInfo(line) }
            // The line goes first, then the echo of whatever the client sends, early bytes included.
            line.withUnsafeBytes { input.pending.prepend($0, pool) }
        case .discard:
            input.pending.release(to: pool)
        default:
            break
        }
        armTimer()
        relayBuiltin()
    }

    /// `info?close=true`: the line, then the lingering close the proxy handlers use after a refusal
    /// (FIN, then read and drop until the client's EOF), so bytes the client sent meanwhile cannot
    /// turn the close into a reset that destroys the line before it is read.
    private func closeAfterInfo(_ line: [UInt8]) {
        input.pending.release(to: reactor.resources.buffers)
        var reply = PendingBytes.allocate(capacity: line.count)
        line.withUnsafeBytes { reply.base!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        reply.end = line.count
        output.pending = reply
        phase = .lingering(.done)
        setDeadline(Self.lingerTimeout)
        armTimer()
        linger()
    }

    /// The relay of a built-in target (called by `relay()`).
    func relayBuiltin() {
        if service.plan.handler == .discard {
            relayDiscard()
        } else {
            relayEcho()
        }
    }

    /// Echo (and `info` after its line): one flow from the client back to itself, recv then send
    /// through the reactor's scratch buffer, holding at most one buffer a slow reader has not taken
    /// (no more reading until it has). At the client's EOF, once everything is echoed, the close
    /// sends the FIN.
    private func relayEcho() {
        // `input` is the flow. Its readable bit is the client's EPOLLIN as for any relay; the
        // client's EPOLLOUT, which `clientEvent` records for the client as a destination
        // (`output.dstWritable`), is handed over to it.
        if output.dstWritable {
            input.dstWritable = true
            output.dstWritable = false
        }
        let before = input.bytesRead &+ input.bytesWritten
        // `reverseFinished`: nothing flows the other way, and the close right after EOF sends the
        // FIN, so no shutdown call is needed.
        let outcome = input.pump(from: clientFD, to: clientFD, reactor.resources, reverseFinished: true)
        // What reached the client is the close line's `outputBytes`.
        output.bytesWritten = input.bytesWritten
        if input.bytesRead &+ input.bytesWritten != before { lastActivity = reactor.now }
        switch outcome {
        case .blocked: break
        case .yielded: resumeLater()
        case .finished: close(.done)
        case .readFailed(let e), .writeFailed(let e): close(.clientError(e))
        }
    }

    /// Discard: drop what arrives without copying it (`MSG_TRUNC`) until the client's EOF, then
    /// send `reply` zero bytes, then close.
    private func relayDiscard() {
        let resources = reactor.resources
        var budget = resources.budget
        while !input.eof {
            guard input.srcReadable else { return }
            guard budget > 0 else { return resumeLater() }
            switch Socket.discard(clientFD, resources.budget) {
            case .bytes(let n):
                input.bytesRead += Int64(n)
                budget -= n
                lastActivity = reactor.now
                // A short read drained the socket (edge-triggered: the next bytes are a new event).
                if n < resources.budget && !input.srcClosing { input.srcReadable = false }
            case .eof: input.eof = true
            case .wouldBlock: input.srcReadable = false
            case .error(let e): return close(.clientError(e))
            }
        }
        let reply = service.plan.reply
        while output.bytesWritten < reply {
            guard output.dstWritable else { return }
            guard budget > 0 else { return resumeLater() }
            let count = Int(min(reply - output.bytesWritten, Int64(Self.replyChunk)))
            output.willWrite(to: clientFD)
            switch Socket.send(clientFD, zeroChunk, count) {
            case .bytes(let n):
                output.bytesWritten += Int64(n)
                budget -= n
                lastActivity = reactor.now
                if n < count { output.dstWritable = false }  // the send buffer is full
            case .wouldBlock, .eof: output.dstWritable = false
            case .error(let e): return close(.clientError(e))
            }
        }
        close(.done)
    }

    /// The turn's byte budget ran out with work left: continue from the reactor's ready queue.
    private func resumeLater() {
        guard !queued else { return }
        queued = true
        reactor.enqueue(self)
    }
}
