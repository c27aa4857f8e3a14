// A scrape's heap allocations do not grow with the connections the process holds: counted in the
// real binary with the LD_PRELOAD malloc counter of the allocation tests.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration {
    @Suite("Metrics allocations")
    struct MetricsAllocations {
        /// Holds `connections` relayed connections open, scrapes `scrapes` times over one keep-alive
        /// connection, then stops sluice; its allocation count at exit.
        static func allocations(connections: Int, scrapes: Int, counter: String) throws -> Int {
            let echo = try EchoServer()
            let countFile = "/tmp/sluice-malloc-count-\(getpid())-metrics-\(connections)-\(scrapes)"
            unlink(countFile)
            defer { unlink(countFile) }
            let sluice = try SluiceProcess.start(
                ["-threads", "1", "-L", forwardURL(to: [echo.target]), "-metrics", "127.0.0.1:0"], expectListeners: 2,
                environment: ["LD_PRELOAD": counter, "MALLOC_COUNT_FILE": countFile])
            var open: [TestConnection] = []
            for i in 0..<connections {
                let connection = try sluice.connect()
                #expect(try connection.echo("held \(i)"))
                open.append(connection)
            }
            let scraper = try HTTPClientConnection.connect(to: sluice.metricsAddress)
            for _ in 0..<scrapes {
                try scraper.request("GET", "/metrics")
                let response = try scraper.readResponse()
                #expect(response.status == 200)
            }
            scraper.close()
            for connection in open { connection.close() }
            #expect(waitUntil(timeout: .seconds(30)) { sluice.closeLineCount == connections })
            sluice.signal(SIGTERM)
            #expect(sluice.waitForExit(timeout: .seconds(30)) == 0)
            guard let text = ProcFS.readFile(countFile),
                let count = Int(text.split(separator: "\n").first ?? "")
            else { throw TestSupportError("read \(countFile)", detail: "no allocation count written") }
            return count
        }

        /// 40 scrapes cost the same allocations whether 5 or 200 connections are open: fewer than
        /// one more per scrape (the scrape sums per-reactor rows, never walks connections).
        @Test func scrapeAllocationsDoNotGrowWithOpenConnections() throws {
            let counter = try Integration.ForwardingTests.Allocations.buildCounter()
            defer { unlink(counter) }
            let scrapes = 40
            let few =
                try Self.allocations(connections: 5, scrapes: scrapes, counter: counter)
                - Self.allocations(connections: 5, scrapes: 0, counter: counter)
            let many =
                try Self.allocations(connections: 200, scrapes: scrapes, counter: counter)
                - Self.allocations(connections: 200, scrapes: 0, counter: counter)
            #expect(few > 0, "the counter did not count the scrapes")
            #expect(
                many - few < scrapes,
                "\(scrapes) scrapes allocated \(few) times with 5 connections open, \(many) with 200")
            print("metrics: \(scrapes) scrapes allocated \(few) (5 connections open) and \(many) (200 open) times")
        }
    }
}
