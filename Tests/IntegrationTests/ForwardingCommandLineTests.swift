// The command line: usage errors exit 2 with one line, start-up failures exit 1 with nothing left
// running, `-V` and `-h`.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ForwardingTests {
    @Suite("Command line and exit codes")
    struct CommandLine {
        /// The non-empty lines of a text.
        static func lines(_ text: String) -> [Substring] {
            text.split(separator: "\n").filter { !$0.allSatisfy(\.isWhitespace) }
        }

        /// Test 12: usage errors exit 2 at once, with exactly one line on stderr.
        @Test(arguments: [
            ["-nope"],  // unknown flag
            ["-L"],  // flag without its value
            ["-L", "tcp://[::1:0/127.0.0.1:80"],  // malformed URL: unterminated IPv6 bracket
            ["-L", "tcp://:99999/127.0.0.1:80"],  // listen port out of range
            ["-L", "tcp://127.0.0.1:0/127.0.0.1:70000"],  // target port out of range
            ["-threads", "zero", "-L", "tcp://127.0.0.1:0/127.0.0.1:80"],  // bad flag value
        ])
        func usageErrorsExitTwo(arguments: [String]) throws {
            let result = try SluiceProcess.run(arguments, timeout: .seconds(30))
            #expect(result.exitCode == 2, "\(arguments): \(result.status.map(\.description) ?? "timeout")")
            #expect(Self.lines(result.stderr).count == 1, "\(arguments): stderr:\n\(result.stderr)")
        }

        /// A handler this version does not implement is a usage error naming it.
        @Test func unsupportedHandlerIsAUsageError() throws {
            let result = try SluiceProcess.run(["-L", "relay://127.0.0.1:0"], timeout: .seconds(30))
            #expect(result.exitCode == 2)
            #expect(Self.lines(result.stderr).count == 1, "stderr:\n\(result.stderr)")
            #expect(result.stderr.contains("relay") && result.stderr.contains("not supported"), "\(result.stderr)")
        }

        /// A listen port already taken exits 1 with "address already in use".
        @Test func portInUseExitsOne() throws {
            let holder = try PortHolder()
            let result = try SluiceProcess.run(
                ["-L", "tcp://127.0.0.1:\(holder.port)/127.0.0.1:1"], timeout: .seconds(30))
            #expect(result.exitCode == 1, "\(result.status.map(\.description) ?? "timeout")")
            #expect(result.stderr.contains("address already in use"), "stderr:\n\(result.stderr)")
        }

        /// When the second of two services cannot bind, nothing is left half-started: the process
        /// exits 1 instead of serving the first.
        @Test func secondServiceFailingStopsTheFirst() throws {
            let holder = try PortHolder()
            let result = try SluiceProcess.run(
                [
                    "-L", "tcp://127.0.0.1:0/127.0.0.1:1",
                    "-L", "tcp://127.0.0.1:\(holder.port)/127.0.0.1:1",
                ], timeout: .seconds(30))
            #expect(!result.timedOut, "sluice kept running with one service")
            #expect(result.exitCode == 1, "\(result.status.map(\.description) ?? "timeout")")
            #expect(result.stderr.contains("address already in use"), "stderr:\n\(result.stderr)")
        }

        /// Test 12: `-V` prints `sluice <version> (swift <version> linux/<arch>)` and exits 0.
        @Test func versionFlag() throws {
            let result = try SluiceProcess.run(["-V"])
            #expect(result.exitCode == 0)
            let line = result.stdout.split(separator: "\n").first.map(String.init) ?? ""
            #expect(
                line.wholeMatch(of: /sluice \S+ \(swift \S+ linux\/[a-z0-9_]+\)/) != nil,
                "stdout: \(result.stdout) stderr: \(result.stderr)")
        }

        /// Test 12: `-h` exits 0 and prints the usage, flags and an Examples section.
        @Test func helpFlag() throws {
            let result = try SluiceProcess.run(["-h"])
            #expect(result.exitCode == 0)
            for word in ["-L", "-threads", "-grace", "-D", "-V", "Examples:", "tcp://"] {
                #expect(result.stdout.contains(word), "help lacks \(word): \(result.stdout)")
            }
        }
    }
}
