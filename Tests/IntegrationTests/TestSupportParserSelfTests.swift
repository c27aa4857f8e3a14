// Self-tests of the TestSupport JSON parser and process helpers (no sluice binary needed): tricky
// JSON, the one-shot runner, and a fake "sluice" shell script for `SluiceProcess`.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration {
    @Suite("TestSupport self-tests: JSON")
    struct TestSupportJSONSelfTests {
        @Test(arguments: [
            (#"{"a":1,"b":[true,false,null],"c":{"d":"e"}}"#, #"{"a":1,"b":[true,false,null],"c":{"d":"e"}}"#),
            (#"  [ ]  "#, "[]"), (#"{}"#, "{}"), (#""\u00e9\u4e2d""#, "\"é中\""),
            (#""\ud83d\ude00""#, "\"😀\""), (#""a\"b\\c\/d\b\f\n\r\t""#, #""a\"b\\c/d\u0008\u000c\n\r\t""#),
            (#""\u0000""#, #""\u0000""#), ("-0", "0"), ("9223372036854775807", "9223372036854775807"),
            ("-9223372036854775808", "-9223372036854775808"), ("1.5e3", "1500.0"), ("0.25", "0.25"),
            ("9223372036854775808", "9.223372036854776e+18"), (#""é""#, "\"é\""),
            (
                #"{"msg":"127.0.0.1:5555 <> 127.0.0.1:41234","duration":491936}"#,
                #"{"msg":"127.0.0.1:5555 <> 127.0.0.1:41234","duration":491936}"#
            ),
        ])
        func parsesValidJSON(text: String, canonical: String) throws {
            #expect(try JSONValue.parse(text).description == canonical)
        }

        @Test(arguments: [
            "", " ", "{", "}", "[1,]", "{\"a\":1,}", "01", "-", "1.", ".5", "1e", "+1", "NaN", "Infinity", "tru",
            "nul", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"a\tb\"",
            "{\"a\" 1}", "{a:1}", "[1 2]", "1 2", "{\"a\":1,\"a\":2}", "1e400", "\"\u{7f}\"x",
            String(repeating: "[", count: 600) + String(repeating: "]", count: 600),
        ])
        func rejectsInvalidJSON(text: String) {
            #expect(throws: JSONError.self) { try JSONValue.parse(text) }
            #expect(JSONValue(text) == nil)
        }

        @Test func rejectsInvalidUTF8() {
            for bytes: [UInt8] in [
                [0x22, 0xC0, 0xAF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xFF, 0x22], [0x22, 0xE2, 0x82],
            ] {
                #expect(throws: JSONError.self) { try JSONValue.parse(bytes: bytes) }
            }
        }

        @Test func accessorsAndKeyOrder() throws {
            let line = try JSONValue.parse(
                #"{"duration":12,"inputBytes":3.0,"level":"info","msg":"x","ok":true,"list":[1,"two"],"z":null}"#)
            #expect(line["msg"]?.string == "x")
            #expect(line["duration"]?.int == 12)
            #expect(line["inputBytes"]?.int == 3)
            #expect(line["ok"]?.bool == true)
            #expect(line["list"]?[1]?.string == "two")
            #expect(line["z"]?.isNull == true)
            #expect(line["missing"] == nil)
            #expect(line["msg"]?.int == nil)
            #expect(line.object?.keys == ["duration", "inputBytes", "level", "msg", "ok", "list", "z"])
            #expect(line.object?.keysAreSorted == false)
            #expect(try JSONValue.parse(#"{"a":1,"b":2,"ba":3}"#).object?.keysAreSorted == true)
        }

        @Test func errorsSayWhere() {
            #expect(throws: JSONError(offset: 7, reason: "expected ',' or '}'")) {
                try JSONValue.parse(#"{"a":1 "b":2}"#)
            }
        }
    }
}

extension Integration {
    @Suite("TestSupport self-tests: processes", .timeLimit(.minutes(1)))
    struct TestSupportProcessSelfTests {
        @Test func runProcessCapturesStdout() throws {
            let result = try runProcess("/bin/echo", ["hello", "world"])
            #expect(result.exitCode == 0)
            #expect(result.stdout == "hello world\n")
            #expect(result.stderr == "")
        }

        @Test func runProcessCapturesStderrAndExitCode() throws {
            let result = try runProcess("/bin/sh", ["-c", "echo x >&2; exit 3"])
            #expect(result.exitCode == 3)
            #expect(result.status == .exited(3))
            #expect(result.stderr == "x\n")
            #expect(result.stdout == "")
        }

        /// A 1 s timeout on a 30 s sleep: killed at the timeout, long before the sleep would end.
        @Test func runProcessKillsOnTimeout() throws {
            let started = Monotonic.now
            let result = try runProcess("/bin/sleep", ["30"], timeout: .seconds(1))
            #expect(result.timedOut)
            #expect(result.exitCode == nil)
            #expect(TimingBound.isAt(started.elapsedSeconds, deadline: 1), "took \(started.elapsedSeconds) s")
        }

        @Test func runProcessReportsSignalDeathAndMissingBinary() throws {
            #expect(try runProcess("/bin/sh", ["-c", "kill -9 $$"]).status == .signaled(SIGKILL))
            #expect(throws: TestSupportError.self) { try runProcess("/nonexistent/binary") }
        }

        @Test func childStartsWithDefaultSIGPIPE() throws {
            // Even when the test process ignores SIGPIPE, the child must not inherit that.
            signal(SIGPIPE, SIG_IGN)
            let result = try runProcess("/bin/grep", ["SigIgn", "/proc/self/status"])
            let mask = result.stdout.split(separator: "\t").last.map { String($0.filter { $0 != "\n" }) } ?? ""
            let ignored = UInt64(mask, radix: 16) ?? UInt64.max
            #expect(ignored & (1 << (UInt64(SIGPIPE) - 1)) == 0, "SigIgn \(mask)")
        }

        /// A shell script posing as sluice: two listening lines, a non-JSON line, then it waits.
        static let fakeSluice = #"""
            echo '{"kind":"service","level":"info","msg":"listening on 127.0.0.1:41234/tcp","service":"service-0"}' >&2
            echo 'not json' >&2
            echo '{"kind":"service","level":"info","msg":"listening on [::]:41235/tcp","service":"service-1"}' >&2
            echo '{"level":"info","msg":"ready","sid":"abc"}' >&2
            echo '{"level":"info","msg":"127.0.0.1:5555 <> 127.0.0.1:41234","remote":"127.0.0.1:5555","sid":"s1"}' >&2
            echo '{"level":"info","msg":"127.0.0.1:5555 <-> 127.0.0.1:80","node":"target-0","sid":"s1"}' >&2
            echo '{"level":"error","msg":"dial tcp 127.0.0.1:81: connection refused","sid":"s1"}' >&2
            echo '{"level":"info","msg":"127.0.0.1:5555 >-< 127.0.0.1:80","sid":"s1"}' >&2
            echo '{"inputBytes":3,"level":"info","msg":"127.0.0.1:5555 >< 127.0.0.1:41234","sid":"s1"}' >&2
            echo 'to stdout'
            trap 'echo "{\"msg\":\"bye\"}" >&2; exit 0' TERM
            while true; do sleep 0.05; done
            """#

        @Test func sluiceProcessParsesListenersAndLines() throws {
            let fake = try SluiceProcess.start(["-c", Self.fakeSluice], expectListeners: 2, binary: "/bin/sh")
            defer { fake.stop() }
            #expect(fake.ports == [41234, 41235])
            #expect(fake.listeners.map(\.description) == ["127.0.0.1:41234", "[::]:41235"])
            #expect(fake.waitForMessage(containing: "ready")?["sid"]?.string == "abc")
            #expect(fake.lines(sid: "abc").count == 1)
            #expect(fake.lines.contains("not json"))
            #expect(fake.logLines.first { $0.text == "not json" }?.jsonError != nil)
            #expect(fake.jsonLines.count == 8)
            let client = SocketAddress("127.0.0.1:5555")!
            let log = try #require(fake.closedConnectionLog(client: client, timeout: .seconds(10)))
            #expect(log.sid == "s1")
            #expect(log.lines.count == 5)
            #expect(log.connected?["node"]?.string == "target-0")
            #expect(log.closed?["inputBytes"]?.int == 3)
            #expect(log.position(of: log.relayEnded) == 3)
            #expect(log.errors.count == 1)
            #expect(fake.errorSIDs(containing: "Connection Refused") == ["s1"])
            #expect((fake.rssKiB() ?? 0) > 0)
            #expect((fake.openFDCount() ?? 0) >= 3)
            #expect(fake.process.waitForLine(stream: .stdout, timeout: .seconds(10)) { $0.text == "to stdout" } != nil)
            fake.signal(SIGTERM)
            #expect(fake.waitForExit(timeout: .seconds(10)) == 0)
            #expect(fake.waitForMessage(containing: "bye", timeout: .seconds(10)) != nil)
            #expect(fake.rssKiB() == nil)
        }

        @Test func sluiceProcessStartFailsWithStderrWhenTheProcessExits() throws {
            do {
                _ = try SluiceProcess.start(["-c", "echo 'bad flag -x' >&2; exit 2"], binary: "/bin/sh")
                Issue.record("start should have thrown")
            } catch let error as TestSupportError {
                #expect(error.description.contains("exit 2"))
                #expect(error.description.contains("bad flag -x"))
            }
        }

        @Test func stopKillsAndWaitForExitTimesOut() throws {
            let sleeper = try BackgroundProcess("/bin/sleep", ["30"])
            #expect(sleeper.waitForExit(timeout: .milliseconds(100)) == nil)
            #expect(sleeper.isRunning)
            sleeper.stop()
            #expect(sleeper.exitStatus == .signaled(SIGKILL))
            #expect(sleeper.waitForExit(timeout: .zero) == 128 + SIGKILL)
        }

        /// A busy process never goes quiet; a sleeping one does, and so does one that just handled
        /// a signal.
        @Test func waitUntilQuietTellsBusyFromSleeping() throws {
            let spinner = try BackgroundProcess("/bin/sh", ["-c", "while :; do :; done"])
            #expect(!spinner.waitUntilQuiet(timeout: .seconds(1)))
            spinner.stop()
            #expect(!spinner.waitUntilQuiet(timeout: .seconds(1)), "a reaped process is not quiet")
            let sleeper = try BackgroundProcess(
                "/usr/bin/python3",
                [
                    "-c",
                    "import signal\nsignal.signal(signal.SIGUSR1, lambda *_: print('got it', flush=True))\nwhile True: signal.pause()",
                ])
            #expect(sleeper.waitUntilQuiet())
            sleeper.signal(SIGUSR1)
            #expect(sleeper.waitForLine(stream: .stdout, timeout: .seconds(10)) { $0.text == "got it" } != nil)
            #expect(sleeper.waitUntilQuiet())
        }

        /// A peer is ready once it holds its port, and not when someone else does: a process that
        /// never listens times out although its port is taken.
        @Test func peerProcessWaitsForItsOwnListener() throws {
            let port = try FreePorts.take(1)[0]
            let directory = try TemporaryDirectory(prefix: "selftest")
            let peer = try PeerProcess(
                name: "python listener", executable: "/usr/bin/python3",
                arguments: [
                    "-c",
                    "import socket,time; s=socket.socket(socket.AF_INET6); s.bind(('::', \(port))); s.listen(); time.sleep(60)",
                ], directory: directory, ports: [port])
            #expect(peer.isRunning)
            peer.stop()

            let holder = try PortHolder(address: SocketAddress(.v4(IPv4Address(127, 0, 0, 1)), port: 0))
            let started = Monotonic.now
            #expect(throws: TestSupportError.self) {
                _ = try PeerProcess(
                    name: "sleep", executable: "/bin/sleep", arguments: ["60"],
                    directory: TemporaryDirectory(prefix: "selftest"), ports: [holder.port], timeout: .seconds(1))
            }
            #expect(started.elapsedSeconds >= 1, "counted someone else's listener as the peer's")
        }

        @Test func binaryPathIsNextToTheTestBundle() {
            let path = SluiceProcess.binaryPath
            #expect(path.hasSuffix("/sluice"))
        }
    }
}
