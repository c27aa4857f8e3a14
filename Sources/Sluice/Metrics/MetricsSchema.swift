// The shape of Sluice's counters: where each value sits in a service's, a chain's and a chain
// node's row of plain `Int`s, the histogram buckets (GOST's), and the label values that are fixed
// (close reasons, PROXY header outcomes and versions).

/// Histogram upper bounds in nanoseconds, with their `le` label text.
public struct HistogramBuckets: Sendable {
    /// Upper bounds, ascending, in nanoseconds.
    public let bounds: [Int64]
    /// `le` values as Go's client writes them (`strconv.FormatFloat(v, 'g', -1, 64)`), then "+Inf".
    public let labels: [[UInt8]]

    init(_ bounds: [(nanoseconds: Int64, text: String)]) {
        self.bounds = bounds.map(\.nanoseconds)
        labels = bounds.map { Array($0.text.utf8) } + [Array("+Inf".utf8)]
    }

    /// The index of the first bucket whose bound holds `nanoseconds`; `bounds.count` for +Inf only.
    @inline(__always)
    func index(of nanoseconds: Int64) -> Int {
        var i = 0
        while i < bounds.count && nanoseconds > bounds[i] { i += 1 }
        return i
    }

    /// GOST's `gost_service_request_duration_seconds` buckets (`x/metrics/prom.go`).
    public static let requestDuration = HistogramBuckets([
        (5_000_000, "0.005"), (10_000_000, "0.01"), (25_000_000, "0.025"), (50_000_000, "0.05"),
        (100_000_000, "0.1"), (250_000_000, "0.25"), (500_000_000, "0.5"), (1_000_000_000, "1"),
        (2_500_000_000, "2.5"), (5_000_000_000, "5"), (10_000_000_000, "10"), (15_000_000_000, "15"),
        (30_000_000_000, "30"), (60_000_000_000, "60"),
    ])

    /// GOST's `gost_chain_node_connect_duration_seconds` buckets.
    public static let nodeConnect = HistogramBuckets([
        (10_000_000, "0.01"), (50_000_000, "0.05"), (100_000_000, "0.1"), (250_000_000, "0.25"),
        (500_000_000, "0.5"), (1_000_000_000, "1"), (1_500_000_000, "1.5"), (2_000_000_000, "2"),
        (5_000_000_000, "5"), (10_000_000_000, "10"), (15_000_000_000, "15"), (30_000_000_000, "30"),
        (60_000_000_000, "60"),
    ])
}

/// What became of the PROXY header question on a service that receives headers
/// (`sluice_proxy_headers_received_total{outcome}`).
public enum ProxyHeaderOutcome: Int, CaseIterable, Sendable {
    /// A valid v1 or v2 header.
    case v1, v2
    /// The connection did not start with a header (or sent nothing before the deadline).
    case none
    /// A malformed or truncated header: the connection was closed.
    case invalid
    /// The peer is outside `proxyProtocol.trusted`: its bytes were relayed untouched.
    case untrusted

    /// Every outcome in row order (`allCases` would build a new array on each call).
    static let all: [ProxyHeaderOutcome] = [.v1, .v2, .none, .invalid, .untrusted]

    /// The `outcome` label value.
    public var label: StaticString {
        switch self {
        case .v1: "v1"
        case .v2: "v2"
        case .none: "none"
        case .invalid: "invalid"
        case .untrusted: "untrusted"
        }
    }
}

extension CloseReason {
    /// Every `reason` label value, in `metricIndex` order.
    public static let metricNames: [StaticString] = [
        "done", "clientError", "upstreamError", "dialFailed", "dialTimeout", "resolveFailed", "noTarget",
        "idleTimeout", "clientClosedEarly", "headerInvalid", "headerTimeout", "headerMissing", "handshakeFailed",
        "requestRefused", "requestTimeout", "shutdown", "outOfDescriptors", "localError",
    ]

    /// The position of this reason in `metricNames` (a unit test checks it names `name`).
    public var metricIndex: Int {
        switch self {
        case .done: 0
        case .clientError: 1
        case .upstreamError: 2
        case .dialFailed: 3
        case .dialTimeout: 4
        case .resolveFailed: 5
        case .noTarget: 6
        case .idleTimeout: 7
        case .clientClosedEarly: 8
        case .headerInvalid: 9
        case .headerTimeout: 10
        case .headerMissing: 11
        case .handshakeFailed: 12
        case .requestRefused: 13
        case .requestTimeout: 14
        case .shutdown: 15
        case .outOfDescriptors: 16
        case .localError: 17
        }
    }

    /// Whether the handler failed the connection (`gost_service_handler_errors_total`): it could not
    /// reach a target (GOST's handlers return the dial error) or refused the client's request. A
    /// relay that ends in a reset, an idle timeout or a client that leaves early is not a handler
    /// error, nor is a PROXY header problem (GOST rejects those in its listener, before the handler).
    public var isHandlerError: Bool {
        switch self {
        case .dialFailed, .dialTimeout, .resolveFailed, .noTarget, .handshakeFailed, .requestRefused,
            .requestTimeout, .outOfDescriptors, .localError:
            true
        case .done, .clientError, .upstreamError, .idleTimeout, .clientClosedEarly, .headerInvalid, .headerTimeout,
            .headerMissing, .shutdown:
            false
        }
    }
}

/// Where each value sits in a row of counters. Rows are plain `[Int]` slices: a service's row at
/// `slot * ServiceRow.width`, and likewise for chains and nodes.
public enum ServiceRow {
    public static let requests = 0
    /// Open connections (a gauge).
    public static let inFlight = 1
    /// Bytes read from clients, and written to them.
    public static let inputBytes = 2
    public static let outputBytes = 3
    public static let handlerErrors = 4
    /// The request duration histogram: count, sum (ns), then one count per bucket (not cumulative).
    public static let durationCount = 5
    public static let durationSum = 6
    public static let durationBuckets = 7
    public static let closed = durationBuckets + HistogramBuckets.requestDuration.bounds.count
    public static let proxyReceived = closed + CloseReason.metricNames.count
    /// PROXY headers sent: v1, then v2.
    public static let proxySent = proxyReceived + ProxyHeaderOutcome.allCases.count
    public static let width = proxySent + 2
}

/// A chain's row: its errors.
public enum ChainRow {
    public static let errors = 0
    public static let width = 1
}

/// A chain node's row: the connect duration histogram.
public enum NodeRow {
    public static let connectCount = 0
    public static let connectSum = 1
    public static let connectBuckets = 2
    public static let width = connectBuckets + HistogramBuckets.nodeConnect.bounds.count
}
