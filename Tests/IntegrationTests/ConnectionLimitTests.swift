// Integration tests for `maxConns` through the binary: at the limit Sluice stops accepting and the
// other clients wait in the listen backlog (none is accepted and dropped, none reset), each close
// lets exactly one more in, with two reactors sharing the count; `maxConns.backlog` is the backlog;
// a reload changes both on the same sockets and keeps the count.
import Glibc
import Sluice
import TestSupport
import Testing

/// Clients of an echo service, each of which sent one byte: `waiting` until its echo arrives, then
/// `served`.
final class EchoClients {
    var waiting: [TestConnection] = []
    var served: [TestConnection] = []
    /// What went wrong for a client (a reset, a wrong echo).
    var failures: [String] = []

    init(_ sluice: SluiceProcess, count: Int) throws {
        for _ in 0..<count {
            let connection = try sluice.connect(timeout: .seconds(30))
            try connection.sendAll([0x78])
            waiting.append(connection)
        }
    }

    /// Moves every waiting client whose echo arrived within `timeout` to `served`.
    func collect(timeout: Duration) {
        var fds = waiting.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        guard poll(&fds, nfds_t(fds.count), Int32(max(0, timeout.totalMilliseconds))) > 0 else { return }
        for index in fds.indices.reversed() where fds[index].revents != 0 {
            let connection = waiting.remove(at: index)
            do {
                let echo = try connection.receive(upTo: 16)
                if echo != [0x78] { failures.append("a client got \(echo) instead of its echo") }
            } catch {
                failures.append("\(error)")
            }
            served.append(connection)
        }
    }

    /// Waits until `count` are served (or none waits, or 30 s pass), then until Sluice is idle,
    /// then takes any echo that came meanwhile: more than `count` means the limit let one too many in.
    func settle(_ sluice: SluiceProcess, at count: Int) {
        let deadline = Deadline(.seconds(30))
        while served.count < count && !waiting.isEmpty && !deadline.hasPassed { collect(timeout: deadline.remaining) }
        _ = sluice.waitUntilQuiet()
        collect(timeout: .zero)
    }
}

/// The backlog of each listening socket on `port` (`ss` shows a listener's backlog as its Send-Q).
func listenBacklogs(port: UInt16) throws -> [String] {
    let result = try runProcess("/usr/bin/ss", ["-Hltn", "sport = :\(port)"])
    return result.stdout.split(separator: "\n").map { row in
        let fields = row.split(separator: " ")
        return fields.count >= 3 ? String(fields[2]) : "?"
    }
}

extension Integration {
    @Suite("maxConns: the open-connection limit", .timeLimit(.minutes(3)))
    struct ConnectionLimitTests {
        /// 50 clients connect to an echo service with `maxConns=10` on two reactors, each sending one
        /// byte. Exactly 10 get their echo; each time a served client leaves, exactly one waiting
        /// client is served; all 50 are served in the end, none reset. The pause and the resume are
        /// logged once each.
        @Test func tenServedAtATimeOfFifty() throws {
            let sluice = try SluiceProcess.services(["echo://127.0.0.1:0?maxConns=10"], flags: ["-threads", "2"])
            let clients = try EchoClients(sluice, count: 50)
            clients.settle(sluice, at: 10)
            #expect(clients.served.count == 10, "served at first: \(clients.served.count)")
            var round = 0
            while !clients.waiting.isEmpty && clients.served.count == 10 && round < 50 {
                clients.served.removeFirst().close()
                clients.settle(sluice, at: 10)
                round += 1
                #expect(
                    clients.served.count == 10 || clients.waiting.isEmpty,
                    "round \(round): \(clients.served.count) served at once")
            }
            #expect(clients.waiting.isEmpty, "\(clients.waiting.count) clients never served")
            #expect(clients.failures.isEmpty, "\(clients.failures)")
            // The last ten leave with a half-close: each gets EOF, not a reset.
            for connection in clients.served {
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

        /// `maxConns.backlog` is the `listen()` backlog of each reactor's socket.
        @Test func backlogIsTheListenBacklog() throws {
            let sluice = try SluiceProcess.services(
                ["echo://127.0.0.1:0?maxConns=1&maxConns.backlog=7"], flags: ["-threads", "2"])
            #expect(try listenBacklogs(port: sluice.port) == ["7", "7"])
        }

        /// A reload (SIGHUP) that raises `maxConns` keeps the sockets and the count: the clients
        /// already served still count, the paused sockets accept again up to the new limit, and a
        /// changed `maxConns.backlog` resizes the backlog. A reload without the limit lets everyone in.
        @Test func reloadKeepsTheCountAndAppliesTheNewLimit() throws {
            let port = try unusedLoopbackPort()
            let directory = try TemporaryDirectory(prefix: "maxconns")
            func config(_ metadata: String) -> String {
                "services:\n- name: echo\n  addr: 127.0.0.1:\(port)\n  handler: {type: echo}\n  metadata: {\(metadata)}\n"
            }
            let file = try directory.write("sluice.yaml", config("maxConns: 2, maxConns.backlog: 7"))
            let sluice = try SluiceProcess.start(["-C", file, "-threads", "2"])
            let clients = try EchoClients(sluice, count: 5)
            clients.settle(sluice, at: 2)
            #expect(clients.served.count == 2)

            func reload(_ metadata: String, number: Int) throws {
                try directory.write("sluice.yaml", config(metadata))
                sluice.signal(SIGHUP)
                let done = waitUntil(timeout: .seconds(10)) {
                    sluice.jsonLines.filter { $0["msg"]?.string?.hasPrefix("reload: ") == true }.count == number
                }
                #expect(done, "reload \(number) not logged: \(sluice.stderrText)")
            }
            try reload("maxConns: 3, maxConns.backlog: 9", number: 1)
            clients.settle(sluice, at: 3)
            #expect(clients.served.count == 3, "a restarted count would have served all 5")
            #expect(try listenBacklogs(port: port) == ["9", "9"])
            try reload("", number: 2)
            clients.settle(sluice, at: 5)
            #expect(clients.served.count == 5 && clients.waiting.isEmpty)
            #expect(clients.failures.isEmpty, "\(clients.failures)")
        }
    }
}
