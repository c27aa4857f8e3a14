// SIGHUP under load: the command line and the file read again while clients keep connecting.
// Kept services never refuse or reset a connection, open connections keep flowing, a changed
// service's new connections reach its new target, a removed one stops accepting and its
// connections end after the grace period, an added one listens; a bad file changes nothing.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ConfigFileTests {
    @Suite("SIGHUP reload")
    struct Reload {
        /// The `-grace` of these tests, in seconds: how long a removed service's connections last.
        static let grace = 1.0

        /// A `tcp` forwarder service in YAML.
        static func service(_ name: String, port: UInt16, to target: String) -> String {
            """
            - name: \(name)
              addr: 127.0.0.1:\(port)
              handler:
                type: tcp
              forwarder:
                nodes:
                  - name: target-0
                    addr: \(target)

            """
        }

        /// Clients that keep opening short connections to one port (connect, echo a few bytes,
        /// close) on a thread of their own until told to stop, `limit` connections have been
        /// made, or `duration` has passed; every failure is kept.
        final class ShortConnections: @unchecked Sendable {
            struct Tally: Sendable {
                var completed = 0
                var failures: [String] = []
            }

            let tally = Locked(Tally())
            private let stopping = Locked(false)
            private var thread: TestThread?

            init(port: UInt16, label: String, limit: Int = 4000, duration: Duration = .seconds(30)) {
                let tally = self.tally
                let stopping = self.stopping
                thread = TestThread.spawn {
                    let deadline = Deadline(duration)
                    for n in 0..<limit {
                        if stopping.value || deadline.hasPassed { return }
                        let message = "\(label) \(n)"
                        do {
                            let connection = try TestConnection.connect(port: port, timeout: .seconds(10))
                            let echoed = try connection.exchange(ascii(message), expecting: message.utf8.count)
                            connection.close()
                            if echoed != ascii(message) { throw TestSupportError("echo", detail: printable(echoed)) }
                            tally.withLock { $0.completed += 1 }
                        } catch {
                            tally.withLock { $0.failures.append("\(message): \(error)") }
                        }
                    }
                }
            }

            var completed: Int { tally.value.completed }

            /// Stops and joins the thread; returns the tally.
            @discardableResult
            func stop() -> Tally {
                stopping.set(true)
                thread?.join()
                thread = nil
                return tally.value
            }

            deinit { stop() }
        }

        /// `sluice -grace 1s -C reload.yaml -L tcp://127.0.0.1:U/<kept>`: the file holds service
        /// `changed` (→ `old`) and `removed`; the command line adds `service-0` (unchanged). Short
        /// connections run against `service-0` and `changed` while the file becomes `changed` (→
        /// `new`) and `added`, and SIGHUP is sent:
        /// - the reload line says `1 started, 1 stopped, 1 changed, 1 unchanged`;
        /// - not one short connection on either service fails (refused, reset or echo cut);
        /// - connections opened before the reload on `service-0` and `changed` keep echoing after
        ///   it, `changed`'s still to `old`;
        /// - new connections of `changed` reach `new` (during the load, and all of them once the
        ///   process has settled; `old` accepts none after that);
        /// - `removed` refuses connections, and its open connection ends at the grace period,
        ///   counted from SIGHUP;
        /// - `added` logs its listener and forwards.
        ///
        /// Then a file with a TAB on SIGHUP: an error line naming `reload.yaml:line:col`, and
        /// nothing changes (`changed` still reaches `new`, `added` still forwards, `removed`
        /// still refuses, open connections still echo). Then a good file again (`changed` back to
        /// `old`, `removed` back, `added` gone): applied.
        @Test func reloadUnderLoad() throws {
            let kept = try EchoServer()
            let old = try EchoServer()
            let new = try EchoServer()
            let removedTarget = try EchoServer()
            let addedTarget = try EchoServer()
            let directory = try ConfigFiles.directory()
            let file = directory.file("reload.yaml")
            var ports: [UInt16] = []
            let sluice = try PeerProcess.startWithRetries(ports: 4) { fresh in
                ports = fresh
                try directory.write(
                    "reload.yaml",
                    "services:\n" + Self.service("changed", port: fresh[1], to: old.target)
                        + Self.service("removed", port: fresh[2], to: removedTarget.target))
                return try SluiceProcess.start(
                    ["-grace", "1s", "-C", file, "-L", "tcp://127.0.0.1:\(fresh[0])/\(kept.target)"],
                    expectListeners: 3)
            }
            let (keptPort, changedPort, removedPort, addedPort) = (ports[0], ports[1], ports[2], ports[3])
            #expect(sluice.ports == [changedPort, removedPort, keptPort], "\(sluice.stderrText)")
            #expect(throws: (any Error).self) { try TestConnection.connect(port: addedPort, timeout: .seconds(2)) }

            // Long connections, opened before the reload.
            let longKept = try TestConnection.connect(port: keptPort)
            let longChanged = try TestConnection.connect(port: changedPort)
            let longRemoved = try TestConnection.connect(port: removedPort)
            for connection in [longKept, longChanged, longRemoved] {
                #expect(try connection.echo("before the reload"), "\(sluice.stderrText)")
            }
            #expect(old.acceptedCount == 1)

            // Load, then the new file and SIGHUP while it runs.
            let keptLoad = ShortConnections(port: keptPort, label: "kept")
            let changedLoad = ShortConnections(port: changedPort, label: "changed")
            #expect(waitUntil(timeout: .seconds(20)) { keptLoad.completed >= 50 && changedLoad.completed >= 50 })
            try directory.write(
                "reload.yaml",
                "services:\n" + Self.service("changed", port: changedPort, to: new.target)
                    + Self.service("added", port: addedPort, to: addedTarget.target))
            let seen = sluice.logLines.count
            let hangup = Monotonic.now
            sluice.signal(SIGHUP)
            let reload = sluice.waitForMessage(containing: "reload: ", after: seen)
            #expect(
                reload?["msg"]?.string == "reload: 1 started, 1 stopped, 1 changed, 1 unchanged",
                "\(sluice.stderrText)")
            #expect(reload?["level"]?.string == "info")
            let keptAtReload = keptLoad.completed
            // The load goes on until the new target has served some of it (or 20 s).
            #expect(waitUntil(timeout: .seconds(20)) { new.acceptedCount >= 50 }, "\(sluice.stderrText)")
            #expect(waitUntil(timeout: .seconds(20)) { keptLoad.completed >= keptAtReload + 50 })
            let keptTally = keptLoad.stop()
            let changedTally = changedLoad.stop()
            #expect(keptTally.failures.isEmpty, "\(keptTally.failures.prefix(10))")
            #expect(changedTally.failures.isEmpty, "\(changedTally.failures.prefix(10))")
            #expect(keptTally.completed >= 100 && changedTally.completed >= 100)
            // Every short connection of `changed` reached one of its two targets.
            #expect(old.acceptedCount + new.acceptedCount == changedTally.completed + 1)

            // Open connections flow across the reload; `changed`'s still goes to `old`.
            let oldReceived = old.records.first?.received.count ?? 0
            #expect(try longKept.echo("after the reload"), "\(sluice.stderrText)")
            #expect(try longChanged.echo("after the reload"), "\(sluice.stderrText)")
            #expect(old.records.first?.received.count == oldReceived + "after the reload".utf8.count)

            // `removed`: refused, and its connection closed at the grace period.
            let refused = waitUntil(timeout: .seconds(10)) {
                do {
                    _ = try TestConnection.connect(port: removedPort, timeout: .seconds(2))
                    return false
                } catch let error as TestSupportError {
                    return error.errno == .connectionRefused
                } catch {
                    return false
                }
            }
            #expect(refused, "\(sluice.stderrText)")
            let outcome = longRemoved.waitForClose(timeout: .seconds(10))
            let closedAfter = hangup.elapsedSeconds
            #expect(outcome.isClosed, "\(outcome)")
            #expect(
                TimingBound.isAt(closedAfter, deadline: Self.grace), "closed \(closedAfter) s after SIGHUP, grace 1 s")

            // `added` listens and forwards; settled, every new `changed` connection reaches `new`.
            #expect(sluice.ports.count == 4 && sluice.ports.last == addedPort, "\(sluice.stderrText)")
            #expect(sluice.waitUntilQuiet(), "sluice did not settle")
            let oldAccepted = old.acceptedCount
            let newAccepted = new.acceptedCount
            try expectServing(keptPort, changedPort, addedPort, count: 5)
            #expect(old.acceptedCount == oldAccepted && new.acceptedCount == newAccepted + 5)
            #expect(addedTarget.acceptedCount == 5)

            // A bad file (it would send `changed` back to `old`): logged with its position, ignored.
            try directory.write(
                "reload.yaml",
                "services:\n" + Self.service("changed", port: changedPort, to: old.target)
                    + "- name: added\n\taddr: 127.0.0.1:\(addedPort)\n")
            let badLine = 11
            let beforeBad = sluice.logLines.count
            sluice.signal(SIGHUP)
            let error = sluice.waitForMessage(containing: "the running configuration stays", after: beforeBad)
            #expect(error?["level"]?.string == "error", "\(sluice.stderrText)")
            let message = error?["msg"]?.string ?? ""
            #expect(message.hasPrefix("reload: \(file):\(badLine):1: "), "\(message)")
            #expect(message.lowercased().contains("tab"), "\(message)")
            #expect(sluice.isRunning)
            #expect(sluice.waitUntilQuiet(), "sluice did not settle")
            try expectServing(keptPort, changedPort, addedPort, count: 3)
            #expect(old.acceptedCount == oldAccepted && new.acceptedCount == newAccepted + 8)
            #expect(throws: (any Error).self) { try TestConnection.connect(port: removedPort, timeout: .seconds(2)) }
            #expect(try longKept.echo("after the bad file"))
            #expect(try longChanged.echo("after the bad file"))

            // The next good file applies: `changed` back to `old`, `removed` back, `added` gone.
            try directory.write(
                "reload.yaml",
                "services:\n" + Self.service("changed", port: changedPort, to: old.target)
                    + Self.service("removed", port: removedPort, to: removedTarget.target))
            let beforeGood = sluice.logLines.count
            sluice.signal(SIGHUP)
            let good = sluice.waitForMessage(containing: "reload: ", after: beforeGood)
            #expect(
                good?["msg"]?.string == "reload: 1 started, 1 stopped, 1 changed, 1 unchanged", "\(sluice.stderrText)")
            #expect(sluice.waitUntilQuiet(), "sluice did not settle")
            try expectServing(keptPort, changedPort, removedPort, count: 3)
            #expect(old.acceptedCount == oldAccepted + 3 && new.acceptedCount == newAccepted + 8)
            #expect(removedTarget.acceptedCount == 1 + 3)
            #expect(
                waitUntil(timeout: .seconds(10)) {
                    (try? TestConnection.connect(port: addedPort, timeout: .seconds(2))) == nil
                }, "added still accepts:\n\(sluice.stderrText)")
            #expect(try longKept.echo("at the end"))
            #expect(try longChanged.echo("at the end"))
            #expect(sluice.lines(level: "error").count == 1, "\(sluice.stderrText)")
        }

        /// `count` echo connections to each of `ports`, one after the other; each must succeed.
        func expectServing(_ ports: UInt16..., count: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
            for port in ports {
                for n in 0..<count {
                    let connection = try TestConnection.connect(port: port)
                    #expect(try connection.echo("to \(port), \(n)"), sourceLocation: sourceLocation)
                    connection.close()
                }
            }
        }

        /// The drain of a removed service on a reactor that has nothing else to do: `sluice
        /// -grace 1s -C two.yaml` with services `kept` and `removed`, one idle connection to
        /// `removed`; the file loses `removed`, SIGHUP: new connections are refused and the open
        /// one is closed at the grace period (counted from SIGHUP), while `kept` goes on.
        @Test func removedServiceConnectionEndsAtTheGracePeriodOnAnIdleProcess() throws {
            let target = try EchoServer()
            let directory = try ConfigFiles.directory()
            let file = directory.file("two.yaml")
            var ports: [UInt16] = []
            let sluice = try PeerProcess.startWithRetries(ports: 2) { fresh in
                ports = fresh
                try directory.write(
                    "two.yaml",
                    "services:\n" + Self.service("kept", port: fresh[0], to: target.target)
                        + Self.service("removed", port: fresh[1], to: target.target))
                return try SluiceProcess.start(["-grace", "1s", "-C", file], expectListeners: 2)
            }
            let open = try TestConnection.connect(port: ports[1])
            #expect(try open.echo("before"), "\(sluice.stderrText)")
            try directory.write("two.yaml", "services:\n" + Self.service("kept", port: ports[0], to: target.target))
            let seen = sluice.logLines.count
            let hangup = Monotonic.now
            sluice.signal(SIGHUP)
            let reload = sluice.waitForMessage(containing: "reload: ", after: seen)
            #expect(
                reload?["msg"]?.string == "reload: 0 started, 1 stopped, 0 changed, 1 unchanged", "\(sluice.stderrText)"
            )
            let outcome = open.waitForClose(timeout: .seconds(10))
            let closedAfter = hangup.elapsedSeconds
            #expect(outcome.isClosed, "\(outcome)\n\(sluice.stderrText)")
            #expect(
                TimingBound.isAt(closedAfter, deadline: Self.grace), "closed \(closedAfter) s after SIGHUP, grace 1 s")
            let closeLine = sluice.waitForLine { $0["msg"]?.string?.contains(" >< ") == true }
            #expect(closeLine?["reason"]?.string == "shutdown", "\(sluice.stderrText)")
            #expect(closeLine?["service"]?.string == "removed", "\(sluice.stderrText)")
            #expect(throws: (any Error).self) { try TestConnection.connect(port: ports[1], timeout: .seconds(2)) }
            let connection = try TestConnection.connect(port: ports[0])
            #expect(try connection.echo("kept"), "\(sluice.stderrText)")
        }

        /// `sluice -C - < file`: standard input cannot be read again, so SIGHUP logs an error and
        /// the service keeps forwarding.
        @Test func configurationFromStandardInputIsNotReloaded() throws {
            let target = try EchoServer()
            let directory = try ConfigFiles.directory()
            let file = try directory.write(
                "stdin.yaml", "services:\n" + Self.service("piped", port: 0, to: target.target))
            let sluice = try ConfigFiles.start(["-C", "-"], stdin: file, expectListeners: 1)
            let seen = sluice.logLines.count
            sluice.signal(SIGHUP)
            let error = sluice.waitForMessage(containing: "reload: ", after: seen)
            #expect(error?["level"]?.string == "error", "\(sluice.stderrText)")
            #expect(error?["msg"]?.string?.contains("standard input") == true, "\(sluice.stderrText)")
            #expect(sluice.isRunning)
            let connection = try sluice.connect()
            #expect(try connection.echo("still forwarding"), "\(sluice.stderrText)")
        }
    }
}
