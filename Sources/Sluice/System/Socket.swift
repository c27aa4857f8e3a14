// Socket: one short function per socket chore (listen, accept, connect, options, addresses, I/O),
// each a thin wrapper over the C call that turns "-1 and errno" into a Swift value.
import CSluice
import Glibc

/// The outcome of a non-blocking read or write on the data path. `EAGAIN` is a value, not an error.
public enum IOResult: Equatable, Sendable {
    /// This many bytes moved (always > 0).
    case bytes(Int)
    /// The call would block; wait for readiness.
    case wouldBlock
    /// The peer closed its write side (reads only).
    case eof
    /// A real failure, e.g. `ECONNRESET` or `EPIPE`.
    case error(Errno)
}

/// Socket calls on raw descriptors. Descriptors are non-blocking and close-on-exec.
public enum Socket {
    /// The one funnel for data-path calls (`recv`, `send`, `splice`): runs `call` until it is not
    /// interrupted, reads `errno` exactly once per failure, and returns a value: bytes, EOF (a read
    /// of 0; a write of 0 counts as would-block), would-block, or the error. Like swift-system's
    /// `valueOrErrno`.
    @inline(__always)
    static func io(isRead: Bool, _ call: () -> Int) -> IOResult {
        while true {
            let n = call()
            if n > 0 { return .bytes(n) }
            if n == 0 { return isRead ? .eof : .wouldBlock }
            let e = Errno.current
            if e == .interrupted { continue }
            return e == .wouldBlock ? .wouldBlock : .error(e)
        }
    }

    /// Creates a bound, listening TCP socket. `[::]` listens on both families (`IPV6_V6ONLY` off).
    /// The corresponding C functions are `socket`, `bind` and `listen`.
    public static func listen(on address: SocketAddress, reusePort: Bool, backlog: Int32) throws(Errno) -> Int32 {
        let fd = try bound(address, reusePort: reusePort)
        guard Glibc.listen(fd, backlog) != -1 else {
            let error = Errno.current
            Glibc.close(fd)
            throw error
        }
        return fd
    }

    /// Whether anyone listens on `address` (or a wildcard covering it), asked of the kernel: a
    /// socket with SO_REUSEADDR and without SO_REUSEPORT cannot bind a port another socket listens
    /// on, whatever that socket's options. (SO_REUSEPORT would let a second process of the same user
    /// bind a served port and silently take half its connections.) Nil when the port is free; the
    /// probe is closed before returning. The corresponding C functions are `socket` and `bind`.
    public static func probeBind(_ address: SocketAddress) -> Errno? {
        do {
            let fd = try bound(address, reusePort: false)
            Glibc.close(fd)
            return nil
        } catch {
            return error
        }
    }

    /// A socket bound to `address` (not listening yet), with the options every listener has.
    private static func bound(_ address: SocketAddress, reusePort: Bool) throws(Errno) -> Int32 {
        let fd = sl_socket(address.family, Int32(SOCK_STREAM.rawValue))
        guard fd != -1 else { throw Errno.current }
        do throws(Errno) {
            try setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
            if reusePort { try setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1) }
            if case .v6 = address.ip { try setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 0) }
            var storage = sockaddr_storage()
            let length = address.fill(&storage)
            guard sl_bind(fd, &storage, length) != -1 else { throw Errno.current }
            return fd
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// The result of one `accept4` call.
    public enum AcceptResult {
        case accepted(Int32)
        case wouldBlock
        case error(Errno)
    }

    /// Accepts one connection as a non-blocking, close-on-exec socket. The corresponding C function
    /// is `accept4`.
    @inline(__always)
    public static func accept(_ listener: Int32) -> AcceptResult {
        while true {
            let fd = sl_accept(listener)
            if fd != -1 { return .accepted(fd) }
            let e = Errno.current
            if e == .interrupted { continue }
            if e == .wouldBlock { return .wouldBlock }
            return .error(e)
        }
    }

    /// Starts a non-blocking connect. Returns the socket; completion is reported by `EPOLLOUT`
    /// and `connectError`. `dataFollows`: bytes will be written the moment the connect completes,
    /// so the handshake's last ACK waits for them (`TCP_QUICKACK` off) and rides on the first data
    /// segment — one segment and one wake-up of the server fewer. Never for a connection whose
    /// first bytes may come from the server: its `accept` would wait for the delayed ACK. The
    /// corresponding C functions are `socket`, `setsockopt` and `connect`.
    public static func startConnect(to address: SocketAddress, dataFollows: Bool = false) throws(Errno) -> Int32 {
        let fd = sl_socket(address.family, Int32(SOCK_STREAM.rawValue))
        guard fd != -1 else { throw Errno.current }
        if dataFollows { _ = sl_setsockopt_int(fd, Int32(IPPROTO_TCP), TCP_QUICKACK, 0) }
        var storage = sockaddr_storage()
        let length = address.fill(&storage)
        if sl_connect(fd, &storage, length) == -1 {
            let e = Errno.current
            if e != .inProgress && e != .interrupted {
                Glibc.close(fd)
                throw e
            }
        }
        return fd
    }

    /// The pending error of a socket (`SO_ERROR`): nil once a connect has succeeded.
    public static func pendingError(_ fd: Int32) -> Errno? {
        var value: Int32 = 0
        guard sl_getsockopt_int(fd, SOL_SOCKET, SO_ERROR, &value) != -1 else { return Errno.current }
        return value == 0 ? nil : Errno(value)
    }

    public static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) throws(Errno) {
        guard sl_setsockopt_int(fd, level, name, value) != -1 else { throw Errno.current }
    }

    /// Turns Nagle off: forwarded bytes leave at once. Flows call it before a socket's second write
    /// only (`Flow.willWrite`): Nagle cannot hold a connection's first write back.
    @inline(__always)
    public static func setNoDelay(_ fd: Int32) {
        _ = sl_setsockopt_int(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
    }

    /// The local address (`getsockname`), with IPv4-mapped addresses shown as IPv4.
    public static func localAddress(_ fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        guard sl_getsockname(fd, &storage, &length) != -1 else { return nil }
        return SocketAddress(storage)?.unmapped
    }

    /// The peer address (`getpeername`), with IPv4-mapped addresses shown as IPv4.
    public static func peerAddress(_ fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        guard sl_getpeername(fd, &storage, &length) != -1 else { return nil }
        return SocketAddress(storage)?.unmapped
    }

    /// Reads what is there without blocking. The corresponding C function is `recv`.
    @inline(__always)
    public static func recv(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> IOResult {
        io(isRead: true) { sl_recv(fd, buffer, count) }
    }

    /// Drops up to `count` received bytes of a TCP socket without copying them (`MSG_TRUNC`): how
    /// many were dropped, EOF, or would-block. The corresponding C function is `recv`.
    @inline(__always)
    public static func discard(_ fd: Int32, _ count: Int) -> IOResult {
        io(isRead: true) { sl_recv_discard(fd, count) }
    }

    /// Writes what the socket takes without blocking (no SIGPIPE). The corresponding C function is
    /// `send`.
    @inline(__always)
    public static func send(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> IOResult {
        io(isRead: false) { sl_send(fd, buffer, count) }
    }

    /// As `send`, telling the kernel more follows (`MSG_MORE`): a partial segment waits for it. Used
    /// for the last bytes before a shutdown or close, so the FIN leaves in the same segment.
    @inline(__always)
    public static func sendMore(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> IOResult {
        io(isRead: false) { sl_send_more(fd, buffer, count) }
    }

    /// Moves bytes between a socket and a pipe without copying them to user space. A read (into a
    /// pipe) of 0 is EOF. The corresponding C function is `splice`.
    @inline(__always)
    public static func splice(_ from: Int32, _ to: Int32, _ count: Int, isRead: Bool) -> IOResult {
        io(isRead: isRead) { sl_splice(from, to, count) }
    }

    /// Closes the write side: the peer reads EOF after the bytes already sent.
    @inline(__always)
    public static func shutdownWrite(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    /// Closes `fd`; with `reset`, the peer gets RST instead of FIN. Never retried on `EINTR`.
    @inline(__always)
    public static func close(_ fd: Int32, reset: Bool = false) {
        if reset { _ = sl_set_linger_reset(fd) }
        _ = Glibc.close(fd)
    }
}
