// The Prometheus text exposition format 0.0.4: a `MetricsSnapshot` rendered as `# HELP`/`# TYPE`
// lines and samples, written byte by byte into a reused buffer (no String per number or label).

extension [UInt8] {
    /// Appends the bytes of a constant.
    @inline(__always)
    mutating func append(_ text: StaticString) {
        // `withUTF8Buffer` also serves a one-scalar literal, which may not be stored as a pointer.
        text.withUTF8Buffer { append(contentsOf: $0) }
    }

    /// Appends `value` in decimal.
    mutating func appendDecimal(_ value: Int) {
        if value < 0 {
            append(0x2D)
            // -Int.min does not fit: write its magnitude as an unsigned number.
            appendDecimal(UInt(bitPattern: 0 &- value))
        } else {
            appendDecimal(UInt(value))
        }
    }

    mutating func appendDecimal(_ value: UInt) {
        var scale: UInt = 1
        while value / scale >= 10 { scale *= 10 }
        while scale > 0 {
            append(UInt8(truncatingIfNeeded: 0x30 &+ (value / scale) % 10))
            scale /= 10
        }
    }

    /// Appends `nanoseconds` as seconds in decimal, exactly (`1.5`, `0.000000001`, `3`).
    mutating func appendSeconds(nanoseconds: Int) {
        let negative = nanoseconds < 0
        let magnitude = negative ? UInt(bitPattern: 0 &- nanoseconds) : UInt(nanoseconds)
        if negative { append(0x2D) }
        appendDecimal(magnitude / 1_000_000_000)
        var fraction = magnitude % 1_000_000_000
        guard fraction > 0 else { return }
        append(0x2E)
        var digits = 9
        while fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        var scale: UInt = 1
        for _ in 1..<digits { scale *= 10 }
        while scale > 0 {
            append(UInt8(truncatingIfNeeded: 0x30 &+ (fraction / scale) % 10))
            scale /= 10
        }
    }
}

/// Writes metric families: a family's `# HELP` and `# TYPE` lines, then its samples.
public struct ExpositionWriter {
    /// The text written so far.
    public var bytes: [UInt8]

    /// A writer that starts empty, keeping the capacity of `bytes` (a buffer from an earlier scrape).
    public init(reusing bytes: [UInt8] = []) {
        self.bytes = bytes
        self.bytes.removeAll(keepingCapacity: true)
    }

    /// `# HELP name help` and `# TYPE name type`.
    public mutating func family(_ name: StaticString, _ type: StaticString, _ help: StaticString) {
        bytes.append("# HELP ")
        bytes.append(name)
        bytes.append(0x20)
        bytes.append(help)
        bytes.append("\n# TYPE ")
        bytes.append(name)
        bytes.append(0x20)
        bytes.append(type)
        bytes.append(0x0A)
    }

    /// Starts a sample line: the name and its suffix (`_bucket`, `_sum`, `_count` or "").
    @inline(__always)
    public mutating func begin(_ name: StaticString, _ suffix: StaticString = "") {
        bytes.append(name)
        bytes.append(suffix)
    }

    /// One label; `first` opens the braces. `value` is already escaped.
    @inline(__always)
    public mutating func label(_ name: StaticString, _ value: [UInt8], first: Bool) {
        bytes.append(first ? 0x7B : 0x2C)
        bytes.append(name)
        bytes.append("=\"")
        bytes.append(contentsOf: value)
        bytes.append(0x22)
    }

    /// One label with a constant value.
    @inline(__always)
    public mutating func label(_ name: StaticString, _ value: StaticString, first: Bool) {
        bytes.append(first ? 0x7B : 0x2C)
        bytes.append(name)
        bytes.append("=\"")
        bytes.append(value)
        bytes.append(0x22)
    }

    /// Ends the sample with an integer value; `labels` closes the braces.
    @inline(__always)
    public mutating func value(_ value: Int, labels: Bool) {
        bytes.append(labels ? "} " : " ")
        bytes.appendDecimal(value)
        bytes.append(0x0A)
    }

    /// Ends the sample with nanoseconds written as seconds.
    @inline(__always)
    public mutating func seconds(_ nanoseconds: Int, labels: Bool) {
        bytes.append(labels ? "} " : " ")
        bytes.appendSeconds(nanoseconds: nanoseconds)
        bytes.append(0x0A)
    }

    /// A sample without labels.
    public mutating func sample(_ name: StaticString, _ value: Int) {
        begin(name)
        self.value(value, labels: false)
    }
}

/// The `version` label values of `sluice_proxy_headers_sent_total`, in row order.
private let proxyVersionLabels: [StaticString] = ["1", "2"]

extension MetricsSnapshot {
    /// The value at `index` of `row`, 0 past the end (a row no reactor has published yet).
    @inline(__always)
    func at(_ row: [Int], _ index: Int) -> Int { index < row.count ? row[index] : 0 }

    /// Renders every family into `writer`: GOST's (`gost_*`, with its names and buckets), then
    /// Sluice's own (`sluice_*`). Families whose label sets are empty (no chains) are left out.
    public func render(into writer: inout ExpositionWriter) {
        let services = catalog.services
        writer.family("gost_services", "gauge", "Current number of services")
        writer.sample("gost_services", self.services)

        serviceCounter(
            &writer, "gost_service_requests_total", "counter", "Total number of requests", ServiceRow.requests)
        serviceCounter(
            &writer, "gost_service_requests_in_flight", "gauge", "Current in-flight requests", ServiceRow.inFlight)
        if !services.isEmpty {
            writer.family(
                "gost_service_request_duration_seconds", "histogram", "Distribution of request latencies")
            for (slot, name) in services.enumerated() {
                histogram(
                    &writer, "gost_service_request_duration_seconds", HistogramBuckets.requestDuration, service,
                    base: slot * ServiceRow.width, count: ServiceRow.durationCount, sum: ServiceRow.durationSum,
                    buckets: ServiceRow.durationBuckets
                ) { w, first in w.label("service", name, first: first) }
            }
        }
        serviceCounter(
            &writer, "gost_service_transfer_input_bytes_total", "counter",
            "Total service input data transfer size in bytes", ServiceRow.inputBytes)
        serviceCounter(
            &writer, "gost_service_transfer_output_bytes_total", "counter",
            "Total service output data transfer size in bytes", ServiceRow.outputBytes)
        serviceCounter(
            &writer, "gost_service_handler_errors_total", "counter", "Total service handler errors",
            ServiceRow.handlerErrors)

        if !catalog.chains.isEmpty {
            writer.family("gost_chain_errors_total", "counter", "Total chain errors")
            for (slot, name) in catalog.chains.enumerated() {
                writer.begin("gost_chain_errors_total")
                writer.label("chain", name, first: true)
                writer.value(at(chain, slot * ChainRow.width + ChainRow.errors), labels: true)
            }
        }
        if !catalog.nodes.isEmpty {
            writer.family(
                "gost_chain_node_connect_duration_seconds", "histogram",
                "Distribution of chain node connect latencies")
            for (slot, entry) in catalog.nodes.enumerated() {
                let chainName = catalog.chains[entry.chain]
                histogram(
                    &writer, "gost_chain_node_connect_duration_seconds", HistogramBuckets.nodeConnect, node,
                    base: slot * NodeRow.width, count: NodeRow.connectCount, sum: NodeRow.connectSum,
                    buckets: NodeRow.connectBuckets
                ) { w, first in
                    w.label("chain", chainName, first: first)
                    w.label("node", entry.name, first: false)
                }
            }
        }

        if !services.isEmpty {
            writer.family("sluice_connections_closed_total", "counter", "Connections closed, by close reason")
            for (slot, name) in services.enumerated() {
                for (i, reason) in CloseReason.metricNames.enumerated() {
                    writer.begin("sluice_connections_closed_total")
                    writer.label("service", name, first: true)
                    writer.label("reason", reason, first: false)
                    writer.value(at(service, slot * ServiceRow.width + ServiceRow.closed + i), labels: true)
                }
            }
            writer.family(
                "sluice_proxy_headers_received_total", "counter",
                "PROXY protocol header checks on receiving services, by outcome")
            for (slot, name) in services.enumerated() {
                for outcome in ProxyHeaderOutcome.all {
                    writer.begin("sluice_proxy_headers_received_total")
                    writer.label("service", name, first: true)
                    writer.label("outcome", outcome.label, first: false)
                    writer.value(
                        at(service, slot * ServiceRow.width + ServiceRow.proxyReceived + outcome.rawValue),
                        labels: true)
                }
            }
            writer.family(
                "sluice_proxy_headers_sent_total", "counter",
                "PROXY protocol headers sent to targets and chain nodes, by version")
            for (slot, name) in services.enumerated() {
                for (i, version) in proxyVersionLabels.enumerated() {
                    writer.begin("sluice_proxy_headers_sent_total")
                    writer.label("service", name, first: true)
                    writer.label("version", version, first: false)
                    writer.value(at(service, slot * ServiceRow.width + ServiceRow.proxySent + i), labels: true)
                }
            }
        }

        writer.family("sluice_log_lines_dropped_total", "counter", "Log lines dropped because the log sink was full")
        writer.sample("sluice_log_lines_dropped_total", logLinesDropped)
        writer.family(
            "sluice_descriptor_sheds_total", "counter",
            "Connections accepted and closed at once because the process ran out of file descriptors")
        writer.sample("sluice_descriptor_sheds_total", descriptorSheds)
        writer.family("sluice_buffer_pool_idle_buffers", "gauge", "Relay buffers idle in the reactors' pools")
        writer.sample("sluice_buffer_pool_idle_buffers", idleBuffers)
        writer.family("sluice_pipe_pool_idle_pipes", "gauge", "Splice pipes idle in the reactors' pools")
        writer.sample("sluice_pipe_pool_idle_pipes", idlePipes)
        writer.family("sluice_reactors", "gauge", "Reactor threads")
        writer.sample("sluice_reactors", reactors)
    }

    /// A family with one sample per service, read at `offset` of each service's row.
    private func serviceCounter(
        _ writer: inout ExpositionWriter, _ name: StaticString, _ type: StaticString, _ help: StaticString,
        _ offset: Int
    ) {
        guard !catalog.services.isEmpty else { return }
        writer.family(name, type, help)
        for (slot, label) in catalog.services.enumerated() {
            writer.begin(name)
            writer.label("service", label, first: true)
            writer.value(at(service, slot * ServiceRow.width + offset), labels: true)
        }
    }

    /// One series of a histogram: cumulative `_bucket` lines (the rows hold per-bucket counts), then
    /// `_sum` (nanoseconds, written as seconds) and `_count`. `labels` writes the series' labels.
    private func histogram(
        _ writer: inout ExpositionWriter, _ name: StaticString, _ layout: HistogramBuckets, _ rows: [Int],
        base: Int, count: Int, sum: Int, buckets: Int, labels: (inout ExpositionWriter, Bool) -> Void
    ) {
        var cumulative = 0
        for (i, le) in layout.labels.enumerated() {
            // The last `le` is +Inf: every observation, which is the count.
            cumulative = i < layout.bounds.count ? cumulative &+ at(rows, base + buckets + i) : at(rows, base + count)
            writer.begin(name, "_bucket")
            labels(&writer, true)
            writer.label("le", le, first: false)
            writer.value(cumulative, labels: true)
        }
        writer.begin(name, "_sum")
        labels(&writer, true)
        writer.seconds(at(rows, base + sum), labels: true)
        writer.begin(name, "_count")
        labels(&writer, true)
        writer.value(at(rows, base + count), labels: true)
    }
}
