// The model of the loopback test servers: what a server does with each connection
// (`ServerBehaviour`) and what it saw on each one (`ServerConnection`).
import Sluice

/// What a server does with each accepted connection. Every server reads whatever the client sends
/// (and counts and checksums it) unless a behaviour says otherwise.
public enum ServerBehaviour: Sendable {
    /// When a `RecordingServer` sends its canned reply.
    public enum ReplyTrigger: Sendable {
        case onAccept
        case afterFirstBytes
    }

    /// What a `SenderServer` does once all its bytes are sent.
    public enum AfterSending: Sendable {
        /// Close the connection (FIN).
        case close
        /// Close, with `TCP_CORK` on from the accept: short bytes and the FIN leave in one segment,
        /// as from an origin that corks its response.
        case closeCorked
        /// `shutdown(SHUT_WR)`, then keep reading until the client's EOF, then close.
        case shutdownWriteAndRead
    }

    /// Echo every byte; on EOF finish echoing, then shut down the write side and close.
    case echo
    /// Keep every byte; optionally send `reply`; close at the client's EOF.
    case record(reply: [UInt8], trigger: ReplyTrigger)
    /// Read and discard (counting); close at the client's EOF.
    case sink
    /// Send `count` bytes of `pattern` as fast as the client reads, then act on `then`.
    case send(count: Int, pattern: DataPattern, then: AfterSending)
    /// Read until EOF, then send `count` bytes of `pattern`, then close.
    case replyAfterEOF(count: Int, pattern: DataPattern)
    /// Send `count` bytes of `pattern`, wait briefly for them to reach the client, then close
    /// with RST (`SO_LINGER {1, 0}`).
    case reset(count: Int, pattern: DataPattern)
}

/// What a server saw on one accepted connection. Updated live by the server thread.
public struct ServerConnection: Sendable {
    /// Accept order, from 0.
    public var index: Int
    /// The client's address (for a forwarded connection: the forwarder's upstream socket).
    public var peer: SocketAddress?
    /// Checksum and count of every byte received.
    public var received = Checksum()
    /// The bytes received (recording servers only).
    public var data: [UInt8] = []
    /// Bytes written to the client.
    public var bytesSent = 0
    /// The client's FIN arrived.
    public var sawEOF = false
    /// The error that ended the connection (e.g. `ECONNRESET`), if any.
    public var error: Errno?
    /// The server thread has finished its first turn on the connection (a reply on accept is
    /// written or queued by then).
    public var isHandled = false
    /// The server has closed its socket.
    public var isClosed = false
    /// When the connection was accepted and closed (monotonic).
    public var acceptedAt = Monotonic.now
    public var closedAt: Monotonic.Instant?

    /// Bytes received so far.
    public var bytesReceived: Int { received.count }
}

extension ServerBehaviour {
    var pattern: DataPattern? {
        switch self {
        case .send(_, let p, _), .replyAfterEOF(_, let p), .reset(_, let p): p
        case .echo, .record, .sink: nil
        }
    }
}
