// Integration tests for `maxConns` through the binary: at the limit Sluice stops accepting and the
// other clients wait in the listen backlog (none is accepted and dropped, none reset), each close
// lets exactly one more in, with two reactors sharing the count; `maxConns.backlog` is the backlog.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration {
    @Suite("maxConns: the open-connection limit", .timeLimit(.minutes(3)))
    struct ConnectionLimitTests {
        /// 50 clients connect to an echo service with `maxConns=10` on two reactors, each sending one
        /// byte. Exactly 10 get their echo; each time a served client leaves, exactly one waiting
        /// client is served; all 50 are served in the end, none reset. The pause and the resume are
        /// logged once each.
        @Test func tenServedAtATimeOfFifty() throws {
            let sluice = try SluiceProcess.services(["echo://127.0.0.1:0?maxConns=10"], flags: ["-threads", "2"])
            var waiting: [TestConnection] = []
            for _ in 0..<50 {
                let connection = try sluice.connect(timeout: .seconds(30))
                try connection.sendAll([0x78])
                waiting.append(connection)
            }
            var served: [TestConnection] = []
            var failures: [String] = []

            /// Moves every waiting client whose echo arrived within `timeout` to `served`.
            func collect(timeout: Duration) {
                var fds = waiting.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
                let ready = poll(&fds, nfds_t(fds.count), Int32(max(0, timeout.totalMilliseconds)))
                guard ready > 0 else { return }
                for index in fds.indices.reversed() where fds[index].revents != 0 {
                    let connection = waiting.remove(at: index)
                    do {
                        let echo = try connection.receive(upTo: 16)
                        if echo != [0x78] { failures.append("client got \(echo) instead of its echo") }
                    } catch {
                        failures.append("\(error)")
                    }
                    served.append(connection)
                }
            }
            /// Waits until 10 are served (or 30 s pass), then until Sluice is idle, then takes any
            /// echo that came meanwhile: a count above 10 means the limit let one too many in.
            func settle() {
                let deadline = Deadline(.seconds(30))
                while served.count < 10 && !waiting.isEmpty && !deadline.hasPassed {
                    collect(timeout: deadline.remaining)
                }
                _ = sluice.waitUntilQuiet()
                collect(timeout: .zero)
            }

            settle()
            #expect(served.count == 10, "served at first: \(served.count)")
            var round = 0
            while !waiting.isEmpty && served.count == 10 && round < 50 {
                served.removeFirst().close()
                settle()
                round += 1
                #expect(served.count == 10 || waiting.isEmpty, "round \(round): \(served.count) served at once")
            }
            #expect(waiting.isEmpty, "\(waiting.count) clients never served")
            #expect(failures.isEmpty, "\(failures)")
            // The last ten leave with a half-close: each gets EOF, not a reset.
            for connection in served {
                try connection.shutdownWrite()
                #expect(connection.waitForClose(timeout: .seconds(10)) == .eof)
            }
            #expect(sluice.waitForMessage(containing: "accepting resumed") != nil)
            let accepted = sluice.jsonLines.filter { $0["msg"]?.string?.contains(" <> ") == true }
            #expect(accepted.count == 50)
            let paused = sluice.jsonLines.filter { $0["msg"]?.string == "maxConns reached: 10 open; accepting paused" }
            #expect(paused.count == 1 && paused.first?["level"]?.string == "warning")
            let resumed = sluice.jsonLines.filter { $0["msg"]?.string == "accepting resumed" }
            #expect(resumed.count == 1 && resumed.first?["level"]?.string == "info")
            #expect(resumed.first?["service"]?.string == "service-0")
        }

        /// `maxConns.backlog` is the `listen()` backlog of each reactor's socket (`ss` shows a
        /// listener's backlog as its Send-Q).
        @Test func backlogIsTheListenBacklog() throws {
            let sluice = try SluiceProcess.services(
                ["echo://127.0.0.1:0?maxConns=1&maxConns.backlog=7"], flags: ["-threads", "2"])
            let result = try runProcess("/usr/bin/ss", ["-Hltn", "sport = :\(sluice.port)"])
            let rows = result.stdout.split(separator: "\n").map { $0.split(separator: " ") }
            #expect(rows.count == 2, "\(result.stdout)")
            for row in rows { #expect(row.count >= 3 && row[2] == "7", "\(row)") }
        }
    }
}
