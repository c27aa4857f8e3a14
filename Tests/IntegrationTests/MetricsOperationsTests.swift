// The metrics endpoint in operation: a real Prometheus server scraping it, readiness failing no
// later than the listeners close on SIGTERM (with the endpoint open through the drain), a keep-alive
// scraper not holding the drain up, and a burst of bad requests beside a forwarded transfer.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration {
    @Suite("Metrics endpoint in operation")
    struct MetricsOperations {
        /// A real Prometheus (1 s scrape interval) scraping the endpoint on loopback returns, through
        /// its query API, the request count the test generated.
        @Test func prometheusServerSeesTheRequestCount() throws {
            let echo = try EchoServer()
            let sluice = try SluiceProcess.withMetrics(["-L", forwardURL(to: [echo.target])], services: 1)
            let requests = 7
            for i in 0..<requests {
                let connection = try sluice.connect()
                #expect(try connection.echo("request \(i)"))
                connection.close()
            }
            let prometheus = try PrometheusPeer.start(scraping: [sluice.metricsAddress.description])
            let query = "gost_service_requests_total{service=\"service-0\"}"
            let seen = try waitFor(timeout: .seconds(120), interval: .milliseconds(250)) { () -> Double? in
                guard let value = try prometheus.value(query), value == Double(requests) else { return nil }
                return value
            }
            let targets = (try? prometheus.targets()) ?? "?"
            #expect(seen == Double(requests), "\(query) never reached \(requests); targets: \(targets)")
            #expect(try prometheus.value("up{job=\"sluice\"}") == 1)
            print("prometheus: \(query) = \(seen.map { "\($0)" } ?? "nothing")")
        }

        /// SIGHUP: the endpoint keeps its socket, a service keeps its counters (rows go by name), a
        /// new service shows up at 0 and `gost_services` counts it. (Fixed ports: a reload binds
        /// port-0 services anew.)
        @Test func reloadKeepsTheEndpointAndTheCounters() throws {
            let echo = try EchoServer()
            let directory = try TemporaryDirectory(prefix: "metrics-reload")
            let ports = try FreePorts.take(3)
            func write(_ services: [String]) throws -> String {
                var text = "services:\n"
                for (i, name) in services.enumerated() {
                    text += "- {name: \(name), addr: \"127.0.0.1:\(ports[i])\", handler: {type: tcp},"
                    text += " forwarder: {nodes: [{name: t, addr: \"\(echo.target)\"}]}}\n"
                }
                return try directory.write("gost.yaml", text + "metrics: {addr: \"127.0.0.1:\(ports[2])\"}\n")
            }
            let file = try write(["first"])
            let sluice = try SluiceProcess.start(["-C", file], expectListeners: 2)
            let metrics = sluice.metricsAddress
            #expect(metrics.port == ports[2])
            for i in 0..<3 { #expect(try sluice.connect(0).echo("before reload \(i)")) }
            #expect(
                try sluice.waitForMetrics { $0.int("gost_service_requests_total", [("service", "first")]) == 3 }.met)

            _ = try write(["first", "second"])
            sluice.signal(SIGHUP)
            #expect(
                sluice.waitForMessage(containing: "reload: 1 started, 0 stopped, 0 changed, 2 unchanged") != nil,
                "\(sluice.stderrText)")
            let (met, samples) = try sluice.waitForMetrics(at: metrics) { $0.int("gost_services") == 2 }
            #expect(met, "gost_services after the reload: \(String(describing: samples.int("gost_services")))")
            #expect(samples.int("gost_service_requests_total", [("service", "first")]) == 3)
            #expect(samples.int("gost_service_requests_total", [("service", "second")]) == 0)
        }

        /// One probe of the drain test: when it ran and what it saw.
        struct Probe: Sendable {
            enum Kind: Sendable { case readiness, forwardConnect }
            var kind: Kind
            var start: Monotonic.Instant
            var end: Monotonic.Instant
            /// Readiness: the HTTP status (0 when no response). Connect: 1 accepted, 0 refused.
            var result: Int
        }

        /// SIGTERM with `-grace 3s` and an open connection holding the drain: `/readyz` answers 503
        /// no later than the forwarding listener stops accepting (every readiness probe that starts
        /// after a refused connect gets 503), the endpoint keeps answering through the drain, the
        /// held connection still works after readiness failed, and the process exits at the end of
        /// the grace period. (One reactor: with several, one whose connections are all gone ends
        /// early, and a probe queued on its share of the endpoint's port can see a reset.)
        @Test func readinessFailsBeforeTheListenersClose() throws {
            let grace = 3.0
            let echo = try EchoServer()
            let sluice = try SluiceProcess.withMetrics(
                ["-threads", "1", "-grace", "3s", "-L", forwardURL(to: [echo.target])], services: 1)
            let forward = sluice.address(0)
            let metrics = sluice.metricsAddress
            let held = try sluice.connect()
            #expect(try held.echo("before"))

            // Alternate readiness probes and forwarding connects, recording each one's interval.
            let probes = Locked<[Probe]>([])
            let stop = Locked(false)
            let prober = TestThread.spawn {
                let deadline = Deadline(.seconds(20))
                var refusedSeen = 0
                while !stop.value && !deadline.hasPassed && refusedSeen < 10 {
                    var start = Monotonic.now
                    let status = (try? HTTPExchange.request(metrics, "/readyz", timeout: .seconds(5)))?.status ?? 0
                    probes.withLock {
                        $0.append(Probe(kind: .readiness, start: start, end: Monotonic.now, result: status))
                    }
                    start = Monotonic.now
                    let accepted = !Integration.ForwardingTests.Shutdown.connectRefused(forward)
                    probes.withLock {
                        $0.append(
                            Probe(kind: .forwardConnect, start: start, end: Monotonic.now, result: accepted ? 1 : 0))
                    }
                    if !accepted { refusedSeen += 1 }
                }
            }
            defer {
                stop.set(true)
                prober.join()
            }
            #expect(waitUntil(timeout: .seconds(10)) { probes.value.count >= 10 }, "the prober did not run")
            let signalled = Monotonic.now
            sluice.signal(SIGTERM)
            #expect(
                waitUntil(timeout: .seconds(grace / 2)) {
                    probes.value.contains { $0.kind == .forwardConnect && $0.result == 0 }
                        && probes.value.contains { $0.kind == .readiness && $0.result == 503 }
                }, "no refusal and 503 within half the grace period")
            let lastProbe = probes.value.last?.end ?? signalled
            // The drain is still on: the held connection works after readiness failed.
            #expect(try held.echo("during the drain"))
            stop.set(true)
            prober.join()

            let all = probes.value
            let before = all.filter { $0.end < signalled }
            #expect(before.allSatisfy { $0.result == ($0.kind == .readiness ? 200 : 1) }, "before SIGTERM: \(before)")
            let refusals = all.filter { $0.kind == .forwardConnect && $0.result == 0 }
            let readiness = all.filter { $0.kind == .readiness && $0.start > signalled }
            for refusal in refusals {
                let later = readiness.filter { $0.start > refusal.end }
                #expect(later.allSatisfy { $0.result == 503 }, "ready again after a refused connect: \(later)")
            }
            #expect(
                readiness.allSatisfy { $0.result == 200 || $0.result == 503 },
                "the endpoint stopped answering during the drain: \(readiness)")
            #expect(lastProbe.nanoseconds > signalled.nanoseconds)

            let status = sluice.waitForExit(timeout: .seconds(grace * 3))
            let exitedAfter = signalled.elapsedSeconds
            #expect(status == 0, "exit status \(String(describing: status))")
            #expect(TimingBound.isAt(exitedAfter, deadline: grace), "exited \(exitedAfter) s after SIGTERM")
        }

        /// A scraper's idle keep-alive connection does not hold the drain: with no forwarded
        /// connection open, SIGTERM ends the process long before the grace period, and the scraper
        /// sees its connection closed.
        @Test func keepAliveScraperDoesNotHoldTheDrain() throws {
            let grace = 10.0
            let echo = try EchoServer()
            let sluice = try SluiceProcess.withMetrics(
                ["-grace", "10s", "-L", forwardURL(to: [echo.target])], services: 1)
            let scraper = try HTTPClientConnection.connect(to: sluice.metricsAddress)
            try scraper.request("GET", "/metrics")
            let first = try scraper.readResponse()
            #expect(first.status == 200 && first.field("Connection") == nil, "kept alive: \(first)")
            let signalled = Monotonic.now
            sluice.signal(SIGTERM)
            let status = sluice.waitForExit(timeout: .seconds(grace * 2))
            #expect(status == 0)
            #expect(
                TimingBound.isWellBefore(signalled.elapsedSeconds, deadline: grace),
                "exited \(signalled.elapsedSeconds) s after SIGTERM")
            #expect(scraper.connection.waitForClose(timeout: .seconds(5)).isClosed)
        }

        /// Reads the reply until the endpoint closes the connection (within 5 s).
        static func closesAfterItsReply(_ client: TestConnection) -> Bool {
            let deadline = Deadline(.seconds(5))
            while !deadline.hasPassed {
                switch client.waitForClose(timeout: deadline.remaining) {
                case .data: continue
                case .eof, .reset: return true
                case .timeout: return false
                }
            }
            return false
        }

        /// A burst of bad requests at the endpoint (garbage, oversized heads, wrong methods,
        /// abandoned and reset connections, stalled heads) while a 64 MiB transfer runs through the
        /// forwarder: the transfer arrives intact and both keep serving.
        @Test func badRequestBurstDoesNotDisturbForwarding() throws {
            let size = 64 << 20
            let sender = try SenderServer(count: size, seed: 11)
            let sluice = try SluiceProcess.withMetrics(
                ["-threads", "2", "-L", forwardURL(to: [sender.target])], services: 1)
            let metrics = sluice.metricsAddress
            let transfer = try sluice.connect(timeout: .seconds(30))
            let received = Locked<Checksum?>(nil)
            let done = Locked(false)
            let sent = AtomicCounter()
            let unclosed = AtomicCounter()
            // The first MiB, then the rest once the burst is under way: the two overlap for sure.
            let receiver = TestThread.spawn {
                var sum = Checksum()
                do {
                    try transfer.receiveStream(exactly: 1 << 20) { sum.update($0) }
                    _ = waitUntil(timeout: .seconds(30)) { sent.value >= 100 }
                    var buffer = [UInt8](repeating: 0, count: 64 << 10)
                    while true {
                        let n = try buffer.withUnsafeMutableBytes { try transfer.receive(into: $0) }
                        if n == 0 { break }
                        buffer.withUnsafeBytes { sum.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                    }
                    received.set(sum)
                } catch {}
            }

            let attackers = (0..<4).map { worker in
                TestThread.spawn {
                    var stalled: [TestConnection] = []
                    let deadline = Deadline(.seconds(30))
                    var i = 0
                    while !done.value && !deadline.hasPassed && i < 300 {
                        defer { i += 1 }
                        guard let client = try? TestConnection.connect(to: metrics, timeout: .seconds(5)) else {
                            continue
                        }
                        _ = sent.add()
                        switch (i + worker) % 6 {
                        case 0: try? client.sendAll("\u{1}\u{2}garbage\r\n\r\n")
                        case 1:
                            try? client.sendAll(
                                "GET /metrics HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "z", count: 10_000))
                        case 2:
                            try? client.sendAll("DELETE /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nabcde")
                        case 3:
                            try? client.sendAll("GET /metr")
                            client.reset()
                        case 4:
                            try? client.sendAll("GET /healthz HTTP/1.1\r\nHost: a\r\n")
                            if stalled.count < 25 { stalled.append(client) }
                        default: client.close()
                        }
                        // Each refusal closes its connection (the reset and abandoned ones are gone already).
                        if (i + worker) % 6 < 3 && !Self.closesAfterItsReply(client) { unclosed.add() }
                    }
                    for client in stalled { client.close() }
                }
            }
            receiver.join()
            done.set(true)
            for attacker in attackers { attacker.join() }

            #expect(received.value == sender.pattern.checksum(count: size), "the transfer was damaged or cut short")
            #expect(sent.value >= 100, "only \(sent.value) bad requests were sent")
            #expect(unclosed.value == 0, "\(unclosed.value) refused connections were left open")
            #expect(sluice.isRunning)
            #expect(try HTTPExchange.request(metrics, "/healthz").status == 200)
            let samples = try sluice.scrape()
            #expect(samples.int("gost_service_requests_total", [("service", "service-0")]) == 1)
        }
    }
}
