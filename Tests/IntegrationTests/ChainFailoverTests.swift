// Chains that fail: hops answering 407 or 503, a dead first node failed over and marked
// (`maxFails`/`failTimeout`), and a refusing node failed over within the same client connection.
import Glibc
import Sluice
import TestSupport
import Testing

extension SluiceProcess {
    /// The messages of every `error` line containing `route(retry=`, in order.
    var routeErrors: [String] {
        lines(level: "error").compactMap { $0["msg"]?.string }.filter { $0.hasPrefix("route(retry=") }
    }
}

extension Integration.ProxyProtocolIntegrationTests {
    @Suite("Chains: refusals, dead nodes and failover")
    struct ChainFailoverTests {
        /// A hop answering 407 or 503 (and keeping its connection open, as a keep-alive proxy
        /// would): the client is closed at once (well before the handshake deadline), the attempt
        /// and the final failure are logged at `error` with the status, the close reason is
        /// `handshakeFailed`, the target sees nothing.
        @Test(arguments: ["407 Proxy Authentication Required", "503 Service Unavailable"])
        func refusingHopClosesTheClientPromptly(_ status: String) throws {
            let proxy = try RecordingHTTPProxy.refusing(status)
            let target = try RecordingServer()
            let sluice = try SluiceProcess.chained(to: target.target, hops: ["http://u:p@\(proxy.target)"])
            let connection = try sluice.connect()
            let client = try connection.clientAddress
            let started = Monotonic.now
            try connection.sendAll(ascii("GET / HTTP/1.1\r\n\r\n"))
            let outcome = connection.waitForClose(timeout: .seconds(handshakeDeadline))
            let elapsed = started.elapsedSeconds
            #expect(outcome.isClosed, "client saw \(outcome)")
            #expect(
                TimingBound.isWellBefore(elapsed, deadline: handshakeDeadline),
                "closed after \(elapsed) s (handshake deadline \(handshakeDeadline) s)")
            let log = try sluice.requireClosedLog(client)
            let messages = log.errors.compactMap { $0["msg"]?.string }
            #expect(
                messages == ["route(retry=0) node-0@\(proxy.target): \(status)", "node-0@\(proxy.target): \(status)"],
                "\(log)")
            #expect(log.closed?["reason"]?.string == "handshakeFailed", "\(log)")
            #expect(log.connected == nil, "\(log)")
            #expect(proxy.records.first?.status == Int(status.prefix(3)))
            #expect(target.acceptedCountOnceSettled() == 0)
        }

        /// A SOCKS5 hop that cannot reach the target answers "connection refused" (reply 5): the
        /// client is closed promptly and the error line carries the reply's meaning.
        @Test func socks5RefusalIsLogged() throws {
            let socks = try TestSOCKS5Server()
            let dead = try ClosedPort()
            let sluice = try SluiceProcess.chained(to: dead.target, hops: ["socks5://\(socks.target)"])
            let connection = try sluice.connect()
            let client = try connection.clientAddress
            let outcome = connection.waitForClose(timeout: .seconds(handshakeDeadline))
            #expect(outcome.isClosed, "client saw \(outcome)")
            let log = try sluice.requireClosedLog(client)
            #expect(
                log.errors.compactMap { $0["msg"]?.string } == [
                    "route(retry=0) node-0@\(socks.target): socks5: connection refused",
                    "node-0@\(socks.target): socks5: connection refused",
                ], "\(log)")
            // The server publishes its record after writing the reply, which may be after Sluice
            // has already acted on it.
            waitUntil(timeout: .seconds(10)) { socks.records.first?.reply != nil }
            #expect(socks.records.first?.reply == 5)
        }

        /// `-F http://<dead>,<live>`: every connection succeeds. The first tries the dead node (one
        /// `route(retry=0)` error naming it) and fails over to the live one within the same client
        /// connection; the dead node is then marked (maxFails 1, failTimeout 10 s by default), so
        /// the next connections go straight to the live node: one route error in eight connections.
        @Test func deadFirstNodeIsFailedOverAndMarked() throws {
            let dead = try ClosedPort()
            let proxy = try RecordingHTTPProxy()
            let echo = try EchoServer()
            let sluice = try SluiceProcess.chained(to: echo.target, hops: ["http://\(dead.target),\(proxy.target)"])
            for i in 0..<8 {
                let connection = try sluice.connect()
                #expect(try connection.echo("connection \(i)"), "connection \(i)")
                connection.close()
            }
            #expect(echo.acceptedCount == 8)
            #expect(proxy.waitForRecords(8)?.count == 8)
            // A connection's close line is its last: once all eight are in, so are their errors.
            #expect(waitUntil(timeout: .seconds(10)) { sluice.closeLineCount >= 8 }, "close lines")
            let errors = sluice.routeErrors
            #expect(errors.count == 1, "route errors: \(errors)")
            #expect(errors.first?.hasPrefix("route(retry=0) ") == true, "\(errors)")
            #expect(errors.first?.contains(dead.target) == true, "\(errors)")
            #expect(errors.first?.contains("connection refused") == true, "\(errors)")
        }

        /// Failover within one connection must move to *another* node even while the failed one is
        /// still below `maxFails` (here 3, so it is not yet marked out): with `strategy=fifo`, the
        /// first connection fails on the dead node-0 once, then succeeds through node-1. (Forward
        /// targets do this; see `ForwardingTests.Dial`.)
        @Test func deadNodeBelowMaxFailsIsFailedOverWithinTheConnection() throws {
            let dead = try ClosedPort()
            let proxy = try RecordingHTTPProxy()
            let echo = try EchoServer()
            let sluice = try SluiceProcess.chained(
                to: echo.target, hops: ["http://\(dead.target),\(proxy.target)?strategy=fifo&maxFails=3"])
            let connection = try sluice.connect()
            let echoed = (try? connection.echo("first connection")) ?? false
            // Log lines reach stderr a few milliseconds after the bytes: close the connection and
            // wait for its close line, its last.
            connection.close()
            #expect(waitUntil(timeout: .seconds(10)) { sluice.closeLineCount >= 1 }, "no close line")
            #expect(echoed, "the client was closed; route errors: \(sluice.routeErrors)")
            #expect(sluice.routeErrors.count == 1, "\(sluice.routeErrors)")
        }

        /// With `failTimeout=3s` on the hop, the mark expires: once 3 s have passed since the dead
        /// node was marked, it is tried again (round robin reaches it within two connections),
        /// adding exactly one route error. The four connections before run well inside the 3 s.
        @Test func deadNodeMarkExpiresAfterFailTimeout() throws {
            let failTimeout = 3.0
            let dead = try ClosedPort()
            let proxy = try RecordingHTTPProxy()
            let echo = try EchoServer()
            let sluice = try SluiceProcess.chained(
                to: echo.target, hops: ["http://\(dead.target),\(proxy.target)?failTimeout=3s"])
            for i in 0..<4 {
                let connection = try sluice.connect()
                #expect(try connection.echo("before \(i)"))
                connection.close()
            }
            #expect(waitUntil(timeout: .seconds(10)) { sluice.closeLineCount >= 4 }, "close lines")
            // The node was marked when its error was logged, so no later than the line arrived.
            let marked = try #require(
                sluice.process.waitForLine(timeout: .zero) {
                    $0.json?["msg"]?.string?.hasPrefix("route(retry=") == true
                })
            #expect(
                marked.arrivedAt.elapsedSeconds < failTimeout,
                "too slow to be meaningful: the mark may have expired during the first four connections")
            #expect(sluice.routeErrors.count == 1, "\(sluice.routeErrors)")
            // Waiting for the deadline under test to pass: nothing observable happens when it does.
            let expiry = marked.arrivedAt.advanced(by: .seconds(failTimeout * 1.1))
            sleep(for: .nanoseconds(max(0, expiry.nanoseconds - Monotonic.nanoseconds)))
            for i in 0..<2 {
                let connection = try sluice.connect()
                #expect(try connection.echo("after \(i)"))
                connection.close()
            }
            #expect(waitUntil(timeout: .seconds(10)) { sluice.closeLineCount >= 6 }, "close lines")
            #expect(sluice.routeErrors.count == 2, "\(sluice.routeErrors)")
            #expect(echo.acceptedCount == 6)
        }

        /// Two nodes, the first answering 503: the client's connection still succeeds through the
        /// second node, after one `route(retry=0)` error naming the first node and its status. With
        /// `strategy=round` and `strategy=fifo` (which both pick node-0 first): failover goes to
        /// *another* node, each at most once.
        @Test(arguments: ["round", "fifo"])
        func refusingNodeIsFailedOverWithinTheConnection(_ strategy: String) throws {
            let refusing = try RecordingHTTPProxy.refusing("503 Service Unavailable")
            let proxy = try RecordingHTTPProxy()
            let echo = try EchoServer()
            let sluice = try SluiceProcess.chained(
                to: echo.target, hops: ["http://\(refusing.target),\(proxy.target)?strategy=\(strategy)"])
            let connection = try sluice.connect()
            let echoed = (try? connection.echo("second node")) ?? false
            // Log lines reach stderr a few milliseconds after the bytes: close the connection and
            // wait for its close line, its last.
            connection.close()
            #expect(waitUntil(timeout: .seconds(10)) { sluice.closeLineCount >= 1 }, "no close line")
            #expect(echoed, "the client was closed; route errors: \(sluice.routeErrors)")
            #expect(
                sluice.routeErrors == ["route(retry=0) node-0@\(refusing.target): 503 Service Unavailable"],
                "stderr:\n\(sluice.stderrText)")
            #expect(refusing.records.count == 1 && proxy.waitForRecords(1)?.count == 1)
        }
    }
}
