// The Prometheus text exposition: numbers and seconds written exactly, label values escaped, and a
// whole snapshot rendered in the expected shape (cumulative buckets, families without series left
// out).
import Testing

@testable import Sluice

@Suite struct MetricsTextTests {
    @Test(
        arguments: [
            (0, "0"), (7, "7"), (10, "10"), (1234567890, "1234567890"), (-42, "-42"),
            (Int.max, "9223372036854775807"), (Int.min, "-9223372036854775808"),
        ] as [(Int, String)])
    func decimal(value: Int, text: String) {
        var bytes: [UInt8] = []
        bytes.appendDecimal(value)
        #expect(String(decoding: bytes, as: UTF8.self) == text)
    }

    @Test(
        arguments: [
            (0, "0"), (1, "0.000000001"), (1_500_000_000, "1.5"), (3_000_000_000, "3"), (5_000_000, "0.005"),
            (2_722_721, "0.002722721"), (61_000_000_010, "61.00000001"), (-250_000_000, "-0.25"),
        ] as [(Int, String)])
    func seconds(nanoseconds: Int, text: String) {
        var bytes: [UInt8] = []
        bytes.appendSeconds(nanoseconds: nanoseconds)
        #expect(String(decoding: bytes, as: UTF8.self) == text)
    }

    @Test(
        arguments: [
            ("service-0", "service-0"), ("a\"b", "a\\\"b"), ("back\\slash", "back\\\\slash"),
            ("two\nlines", "two\\nlines"),
            ("ünïcode", "ünïcode"),
        ])
    func labelValueEscaping(name: String, escaped: String) {
        #expect(String(decoding: escapeLabelValue(name), as: UTF8.self) == escaped)
    }

    /// Bucket bounds are inclusive (`le`), as Prometheus defines them.
    @Test(
        arguments: [
            (0, 0), (5_000_000, 0), (5_000_001, 1), (999_999_999, 7), (1_000_000_000, 7), (60_000_000_000, 13),
            (60_000_000_001, 14),
        ] as [(Int64, Int)])
    func bucketIndex(nanoseconds: Int64, index: Int) {
        #expect(HistogramBuckets.requestDuration.index(of: nanoseconds) == index)
    }

    @Test func closeReasonNamesMatchTheLogNames() {
        let reasons: [CloseReason] = [
            .done, .clientError(.connectionReset), .upstreamError(.brokenPipe), .dialFailed(.connectionRefused),
            .dialTimeout, .resolveFailed, .noTarget, .idleTimeout, .clientClosedEarly, .headerInvalid, .headerTimeout,
            .headerMissing, .handshakeFailed, .requestRefused, .requestTimeout, .shutdown, .outOfDescriptors,
            .localError(Errno(12)),
        ]
        #expect(reasons.count == CloseReason.metricNames.count)
        for reason in reasons {
            #expect("\(CloseReason.metricNames[reason.metricIndex])" == "\(reason.name)")
        }
        #expect(Set(reasons.map(\.metricIndex)).count == reasons.count)
    }

    /// A snapshot with one service and one chain node: every family, in order, cumulative buckets.
    @Test func renderedSnapshot() {
        var catalog = MetricsCatalog()
        #expect(catalog.service("web") == 0)
        #expect(catalog.service("web") == 0, "a name keeps its slot")
        let chain = catalog.chain("chain-0")
        #expect(catalog.node(chain: chain, "node-0") == 0)
        var snapshot = MetricsSnapshot()
        snapshot.catalog = catalog
        snapshot.services = 1
        snapshot.reactors = 2
        snapshot.idleBuffers = 3
        snapshot.logLinesDropped = 4
        snapshot.service = Array(repeating: 0, count: ServiceRow.width)
        snapshot.service[ServiceRow.requests] = 5
        snapshot.service[ServiceRow.inFlight] = 1
        snapshot.service[ServiceRow.inputBytes] = 100
        snapshot.service[ServiceRow.outputBytes] = 200
        snapshot.service[ServiceRow.durationCount] = 4
        snapshot.service[ServiceRow.durationSum] = 1_250_000_000
        snapshot.service[ServiceRow.durationBuckets + 0] = 1  // ≤ 5 ms
        snapshot.service[ServiceRow.durationBuckets + 7] = 2  // ≤ 1 s
        snapshot.service[ServiceRow.closed + CloseReason.done.metricIndex] = 4
        snapshot.service[ServiceRow.proxyReceived + ProxyHeaderOutcome.v2.rawValue] = 2
        snapshot.service[ServiceRow.proxySent + 1] = 3
        // No node row published: it reads as zeros.
        snapshot.chain = [6]
        var writer = ExpositionWriter()
        snapshot.render(into: &writer)
        let text = String(decoding: writer.bytes, as: UTF8.self)
        let lines = text.split(separator: "\n").map(String.init)

        #expect(lines.first == "# HELP gost_services Current number of services")
        #expect(lines.contains("gost_services 1"))
        #expect(lines.contains("gost_service_requests_total{service=\"web\"} 5"))
        #expect(lines.contains("gost_service_requests_in_flight{service=\"web\"} 1"))
        #expect(lines.contains("# TYPE gost_service_request_duration_seconds histogram"))
        let buckets = lines.filter { $0.hasPrefix("gost_service_request_duration_seconds_bucket") }
        #expect(
            buckets.map { $0.split(separator: " ").last.map(String.init) ?? "" }
                == ["1", "1", "1", "1", "1", "1", "1", "3", "3", "3", "3", "3", "3", "3", "4"])
        #expect(buckets.last == "gost_service_request_duration_seconds_bucket{service=\"web\",le=\"+Inf\"} 4")
        #expect(buckets.first == "gost_service_request_duration_seconds_bucket{service=\"web\",le=\"0.005\"} 1")
        #expect(lines.contains("gost_service_request_duration_seconds_sum{service=\"web\"} 1.25"))
        #expect(lines.contains("gost_service_request_duration_seconds_count{service=\"web\"} 4"))
        #expect(lines.contains("gost_service_transfer_input_bytes_total{service=\"web\"} 100"))
        #expect(lines.contains("gost_service_transfer_output_bytes_total{service=\"web\"} 200"))
        #expect(lines.contains("gost_chain_errors_total{chain=\"chain-0\"} 6"))
        #expect(
            lines.contains(
                "gost_chain_node_connect_duration_seconds_bucket{chain=\"chain-0\",node=\"node-0\",le=\"0.01\"} 0"))
        #expect(lines.contains("gost_chain_node_connect_duration_seconds_count{chain=\"chain-0\",node=\"node-0\"} 0"))
        #expect(lines.contains("sluice_connections_closed_total{service=\"web\",reason=\"done\"} 4"))
        #expect(lines.contains("sluice_connections_closed_total{service=\"web\",reason=\"localError\"} 0"))
        #expect(lines.contains("sluice_proxy_headers_received_total{service=\"web\",outcome=\"v2\"} 2"))
        #expect(lines.contains("sluice_proxy_headers_received_total{service=\"web\",outcome=\"untrusted\"} 0"))
        #expect(lines.contains("sluice_proxy_headers_sent_total{service=\"web\",version=\"2\"} 3"))
        #expect(lines.contains("sluice_log_lines_dropped_total 4"))
        #expect(lines.contains("sluice_buffer_pool_idle_buffers 3"))
        #expect(lines.last == "sluice_reactors 2")
        #expect(text.hasSuffix("\n"))
        // Every family has HELP and TYPE right before its first sample, and appears once.
        let types = lines.filter { $0.hasPrefix("# TYPE ") }
        #expect(Set(types).count == types.count)
        #expect(types.count == 17)
    }

    /// Without chains the chain families are left out entirely (no TYPE line without samples).
    @Test func noChainFamiliesWithoutChains() {
        var catalog = MetricsCatalog()
        _ = catalog.service("s")
        var snapshot = MetricsSnapshot()
        snapshot.catalog = catalog
        var writer = ExpositionWriter()
        snapshot.render(into: &writer)
        let text = String(decoding: writer.bytes, as: UTF8.self)
        #expect(!text.contains("gost_chain"))
        #expect(text.contains("gost_service_requests_total{service=\"s\"} 0"), "a row never published reads 0")
    }

    /// The writer reuses its buffer: rendering twice gives the same text, not twice the text.
    @Test func writerStartsEmptyWhenReused() {
        var snapshot = MetricsSnapshot()
        snapshot.reactors = 1
        var writer = ExpositionWriter()
        snapshot.render(into: &writer)
        let once = writer.bytes
        writer = ExpositionWriter(reusing: writer.bytes)
        snapshot.render(into: &writer)
        #expect(writer.bytes == once)
    }
}
