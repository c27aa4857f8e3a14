// Targets that fail on purpose: a black hole whose connects hang (for dial timeouts) and a closed
// port whose connects are refused (for dial errors and failover).
import CSluice
import Glibc
import Sluice

/// A listener whose connects never complete, for dial-timeout tests.
///
/// How it hangs a connect on loopback: the socket listens with backlog 0 and never calls
/// `accept`. Linux treats the accept queue as full once it holds *more than* `backlog` entries, so
/// one completed handshake fills it; from then on every SYN is dropped (`ListenOverflows`, with or
/// without SYN cookies), and the client's connect sits in SYN_SENT retransmitting SYNs (1 s, 3 s,
/// 7 s, …) until its own timeout. `init` fills the queue with two filler connections before it
/// returns, so the very next connect already hangs. The self-test
/// `TestSupportSelfTests.blackHoleHangsConnect` checks a connect does not complete within 1 s.
public final class SilentServer: @unchecked Sendable {
    /// The bound address.
    public let address: SocketAddress
    private var listener: Int32
    private var fillers: [Int32] = []

    public init(address: SocketAddress = loopbackAnyPort) throws {
        ResourceWatch.starting("a silent listener on \(address)")
        let fd: Int32
        do {
            fd = try Socket.listen(on: address, reusePort: false, backlog: 0)
        } catch {
            throw TestSupportError("listen on \(address)", errno: error)
        }
        listener = fd
        guard let bound = Socket.localAddress(fd) else {
            Glibc.close(fd)
            throw TestSupportError.system("getsockname")
        }
        self.address = bound
        // Filler 1 completes its handshake and occupies the queue; filler 2 makes sure of it (if
        // the kernel admitted one more, it takes that place). Both stay open until `stop`.
        for i in 0..<2 {
            let filler: Int32
            do {
                filler = try Socket.startConnect(to: bound)
            } catch {
                stop()
                throw TestSupportError("connect filler \(i) to \(bound)", errno: error)
            }
            fillers.append(filler)
            var entry = pollfd(fd: filler, events: Int16(POLLOUT), revents: 0)
            _ = poll(&entry, 1, i == 0 ? 1000 : 100)
        }
    }

    deinit { stop() }

    public var port: UInt16 { address.port }

    /// The target text for a `-L` URL.
    public var target: String { address.description }

    /// Closes the fillers and the listener. Idempotent.
    public func stop() {
        for fd in fillers { Glibc.close(fd) }
        fillers = []
        if listener >= 0 { Glibc.close(listener) }
        listener = -1
    }
}

/// A port where nothing listens: connects to it are refused (RST). It holds the port with a bound
/// socket that never listens, so no other test can start a listener there meanwhile.
public final class ClosedPort: @unchecked Sendable {
    /// The address that refuses connections.
    public let address: SocketAddress
    private var fd: Int32

    public init(address: SocketAddress = loopbackAnyPort) throws {
        ResourceWatch.starting("a closed port on \(address)")
        fd = sl_socket(address.family, Int32(SOCK_STREAM.rawValue))
        guard fd != -1 else { throw TestSupportError.system("socket") }
        var storage = sockaddr_storage()
        let length = address.fill(&storage)
        guard sl_bind(fd, &storage, length) != -1, let bound = Socket.localAddress(fd) else {
            let error = TestSupportError.system("bind \(address)")
            Glibc.close(fd)
            throw error
        }
        self.address = bound
    }

    deinit { close() }

    public var port: UInt16 { address.port }

    /// The target text for a `-L` URL.
    public var target: String { address.description }

    /// Releases the port. Idempotent.
    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}

/// A plain listener that holds a port (and never accepts), for "address already in use" tests.
public final class PortHolder: @unchecked Sendable {
    public let address: SocketAddress
    private var fd: Int32

    public init(address: SocketAddress = loopbackAnyPort) throws {
        ResourceWatch.starting("a port holder on \(address)")
        do {
            fd = try Socket.listen(on: address, reusePort: false, backlog: 16)
        } catch {
            throw TestSupportError("listen on \(address)", errno: error)
        }
        guard let bound = Socket.localAddress(fd) else {
            Glibc.close(fd)
            throw TestSupportError.system("getsockname")
        }
        self.address = bound
    }

    deinit { close() }

    public var port: UInt16 { address.port }

    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}
