// DialState: what the dial path keeps for one connection — where it is going (the plan's forward
// targets, or the destination a proxy client asked for), the route of the current attempt, the
// nodes already tried, and the chain handshake's buffers.

/// The dial path's state, from the first route choice until the upstream is ready (the route stays
/// for the log lines that follow).
struct DialState {
    /// The step of the current attempt.
    enum Step { case idle, resolving, connecting, handshaking }

    var step = Step.idle
    /// What a proxy client asked for; nil for forwarders (the plan's targets, picked by selector).
    var requested: Destination?
    /// The forward target of the current attempt; -1 for proxy handlers and before the first pick.
    var targetIndex = -1
    /// The node of each chain hop in the current attempt.
    var hopNodes: [Int] = []
    /// Targets, and nodes of each hop, that failed in this connection: failover skips them.
    var triedTargets: UInt64 = 0
    var triedHopNodes: [UInt64] = []
    /// Attempts started so far.
    var attempts = 0
    /// Tags the current attempt (never 0 once one started): its upstream registration and its
    /// resolver answer carry it, so what an earlier attempt left behind is recognised and dropped.
    var attempt: UInt32 = 0
    /// The address being (or last) connected to: the target's, or the first chain node's.
    var address: SocketAddress?
    /// The chain handshake and its buffers, while a chain is being opened (and the target's first
    /// bytes after it); nil without a chain.
    var tunnel: ChainTunnel?

    /// Back to the start (a reused session); the buffers must have been released.
    mutating func reset() {
        step = .idle
        requested = nil
        targetIndex = -1
        hopNodes.removeAll(keepingCapacity: true)
        triedTargets = 0
        triedHopNodes.removeAll(keepingCapacity: true)
        attempts = 0
        attempt = 0
        address = nil
        tunnel = nil
    }

    /// Gives the handshake buffers back.
    mutating func releaseBuffers(_ r: RelayResources) {
        tunnel?.requests.release(to: r.buffers)
        tunnel?.replies.release(to: r.buffers)
    }
}

/// The connector handshakes through a chain and their bytes. A class, allocated only when a chain
/// is dialled, so a forwarder's session does not carry its buffers.
final class ChainTunnel: CustomStringConvertible {
    /// The handshakes, while they run (nil once the tunnel is open).
    var handshake: ChainHandshake?
    /// Handshake bytes for the first node not yet written.
    var requests = PendingBytes()
    /// Bytes from the first node not yet consumed by the handshake (after it: the target's first
    /// bytes, which reach the client first).
    var replies = PendingBytes()

    init(_ handshake: ChainHandshake) { self.handshake = handshake }

    var description: String { "ChainTunnel(step: \(handshake?.current ?? -1))" }
}

/// A proxy handler's side of the connection: its handshake and what the client asked for. A class,
/// allocated only for proxy handlers: its machines are several hundred bytes that a forwarder's
/// session (one per held connection) must not carry.
final class InboundState: CustomStringConvertible {
    var handshake: InboundHandshake
    /// The user the client named (GOST's `user` field), once known.
    var user: String?
    /// Plain HTTP proxying (absolute-form requests): requests and responses are framed.
    var forward: HTTPForwardState?

    init(handshake: InboundHandshake, user: String? = nil) {
        self.handshake = handshake
        self.user = user
    }

    var description: String { "InboundState(\(handshake), user: \(user ?? "nil"), forward: \(forward != nil))" }
}
