// Dialling the target: refused targets, black-hole targets with `dialTimeout`, and failover past a
// dead target with `maxFails`/`failTimeout`.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ForwardingTests {
    @Suite("Dial failures and failover")
    struct Dial {
        /// Test 3: nothing listens on the target port. The client is closed at once (well before
        /// the 10 s `dialTimeout`), and an `error` line with the connection's sid says `connection
        /// refused`.
        @Test func refusedTargetClosesTheClientPromptly() throws {
            let dialTimeout = 10.0
            let dead = try ClosedPort()
            let sluice = try SluiceProcess.forwarding(to: [dead.target], query: "dialTimeout=10s")
            let connection = try sluice.connect()
            let client = try connection.clientAddress
            let started = Monotonic.now
            let outcome = connection.waitForClose(timeout: .seconds(dialTimeout))
            let elapsed = started.elapsedSeconds
            #expect(outcome.isClosed, "client saw \(outcome)")
            #expect(
                TimingBound.isWellBefore(elapsed, deadline: dialTimeout),
                "closed after \(elapsed) s (dialTimeout \(dialTimeout) s)")
            let sid = try #require(sluice.sid(ofClient: client), "no accept line; stderr:\n\(sluice.stderrText)")
            #expect(
                sluice.waitForError(sid: sid, containing: ["connection refused"]) != nil,
                "no error line; stderr:\n\(sluice.stderrText)")
        }

        /// Test 4: the target never answers the handshake; with `dialTimeout=2s` the client is
        /// closed when that timeout fires, and the error line mentions a timeout.
        @Test func blackHoleTargetTimesOutAfterDialTimeout() throws {
            let dialTimeout = 2.0
            let hole = try SilentServer()
            let sluice = try SluiceProcess.forwarding(to: [hole.target], query: "dialTimeout=2s")
            let started = Monotonic.now
            let connection = try sluice.connect()
            let client = try connection.clientAddress
            let outcome = connection.waitForClose(timeout: .seconds(dialTimeout * 3))
            let elapsed = started.elapsedSeconds
            #expect(outcome.isClosed, "client saw \(outcome)")
            #expect(
                TimingBound.isAt(elapsed, deadline: dialTimeout),
                "closed after \(elapsed) s (dialTimeout \(dialTimeout) s)")
            let sid = try #require(sluice.sid(ofClient: client), "no accept line; stderr:\n\(sluice.stderrText)")
            #expect(
                sluice.waitForError(sid: sid, containing: ["timeout", "timed out"]) != nil,
                "no timeout error line; stderr:\n\(sluice.stderrText)")
        }

        /// Test 8a: the first of two targets refuses; every connection still reaches the second.
        @Test func deadFirstTargetFailsOverToTheSecond() throws {
            let dead = try ClosedPort()
            let echo = try EchoServer()
            let sluice = try SluiceProcess.forwarding(to: [dead.target, echo.target])
            for i in 0..<10 {
                let connection = try sluice.connect()
                #expect(try connection.echo("ping \(i)"), "connection \(i) did not echo")
                connection.close()
            }
            #expect(echo.acceptedCount == 10)
        }

        /// Test 8b: with `maxFails=1&failTimeout=30s` the dead target is dialled at most once in
        /// ten connections (counted as distinct sids of `connection refused` error lines). Round
        /// robin reaches it within the first two connections, so "at most once" is exactly once.
        @Test func maxFailsKeepsTheDeadTargetOut() throws {
            let dead = try ClosedPort()
            let echo = try EchoServer()
            let sluice = try SluiceProcess.forwarding(
                to: [dead.target, echo.target], query: "maxFails=1&failTimeout=30s")
            for i in 0..<10 {
                let connection = try sluice.connect()
                #expect(try connection.echo("ping \(i)"), "connection \(i) did not echo")
                connection.close()
            }
            #expect(echo.acceptedCount == 10)
            // A connection's close line is its last: once all ten are in, so are their errors.
            #expect(waitUntil(timeout: .seconds(10)) { sluice.closeLineCount >= 10 }, "close lines")
            let refused = sluice.errorSIDs(containing: "connection refused")
            #expect(refused.count == 1, "dead target dialled by \(refused.count) connections (want exactly 1)")
        }
    }
}
