// The metrics endpoint's configuration: `-metrics`, GOST_METRICS, `metrics:` in a file (and -O),
// `-L metrics://`, and the service the plan adds for it.
import Testing

@testable import Sluice

@Suite struct ConfigMetricsTests {
    static func options(_ args: [String], environment: [String: String] = [:]) throws -> CommandLineOptions {
        guard case .run(let options) = try parseCommandLine(args, environment: environment) else {
            Issue.record("\(args) does not run")
            throw UsageError("no run")
        }
        return options
    }

    @Test(
        arguments: [
            (":9000", MetricsConfig(addr: ":9000")),
            ("127.0.0.1:9000?path=/m", MetricsConfig(addr: "127.0.0.1:9000", path: "/m")),
            (
                "u:p%40ss@[::1]:9000?path=/stats",
                MetricsConfig(
                    addr: "[::1]:9000", path: "/stats", auth: AuthConfig(username: "u", password: "p@ss"))
            ),
            ("metrics://:9000", MetricsConfig(addr: ":9000")),
        ] as [(String, MetricsConfig)])
    func flag(text: String, expected: MetricsConfig) throws {
        #expect(try Self.options(["-L", ":1", "-metrics", text]).config.metrics == expected)
    }

    /// GOST_METRICS sets the address of the file's `metrics` (keeping its path); `-metrics` replaces it.
    @Test func environmentAndFlagPrecedence() throws {
        let file = "{\"services\":[{\"name\":\"s\",\"addr\":\":1\"}],\"metrics\":{\"addr\":\":7000\",\"path\":\"/p\"}}"
        #expect(try Self.options(["-C", file]).config.metrics == MetricsConfig(addr: ":7000", path: "/p"))
        #expect(
            try Self.options(["-C", file], environment: ["GOST_METRICS": ":8000"]).config.metrics
                == MetricsConfig(addr: ":8000", path: "/p"))
        #expect(
            try Self.options(["-C", file, "-metrics", ":9000"], environment: ["GOST_METRICS": ":8000"]).config.metrics
                == MetricsConfig(addr: ":9000"))
        #expect(try Self.options(["-L", ":1"], environment: ["GOST_METRICS": ":8000"]).config.metrics?.addr == ":8000")
    }

    /// `-metrics` is part of the command line's own configuration, which a reload merges again.
    @Test func flagTravelsWithTheCommandLineConfiguration() throws {
        let options = try Self.options(["-L", ":1", "-metrics", ":9000"])
        #expect(options.commandLineConfig.metrics == MetricsConfig(addr: ":9000"))
        let (merged, _) = try buildConfig(files: [], commandLine: options.commandLineConfig)
        #expect(merged.metrics == MetricsConfig(addr: ":9000"))
    }

    @Test func fileSection() throws {
        let loaded = try loadConfig(
            "services: []\nmetrics:\n  addr: \":9000\"\n  path: /metrics\n  auth: {username: u, password: p}\n",
            format: .yaml, file: "gost.yaml")
        #expect(
            loaded.config.metrics
                == MetricsConfig(addr: ":9000", path: "/metrics", auth: AuthConfig(username: "u", password: "p")))
        #expect(loaded.warnings.isEmpty)
        // -O prints it back, and the printed text loads to the same configuration.
        for format in [DocumentFormat.yaml, .json] {
            let text = formatConfig(loaded.config, as: format)
            #expect(try loadConfig(text, format: format, file: "out").config == loaded.config, "\(text)")
        }
    }

    @Test(
        arguments: [
            (
                "metrics: {path: /m}",
                "gost.yaml:1:10: metrics: missing addr, the host:port to listen on (e.g. \":9000\")"
            ),
            ("metrics: {addr: \":1\", auther: a}", "gost.yaml:1:23: metrics.auther is not supported yet"),
            ("metrics: [1]", "gost.yaml:1:10: metrics: expected a mapping, found a list"),
        ])
    func fileErrors(text: String, message: String) {
        do {
            _ = try loadConfig(text, format: .yaml, file: "gost.yaml")
            Issue.record("\(text) loaded")
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func unknownKeyIsAWarning() throws {
        let loaded = try loadConfig("metrics: {addr: \":1\", colour: red}", format: .yaml, file: "gost.yaml")
        #expect(loaded.warnings.map(\.description) == ["gost.yaml:1:23: metrics.colour: unknown key; ignored"])
    }

    /// The plan runs the endpoint as one more service, after the others, named `metrics` (or
    /// `metrics-1` when that name is taken), with its path and credentials.
    @Test func planAddsTheEndpointService() throws {
        let options = try Self.options(["-L", "tcp://:8000/h:80", "-metrics", "u:p@127.0.0.1:9000?path=/stats"])
        let plan = try makeRunPlan(options.config, options: options.run, onlineCPUs: 1)
        #expect(plan.services.map(\.name) == ["service-0", "metrics"])
        let endpoint = plan.services[1]
        #expect(endpoint.handler == .metrics)
        #expect(endpoint.metricsPath == "/stats")
        #expect(endpoint.auth == Credentials(username: "u", password: "p"))
        #expect(endpoint.listen == SocketAddress(.v4(IPv4Address(127, 0, 0, 1)), port: 9000))
        #expect(endpoint.targets.isEmpty)
        #expect(plan.services[0].metricsPath == "/metrics")

        let file =
            "{\"services\":[{\"name\":\"metrics\",\"addr\":\":1\",\"handler\":{\"type\":\"tcp\"},"
            + "\"forwarder\":{\"nodes\":[{\"name\":\"t\",\"addr\":\"h:80\"}]}}]}"
        let named = try Self.options(["-C", file, "-metrics", ":9000"])
        #expect(
            try makeRunPlan(named.config, options: named.run, onlineCPUs: 1).services.map(\.name) == [
                "metrics", "metrics-1",
            ])
    }

    @Test func serviceForm() throws {
        let options = try Self.options(["-L", "tcp://:8000/h:80", "-L", "metrics://:9000?path=/m"])
        let plan = try makeRunPlan(options.config, options: options.run, onlineCPUs: 1)
        #expect(plan.services[1].handler == .metrics)
        #expect(plan.services[1].metricsPath == "/m")
    }

    @Test(
        arguments: [
            (["-metrics", ":8000"], "metrics: listen address :8000 is already used by service-0 (:8000)"),
            (
                ["-metrics", ":9000?path=metrics"],
                "metrics: metrics path \"metrics\" must start with / and hold no spaces, ? or # (e.g. /metrics)"
            ),
            (["-metrics", "host.invalid:x"], "metrics: listen address \"host.invalid:x\": invalid port \"x\""),
            (["-metrics", "user@"], "-metrics \"user@\": missing address (e.g. :9000)"),
        ])
    func planErrors(args: [String], message: String) {
        let error = usageMessage { () throws(UsageError) in
            guard case .run(let options) = try parseCommandLine(["-L", "tcp://:8000/h:80"] + args, environment: [:])
            else { throw UsageError("no run") }
            return try makeRunPlan(options.config, options: options.run, onlineCPUs: 1)
        }
        #expect(error == message)
    }
}
