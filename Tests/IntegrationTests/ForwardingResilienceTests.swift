// Forwarding when resources run out: the descriptor limit (reserve-fd shedding, no accept spin)
// and a log sink that stops reading (lines are dropped, forwarding never waits).
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ForwardingTests {
    @Suite("Resource exhaustion")
    struct Resilience {
        /// CPU time (user + system, in clock ticks) a process has used, from /proc/<pid>/stat.
        static func cpuTicks(_ pid: pid_t) -> Int? {
            guard let stat = ProcFS.readFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else {
                return nil
            }
            // Fields after "(comm)": state is field 3, utime 14, stime 15.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
            return user + system
        }

        /// At the descriptor limit (`prlimit --nofile=40`), connections beyond what fits are
        /// accepted and closed at once instead of hanging in the backlog, the listener does not
        /// spin, a warning says why, and service resumes as soon as descriptors free up.
        @Test func descriptorLimitShedsConnectionsWithoutSpinning() throws {
            let echo = try EchoServer()
            let sluice = try SluiceProcess.start(
                [
                    "--nofile=40:40", "--", SluiceProcess.binaryPath, "-threads", "1", "-L",
                    forwardURL(to: [echo.target]),
                ],
                binary: "/usr/bin/prlimit")
            var held: [TestConnection] = []
            defer { held.forEach { $0.close() } }
            for _ in 0..<60 { held.append(try sluice.connect(timeout: .seconds(3))) }
            // Every connection is either served or closed promptly: none hangs.
            var served = 0
            var shed = 0
            for connection in held {
                do {
                    if try connection.echo("x") { served += 1 }
                } catch {
                    shed += 1
                }
            }
            #expect(served >= 5, "served \(served), shed \(shed)")
            #expect(shed >= 20, "served \(served), shed \(shed)")
            #expect(served + shed == 60)
            #expect(sluice.waitForMessage(containing: "too many open files") != nil)

            // With the limit still reached, new connections keep arriving: no busy loop.
            let before = try #require(Self.cpuTicks(sluice.pid))
            for _ in 0..<20 {
                let extra = try sluice.connect(timeout: .seconds(3))
                #expect(extra.waitForClose(timeout: .seconds(1)).isClosed)
                extra.close()
            }
            sleep(for: .seconds(1))
            let used = try #require(Self.cpuTicks(sluice.pid)) - before
            #expect(used < 50, "sluice used \(used) ticks (1/100 s) while shedding for about 1 s")

            // Freeing descriptors brings service back.
            held.forEach { $0.close() }
            held.removeAll()
            let recovered = waitUntil(timeout: .seconds(3)) {
                guard let connection = try? sluice.connect(timeout: .seconds(1)) else { return false }
                defer { connection.close() }
                return (try? connection.echo("back")) == true
            }
            #expect(recovered)
            #expect(sluice.isRunning)
        }

        /// stderr is a pipe nobody reads: the log writer blocks, but forwarding goes on (3,000
        /// connections, each echoing), lines are dropped rather than queued without bound, and once
        /// the pipe is read again a warning reports how many were dropped.
        @Test func stalledLogSinkNeverStallsForwarding() throws {
            let echo = try EchoServer()
            let port = try freePort()
            let fifo = "/tmp/sluice-stalled-log-\(getpid())-\(port)"
            unlink(fifo)
            guard mkfifo(fifo, 0o600) == 0 else { throw TestSupportError.system("mkfifo") }
            defer { unlink(fifo) }
            // Open our end first (read-write, so the open does not wait for a writer), then never
            // read it until the end.
            let reader = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC)
            guard reader >= 0 else { throw TestSupportError.system("open fifo") }
            defer { Glibc.close(reader) }
            let url = forwardURL(listen: "127.0.0.1:\(port)", to: [echo.target])
            let process = try BackgroundProcess(
                "/bin/sh", ["-c", "exec \"$0\" -threads 1 -L '\(url)' 2>\(fifo)", SluiceProcess.binaryPath],
                environment: SluiceProcess.environment)
            defer { process.stop() }
            let address = SocketAddress(localhost, port: port)
            #expect(waitUntil(timeout: .seconds(5)) { (try? TestConnection.connect(to: address))?.close() != nil })

            let started = Monotonic.now
            let failures = AtomicCounter()
            try concurrently(count: 3000, threads: 16) { i in
                let connection = try TestConnection.connect(to: address, timeout: .seconds(5))
                defer { connection.close() }
                if try !connection.echo("connection \(i)") { failures.add() }
            }
            let elapsed = started.elapsedSeconds
            #expect(failures.value == 0)
            #expect(elapsed < 60, "3,000 connections took \(elapsed) s with a blocked log")

            // Drain the pipe: the dropped-lines warning must come through.
            var text: [UInt8] = []
            let reported = waitUntil(timeout: .seconds(10)) {
                var chunk = [UInt8](repeating: 0, count: 1 << 16)
                while true {
                    let n = read(reader, &chunk, chunk.count)
                    guard n > 0 else { break }
                    text.append(contentsOf: chunk[0..<n])
                    if text.count > 1 << 16 { text.removeFirst(text.count - (1 << 16)) }
                }
                return String(decoding: text, as: UTF8.self).contains("dropped")
            }
            #expect(reported, "no dropped-lines warning in the log's tail")
            #expect(process.isRunning)
        }

        /// A free TCP port on 127.0.0.1 (bound, then released).
        func freePort() throws -> UInt16 {
            let holder = try PortHolder()
            defer { holder.close() }
            return holder.port
        }
    }
}
