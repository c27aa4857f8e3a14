// Heap allocations on the data path: counted in the real binary with an LD_PRELOAD
// malloc counter (Tests/MallocCounter, built here with the system C compiler). The number of
// allocations per connection must not grow with the bytes relayed.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ForwardingTests {
    @Suite("Allocations")
    struct Allocations {
        /// Builds the counter library into a temporary directory; returns its path.
        static func buildCounter() throws -> String {
            let source =
                String(#filePath.dropLast("IntegrationTests/AllocationTests.swift".count))
                + "MallocCounter/malloc_counter.c"
            let library = "/tmp/sluice-malloc-counter-\(getpid()).so"
            let result = try runProcess(
                "cc", ["-shared", "-fPIC", "-O2", "-o", library, source], timeout: .seconds(60))
            guard result.exitCode == 0 else {
                throw TestSupportError("cc \(source)", detail: result.stderr)
            }
            return library
        }

        /// Runs `connections` echo connections of `bytesEach` bytes, one after the other, through a
        /// sluice that counts its allocations; returns the count at exit.
        static func allocations(connections: Int, bytesEach: Int, counter: String) throws -> Int {
            let echo = try EchoServer()
            let countFile = "/tmp/sluice-malloc-count-\(getpid())-\(bytesEach)"
            unlink(countFile)
            defer { unlink(countFile) }
            let sluice = try SluiceProcess.start(
                ["-threads", "1", "-L", forwardURL(to: [echo.target])],
                environment: ["LD_PRELOAD": counter, "MALLOC_COUNT_FILE": countFile])
            try runEchoLoad(to: sluice.address(), connections: connections, bytesEach: bytesEach, threads: 1)
            #expect(waitUntil(timeout: .seconds(30)) { sluice.closeLineCount == connections })
            sluice.signal(SIGTERM)
            #expect(sluice.waitForExit(timeout: .seconds(30)) == 0)
            guard let text = ProcFS.readFile(countFile),
                let count = Int(text.split(separator: "\n").first ?? "")
            else { throw TestSupportError("read \(countFile)", detail: "no allocation count written") }
            return count
        }

        /// 40 connections relaying 1 KiB each vs 40 relaying 4 MiB each (160 MiB in all, through
        /// both the buffered and the splice paths): the second run may not make more than one extra
        /// allocation per connection on average.
        @Test func allocationsPerConnectionDoNotGrowWithBytesRelayed() throws {
            let counter = try Self.buildCounter()
            defer { unlink(counter) }
            let connections = 40
            let small = try Self.allocations(connections: connections, bytesEach: 1 << 10, counter: counter)
            let large = try Self.allocations(connections: connections, bytesEach: 4 << 20, counter: counter)
            #expect(small > 0, "the counter did not count")
            #expect(
                large - small < connections,
                "allocations: \(small) with 1 KiB per connection, \(large) with 4 MiB per connection")
        }
    }
}
