// The handler, listener, connector and dialer names GOST registers: the command line falls back to
// `auto`/`tcp`/`http`/`tcp` for any other name, so these lists decide what a scheme means.

/// Type names known to GOST v3.2.6 (`cmd/gost/register.go` and the `registry.*Registry().Register`
/// calls in go-gost/x v0.8.1), plus `runix` from x HEAD. Sluice implements only a few of them;
/// the rest parse as GOST would and are rejected when the plan is made.
enum GostRegistry {
    static let handlers: Set<String> = [
        "api", "auto", "dns", "file", "forward", "http", "http2", "http3", "metrics", "red", "redir", "redirect",
        "redu", "relay", "router", "rtcp", "rudp", "runix", "serial", "sni", "socks", "socks4", "socks4a",
        "socks5", "ss", "sshd", "ssu", "tap", "tcp", "tun", "tungo", "tunnel", "udp", "unix",
    ]

    static let listeners: Set<String> = [
        "dns", "dtls", "ftcp", "grpc", "h2", "h2c", "h3", "http2", "http3", "icmp", "icmp6", "kcp", "mtcp", "mtls",
        "mws", "mwss", "ohttp", "otls", "pht", "phts", "quic", "red", "redir", "redirect", "redu", "rtcp", "rudp",
        "runix", "serial", "ssh", "sshd", "tap", "tcp", "tls", "tun", "tungo", "udp", "unix", "ws", "wss", "wt",
    ]

    static let connectors: Set<String> = [
        "direct", "forward", "http", "http2", "relay", "router", "serial", "sni", "socks", "socks4", "socks4a",
        "socks5", "ss", "sshd", "ssu", "tcp", "tunnel", "unix", "virtual",
    ]

    static let dialers: Set<String> = [
        "direct", "dtls", "ftcp", "grpc", "h2", "h2c", "h3", "http2", "http3", "icmp", "icmp6", "kcp", "mtcp", "mtls",
        "mws", "mwss", "ohttp", "ohttps", "otls", "pht", "phts", "quic", "serial", "ssh", "sshd", "tcp", "tls", "udp",
        "unix", "virtual", "ws", "wss", "wt",
    ]

    /// Sluice's own handlers, which GOST does not have: the built-in load-test targets. The command
    /// line recognises them like GOST's names (instead of falling back to `auto`).
    static let sluiceHandlers: Set<String> = ["echo", "discard", "info"]

    /// Every handler name a `-L` URL or a configuration file may give: GOST's and Sluice's own.
    static let allHandlers = handlers.union(sluiceHandlers)

    /// Listeners whose forward mode forces the handler to the listener's name
    /// (`buildServiceConfig`); any other listener with targets gets the `forward` handler.
    static let forwardingListeners: Set<String> = [
        "tcp", "udp", "rtcp", "rudp", "tun", "tap", "dns", "unix", "runix", "serial",
    ]

    /// Listeners that bind through the chain, so `-F` sets `listener.chain` instead of
    /// `handler.chain` (`BuildConfigFromCmd`).
    static let bindingListeners: Set<String> = ["rtcp", "rudp", "runix"]
}
