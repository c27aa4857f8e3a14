// Pure pieces of the robustness work: a reused session starts clean, the resolver pool does not let
// one slow name hold up the others, and the SOCKS5 client checks what it is sent.
import CSluice
import Glibc
import Synchronization
import Testing

@testable import Sluice

@Suite struct RobustnessUnitTests {
    /// Every stored field of a session as text, but the reactor and what it assigns at accept.
    static func fields(_ session: Session) -> [String] {
        Mirror(reflecting: session).children.compactMap { child in
            guard let label = child.label, !["reactor", "slot", "generation"].contains(label) else { return nil }
            return "\(label)=\(child.value)"
        }
    }

    /// A reactor with no listeners (never run), and its log sink: close the sink when done (its
    /// writer thread holds it unowned).
    static func makeReactor() throws -> (Reactor, LogSink) {
        let sink = LogSink(fd: sl_open_append("/dev/null"))
        let reactor = try Reactor(
            index: 0, listeners: [], logger: Logger(level: .error, sink: sink), resolver: Resolver(), pipeLimit: 0
        ) {}
        return (reactor, sink)
    }

    /// A session used for one connection and reset is indistinguishable from a new one. The field
    /// count pins the list: a new field must be added to `reset()` (and here).
    @Test func resetSessionEqualsANewOne() throws {
        let (reactor, sink) = try Self.makeReactor()
        defer { sink.close() }
        let fresh = Session(reactor: reactor)
        let used = Session(reactor: reactor)
        let plan = ServicePlan(
            name: "s", listen: SocketAddress(.v4(IPv4Address(0)), port: 1), handler: .tcp, listener: "tcp",
            targets: [TargetPlan(name: "t", host: "127.0.0.1", port: 9, text: "127.0.0.1:9")])
        let somewhere = SocketAddress(.v4(IPv4Address(192, 0, 2, 1)), port: 1234)
        used.service = Service(plan: plan, index: 0)
        used.phase = .relaying
        used.clientFD = 5
        used.upstreamFD = 6
        used.remote = somewhere
        used.local = somewhere
        used.client = somewhere
        used.originalDestination = somewhere
        used.proxyHeader = ReceivedProxyHeader(
            ProxyHeader(
                version: .v2, command: .local, family: .unspec, transport: .unspec, addresses: .none,
                tlvs: [.noop(count: 1)]))
        used.id = SessionID(high: 1, low: 2)
        used.acceptedAt = 10
        used.connectedAt = 11
        used.lastActivity = 13
        used.input.bytesRead = 100
        used.output.eof = true
        used.handlerText = LogText("socks5")
        used.inbound = InboundState(handshake: InboundHandshake(handler: .auto, options: InboundOptions()), user: "u")
        used.dial.requested = Destination(somewhere)
        used.dial.targetIndex = 0
        used.dial.hopNodes = [1]
        used.dial.triedTargets = 1
        used.dial.triedHopNodes = [1]
        used.dial.attempts = 2
        used.dial.attempt = 77
        used.dial.address = somewhere
        used.dial.step = .handshaking
        used.dial.tunnel = ChainTunnel(
            ChainHandshake(steps: [.init(connector: .http, target: "a:1", auth: nil, headers: [], nodeName: "n")]))
        used.deadline = 12
        used.armedTick = 14
        used.queued = true
        used.reset()
        #expect(Self.fields(used) == Self.fields(fresh))
        #expect(Self.fields(fresh).count == 21, "a new Session field: reset() it, then update this count")
    }

    /// One name that takes long to look up holds one resolver thread; other names are answered
    /// meanwhile. Answers carry the dial attempt they were asked for.
    @Test func slowLookupDoesNotHoldUpOthers() throws {
        let release = Atomic<Bool>(false)
        let resolver = Resolver(maxThreads: 2) { host in
            if host == "slow.test" {
                while !release.load(ordering: .relaxed) { usleep(1_000) }
            }
            return SocketAddress(.v4(IPv4Address(192, 0, 2, host == "slow.test" ? 1 : 2)), port: 0)
        }
        defer {
            release.store(true, ordering: .relaxed)
            resolver.stop()
        }
        let mailbox = try Mailbox()
        resolver.request(host: "slow.test", port: 80, reply: mailbox, slot: 1, generation: 1, attempt: 5)
        resolver.request(host: "fast.test", port: 81, reply: mailbox, slot: 2, generation: 1, attempt: 9)
        var pfd = pollfd(fd: mailbox.fd, events: Int16(POLLIN), revents: 0)
        #expect(poll(&pfd, 1, 10_000) == 1)
        let messages = mailbox.drain()
        #expect(messages.count == 1)
        guard case .resolved(let slot, _, let attempt, let address)? = messages.first else {
            Issue.record("no answer")
            return
        }
        #expect(slot == 2)
        #expect(attempt == 9)
        #expect(address == SocketAddress(.v4(IPv4Address(192, 0, 2, 2)), port: 81))
    }

    /// RFC 1929's status reply starts with version 1; anything else is a broken handshake.
    @Test func socks5AuthenticationReplyVersionIsChecked() {
        var handshake = SOCKS5Connect(target: "example.com:80", auth: Credentials(username: "u", password: "p"))
        _ = [UInt8]([5, 2]).withUnsafeBytes { handshake.received($0) }
        let bad = [UInt8]([5, 0]).withUnsafeBytes { handshake.received($0) }
        #expect(bad == .failed("socks5: bad authentication reply version 5"))
        var good = SOCKS5Connect(target: "example.com:80", auth: Credentials(username: "u", password: "p"))
        _ = [UInt8]([5, 2]).withUnsafeBytes { good.received($0) }
        guard case .send = [UInt8]([1, 0]).withUnsafeBytes({ good.received($0) }) else {
            Issue.record("a valid status reply should lead to the CONNECT request")
            return
        }
    }

    /// Credentials longer than RFC 1929 allows fail the handshake instead of being truncated.
    @Test func socks5OversizedCredentialsFailTheHandshake() {
        var handshake = SOCKS5Connect(
            target: "example.com:80", auth: Credentials(username: String(repeating: "u", count: 256), password: "p"))
        let step = [UInt8]([5, 2]).withUnsafeBytes { handshake.received($0) }
        #expect(step == .failed("socks5: user name or password longer than 255 bytes"))
    }
}
