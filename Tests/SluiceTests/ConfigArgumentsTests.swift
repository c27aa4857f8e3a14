// Tests for the command line: Go flag syntax, every flag, the log level order, GOST's unsupported
// flags, and the help text.
import Sluice
import Testing

/// The options of a command line that must parse to `.run`.
private func options(_ args: [String], env: [String: String] = [:]) throws -> CommandLineOptions {
    guard case .run(let options) = try parseCommandLine(args, environment: env) else {
        Issue.record("expected .run for \(args)")
        return CommandLineOptions(config: Config(), run: RunOptions())
    }
    return options
}

private func parseError(_ args: [String], env: [String: String] = [:]) -> String? {
    usageMessage { () throws(UsageError) in try parseCommandLine(args, environment: env) }
}

@Suite struct ConfigArgumentsTests {
    /// Go's flag package takes `-f v`, `-f=v`, `--f v` and `--f=v` alike.
    @Test(arguments: [
        ["-L", "tcp://:8080/x:1"], ["-L=tcp://:8080/x:1"], ["--L", "tcp://:8080/x:1"], ["--L=tcp://:8080/x:1"],
    ])
    func flagSpellings(args: [String]) throws {
        let config = try options(args).config
        #expect(config.services.map(summary) == ["service-0 tcp+tcp :8080 ->target-0=x:1"])
    }

    @Test func repeatedServicesAndNodesKeepTheirOrder() throws {
        let config = try options(["-L", ":1", "-F", "http://a:1", "-L=tcp://:2/x:3", "-F", "http://b:2"]).config
        #expect(config.services.map(\.addr) == [":1", ":2"])
        #expect(config.services.map(\.name) == ["service-0", "service-1"])
        #expect(config.chains.map { $0.hops.map(\.name) } == [["hop-0", "hop-1"]])
        #expect(config.chains[0].hops.map { $0.nodes[0].addr } == ["a:1", "b:2"])
    }

    @Test func defaults() throws {
        let run = try options(["-L", ":1"]).run
        #expect(run == RunOptions(threads: 0, grace: 5 * GoDuration.second, logLevel: nil))
    }

    @Test(
        arguments: [
            (["-threads", "4"], RunOptions(threads: 4)), (["-threads=0"], RunOptions(threads: 0)),
            (["-grace", "10s"], RunOptions(grace: 10 * GoDuration.second)),
            (["-grace=3"], RunOptions(grace: 3 * GoDuration.second)),
            (["-grace", "0"], RunOptions(grace: 0)), (["-log-level", "warn"], RunOptions(logLevel: .warning)),
            (["-log-level=ERROR"], RunOptions(logLevel: .error)), (["-D"], RunOptions(logLevel: .debug)),
            (["-DD"], RunOptions(logLevel: .trace)), (["-D", "-DD"], RunOptions(logLevel: .trace)),
            (["-D=false"], RunOptions()), (["-D=1"], RunOptions(logLevel: .debug)),
            (["-D", "-log-level", "error"], RunOptions(logLevel: .debug)),
            (["-threads", "2", "-threads", "3"], RunOptions(threads: 3)),
        ] as [([String], RunOptions)])
    func runFlags(args: [String], expected: RunOptions) throws {
        #expect(try options(["-L", ":1"] + args).run == expected)
    }

    /// -DD > -D > -log-level > GOST_LOGGER_LEVEL (GOST: -D/-DD override the environment).
    @Test(
        arguments: [
            ([], ["GOST_LOGGER_LEVEL": "debug"], LogLevel.debug), ([], ["GOST_LOGGER_LEVEL": "WARN"], .warning),
            (["-log-level", "error"], ["GOST_LOGGER_LEVEL": "trace"], .error),
            (["-D"], ["GOST_LOGGER_LEVEL": "error"], .debug),
            (["-DD"], ["GOST_LOGGER_LEVEL": "error"], .trace), (["-D"], ["GOST_LOGGER_LEVEL": "bogus"], .debug),
        ] as [([String], [String: String], LogLevel)])
    func logLevelPrecedence(args: [String], env: [String: String], expected: LogLevel) throws {
        #expect(try options(["-L", ":1"] + args, env: env).run.logLevel == expected)
    }

    @Test(arguments: [["-h"], ["-help"], ["--help"], ["--h"], ["-h", "-X"], ["-L", ":1", "-help", "-bogus"]])
    func help(args: [String]) throws {
        #expect(try parseCommandLine(args, environment: [:]) == .help)
    }

    /// -V wins over what is checked after the flags are read (URLs, unsupported flags).
    @Test(arguments: [["-V"], ["--V"], ["-V", "-L", "tcp://:99999/x"], ["-C", "x.yaml", "-V"], ["-V=true"]])
    func version(args: [String]) throws {
        #expect(try parseCommandLine(args, environment: [:]) == .version)
    }

    @Test(arguments: [
        (["-X"], "flag provided but not defined: -X"),
        (["--bogus=1"], "flag provided but not defined: -bogus"),
        (["-l", ":1"], "flag provided but not defined: -l"),
        (["-X", "-h"], "flag provided but not defined: -X"),
        (["-L"], "flag needs an argument: -L"),
        (["-L", ":1", "-F"], "flag needs an argument: -F"),
        (["-threads"], "flag needs an argument: -threads"),
        (["---L", ":1"], "bad flag syntax: ---L"),
        (["-=x"], "bad flag syntax: -=x"),
        (["-D=maybe"], "invalid boolean value \"maybe\" for -D: parse error"),
        (
            ["-threads", "-1"],
            "invalid value \"-1\" for flag -threads: expected a whole number from 0 (one per CPU) to 1024"
        ),
        (
            ["-threads", "abc"],
            "invalid value \"abc\" for flag -threads: expected a whole number from 0 (one per CPU) to 1024"
        ),
        (
            ["-threads", "5000"],
            "invalid value \"5000\" for flag -threads: expected a whole number from 0 (one per CPU) to 1024"
        ),
        (["-grace", "abc"], "invalid value \"abc\" for flag -grace: expected a duration such as 5s, 1m or 500ms"),
        (["-grace", "-1s"], "invalid value \"-1s\" for flag -grace: must not be negative"),
        (
            ["-log-level", "loud"],
            "invalid value \"loud\" for flag -log-level: unknown level (use trace, debug, info, warning or error)"
        ),
        (["-C", "/nonexistent/gost.yaml"], "/nonexistent/gost.yaml: cannot open: no such file or directory"),
        (["-O", "xml"], "invalid value \"xml\" for flag -O: expected yaml or json"),
        (["-api", ":18080"], "the web API (-api) is not supported yet"),
        (["-L", ":1", "-metrics", ""], "-metrics \"\": empty URL"),
        (["-L", ":1", "foo"], "unexpected argument \"foo\" (every setting is a flag: see -h)"),
        (["-L", ":1", "-"], "unexpected argument \"-\" (every setting is a flag: see -h)"),
        (
            ["-L", ":1", "--", "-L", ":2"],
            "unexpected argument \"-L\" after --: running several instances is not supported"
        ),
        (["-L", "tcp://:99999/x"], "-L \"tcp://:99999/x\": invalid port \"99999\""),
        (["-L", ":1", "-F", "http://h"], "-F \"http://h\": node \"h\": missing port in address \"h\""),
    ])
    func usageErrors(args: [String], message: String) {
        #expect(parseError(args) == message)
    }

    @Test func invalidEnvironmentLevelIsAnErrorWhenUsed() {
        #expect(
            parseError(["-L", ":1"], env: ["GOST_LOGGER_LEVEL": "verbose"])
                == "GOST_LOGGER_LEVEL=\"verbose\": unknown log level (use trace, debug, info, warning or error)")
    }

    @Test func terminatorAloneIsFine() throws {
        #expect(try options(["-L", ":1", "--"]).config.services.count == 1)
    }

    @Test func logLevelNames() {
        #expect(LogLevel.allCases.map(\.name) == ["trace", "debug", "info", "warning", "error"])
        #expect(LogLevel(name: "fatal") == .error && LogLevel(name: "Panic") == .error && LogLevel(name: "x") == nil)
        #expect(LogLevel.trace < .debug && LogLevel.warning < .error)
    }

    @Test func helpTextListsEveryFlagWithDefaultsExamplesAndExitCodes() {
        let text = usageText(program: "sluice")
        for line in [
            "  -L url ", "  -F url ", "  -D  ", "  -DD ", "  -log-level level ",
            "(default info, or $GOST_LOGGER_LEVEL)",
            "  -threads n ", "(default 0)", "  -grace duration ", "(default 5s)", "  -V ", "  -h, -help ",
            "sluice -L tcp://:8080/192.0.2.10:80\n", "?strategy=fifo&maxFails=3&failTimeout=30s",
            "sluice -L \"tcp://:8080/192.0.2.10:80?proxyProtocol=1\"",
            "sluice -L \"tcp://:8080/192.0.2.10:80?handler.proxyProtocol=2\"", "-F http://user:pass@proxy.example:3128",
            "0 ok", "1 start-up failure", "2 usage error", "  -metrics addr ",
            "sluice -L tcp://:8080/192.0.2.10:80 -metrics :9000",
        ] {
            #expect(text.contains(line), "help text lacks \(line)")
        }
        // One line per flag: no line is wider than a terminal.
        #expect(text.split(separator: "\n").allSatisfy { $0.count <= 110 })
    }

    /// Every example of the help text parses and plans (except that nothing is bound).
    @Test func helpExamplesAreValid() throws {
        let examples = usageText(program: "sluice").split(separator: "\n").filter { $0.hasPrefix("    sluice ") }
        #expect(examples.count == 7)
        for example in examples {
            let args = example.dropFirst("    sluice ".count).split(separator: " ").map {
                String($0).replacing("\"", with: "")
            }
            guard case .run(let options) = try parseCommandLine(args, environment: [:]) else {
                Issue.record("\(example) did not parse to .run")
                continue
            }
            _ = try makeRunPlan(options.config, options: options.run, onlineCPUs: 2)
        }
    }
}
