// A scrape's heap allocations do not grow with the connections the process holds: counted in the
// real binary with the LD_PRELOAD malloc counter of the allocation tests, over the scrapes alone.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration {
    @Suite("Metrics allocations")
    struct MetricsAllocations {
        /// Holds `connections` relayed connections open, then counts the allocations of `scrapes`
        /// scrapes over one keep-alive connection: the counter's snapshots (SIGUSR2) just before and
        /// just after them, so the connections' own allocations — which depend on timing, e.g. which
        /// timer-wheel buckets their dial deadlines land in — are not part of the figure.
        static func scrapeAllocations(connections: Int, scrapes: Int, counter: String) throws -> Int {
            let echo = try EchoServer()
            let snapshots = "/tmp/sluice-malloc-snapshots-\(getpid())-metrics-\(connections)"
            unlink(snapshots)
            defer { unlink(snapshots) }
            let sluice = try SluiceProcess.start(
                ["-threads", "1", "-L", forwardURL(to: [echo.target]), "-metrics", "127.0.0.1:0"], expectListeners: 2,
                environment: ["LD_PRELOAD": counter, "MALLOC_COUNT_SNAPSHOT_FILE": snapshots])
            var open: [TestConnection] = []
            for i in 0..<connections {
                let connection = try sluice.connect()
                #expect(try connection.echo("held \(i)"))
                open.append(connection)
            }
            let scraper = try HTTPClientConnection.connect(to: sluice.metricsAddress)
            func scrape() throws {
                try scraper.request("GET", "/metrics")
                #expect(try scraper.readResponse().status == 200)
            }
            // One scrape first: what the endpoint sets up once is not the scrapes' cost.
            try scrape()
            func snapshot(_ count: Int) throws -> Int {
                sluice.signal(SIGUSR2)
                var lines: [Substring] = []
                let written = waitUntil(timeout: .seconds(10)) {
                    lines = (ProcFS.readFile(snapshots) ?? "").split(separator: "\n")
                    return lines.count >= count
                }
                guard written, let value = Int(lines[count - 1]) else {
                    throw TestSupportError("read \(snapshots)", detail: "snapshot \(count) not written")
                }
                return value
            }
            let before = try snapshot(1)
            for _ in 0..<scrapes { try scrape() }
            let after = try snapshot(2)
            scraper.close()
            for connection in open { connection.close() }
            #expect(waitUntil(timeout: .seconds(30)) { sluice.closeLineCount == connections })
            return after - before
        }

        /// 40 scrapes cost the same allocations whether 5 or 200 connections are open: fewer than
        /// one more per scrape (the scrape sums per-reactor rows, never walks connections).
        @Test func scrapeAllocationsDoNotGrowWithOpenConnections() throws {
            let counter = try Integration.ForwardingTests.Allocations.buildCounter()
            defer { unlink(counter) }
            let scrapes = 40
            let few = try Self.scrapeAllocations(connections: 5, scrapes: scrapes, counter: counter)
            let many = try Self.scrapeAllocations(connections: 200, scrapes: scrapes, counter: counter)
            #expect(few > 0, "the counter did not count the scrapes")
            #expect(
                many - few < scrapes,
                "\(scrapes) scrapes allocated \(few) times with 5 connections open, \(many) with 200")
            print("metrics: \(scrapes) scrapes allocated \(few) (5 connections open) and \(many) (200 open) times")
        }
    }
}
