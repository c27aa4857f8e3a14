// CloseReason: why a connection ended. Every session ends with exactly one, logged once on its
// close line (field `reason`).

/// The one reason a session closed.
public enum CloseReason: Equatable, Sendable {
    /// Both directions reached EOF and every byte was written.
    case done
    /// The client's socket failed (reset, broken pipe…).
    case clientError(Errno)
    /// The upstream's socket failed.
    case upstreamError(Errno)
    /// No target or chain node could be connected.
    case dialFailed(Errno)
    /// The dial did not complete within `dialTimeout`.
    case dialTimeout
    /// A target host name did not resolve.
    case resolveFailed
    /// No node was available.
    case noTarget
    /// No bytes moved either way for `idleTimeout`.
    case idleTimeout
    /// The client closed before the upstream was ready.
    case clientClosedEarly
    /// The PROXY header was malformed.
    case headerInvalid
    /// The PROXY header did not complete before its deadline (or never came, in required mode).
    case headerTimeout
    /// Required mode: a trusted peer sent no header.
    case headerMissing
    /// A chain hop refused or broke the handshake.
    case handshakeFailed
    /// A proxy handler refused the client's request (malformed, unsupported, wrong credentials).
    case requestRefused
    /// A proxy client did not complete its request before the handshake deadline.
    case requestTimeout
    /// The process is shutting down and the grace period ended.
    case shutdown
    /// The process ran out of file descriptors.
    case outOfDescriptors
    /// Another resource of this machine ran out (ENOBUFS, EADDRNOTAVAIL, ENOMEM, epoll watches):
    /// not the target's fault, so no node is marked as failed.
    case localError(Errno)

    /// The name logged in the `reason` field.
    public var name: StaticString {
        switch self {
        case .done: "done"
        case .clientError: "clientError"
        case .upstreamError: "upstreamError"
        case .dialFailed: "dialFailed"
        case .dialTimeout: "dialTimeout"
        case .resolveFailed: "resolveFailed"
        case .noTarget: "noTarget"
        case .idleTimeout: "idleTimeout"
        case .clientClosedEarly: "clientClosedEarly"
        case .headerInvalid: "headerInvalid"
        case .headerTimeout: "headerTimeout"
        case .headerMissing: "headerMissing"
        case .handshakeFailed: "handshakeFailed"
        case .requestRefused: "requestRefused"
        case .requestTimeout: "requestTimeout"
        case .shutdown: "shutdown"
        case .outOfDescriptors: "outOfDescriptors"
        case .localError: "localError"
        }
    }

    /// Whether the other side should see a reset (the failure was a reset on this side).
    var propagatesReset: Bool {
        switch self {
        case .clientError(let e), .upstreamError(let e): e == .connectionReset
        default: false
        }
    }
}
