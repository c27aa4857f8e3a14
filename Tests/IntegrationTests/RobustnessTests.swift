// What a hostile peer or a hostile configuration sends must not crash the process: oversized PROXY
// headers, durations at the end of Int64, oversized credentials, registrations the kernel refuses,
// failover loops that fail at once. Each test runs the real binary.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ForwardingTests {
    @Suite("Robustness against hostile input")
    struct Robustness {
        /// A v2 header whose length is 0xFFFF, cut short: the client sends the signature, the
        /// family byte and the length, then 65,520 more bytes and waits past the header deadline.
        /// Served as plain (optional mode), every byte reaches the target after Sluice's own v2
        /// header, in order; the process lives.
        @Test func truncatedMaximalV2HeaderIsServedAsPlainWithoutOverflow() throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.forwarding(
                to: [target.target],
                query: "proxyProtocol=1&proxyProtocol.maxLength=65535&proxyProtocol.timeout=1s&handler.proxyProtocol=2")
            let client = try sluice.connect()
            defer { client.close() }
            var sent = hex(v2Signature + "2111ffff")
            sent += (0..<65_520).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            try client.sendAll(sent)
            // Sluice's header: 16 bytes + 12 address bytes (TCP4), then the early bytes.
            let received = try #require(target.waitForBytes(28 + sent.count, timeout: .seconds(10)))
            #expect(Array(received[0..<12]) == hex(v2Signature))
            #expect(Array(received[28...]) == sent)
            #expect(sluice.isRunning)
        }

        /// A valid v2 header of the largest length (65,535 bytes of addresses and NOOP padding):
        /// it completes, its source becomes the client, and the payload after it arrives intact.
        @Test func largestValidV2HeaderCompletes() throws {
            let target = try RecordingServer()
            let sluice = try SluiceProcess.forwarding(
                to: [target.target],
                query: "proxyProtocol=1&proxyProtocol.maxLength=65535&handler.proxyProtocol=1")
            let source = SocketAddress(.v4(IPv4Address(198, 51, 100, 7)), port: 4242)
            let destination = SocketAddress(.v4(IPv4Address(203, 0, 113, 9)), port: 443)
            var header = [UInt8](repeating: 0, count: 16 + 65_535)
            let length = try header.withUnsafeMutableBytes { buffer in
                try ProxyEncoder.writeV2(
                    source: source, destination: destination,
                    tlvs: ProxyEncodeTLVs(noopPadding: 65_535 - 12 - 3), into: buffer)
            }
            #expect(length == header.count)
            let client = try sluice.connect()
            defer { client.close() }
            try client.sendAll(header + Array("hello".utf8))
            let line = "PROXY TCP4 198.51.100.7 203.0.113.9 4242 443\r\n"
            let received = try #require(target.waitForBytes(line.utf8.count + 5, timeout: .seconds(10)))
            #expect(received == Array(line.utf8) + Array("hello".utf8))
            #expect(sluice.isRunning)
        }

        /// A connection still sending its header costs a small buffer, not a relay buffer: 1,000
        /// such connections grow the process's heap (VmData: what it allocated, touched or not) by
        /// far less than 1,000 × 64 KiB.
        @Test func connectionsInsideTheirHeaderHoldSmallBuffers() throws {
            let echo = try EchoServer()
            let sluice = try SluiceProcess.forwarding(
                to: [echo.target], query: "proxyProtocol=1&proxyProtocol.timeout=60s", flags: ["-threads", "1"])
            func heapKiB() -> Int { ProcFS.statusKiB(pid: sluice.pid, field: "VmData") ?? 0 }
            var held: [TestConnection] = []
            defer { held.forEach { $0.close() } }
            // Warm up: the first connections allocate the reactor's tables and malloc arena.
            for _ in 0..<50 {
                let c = try sluice.connect()
                try c.sendAll(Array("PROXY TCP4 ".utf8))
                held.append(c)
            }
            #expect(waitUntil(timeout: .seconds(10)) { (sluice.openFDCount() ?? 0) >= 50 })
            sleepUntilStable(heapKiB)
            let before = heapKiB()
            for _ in 0..<1_000 {
                let c = try sluice.connect()
                try c.sendAll(Array("PROXY TCP4 ".utf8))
                held.append(c)
            }
            #expect(waitUntil(timeout: .seconds(20)) { (sluice.openFDCount() ?? 0) >= 1_050 })
            // Wait until every connection has had its bytes read (the buffers are allocated then).
            sleepUntilStable(heapKiB)
            let grown = heapKiB() - before
            // 64 KiB each would be 64,000 KiB; 512-byte buffers and the session objects are ~1 MiB.
            #expect(grown < 16_000, "the heap grew by \(grown) KiB for 1,000 connections inside their header")
            #expect(sluice.isRunning)
        }

        /// Durations at the end of Int64 (or beyond a year) are usage errors that name the key,
        /// not an arithmetic trap on the first connection or at shutdown.
        @Test(arguments: [
            ("tcp://127.0.0.1:0/127.0.0.1:9?idleTimeout=9223372036", "idleTimeout"),
            ("tcp://127.0.0.1:0/127.0.0.1:9?dialTimeout=9223372036", "dialTimeout"),
            ("tcp://127.0.0.1:0/127.0.0.1:9?proxyProtocol=1&proxyProtocol.timeout=2562047h", "proxyProtocol.timeout"),
            ("tcp://127.0.0.1:0/127.0.0.1:9?failTimeout=9223372036&maxFails=1", "failTimeout"),
        ])
        func hugeDurationsAreUsageErrors(url: String, key: String) throws {
            let result = try SluiceProcess.run(["-L", url])
            #expect(result.exitCode == 2, "\(result.stderr)")
            #expect(result.stderr.contains(key), "\(result.stderr)")
        }

        @Test func hugeConnectorTimeoutAndGraceAreUsageErrors() throws {
            let node = try SluiceProcess.run([
                "-L", "tcp://127.0.0.1:0/127.0.0.1:9", "-F", "http://127.0.0.1:9?timeout=9223372036",
            ])
            #expect(node.exitCode == 2, "\(node.stderr)")
            #expect(node.stderr.contains("timeout"), "\(node.stderr)")
            let grace = try SluiceProcess.run(["-grace", "9223372036", "-L", "tcp://127.0.0.1:0/127.0.0.1:9"])
            #expect(grace.exitCode == 2, "\(grace.stderr)")
            #expect(grace.stderr.contains("grace"), "\(grace.stderr)")
        }

        /// The longest allowed durations run: a connection is served and SIGTERM drains cleanly.
        @Test func longestAllowedDurationsServeAndShutDown() throws {
            let echo = try EchoServer()
            let sluice = try SluiceProcess.forwarding(
                to: [echo.target],
                query: "idleTimeout=8760h&dialTimeout=8760h&proxyProtocol=1&proxyProtocol.timeout=8760h",
                flags: ["-grace", "8760h"])
            let client = try sluice.connect()
            try client.sendAll("PROXY TCP4 192.0.2.1 192.0.2.2 1000 80\r\n")
            #expect(try client.echo("still here"))
            client.close()
            #expect(waitUntil(timeout: .seconds(5)) { sluice.closeLineCount >= 1 })
            sluice.signal(SIGTERM)
            #expect(sluice.waitForExit(timeout: .seconds(10)) == 0)
        }

        /// A negative `dialTimeout` means no timeout (GOST's router): a dial that takes long is not
        /// cut off at once. The target is a black hole whose connect never completes.
        @Test func negativeDialTimeoutMeansNoTimeout() throws {
            let hole = try SilentServer()
            defer { hole.stop() }
            let sluice = try SluiceProcess.forwarding(to: [hole.address.description], query: "dialTimeout=-1s")
            let client = try sluice.connect()
            defer { client.close() }
            let sid = try #require(sluice.waitForMessage(containing: " <> ")?["sid"]?.string)
            // An immediate timeout would close the client within a tick (10 ms); give it far longer.
            #expect(client.waitForClose(timeout: .seconds(2)).isClosed == false)
            #expect(sluice.lines(sid: sid).allSatisfy { $0["msg"]?.string?.contains("timeout") != true })
        }

        /// A synchronous connect failure (the kernel refuses TCP to a multicast address before any
        /// packet is built) with 100,000 retries fails over in a loop, not by recursion: the
        /// connection is closed, the process lives and serves the next one.
        @Test func immediateConnectFailuresWithManyRetriesDoNotRecurse() throws {
            let echo = try EchoServer()
            // One process, one reactor: the failing service and a healthy one side by side. (The
            // 200,000 error lines overflow the log sink; dropped lines are expected here.)
            let sluice = try SluiceProcess.start(
                [
                    "-threads", "1", "-L", forwardURL(to: ["224.0.0.1:80"], query: "retries=100000"),
                    "-L", forwardURL(to: [echo.target]),
                ], expectListeners: 2)
            let client = try sluice.connect(0)
            defer { client.close() }
            #expect(client.waitForClose(timeout: .seconds(60)).isClosed)
            #expect(sluice.isRunning)
            let second = try sluice.connect(1)
            defer { second.close() }
            #expect(try second.echo("ok"))
        }

        /// Oversized credentials for a chain node are usage errors (no truncation, no overflow of
        /// the request buffer on the first connection).
        @Test func oversizedNodeCredentialsAreUsageErrors() throws {
            let password = String(repeating: "p", count: 60_000)
            let http = try SluiceProcess.run([
                "-L", "tcp://127.0.0.1:0/127.0.0.1:9", "-F", "http://user:\(password)@127.0.0.1:9",
            ])
            #expect(http.exitCode == 2, "\(http.stderr.prefix(300))")
            #expect(http.stderr.contains("CONNECT request"), "\(http.stderr.prefix(300))")
            let socks = try SluiceProcess.run([
                "-L", "tcp://127.0.0.1:0/127.0.0.1:9", "-F",
                "socks5://\(String(repeating: "u", count: 256)):pass@127.0.0.1:9",
            ])
            #expect(socks.exitCode == 2, "\(socks.stderr.prefix(300))")
            #expect(socks.stderr.contains("at most 255 bytes"), "\(socks.stderr.prefix(300))")
        }

        /// The kernel refusing an epoll registration (as at `fs.epoll.max_user_watches`; injected
        /// in debug builds) closes that one connection, is logged, and the process keeps serving.
        @Test func refusedRegistrationsCloseOneConnectionAndKeepServing() throws {
            let echo = try EchoServer()
            let sluice = try SluiceProcess.start(
                ["-threads", "1", "-L", forwardURL(to: [echo.target])],
                environment: ["SLUICE_TEST_FAULTS": "register=3"])
            var served = 0
            var closed = 0
            for i in 0..<30 {
                let c = try sluice.connect()
                defer { c.close() }
                if (try? c.echo("n\(i)")) == true { served += 1 } else { closed += 1 }
            }
            #expect(served > 0 && closed > 0, "served \(served), closed \(closed)")
            #expect(sluice.waitForMessage(containing: "epoll_ctl") != nil)
            #expect(sluice.isRunning)
        }

        /// A signalfd that cannot be made is a start-up error, not a process that silently ignores
        /// SIGTERM. The kernel is made to refuse it with a seccomp filter (Debian's python3-seccomp).
        @Test func signalfdFailureIsAStartupError() throws {
            let refuseSignalfd = """
                import errno, os, sys, seccomp
                f = seccomp.SyscallFilter(seccomp.ALLOW)
                for call in ("signalfd", "signalfd4"):
                    f.add_rule(seccomp.ERRNO(errno.ENODEV), call)
                f.load()
                os.execv(sys.argv[1], sys.argv[1:])
                """
            let result = try runProcess(
                "/usr/bin/python3",
                ["-c", refuseSignalfd, SluiceProcess.binaryPath, "-L", "tcp://127.0.0.1:0/127.0.0.1:9"],
                timeout: .seconds(10))
            #expect(result.exitCode == 1, "\(result.stderr)")
            #expect(result.stderr.contains("signalfd"), "\(result.stderr)")
        }
    }
}

/// Waits until `value` stops changing for a few consecutive looks (or 10 s pass).
func sleepUntilStable(_ value: () -> Int) {
    var last = value()
    var steady = 0
    let deadline = Deadline(.seconds(10))
    while steady < 5 && !deadline.hasPassed {
        sleep(for: .milliseconds(100))
        let now = value()
        steady = now == last ? steady + 1 : 0
        last = now
    }
}
