// Forwarding when resources run out: the descriptor limit (reserve-fd shedding, no accept spin)
// and a log sink that stops reading (lines are dropped, forwarding never waits).
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ForwardingTests {
    @Suite("Resource exhaustion")
    struct Resilience {
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
            for _ in 0..<60 { held.append(try sluice.connect(timeout: .seconds(10))) }
            // Every connection is either served or closed: none hangs (the 10 s socket timeout
            // would count it as hung).
            var served = 0
            var shed = 0
            var hung = 0
            for connection in held {
                do {
                    if try connection.echo("x") { served += 1 }
                } catch let error as TestSupportError where error.isTimeout {
                    hung += 1
                } catch {
                    shed += 1
                }
            }
            #expect(served >= 5, "served \(served), shed \(shed), hung \(hung)")
            #expect(shed >= 20, "served \(served), shed \(shed), hung \(hung)")
            #expect(served + shed == 60, "served \(served), shed \(shed), hung \(hung)")
            #expect(sluice.waitForMessage(containing: "too many open files", timeout: .seconds(10)) != nil)

            // With the limit still reached, new connections keep arriving and are shed; then sluice
            // goes back to sleep instead of spinning on a listener it cannot accept from.
            for _ in 0..<20 {
                let extra = try sluice.connect(timeout: .seconds(10))
                #expect(extra.waitForClose(timeout: .seconds(10)).isClosed)
                extra.close()
            }
            #expect(sluice.waitUntilQuiet(), "sluice does not go quiet while at its descriptor limit")

            // Freeing descriptors brings service back.
            held.forEach { $0.close() }
            held.removeAll()
            let recovered = waitUntil(timeout: .seconds(10)) {
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
            let fifo = "/tmp/sluice-stalled-log-\(getpid())-\(echo.port)"
            unlink(fifo)
            guard mkfifo(fifo, 0o600) == 0 else { throw TestSupportError.system("mkfifo") }
            defer { unlink(fifo) }
            // Open our end first (read-write, so the open does not wait for a writer), then never
            // read it except for the listening line and, at the end, the tail.
            let reader = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC)
            guard reader >= 0 else { throw TestSupportError.system("open fifo") }
            defer { Glibc.close(reader) }
            var text: [UInt8] = []
            /// Reads what the pipe holds into `text` (keeping its last 64 KiB).
            func drain() {
                var chunk = [UInt8](repeating: 0, count: 1 << 16)
                while true {
                    let n = read(reader, &chunk, chunk.count)
                    guard n > 0 else { break }
                    text.append(contentsOf: chunk[0..<n])
                    if text.count > 1 << 16 { text.removeFirst(text.count - (1 << 16)) }
                }
            }
            let url = forwardURL(to: [echo.target])
            let process = try BackgroundProcess(
                "/bin/sh", ["-c", "exec \"$0\" -threads 1 -L '\(url)' 2>\(fifo)", SluiceProcess.binaryPath],
                environment: SluiceProcess.environment)
            defer { process.stop() }
            // The listener's port (sluice picks it) from the listening line, the first line logged.
            let listening = waitFor(timeout: .seconds(10)) { () -> SocketAddress? in
                drain()
                guard let end = text.firstIndex(of: 0x0A) else { return nil }
                return SluiceProcess.listeningAddress(inText: String(decoding: text[..<end], as: UTF8.self))
            }
            let address = try #require(listening, "no listening line: \(String(decoding: text, as: UTF8.self))")

            let failures = AtomicCounter()
            // A connection that waits on the blocked log fails on the 10 s socket timeout (and
            // `concurrently` throws); none may.
            try concurrently(count: 3000, threads: 16) { i in
                let connection = try TestConnection.connect(to: address, timeout: .seconds(10))
                defer { connection.close() }
                if try !connection.echo("connection \(i)") { failures.add() }
            }
            #expect(failures.value == 0)

            // Drain the pipe: the dropped-lines warning must come through.
            text = []
            let reported = waitUntil(timeout: .seconds(10)) {
                drain()
                return String(decoding: text, as: UTF8.self).contains("dropped")
            }
            #expect(reported, "no dropped-lines warning in the log's tail")
            #expect(process.isRunning)
        }
    }
}
