// Graceful shutdown on SIGTERM/SIGINT with `-grace`, and SIGPIPE never killing the process.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ForwardingTests {
    @Suite("Signals and graceful shutdown")
    struct Shutdown {
        /// True when a connect to `address` is refused right now. (A loopback connect is refused or
        /// accepted by the kernel at once; the timeout only bounds a pathological case.)
        static func connectRefused(_ address: SocketAddress) -> Bool {
            do {
                let probe = try TestConnection.connect(to: address, timeout: .seconds(5))
                probe.close()
                return false
            } catch {
                return (error as? TestSupportError)?.errno == .connectionRefused
            }
        }

        /// Test 10a: with `-grace 4s` and a connection still transferring, SIGTERM makes new
        /// connects fail well before the grace period ends (under half of it), the open
        /// connection keeps working past half of it, and the process exits 0 at the end of it.
        @Test func sigtermDrainsOpenConnectionsUntilGrace() throws {
            let grace = 4.0
            let echo = try EchoServer()
            let sluice = try SluiceProcess.forwarding(to: [echo.target], flags: ["-grace", "4s"])
            let address = sluice.address()
            let active = try sluice.connect(timeout: .seconds(5))
            #expect(try active.echo("before"))

            // The open connection keeps exchanging every 100 ms until it fails.
            let lastSuccess = Locked<Monotonic.Instant?>(nil)
            let stop = Locked(false)
            let worker = TestThread.spawn {
                var i = 0
                while !stop.value {
                    guard (try? active.echo("during \(i)")) == true else { return }
                    lastSuccess.set(Monotonic.now)
                    i += 1
                    sleep(for: .milliseconds(100))  // the traffic's pace, not a wait for anything
                }
            }
            defer {
                stop.set(true)
                active.shutdown()
                worker.join()
            }

            let signalled = Monotonic.now
            sluice.signal(SIGTERM)
            let refused = waitUntil(timeout: .seconds(grace / 2), interval: .milliseconds(20)) {
                Self.connectRefused(address)
            }
            #expect(
                refused, "new connects still accepted \(signalled.elapsedSeconds) s after SIGTERM (grace \(grace) s)")
            #expect(Self.connectRefused(address), "a later connect was not refused")

            let status = sluice.waitForExit(timeout: .seconds(grace * 3))
            let exitedAfter = signalled.elapsedSeconds
            #expect(status == 0, "exit status \(String(describing: status))")
            #expect(
                TimingBound.isAt(exitedAfter, deadline: grace),
                "exited \(exitedAfter) s after SIGTERM (grace \(grace) s)")
            // The connection kept working well into the grace period (it was not cut at SIGTERM).
            let workedUntil = lastSuccess.value.map { Double($0.nanoseconds - signalled.nanoseconds) / 1e9 } ?? -1
            #expect(workedUntil >= grace / 2, "last successful exchange \(workedUntil) s after SIGTERM")
        }

        /// Test 10b: with `-grace 2s` and an idle open connection, SIGTERM or SIGINT makes the
        /// process exit 0 when the grace period ends, and the client sees EOF.
        @Test(arguments: [SIGTERM, SIGINT])
        func signalWithIdleConnectionExitsAfterGrace(signal: Int32) throws {
            let grace = 2.0
            let echo = try EchoServer()
            let sluice = try SluiceProcess.forwarding(to: [echo.target], flags: ["-grace", "2s"])
            let idle = try sluice.connect()
            #expect(try idle.echo("hello"))

            let signalled = Monotonic.now
            sluice.signal(signal)
            let status = sluice.waitForExit(timeout: .seconds(grace * 3))
            let exitedAfter = signalled.elapsedSeconds
            #expect(status == 0, "exit status \(String(describing: status))")
            #expect(
                TimingBound.isAt(exitedAfter, deadline: grace),
                "exited \(exitedAfter) s after signal \(signal) (grace \(grace) s)")
            #expect(idle.waitForClose(timeout: .seconds(5)) == .eof)
        }

        /// SIGPIPE never kills sluice: clients reset or close their connections while the target is
        /// still pushing bytes at them, so sluice writes into dead sockets (`ECONNRESET`, then
        /// `EPIPE`); it must keep serving.
        @Test func clientsDyingDuringTransferDoNotKillTheProcess() throws {
            let target = try SenderServer(count: 64 << 20, seed: 9)
            let sluice = try SluiceProcess.forwarding(to: [target.target])
            for i in 0..<6 {
                let connection = try sluice.connect()
                _ = try connection.receive(exactly: 100_000)
                // Half of them reset; the others close with unread data (the kernel answers the
                // bytes that keep arriving with RST).
                if i % 2 == 0 { connection.reset() } else { connection.close() }
                #expect(target.waitForClosed(i + 1, timeout: .seconds(10)), "target connection \(i) not torn down")
            }
            // Sluice has finished with all six once it logged their close lines (the last line of a
            // connection, written after its sockets are closed).
            #expect(waitUntil(timeout: .seconds(10)) { sluice.closeLineCount >= 6 }, "stderr:\n\(sluice.stderrText)")
            #expect(sluice.isRunning, "sluice died: \(String(describing: sluice.process.exitStatus))")
            let after = try sluice.connect()
            #expect(try after.receive(exactly: 1000) == target.pattern.bytes(count: 1000))
        }

        /// SIGPIPE never kills sluice, whatever raises it: its disposition is "ignore" (or every
        /// thread blocks it), and one sent with `kill` changes nothing. (A write-raised SIGPIPE needs
        /// a write after `ECONNRESET` was consumed, which a test cannot force from outside; this
        /// checks the disposition directly.)
        @Test func sigpipeSignalIsIgnored() throws {
            let echo = try EchoServer()
            let sluice = try SluiceProcess.forwarding(to: [echo.target])
            let ignored = ProcFS.signalMask(pid: sluice.pid, "SigIgn", contains: SIGPIPE) == true
            let threads = ProcFS.threads(pid: sluice.pid)
            let blocked =
                !threads.isEmpty
                && threads.allSatisfy {
                    ProcFS.signalMask(pid: sluice.pid, tid: $0, "SigBlk", contains: SIGPIPE) == true
                }
            #expect(ignored || blocked, "SIGPIPE is neither ignored nor blocked by every thread")
            sluice.signal(SIGPIPE)
            // A fatal signal marks the whole process for death as it is sent (before `kill`
            // returns): no thread of it serves a round trip afterwards unless SIGPIPE was harmless.
            #expect(try sluice.connect().echo("still here"))
            #expect(sluice.isRunning, "sluice died: \(String(describing: sluice.process.exitStatus))")
        }

        /// A target that resets while the client is still uploading: sluice's writes to the target
        /// fail; the client is closed and sluice keeps running.
        @Test func targetResetDuringUploadClosesTheClientOnly() throws {
            let target = try ResetServer(count: 1000)
            let sluice = try SluiceProcess.forwarding(to: [target.target])
            let connection = try sluice.connect(timeout: .seconds(5))
            #expect(try connection.receive(exactly: 1000) == target.pattern.bytes(count: 1000))
            // Keep uploading until sluice gives up on the connection.
            let chunk = [UInt8](repeating: 0x55, count: 64 << 10)
            let started = Monotonic.now
            var failed = false
            while !failed && started.elapsed < .seconds(20) {
                do { try connection.sendAll(chunk) } catch { failed = true }
            }
            #expect(failed, "uploads kept succeeding for 20 s after the target reset")
            #expect(sluice.isRunning, "sluice died: \(String(describing: sluice.process.exitStatus))")
        }
    }
}
