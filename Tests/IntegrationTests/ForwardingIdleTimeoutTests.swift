// The handler's `idleTimeout`: silent connections are closed, busy ones are left alone
// (issue 2, test 9).
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ForwardingTests {
    @Suite("Idle timeout")
    struct IdleTimeout {
        /// Test 9: with `idleTimeout=1s`, a connection with no traffic is closed at about 1 s
        /// (0.8–2.5 s), while one exchanging a few bytes every 300 ms stays open for 3 s.
        @Test func silentConnectionClosedBusyConnectionKept() throws {
            let echo = try EchoServer()
            let sluice = try SluiceProcess.forwarding(to: [echo.target], query: "idleTimeout=1s")

            // The busy connection runs on its own thread over the same 3 s.
            let busy = try sluice.connect(timeout: .seconds(5))
            let busyResult = Locked<String?>(nil)
            let busyThread = TestThread.spawn {
                let started = Monotonic.now
                var exchanges = 0
                while started.elapsed < .seconds(3) {
                    do {
                        guard try busy.echo("tick \(exchanges)") else {
                            busyResult.set("echo \(exchanges) differed")
                            return
                        }
                    } catch {
                        busyResult.set("exchange \(exchanges) after \(started.elapsedSeconds) s failed: \(error)")
                        return
                    }
                    exchanges += 1
                    sleep(for: .milliseconds(300))
                }
                let outcome = busy.waitForClose(timeout: .milliseconds(100))
                busyResult.set(outcome == .timeout ? "open" : "closed at 3 s: \(outcome)")
            }
            defer {
                busy.shutdown()
                busyThread.join()
            }

            let started = Monotonic.now
            let silent = try sluice.connect()
            let outcome = silent.waitForClose(timeout: .seconds(4))
            let elapsed = started.elapsedSeconds
            #expect(outcome.isClosed, "silent connection: \(outcome)")
            #expect(elapsed >= 0.8 && elapsed <= 2.5, "silent connection closed after \(elapsed) s")

            busyThread.join()
            #expect(busyResult.value == "open")
        }
    }
}
