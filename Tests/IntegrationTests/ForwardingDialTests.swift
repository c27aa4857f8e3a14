// Dialling the target: refused targets, black-hole targets with `dialTimeout`, and failover past a
// dead target with `maxFails`/`failTimeout` (issue 2, tests 3, 4 and 8).
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ForwardingTests {
    @Suite("Dial failures and failover")
    struct Dial {
        /// Test 3: nothing listens on the target port. The client is closed within 1 s, and an
        /// `error` line with the connection's sid says `connection refused`.
        @Test func refusedTargetClosesTheClientPromptly() throws {
            let dead = try ClosedPort()
            let sluice = try SluiceProcess.forwarding(to: [dead.target])
            let connection = try sluice.connect()
            let client = try connection.clientAddress
            let started = Monotonic.now
            let outcome = connection.waitForClose(timeout: .seconds(3))
            let elapsed = started.elapsedSeconds
            #expect(outcome.isClosed, "client saw \(outcome)")
            #expect(elapsed < 1.0, "closed after \(elapsed) s")
            let sid = try #require(sluice.sid(ofClient: client), "no accept line; stderr:\n\(sluice.stderrText)")
            #expect(
                sluice.waitForError(sid: sid, containing: ["connection refused"]) != nil,
                "no error line; stderr:\n\(sluice.stderrText)")
        }

        /// Test 4: the target never answers the handshake; with `dialTimeout=1s` the client is
        /// closed between 0.8 s and 3 s after connecting, and the error line mentions a timeout.
        @Test func blackHoleTargetTimesOutAfterDialTimeout() throws {
            let hole = try SilentServer()
            let sluice = try SluiceProcess.forwarding(to: [hole.target], query: "dialTimeout=1s")
            let started = Monotonic.now
            let connection = try sluice.connect()
            let client = try connection.clientAddress
            let outcome = connection.waitForClose(timeout: .seconds(5))
            let elapsed = started.elapsedSeconds
            #expect(outcome.isClosed, "client saw \(outcome)")
            #expect(elapsed >= 0.8 && elapsed <= 3.0, "closed after \(elapsed) s")
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
            waitUntil(timeout: .seconds(2)) { sluice.closeLineCount >= 10 }
            let refused = sluice.errorSIDs(containing: "connection refused")
            #expect(refused.count == 1, "dead target dialled by \(refused.count) connections (want exactly 1)")
        }
    }
}
