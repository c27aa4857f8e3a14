// TestConnection: a blocking TCP client socket for tests, with send/receive timeouts
// (SO_SNDTIMEO/SO_RCVTIMEO), half-close, reset, and errors that carry the errno text.
import CSluice
import Glibc
import Sluice

/// How the peer ended (or did not end) a connection, as seen by `waitForClose`.
public enum CloseOutcome: Equatable, Sendable {
    /// A clean FIN: `recv` returned 0.
    case eof
    /// `ECONNRESET` (or another error) from `recv`.
    case reset(Errno)
    /// Bytes arrived instead of a close (the first chunk).
    case data([UInt8])
    /// Nothing happened before the timeout.
    case timeout

    /// True for `.eof` and `.reset`: the connection is gone.
    public var isClosed: Bool {
        switch self {
        case .eof, .reset: true
        case .data, .timeout: false
        }
    }
}

/// One client connection. Blocking socket, close-on-exec; every call fails with a
/// `TestSupportError` after the connection's timeout instead of hanging a test.
public final class TestConnection: @unchecked Sendable {
    /// The socket, or -1 once closed.
    public private(set) var fd: Int32
    /// The send/receive timeout set on the socket.
    public let timeout: Duration
    /// The peer the connection was made to.
    public let remote: SocketAddress

    private init(fd: Int32, remote: SocketAddress, timeout: Duration) {
        self.fd = fd
        self.remote = remote
        self.timeout = timeout
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    /// Connects to `address`, optionally from the source address `from` (any port; e.g. 127.0.0.2).
    /// Fails after `timeout` when the handshake does not complete (Linux applies `SO_SNDTIMEO` to
    /// a blocking `connect`); the same timeout then applies to each send and receive.
    public static func connect(
        to address: SocketAddress, from source: IPAddress? = nil, timeout: Duration = .seconds(10)
    ) throws -> TestConnection {
        let fd = sl_socket_blocking(address.family, Int32(SOCK_STREAM.rawValue))
        guard fd != -1 else { throw TestSupportError.system("socket") }
        do {
            guard sl_set_timeouts(fd, max(1, timeout.totalMilliseconds)) != -1 else {
                throw TestSupportError.system("setsockopt SO_RCVTIMEO/SO_SNDTIMEO")
            }
            if let source {
                var storage = sockaddr_storage()
                let length = SocketAddress(source, port: 0).fill(&storage)
                guard sl_bind(fd, &storage, length) != -1 else { throw TestSupportError.system("bind \(source)") }
            }
            var storage = sockaddr_storage()
            let length = address.fill(&storage)
            while sl_connect(fd, &storage, length) == -1 {
                let error = Errno.current
                if error == .interrupted { continue }
                throw TestSupportError("connect to \(address)", errno: error)
            }
            return TestConnection(fd: fd, remote: address, timeout: timeout)
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// Connects to `127.0.0.1:port`.
    public static func connect(port: UInt16, timeout: Duration = .seconds(10)) throws -> TestConnection {
        try connect(to: SocketAddress(.v4(IPv4Address(127, 0, 0, 1)), port: port), timeout: timeout)
    }

    /// The local address of the socket.
    public var localAddress: SocketAddress? { Socket.localAddress(fd) }

    // MARK: Sending

    /// Sends every byte (looping over partial sends); throws on error or timeout.
    public func sendAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try sendAll($0) }
    }

    public func sendAll(_ text: String) throws { try sendAll(Array(text.utf8)) }

    public func sendAll(_ data: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < data.count {
            let n = sl_send_blocking(fd, data.baseAddress! + offset, data.count - offset)
            if n == -1 {
                let error = Errno.current
                if error == .interrupted { continue }
                throw TestSupportError("send to \(remote) (\(offset) of \(data.count) bytes sent)", errno: error)
            }
            offset += n
        }
    }

    /// Sends `count` bytes of `pattern` starting at stream offset `from`, in chunks, without
    /// materialising them all.
    public func send(_ pattern: DataPattern, from start: Int = 0, count: Int, chunk: Int = 64 << 10) throws {
        var buffer = [UInt8](repeating: 0, count: min(chunk, max(count, 1)))
        var sent = 0
        while sent < count {
            let run = min(buffer.count, count - sent)
            try buffer.withUnsafeMutableBytes { raw in
                pattern.fill(UnsafeMutableRawBufferPointer(rebasing: raw[0..<run]), from: start + sent)
                try sendAll(UnsafeRawBufferPointer(rebasing: raw[0..<run]))
            }
            sent += run
        }
    }

    // MARK: Receiving

    /// One `recv` of at most `count` bytes: the bytes, or an empty array at EOF. Throws on error or
    /// timeout.
    public func receive(upTo count: Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let n = try buffer.withUnsafeMutableBytes { try receive(into: $0) }
        buffer.removeSubrange(n...)
        return buffer
    }

    /// One `recv` into `buffer`; returns the byte count (0 at EOF).
    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = sl_recv_blocking(fd, buffer.baseAddress!, buffer.count)
            if n >= 0 { return n }
            let error = Errno.current
            if error == .interrupted { continue }
            throw TestSupportError("recv from \(remote)", errno: error)
        }
    }

    /// Exactly `count` bytes; throws when EOF comes first (saying how many arrived) or on timeout.
    public func receive(exactly count: Int) throws -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(count)
        try receiveStream(exactly: count) { result.append(contentsOf: $0) }
        return result
    }

    /// Receives exactly `count` bytes, handing each chunk to `body` (nothing is kept).
    public func receiveStream(
        exactly count: Int, chunk: Int = 64 << 10, _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var buffer = [UInt8](repeating: 0, count: min(chunk, max(count, 1)))
        var received = 0
        try buffer.withUnsafeMutableBytes { raw in
            while received < count {
                let want = min(raw.count, count - received)
                let n = try receive(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<want]))
                if n == 0 {
                    throw TestSupportError("recv from \(remote)", detail: "EOF after \(received) of \(count) bytes")
                }
                try body(UnsafeRawBufferPointer(rebasing: raw[0..<n]))
                received += n
            }
        }
    }

    /// Everything until EOF; throws when more than `limit` bytes arrive, on error, or on timeout.
    public func receiveUntilEOF(limit: Int = 64 << 20) throws -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try receive(into: $0) }
            if n == 0 { return result }
            result.append(contentsOf: buffer[0..<n])
            if result.count > limit {
                throw TestSupportError("recv from \(remote)", detail: "more than \(limit) bytes before EOF")
            }
        }
    }

    /// Reads and checksums everything until EOF without keeping it.
    public func checksumUntilEOF() throws -> Checksum {
        var sum = Checksum()
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try receive(into: $0) }
            if n == 0 { return sum }
            buffer.withUnsafeBytes { sum.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
    }

    /// Waits up to `timeout` for the peer to close: `.eof`, `.reset`, `.data` (the first bytes that
    /// arrived instead), or `.timeout`. Uses `poll`, so the socket's own timeout does not matter.
    public func waitForClose(timeout: Duration) -> CloseOutcome {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let deadline = Deadline(timeout)
        while true {
            let ready = poll(&entry, 1, deadline.remainingMilliseconds)
            if ready == -1 && Errno.current == .interrupted { continue }
            if ready <= 0 { return .timeout }
            break
        }
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        let n = buffer.withUnsafeMutableBytes { sl_recv(fd, $0.baseAddress!, $0.count) }
        if n > 0 { return .data(Array(buffer[0..<n])) }
        if n == 0 { return .eof }
        let error = Errno.current
        return error == .wouldBlock ? .timeout : .reset(error)
    }

    /// The bytes already queued on the socket, without waiting (at most `limit`).
    public func receiveAvailable(limit: Int = 64 << 10) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: limit)
        let n = buffer.withUnsafeMutableBytes { sl_recv(fd, $0.baseAddress!, $0.count) }
        return n > 0 ? Array(buffer[0..<n]) : []
    }

    /// Sends `data` and receives `expectedCount` bytes back on this one thread without risking a
    /// deadlock when neither side's buffers can hold everything: it sends in 16 KiB chunks and
    /// drains whatever has arrived between chunks, then receives the rest.
    public func exchange(_ data: [UInt8], expecting expectedCount: Int) throws -> [UInt8] {
        var received: [UInt8] = []
        received.reserveCapacity(expectedCount)
        var offset = 0
        let chunk = 16 << 10
        while offset < data.count {
            let end = min(data.count, offset + chunk)
            try data.withUnsafeBytes { try sendAll(UnsafeRawBufferPointer(rebasing: $0[offset..<end])) }
            offset = end
            while received.count < expectedCount {
                let more = receiveAvailable(limit: expectedCount - received.count)
                if more.isEmpty { break }
                received.append(contentsOf: more)
            }
        }
        if received.count < expectedCount {
            received.append(contentsOf: try receive(exactly: expectedCount - received.count))
        }
        return received
    }

    // MARK: Options and shutdown

    /// Disables Nagle's algorithm.
    public func setNoDelay(_ on: Bool = true) {
        _ = sl_setsockopt_int(fd, Int32(IPPROTO_TCP), TCP_NODELAY, on ? 1 : 0)
    }

    /// Sends FIN: the peer reads EOF after the bytes already sent; receiving still works.
    public func shutdownWrite() throws {
        guard Glibc.shutdown(fd, Int32(SHUT_WR)) != -1 else { throw TestSupportError.system("shutdown SHUT_WR") }
    }

    /// Shuts down both directions without closing: wakes any thread blocked on this socket (a
    /// sender thread after a failed receive, say). The descriptor stays valid until `close`.
    public func shutdown() {
        guard fd >= 0 else { return }
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Closes the socket with FIN. Idempotent.
    public func close() {
        guard fd >= 0 else { return }
        Glibc.close(fd)
        fd = -1
    }

    /// Closes the socket with RST (`SO_LINGER {1, 0}`). Idempotent.
    public func reset() {
        guard fd >= 0 else { return }
        _ = sl_set_linger_reset(fd)
        Glibc.close(fd)
        fd = -1
    }
}
