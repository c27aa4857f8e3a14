// LoopbackServer: the engine behind every test server: one listening socket and one thread running
// a level-triggered epoll loop over all accepted connections, with a per-server behaviour.
import CSluice
import Glibc
import Sluice

/// One listening socket served by one epoll thread. Use it through the typed servers
/// (`EchoServer`, `RecordingServer`, …); it is public for tests that need a custom mix.
public final class LoopbackServer: @unchecked Sendable {
    /// The bound address (the real port when asked for port 0).
    public let address: SocketAddress
    public let behaviour: ServerBehaviour
    let records = Locked<[ServerConnection]>([])
    private let listener: Int32
    private let wakeFD: Int32
    private var thread: TestThread?
    private let stopped = Locked(false)

    /// Listens on `address` (port 0 = ephemeral) with a 4096 backlog and starts the thread.
    public init(address: SocketAddress, behaviour: ServerBehaviour) throws {
        let (fd, bound, wake) = try listenWithWakeup(on: address, backlog: 4096)
        self.address = bound
        self.behaviour = behaviour
        listener = fd
        wakeFD = wake
        let loop = ServerLoop(listener: fd, wakeFD: wake, behaviour: behaviour, records: records)
        thread = TestThread.spawn { loop.run() }
    }

    deinit { stop() }

    public var port: UInt16 { address.port }

    /// Stops the thread and closes the listener and every connection (with FIN). Idempotent.
    public func stop() {
        let first = stopped.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        guard first else { return }
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
        thread?.join()
        thread = nil
        Glibc.close(wakeFD)
        Glibc.close(listener)
    }

    /// A snapshot of every connection accepted so far, in accept order.
    public var connections: [ServerConnection] { records.value }

    /// How many connections have been accepted.
    public var acceptedCount: Int { records.withLock { $0.count } }

    /// How many accepted connections the server has closed.
    public var closedCount: Int { records.withLock { $0.lazy.filter(\.isClosed).count } }

    /// Waits until at least `count` connections were accepted; false on timeout.
    @discardableResult
    public func waitForAccepted(_ count: Int, timeout: Duration = .seconds(10)) -> Bool {
        waitUntil(timeout: timeout) { acceptedCount >= count }
    }

    /// Waits until at least `count` connections were accepted and closed; false on timeout.
    @discardableResult
    public func waitForClosed(_ count: Int, timeout: Duration = .seconds(10)) -> Bool {
        waitUntil(timeout: timeout) { closedCount >= count }
    }

    /// How many connections the server has accepted, once none waits in the listener's accept
    /// queue (as the kernel reports it) and the server thread has handled every one it accepted;
    /// nil when that does not happen within `timeout`. A connection whose handshake the kernel
    /// completed before the call is counted.
    public func acceptedCountOnceSettled(timeout: Duration = .seconds(10)) -> Int? {
        var status = stat()
        guard fstat(listener, &status) == 0 else { return nil }
        let inode = UInt64(status.st_ino)
        return waitFor(timeout: timeout) { () -> Int? in
            guard let mine = try? SocketTable.listeners(port: address.port).first(where: { $0.inode == inode }),
                mine.acceptQueue == 0
            else { return nil }
            return records.withLock { list in list.allSatisfy(\.isHandled) ? list.count : nil }
        }
    }
}

/// The server thread's state. Only the server thread touches it.
private final class ServerLoop: @unchecked Sendable {
    let listener: Int32
    let wakeFD: Int32
    let behaviour: ServerBehaviour
    let records: Locked<[ServerConnection]>
    let epoll: Int32
    var connections: [UInt64: ServerPeer] = [:]
    var nextToken: UInt64 = 2
    var buffer = [UInt8](repeating: 0, count: 64 << 10)
    static let listenerToken: UInt64 = 0
    static let wakeToken: UInt64 = 1
    /// Echo stops reading while this much is waiting to be written back.
    static let echoHighWater = 256 << 10

    init(listener: Int32, wakeFD: Int32, behaviour: ServerBehaviour, records: Locked<[ServerConnection]>) {
        self.listener = listener
        self.wakeFD = wakeFD
        self.behaviour = behaviour
        self.records = records
        epoll = sl_epoll_create()
        precondition(epoll != -1, "epoll_create1 failed: \(Errno.current)")
        _ = sl_set_nonblocking(listener)
        _ = sl_epoll_add(epoll, listener, SL_EPOLLIN, ServerLoop.listenerToken)
        _ = sl_epoll_add(epoll, wakeFD, SL_EPOLLIN, ServerLoop.wakeToken)
    }

    func run() {
        let capacity = 256
        let events = UnsafeMutableRawPointer.allocate(byteCount: sl_epoll_event_size() * capacity, alignment: 8)
        defer {
            events.deallocate()
            for peer in connections.values { finish(peer, reset: false) }
            Glibc.close(epoll)
        }
        while true {
            let count = sl_epoll_wait(
                epoll, events.assumingMemoryBound(to: epoll_event.self), Int32(capacity), timerWait())
            if count == -1 {
                if Errno.current == .interrupted { continue }
                return
            }
            for i in 0..<Int(count) {
                let event = (events + i * sl_epoll_event_size()).assumingMemoryBound(to: epoll_event.self)
                let token = sl_epoll_event_token(event)
                let flags = sl_epoll_event_events(event)
                switch token {
                case ServerLoop.wakeToken: return
                case ServerLoop.listenerToken: acceptAll()
                default:
                    guard let peer = connections[token] else { continue }
                    if flags & (SL_EPOLLIN | SL_EPOLLHUP | SL_EPOLLERR | SL_EPOLLRDHUP) != 0 { readable(peer) }
                    if !peer.isClosed { flush(peer) }
                    if !peer.isClosed, flags & (SL_EPOLLHUP | SL_EPOLLERR) != 0, !peer.reading, !peer.hasOutput {
                        // Nothing left to read or write, yet the socket reports an error or a
                        // hang-up: level-triggered epoll would report it forever, so end it here.
                        records.withLock { $0[peer.index].error = Socket.pendingError(peer.fd) }
                        finish(peer, reset: false)
                    }
                    if !peer.isClosed { updateInterest(peer) }
                }
            }
            fireTimers()
        }
    }

    // MARK: Accepting

    func acceptAll() {
        while case .accepted(let fd) = Socket.accept(listener) {
            let peer = ServerPeer(fd: fd, token: nextToken)
            nextToken += 1
            let address = Socket.peerAddress(fd)
            peer.index = records.withLock { list in
                list.append(ServerConnection(index: list.count, peer: address))
                return list.count - 1
            }
            connections[peer.token] = peer
            switch behaviour {
            case .record(let reply, .onAccept): peer.output = reply
            case .record, .echo, .sink, .replyAfterEOF: break
            case .send(let count, _, _), .reset(let count, _):
                if case .send(_, _, .closeCorked) = behaviour {
                    _ = sl_setsockopt_int(fd, Int32(IPPROTO_TCP), TCP_CORK, 1)
                }
                peer.patternRemaining = count
                if count == 0 { patternDone(peer) }
            }
            _ = sl_epoll_add(epoll, fd, SL_EPOLLIN | SL_EPOLLRDHUP, peer.token)
            peer.events = SL_EPOLLIN | SL_EPOLLRDHUP
            flush(peer)
            if !peer.isClosed { updateInterest(peer) }
            records.withLock { $0[peer.index].isHandled = true }
        }
    }

    // MARK: Reading

    func readable(_ peer: ServerPeer) {
        guard peer.reading else { return }
        let result = buffer.withUnsafeMutableBytes { Socket.recv(peer.fd, $0.baseAddress!, $0.count) }
        switch result {
        case .bytes(let n):
            let recording: Bool
            if case .record = behaviour { recording = true } else { recording = false }
            buffer.withUnsafeBytes { raw in
                let chunk = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                records.withLock { list in
                    list[peer.index].received.update(chunk)
                    if recording { list[peer.index].data.append(contentsOf: chunk) }
                }
            }
            switch behaviour {
            case .echo: peer.output.append(contentsOf: buffer[0..<n])
            case .record(let reply, .afterFirstBytes) where !peer.replied:
                peer.replied = true
                peer.output.append(contentsOf: reply)
            default: break
            }
        case .eof:
            peer.reading = false
            records.withLock { $0[peer.index].sawEOF = true }
            switch behaviour {
            case .echo: peer.afterFlush = .shutdownAndClose
            case .record, .sink: peer.afterFlush = .close
            case .send(_, _, .close), .send(_, _, .closeCorked): break
            case .send(_, _, .shutdownWriteAndRead):
                if peer.patternRemaining == 0 && peer.output.isEmpty { peer.afterFlush = .close }
            case .replyAfterEOF(let count, _):
                peer.patternRemaining = count
                peer.afterFlush = .close
            case .reset: break
            }
        case .wouldBlock: return
        case .error(let error):
            records.withLock { $0[peer.index].error = error }
            finish(peer, reset: false)
        }
    }

    // MARK: Writing

    /// Writes pending output, then pattern bytes; runs the after-flush action once all is out.
    func flush(_ peer: ServerPeer) {
        while !peer.isClosed {
            if peer.outputOffset < peer.output.count {
                let result = peer.output.withUnsafeBytes {
                    Socket.send(peer.fd, $0.baseAddress! + peer.outputOffset, $0.count - peer.outputOffset)
                }
                guard sent(result, peer) else { return }
                if peer.outputOffset == peer.output.count {
                    peer.output.removeAll(keepingCapacity: true)
                    peer.outputOffset = 0
                }
            } else if peer.patternRemaining > 0, let pattern = behaviour.pattern {
                let run = min(peer.patternRemaining, buffer.count)
                let offset = peer.patternOffset
                let result = buffer.withUnsafeMutableBytes { raw -> IOResult in
                    pattern.fill(UnsafeMutableRawBufferPointer(rebasing: raw[0..<run]), from: offset)
                    return Socket.send(peer.fd, raw.baseAddress!, run)
                }
                guard sent(result, peer) else { return }
                if peer.patternRemaining == 0 { patternDone(peer) }
            } else {
                break
            }
        }
        guard !peer.isClosed else { return }
        switch peer.afterFlush {
        case .none: break
        case .close: finish(peer, reset: false)
        case .shutdownAndClose:
            Socket.shutdownWrite(peer.fd)
            finish(peer, reset: false)
        case .shutdownWrite:
            Socket.shutdownWrite(peer.fd)
            peer.afterFlush = .none
            if !peer.reading { finish(peer, reset: false) }
        case .resetLater:
            peer.afterFlush = .none
            peer.resetAt = Monotonic.now.advanced(by: .milliseconds(50))
        }
    }

    /// Accounts for one send; false when the socket is full or failed.
    func sent(_ result: IOResult, _ peer: ServerPeer) -> Bool {
        switch result {
        case .bytes(let n):
            if peer.outputOffset < peer.output.count {
                peer.outputOffset += n
            } else {
                peer.patternRemaining -= n
                peer.patternOffset += n
            }
            records.withLock { $0[peer.index].bytesSent += n }
            return true
        case .wouldBlock, .eof: return false
        case .error(let error):
            records.withLock { $0[peer.index].error = error }
            finish(peer, reset: false)
            return false
        }
    }

    func patternDone(_ peer: ServerPeer) {
        switch behaviour {
        case .send(_, _, .close), .send(_, _, .closeCorked): peer.afterFlush = .close
        case .send(_, _, .shutdownWriteAndRead): peer.afterFlush = .shutdownWrite
        case .reset: peer.afterFlush = .resetLater
        default: break
        }
    }

    func updateInterest(_ peer: ServerPeer) {
        var wanted: UInt32 = 0
        let echoFull = peer.output.count - peer.outputOffset >= ServerLoop.echoHighWater
        if peer.reading && !echoFull { wanted |= SL_EPOLLIN | SL_EPOLLRDHUP }
        if peer.hasOutput { wanted |= SL_EPOLLOUT }
        if wanted != peer.events {
            _ = sl_epoll_mod(epoll, peer.fd, wanted, peer.token)
            peer.events = wanted
        }
    }

    // MARK: Timers and closing

    /// The `epoll_wait` timeout: 10 ms while a reset is scheduled, else forever.
    func timerWait() -> Int32 { connections.values.contains { $0.resetAt != nil } ? 10 : -1 }

    func fireTimers() {
        let now = Monotonic.now
        for peer in connections.values where peer.resetAt.map({ $0 <= now }) == true {
            finish(peer, reset: true)
        }
    }

    func finish(_ peer: ServerPeer, reset: Bool) {
        guard !peer.isClosed else { return }
        peer.isClosed = true
        _ = sl_epoll_del(epoll, peer.fd)
        Socket.close(peer.fd, reset: reset)
        connections[peer.token] = nil
        records.withLock {
            $0[peer.index].isClosed = true
            $0[peer.index].closedAt = Monotonic.now
        }
    }
}

/// One accepted connection as the server thread tracks it.
private final class ServerPeer {
    enum AfterFlush { case none, close, shutdownAndClose, shutdownWrite, resetLater }
    let fd: Int32
    let token: UInt64
    var index = 0
    var events: UInt32 = 0
    var reading = true
    var isClosed = false
    var output: [UInt8] = []
    var outputOffset = 0
    var replied = false
    var patternRemaining = 0
    var patternOffset = 0
    var afterFlush = AfterFlush.none
    var resetAt: Monotonic.Instant?

    /// Bytes are waiting to be written (buffered output or pattern bytes).
    var hasOutput: Bool { outputOffset < output.count || patternRemaining > 0 }

    init(fd: Int32, token: UInt64) {
        self.fd = fd
        self.token = token
    }
}

/// A listening socket on `address` (port 0 = ephemeral), its bound address, and an eventfd to wake
/// the thread that serves it.
func listenWithWakeup(on address: SocketAddress, backlog: Int32) throws -> (Int32, SocketAddress, Int32) {
    ResourceWatch.starting("a listener on \(address)")
    let fd: Int32
    do {
        fd = try Socket.listen(on: address, reusePort: false, backlog: backlog)
    } catch {
        throw TestSupportError("listen on \(address)", errno: error)
    }
    guard let bound = Socket.localAddress(fd) else {
        Glibc.close(fd)
        throw TestSupportError.system("getsockname")
    }
    let wake = sl_eventfd()
    guard wake != -1 else {
        Glibc.close(fd)
        throw TestSupportError.system("eventfd")
    }
    return (fd, bound, wake)
}
