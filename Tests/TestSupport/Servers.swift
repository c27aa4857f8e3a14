// The typed loopback servers the tests use as forwarding targets (echo, recording, sink, sender,
// half-close, reset), each a thin face over one `LoopbackServer`.
import Sluice

/// `127.0.0.1:0`: the default bind address of every test server.
public let loopbackAnyPort = SocketAddress(.v4(IPv4Address(127, 0, 0, 1)), port: 0)

/// `[::1]:0`.
public let loopbackV6AnyPort = SocketAddress(.v6(.loopback), port: 0)

/// What every typed server offers: its address, its connections, waiting, and stopping.
public protocol TestServer: AnyObject, Sendable {
    /// The engine doing the work.
    var server: LoopbackServer { get }
}

extension TestServer {
    /// The bound address.
    public var address: SocketAddress { server.address }
    /// The bound port.
    public var port: UInt16 { server.port }
    /// How many connections were accepted so far.
    public var acceptedCount: Int { server.acceptedCount }
    /// How many accepted connections the server has closed.
    public var closedCount: Int { server.closedCount }
    /// A snapshot of every accepted connection, in accept order.
    public var records: [ServerConnection] { server.connections }
    /// Stops the server thread and closes everything. Idempotent; also done on deinit.
    public func stop() { server.stop() }

    /// Waits until at least `count` connections were accepted; false on timeout.
    @discardableResult
    public func waitForAccepted(_ count: Int, timeout: Duration = .seconds(10)) -> Bool {
        server.waitForAccepted(count, timeout: timeout)
    }

    /// Waits until at least `count` connections were accepted and closed; false on timeout.
    @discardableResult
    public func waitForClosed(_ count: Int, timeout: Duration = .seconds(10)) -> Bool {
        server.waitForClosed(count, timeout: timeout)
    }

    /// How many connections were accepted, once nothing waits to be accepted (see
    /// `LoopbackServer.acceptedCountOnceSettled`); nil on timeout.
    public func acceptedCountOnceSettled(timeout: Duration = .seconds(10)) -> Int? {
        server.acceptedCountOnceSettled(timeout: timeout)
    }

    /// The target text a `-L` URL uses for this server, e.g. `127.0.0.1:41234` or `[::1]:41234`.
    public var target: String { address.description }
}

/// Echoes everything back. Half-close aware: on the client's EOF it finishes echoing, then shuts
/// down its write side and closes. Stops reading while 256 KiB wait to be echoed (back-pressure).
public final class EchoServer: TestServer {
    public let server: LoopbackServer

    public init(address: SocketAddress = loopbackAnyPort) throws {
        server = try LoopbackServer(address: address, behaviour: .echo)
    }
}

/// Records the bytes of each accepted connection until EOF, then closes. Optionally sends a canned
/// reply on accept or after the first bytes arrive.
public final class RecordingServer: TestServer {
    public let server: LoopbackServer

    public init(
        address: SocketAddress = loopbackAnyPort, reply: [UInt8] = [],
        replyWhen trigger: ServerBehaviour.ReplyTrigger = .onAccept
    ) throws {
        server = try LoopbackServer(address: address, behaviour: .record(reply: reply, trigger: trigger))
    }

    /// The bytes received on each connection so far, in accept order.
    public var connections: [[UInt8]] { server.connections.map(\.data) }

    /// Waits until connection `index` has received at least `count` bytes; returns its bytes, or
    /// nil on timeout.
    public func waitForBytes(_ count: Int, on index: Int = 0, timeout: Duration = .seconds(10)) -> [UInt8]? {
        waitFor(timeout: timeout) {
            let list = server.connections
            guard index < list.count, list[index].data.count >= count else { return nil }
            return list[index].data
        }
    }
}

/// Reads and discards, counting bytes; closes at EOF.
public final class SinkServer: TestServer {
    public let server: LoopbackServer

    public init(address: SocketAddress = loopbackAnyPort) throws {
        server = try LoopbackServer(address: address, behaviour: .sink)
    }

    /// Bytes received over all connections.
    public var totalReceived: Int { server.connections.reduce(0) { $0 + $1.bytesReceived } }
}

/// On accept, sends `count` bytes of `DataPattern(seed:)` as fast as the client reads, then either
/// closes, or (`.shutdownWriteAndRead`) half-closes and keeps reading until the client's EOF.
/// It reads (and checksums) whatever the client sends meanwhile.
public final class SenderServer: TestServer {
    public let server: LoopbackServer
    /// The byte stream it sends; compare with `pattern.checksum(count:)` or `pattern.matches`.
    public let pattern: DataPattern
    public let count: Int

    public init(
        count: Int, seed: UInt64 = 1, then after: ServerBehaviour.AfterSending = .close,
        address: SocketAddress = loopbackAnyPort
    ) throws {
        pattern = DataPattern(seed: seed)
        self.count = count
        server = try LoopbackServer(address: address, behaviour: .send(count: count, pattern: pattern, then: after))
    }
}

/// Reads until the client's EOF (checksumming), then replies with `replyCount` bytes of
/// `DataPattern(seed:)`, then closes.
public final class HalfCloseServer: TestServer {
    public let server: LoopbackServer
    public let pattern: DataPattern
    public let replyCount: Int

    public init(replyCount: Int, seed: UInt64 = 2, address: SocketAddress = loopbackAnyPort) throws {
        pattern = DataPattern(seed: seed)
        self.replyCount = replyCount
        server = try LoopbackServer(address: address, behaviour: .replyAfterEOF(count: replyCount, pattern: pattern))
    }
}

/// On accept, sends `count` bytes of `DataPattern(seed:)`, waits 50 ms for them to reach the client,
/// then closes with RST (`SO_LINGER {1, 0}`). Keep `count` within one receive window (≤ 64 KiB):
/// bytes still unsent when the RST goes out are discarded.
public final class ResetServer: TestServer {
    public let server: LoopbackServer
    public let pattern: DataPattern
    public let count: Int

    public init(count: Int, seed: UInt64 = 3, address: SocketAddress = loopbackAnyPort) throws {
        pattern = DataPattern(seed: seed)
        self.count = count
        server = try LoopbackServer(address: address, behaviour: .reset(count: count, pattern: pattern))
    }
}
