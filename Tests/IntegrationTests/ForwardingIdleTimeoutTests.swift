// The handler's `idleTimeout`: silent connections are closed, busy ones are left alone.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ForwardingTests {
    @Suite("Idle timeout")
    struct IdleTimeout {
        /// Test 9: with `idleTimeout=2s`, a connection with no traffic is closed when the timeout
        /// fires, while one exchanging a few bytes every 200 ms (a tenth of the timeout) stays open
        /// for 5 s, well past it.
        @Test func silentConnectionClosedBusyConnectionKept() throws {
            let idleTimeout = 2.0
            let echo = try EchoServer()
            let sluice = try SluiceProcess.forwarding(to: [echo.target], query: "idleTimeout=2s")

            // The busy connection runs on its own thread over the same 5 s.
            let busy = try sluice.connect(timeout: .seconds(10))
            let busyResult = Locked<String?>(nil)
            let busyThread = TestThread.spawn {
                let started = Monotonic.now
                var exchanges = 0
                while started.elapsed < .seconds(idleTimeout * 2.5) {
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
                    sleep(for: .seconds(idleTimeout / 10))  // the traffic's pace, not a wait for anything
                }
                // Still open: nothing (no FIN, no RST) is queued on the socket.
                let outcome = busy.waitForClose(timeout: .zero)
                busyResult.set(outcome == .timeout ? "open" : "closed after \(started.elapsedSeconds) s: \(outcome)")
            }
            defer {
                busy.shutdown()
                busyThread.join()
            }

            let started = Monotonic.now
            let silent = try sluice.connect()
            let outcome = silent.waitForClose(timeout: .seconds(idleTimeout * 3))
            let elapsed = started.elapsedSeconds
            #expect(outcome.isClosed, "silent connection: \(outcome)")
            #expect(
                TimingBound.isAt(elapsed, deadline: idleTimeout),
                "silent connection closed after \(elapsed) s (idleTimeout \(idleTimeout) s)")

            busyThread.join()
            #expect(busyResult.value == "open")
        }
    }
}
