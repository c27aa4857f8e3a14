// The kernel work per connection, as strace sees the real binary do it: the FIN rides on the last
// bytes, TCP_NODELAY waits for a socket's second write, the handshake's last ACK is delayed only
// when bytes are in hand, and every listener accepts at once (no TCP_DEFER_ACCEPT).
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration {
    /// Each traced test runs sluice (`-threads 1`) under `strace -f` (see `TracedSluice`), drives one
    /// connection on loopback, waits until the session's close line is logged (by then every call
    /// the reactor made for it is in the trace, which strace writes as the calls return), and then
    /// reads the calls on the session's two descriptors in order.
    @Suite("Kernel work per connection (strace)", .timeLimit(.minutes(3)))
    struct KernelWorkTests {
        /// The calls the relay tests trace: the accept names the client's descriptor (by its
        /// port), the connect the upstream's.
        static let relayCalls = ["accept4", "setsockopt", "connect", "sendto", "recvfrom", "shutdown"]

        /// Starts a traced `-L tcp://127.0.0.1:0/<target>[?query] -threads 1`.
        static func forwarder(to target: String, query: String = "") throws -> TracedSluice {
            let url = "tcp://127.0.0.1:0/\(target)" + (query.isEmpty ? "" : "?\(query)")
            return try TracedSluice.start(["-L", url, "-threads", "1"], tracing: relayCalls)
        }

        /// The descriptor sluice accepted `client` on: the `accept4` whose peer port is the client's.
        static func clientFD(_ traced: TracedSluice, _ client: TestConnection) throws -> Int32 {
            let port = try #require(client.localAddress?.port)
            let accept = try #require(
                traced.waitForCall { $0.name == "accept4" && $0.port == port && ($0.returnValue ?? -1) >= 0 },
                "no accept4 of the client (port \(port)) in the trace:\n\(traced.logText)")
            return try #require(accept.returnValue.flatMap { Int32(exactly: $0) })
        }

        /// The `connect` to `port` (the upstream's socket is its first argument).
        static func connectCall(_ traced: TracedSluice, port: UInt16) throws -> TracedCall {
            try #require(
                traced.waitForCall { $0.name == "connect" && $0.port == port },
                "no connect to port \(port) in the trace:\n\(traced.logText)")
        }

        /// Waits for the session's close line (` >< `): every call of the session is traced by then.
        static func waitForSessionEnd(_ traced: TracedSluice) {
            #expect(
                traced.sluice.waitForMessage(containing: " >< ") != nil,
                "no close line:\n\(traced.sluice.stderrText)")
        }

        /// The calls of `calls` named `name` on descriptor `fd`, in order.
        static func calls(_ calls: [TracedCall], _ name: String, on fd: Int32) -> [TracedCall] {
            calls.filter { $0.name == name && $0.fd == fd }
        }

        /// The trace for a failure message.
        static func show(_ calls: [TracedCall]) -> String { calls.map(\.text).joined(separator: "\n") }

        // MARK: The FIN rides on the last bytes

        /// An upstream sends 300 bytes and closes, its FIN in the segment of the bytes (corked, so
        /// sluice's read sees both at once). That read comes back short with the FIN queued, so it
        /// is the EOF: the bytes go to the client with MSG_MORE, the shutdown of the client's write
        /// side follows, and the upstream is never read again just to see its EOF
        /// (no `recvfrom(upstream) = 0`). The client, silent, gets exactly the 300 bytes, then EOF.
        @Test func finRidesOnTheLastBytesWithoutAnEOFRead() throws {
            let upstream = try SenderServer(count: 300, seed: 5, then: .closeCorked)
            let traced = try Self.forwarder(to: upstream.target)
            defer { traced.stop() }
            let client = try traced.sluice.connect()
            let clientFD = try Self.clientFD(traced, client)
            let received = try client.receiveUntilEOF()
            #expect(received == upstream.pattern.bytes(count: 300), "got \(received.count) bytes")
            client.close()
            Self.waitForSessionEnd(traced)
            let upstreamFD = try #require(try Self.connectCall(traced, port: upstream.port).fd)
            let shutdown = try #require(
                traced.waitForCall { $0.name == "shutdown" && $0.fd == clientFD && $0.argument(1) == "SHUT_WR" },
                "no shutdown(client, SHUT_WR):\n\(traced.logText)")
            let calls = traced.calls
            let sends = Self.calls(calls, "sendto", on: clientFD)
            #expect(sends.count == 1, "\(Self.show(calls))")
            let last = try #require(sends.last)
            #expect(last.returnValue == 300 && last.flags(3).contains("MSG_MORE"), "\(Self.show(calls))")
            #expect(last.index < shutdown.index, "\(Self.show(calls))")
            let eofReads = Self.calls(calls, "recvfrom", on: upstreamFD).filter { $0.returnValue == 0 }
            #expect(eofReads.isEmpty, "a read only to see the EOF:\n\(Self.show(calls))")
        }

        /// 8 MiB then a close, read by the client as it comes: mid-stream, before the FIN is in,
        /// the relay's reads come back short now and then and must not end the stream; only a short
        /// read with the FIN queued does. Every byte arrives intact, then EOF. (Untraced: the data is
        /// what counts here.)
        @Test func bulkThenCloseDeliversEveryByte() throws {
            let count = 8 << 20
            let upstream = try SenderServer(count: count, then: .close)
            let sluice = try SluiceProcess.start(["-L", "tcp://127.0.0.1:0/\(upstream.target)", "-threads", "1"])
            let client = try sluice.connect(timeout: .seconds(30))
            let sum = try client.checksumUntilEOF()
            #expect(sum == upstream.pattern.checksum(count: count), "got \(sum.count) of \(count) bytes")
        }

        /// The client reads only once the upstream has sent 1 MiB and closed: when the relay
        /// resumes, the FIN is already queued right behind the stream (in sluice's socket, or in the
        /// upstream's send buffer), so the hang-up shows while much is left to read. Every byte
        /// arrives intact, then EOF.
        @Test func bulkWithTheFINQueuedEarlyDeliversEveryByte() throws {
            let count = 1 << 20
            let upstream = try SenderServer(count: count, then: .close)
            let sluice = try SluiceProcess.start(["-L", "tcp://127.0.0.1:0/\(upstream.target)", "-threads", "1"])
            let client = try sluice.connect(timeout: .seconds(30))
            // 1 MiB fits in the loopback buffers between a silent client and the upstream (the
            // upstream's send buffer alone grows to megabytes), so the upstream finishes and closes.
            #expect(upstream.waitForClosed(1, timeout: .seconds(20)), "the upstream could not send 1 MiB")
            let sum = try client.checksumUntilEOF()
            #expect(sum == upstream.pattern.checksum(count: count), "got \(sum.count) of \(count) bytes")
        }

        // MARK: TCP_NODELAY before the second write

        /// One request and one response: each socket is written once, so neither gets TCP_NODELAY.
        @Test func oneWriteEachWaySetsNoNoDelay() throws {
            let upstream = try RecordingServer(reply: ascii("response"), replyWhen: .afterFirstBytes)
            let traced = try Self.forwarder(to: upstream.target)
            defer { traced.stop() }
            let client = try traced.sluice.connect()
            let clientFD = try Self.clientFD(traced, client)
            try client.sendAll(ascii("request"))
            try client.shutdownWrite()
            #expect(try client.receiveUntilEOF() == ascii("response"))
            Self.waitForSessionEnd(traced)
            let upstreamFD = try #require(try Self.connectCall(traced, port: upstream.port).fd)
            #expect(upstream.connections.first == ascii("request"))
            let calls = traced.calls
            #expect(Self.calls(calls, "sendto", on: clientFD).count == 1, "\(Self.show(calls))")
            #expect(Self.calls(calls, "sendto", on: upstreamFD).count == 1, "\(Self.show(calls))")
            let noDelay = calls.filter { $0.setsTCPOption("TCP_NODELAY") }
            #expect(noDelay.isEmpty, "TCP_NODELAY on a connection that writes once each way:\n\(Self.show(calls))")
        }

        /// Three round trips through an echo upstream: each socket gets TCP_NODELAY exactly once,
        /// after its first write and before its second.
        @Test func noDelayComesBeforeEachSocketsSecondWrite() throws {
            let upstream = try EchoServer()
            let traced = try Self.forwarder(to: upstream.target)
            defer { traced.stop() }
            let client = try traced.sluice.connect()
            let clientFD = try Self.clientFD(traced, client)
            for round in 0..<3 {
                let message = ascii("round \(round)")
                try client.sendAll(message)
                #expect(try client.receive(exactly: message.count) == message)
            }
            try client.shutdownWrite()
            #expect(try client.receiveUntilEOF().isEmpty)
            Self.waitForSessionEnd(traced)
            let upstreamFD = try #require(try Self.connectCall(traced, port: upstream.port).fd)
            let calls = traced.calls
            for (side, fd) in [("client", clientFD), ("upstream", upstreamFD)] {
                let sends = Self.calls(calls, "sendto", on: fd)
                let noDelay = calls.filter { $0.fd == fd && $0.setsTCPOption("TCP_NODELAY") }
                #expect(sends.count >= 2, "\(side): \(Self.show(calls))")
                #expect(noDelay.count == 1, "\(side): \(Self.show(calls))")
                guard sends.count >= 2, let option = noDelay.first else { continue }
                #expect(option.argument(3) == "[1]", "\(side): \(option)")
                #expect(sends[0].index < option.index && option.index < sends[1].index, "\(side): \(Self.show(calls))")
            }
        }

        // MARK: The handshake's last ACK waits only for bytes in hand

        /// A PROXY v1 line and a payload in one send: sluice reads both before it dials, so
        /// TCP_QUICKACK is off (`[0]`) on the upstream socket before its connect. The target gets the
        /// payload.
        @Test func receivedHeaderWithPayloadDelaysTheHandshakeACK() throws {
            let target = try RecordingServer()
            let traced = try Self.forwarder(to: target.target, query: "proxyProtocol=1")
            defer { traced.stop() }
            let client = try traced.sluice.connect()
            try client.sendAll(ascii("PROXY TCP4 192.0.2.1 192.0.2.2 1000 80\r\nhello"))
            #expect(target.waitForBytes(5) == ascii("hello"), "target got \(target.connections.map(printable))")
            let connect = try Self.connectCall(traced, port: target.port)
            let calls = traced.calls
            let quickAck = calls.first { $0.fd == connect.fd && $0.setsTCPOption("TCP_QUICKACK") }
            #expect(quickAck?.argument(3) == "[0]", "\(Self.show(calls))")
            #expect((quickAck?.index ?? .max) < connect.index, "\(Self.show(calls))")
        }

        /// `handler.proxyProtocol=1` with a client that sends nothing: the header is the bytes in
        /// hand, so TCP_QUICKACK is off before the connect, though the client's early read found
        /// nothing. The target gets the header alone.
        @Test func sentHeaderDelaysTheHandshakeACKForASilentClient() throws {
            let target = try RecordingServer()
            let traced = try Self.forwarder(to: target.target, query: "handler.proxyProtocol=1")
            defer { traced.stop() }
            let client = try traced.sluice.connect()
            let clientFD = try Self.clientFD(traced, client)
            let line = ascii(
                "PROXY TCP4 127.0.0.1 127.0.0.1 \(try client.clientAddress.port) \(traced.sluice.port)\r\n")
            #expect(target.waitForBytes(line.count) == line, "target got \(target.connections.map(printable))")
            let connect = try Self.connectCall(traced, port: target.port)
            let calls = traced.calls
            let quickAck = calls.first { $0.fd == connect.fd && $0.setsTCPOption("TCP_QUICKACK") }
            #expect(quickAck?.argument(3) == "[0]", "\(Self.show(calls))")
            #expect((quickAck?.index ?? .max) < connect.index, "\(Self.show(calls))")
            let readsBefore = Self.calls(calls, "recvfrom", on: clientFD).filter { $0.index < connect.index }
            #expect(readsBefore.allSatisfy { $0.errorName == "EAGAIN" }, "\(Self.show(calls))")
        }

        /// A plain forwarder to a server that speaks first, and a client that only waits: nothing is
        /// in hand, so the upstream is dialled at once with quick ACKs (no TCP_QUICKACK call on its
        /// socket), and the greeting reaches the client.
        @Test func serverSpeaksFirstIsDialledWithQuickACKs() throws {
            let greeting = ascii("220 greetings\r\n")
            let target = try RecordingServer(reply: greeting, replyWhen: .onAccept)
            let traced = try Self.forwarder(to: target.target)
            defer { traced.stop() }
            let client = try traced.sluice.connect()
            let clientFD = try Self.clientFD(traced, client)
            #expect(try client.receive(exactly: greeting.count) == greeting)
            client.close()
            Self.waitForSessionEnd(traced)
            let connect = try Self.connectCall(traced, port: target.port)
            let calls = traced.calls
            let quickAck = calls.filter { $0.fd == connect.fd && $0.setsTCPOption("TCP_QUICKACK") }
            #expect(quickAck.isEmpty, "TCP_QUICKACK for a server that speaks first:\n\(Self.show(calls))")
            let readsBefore = Self.calls(calls, "recvfrom", on: clientFD).filter { $0.index < connect.index }
            #expect(readsBefore.allSatisfy { $0.errorName == "EAGAIN" }, "\(Self.show(calls))")
        }

        // MARK: Listeners accept at once

        /// No listener holds connections in the kernel until their first bytes (TCP_DEFER_ACCEPT
        /// measured slower on PROXY receive and CONNECT churn, and it would hold back a client whose
        /// server speaks first): one process with a listener per kind of service sets no
        /// TCP_DEFER_ACCEPT, its proxy handlers and echo answer a client that speaks at once, and a
        /// plain forwarder's client that sends nothing gets its target's greeting well before the
        /// second a deferred listener would have held it for.
        @Test func listenersAcceptAtOnce() throws {
            let greeting = ascii("220 greetings\r\n")
            let greeter = try RecordingServer(reply: greeting, replyWhen: .onAccept)
            let services = [
                "tcp://127.0.0.1:0/\(greeter.target)", "http://127.0.0.1:0", "socks4://127.0.0.1:0",
                "socks5://127.0.0.1:0", "127.0.0.1:0", "echo://127.0.0.1:0", "discard://127.0.0.1:0",
                "info://127.0.0.1:0", "tcp://127.0.0.1:0/127.0.0.1:9?proxyProtocol=1",
            ]
            let traced = try TracedSluice.start(
                services.flatMap { ["-L", $0] } + ["-threads", "1"],
                tracing: ["setsockopt", "listen"], expectListeners: services.count)
            defer { traced.stop() }
            var ports: [String: UInt16] = [:]
            for line in traced.sluice.logLines {
                guard let address = SluiceProcess.listeningAddress(in: line),
                    let service = line.json?["service"]?.string
                else { continue }
                ports[service] = address.port
            }
            let calls = traced.calls
            #expect(calls.filter { $0.name == "listen" && $0.returnValue == 0 }.count == services.count)
            let deferred = calls.filter { $0.setsTCPOption("TCP_DEFER_ACCEPT") }
            #expect(deferred.isEmpty, "\(Self.show(deferred))")
            let socks = try TestConnection.connect(port: try #require(ports["service-3"]))
            try socks.sendAll([5, 1, 0])
            #expect(try socks.receive(exactly: 2) == [5, 0])
            let echo = try TestConnection.connect(port: try #require(ports["service-5"]))
            #expect(try echo.echo("answered at once"))
            let started = Monotonic.now
            let plain = try TestConnection.connect(port: try #require(ports["service-0"]))
            #expect(try plain.receive(exactly: greeting.count) == greeting)
            let elapsed = started.elapsedSeconds
            #expect(TimingBound.isWellBefore(elapsed, deadline: 1), "the greeting took \(elapsed) s")
            // Neither sluice nor its tracer outlives the test.
            #expect(traced.stop(), "the tracer did not exit with sluice")
            #expect(!traced.sluice.isRunning && !TracedSluice.isAlive(traced.tracer))
        }
    }

    /// The strace log parser the suite above reads its traces with (no process needed).
    @Suite("TestSupport self-tests: strace log")
    struct StraceLogSelfTests {
        @Test(arguments: [
            (
                #"12927 sendto(22, "a, b) = \"c\"\n"..., 300, MSG_DONTWAIT|MSG_NOSIGNAL|MSG_MORE, NULL, 0) = 300"#,
                "sendto", ["22", #""a, b) = \"c\"\n"..."#, "300", "MSG_DONTWAIT|MSG_NOSIGNAL|MSG_MORE", "NULL", "0"],
                "300"
            ),
            (
                "3436  shutdown(11, SHUT_WR)             = 0", "shutdown", ["11", "SHUT_WR"], "0"
            ),
            (
                #"connect(11, {sa_family=AF_INET, sin_port=htons(60199), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress)"#,
                "connect",
                ["11", #"{sa_family=AF_INET, sin_port=htons(60199), sin_addr=inet_addr("127.0.0.1")}"#, "16"],
                "-1 EINPROGRESS (Operation now in progress)"
            ),
            (
                "7 setsockopt(6, SOL_TCP, TCP_DEFER_ACCEPT, [1], 4) = 0", "setsockopt",
                ["6", "SOL_TCP", "TCP_DEFER_ACCEPT", "[1]", "4"], "0"
            ),
        ])
        func parsesOneCall(line: String, name: String, arguments: [String], result: String) throws {
            let calls = StraceLog.parse(line)
            let call = try #require(calls.first, "nothing parsed from \(line)")
            #expect(calls.count == 1)
            #expect(call.name == name)
            #expect(call.arguments == arguments)
            #expect(call.result == result)
        }

        /// A call another thread interrupted is joined; signal, exit and unfinished-forever lines are
        /// skipped; helpers read descriptors, ports, flags, return values and errno names.
        @Test func joinsSplitCallsAndReadsFields() throws {
            let log = """
                10 recvfrom(9, 0x55b898b1aa70, 57344, MSG_DONTWAIT, NULL, NULL <unfinished ...>
                11 write(2, "{\\"msg\\":\\"x\\"}\\n", 12) = 12
                10 <... recvfrom resumed>) = -1 EAGAIN (Resource temporarily unavailable)
                --- SIGTERM {si_signo=SIGTERM, si_code=SI_USER, si_pid=1, si_uid=0} ---
                10 accept4(5, {sa_family=AF_INET6, sin6_port=htons(41234), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, [128 => 28], SOCK_CLOEXEC|SOCK_NONBLOCK) = 22
                10 setsockopt(23, SOL_TCP, TCP_QUICKACK, [0], 4) = 0
                12 epoll_wait(6,  <unfinished ...>
                10 +++ killed by SIGKILL +++
                """
            let calls = StraceLog.parse(log)
            #expect(calls.map(\.name) == ["write", "recvfrom", "accept4", "setsockopt"], "\(calls)")
            #expect(calls.map(\.index) == [0, 1, 2, 3])
            let read = calls[1]
            #expect(read.thread == 10 && read.fd == 9 && read.returnValue == -1 && read.errorName == "EAGAIN")
            #expect(read.flags(3) == ["MSG_DONTWAIT"])
            let accept = calls[2]
            #expect(accept.port == 41234 && accept.returnValue == 22 && accept.errorName == nil)
            #expect(calls[3].setsTCPOption("TCP_QUICKACK", value: "[0]"))
            #expect(!calls[3].setsTCPOption("TCP_QUICKACK", value: "[1]") && !calls[3].setsTCPOption("TCP_NODELAY"))
        }
    }
}
