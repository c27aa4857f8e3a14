// The command line: GOST's flags (`-L`, `-F`, `-C`, `-O`, `-D`, `-DD`, `-V`, …) and Sluice's own,
// parsed with Go's `flag` package rules, and the environment (`GOST_LOGGER_LEVEL`, `GOST_METRICS`).

/// A command-line or configuration mistake; `message` says what is wrong and where. Exit status 2.
public struct UsageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong and where, ready to print after "sluice: ".
    public var message: String
    /// An error with `message`.
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    /// `-L "tcp://:99999/x": invalid port "99999"`; a password in the argument is shown as xxxxx.
    init(flag: String, argument: String, _ message: String) {
        self.message = "-\(flag) \"\(redactPassword(argument))\": \(message)"
    }
}

/// Process exit statuses.
public enum ExitStatus: Int32, Sendable {
    /// Ran and stopped normally, or printed help or the version.
    case success = 0
    /// Start-up failed at run time: a port could not be bound, a name not resolved, …
    case startupFailure = 1
    /// The command line or configuration is wrong (a `UsageError`), as Go's flag package exits.
    case usage = 2
}

/// What a valid command line asks for.
public struct CommandLineOptions: Sendable, Equatable {
    /// The configuration to run: the `-C` files' followed by the one built from `-L` and `-F`.
    public var config: Config
    /// Threads, grace period and log level.
    public var run: RunOptions
    /// The `-C` arguments, in order, to read again on reload (`buildConfig`).
    public var configFiles: [String]
    /// The part of `config` built from `-L` and `-F`.
    public var commandLineConfig: Config
    /// What the `-C` files contain that Sluice ignores, for the caller to log.
    public var warnings: [ConfigWarning]

    /// Memberwise; without files, `commandLineConfig` is `config`.
    public init(
        config: Config, run: RunOptions, configFiles: [String] = [], commandLineConfig: Config? = nil,
        warnings: [ConfigWarning] = []
    ) {
        self.config = config
        self.run = run
        self.configFiles = configFiles
        self.commandLineConfig = commandLineConfig ?? config
        self.warnings = warnings
    }
}

/// The outcome of parsing the command line.
public enum CommandLineAction: Sendable, Equatable {
    case run(CommandLineOptions)
    /// `-h`, `-help`, `--help`: print `usageText()` and exit 0.
    case help
    /// `-V`: print the version and exit 0.
    case version
    /// `-O yaml|json`: print this text (the merged configuration) to stdout and exit 0.
    case printConfig(String)
}

/// Parses the arguments after the program name, as Go's `flag.Parse` does for GOST: `-flag`,
/// `--flag`, `-flag=value`, `-flag value` (bool flags only `-flag` or `-flag=true|false`),
/// repeatable `-L`/`-F`, parsing stops at `--` or the first non-flag. Help wins as soon as it is
/// seen; `-V` wins over everything that is checked after the flags are read.
///
/// The log level is, in order: `-DD` (trace), `-D` (debug), `-log-level`, `GOST_LOGGER_LEVEL`,
/// then the config's `log.level`. GOST gives `-D`/`-DD` precedence over the environment, and the
/// environment over the file (`parser.Parse`); `-log-level` is Sluice's own and, as a flag, beats
/// the environment but yields to `-D`/`-DD`.
///
/// `-C` files are read with `readSource` (tests pass their own) and merged before the `-L`/`-F`
/// configuration (`buildConfig`). `-O` prints the merged configuration with that log level in
/// `log.level`, as GOST does.
public func parseCommandLine(
    _ args: [String], environment: [String: String],
    readSource: (String) throws(ConfigFileError) -> ConfigSource = readConfigSource
) throws(UsageError) -> CommandLineAction {
    var flags = FlagValues()
    var index = 0
    var sawTerminator = false
    while index < args.count {
        let arg = args[index]
        guard arg.count >= 2, arg.hasPrefix("-") else { break }
        var name = Substring(arg.dropFirst())
        if name.hasPrefix("-") {
            name = name.dropFirst()
            if name.isEmpty {  // "--" ends the flags
                index += 1
                sawTerminator = true
                break
            }
        }
        guard let first = name.first, first != "-", first != "=" else { throw UsageError("bad flag syntax: \(arg)") }
        index += 1
        var value: String?
        if let eq = name.firstIndex(of: "=") {
            value = String(name[name.index(after: eq)...])
            name = name[..<eq]
        }
        guard let flag = flagTable[String(name)] else {
            if name == "h" || name == "help" { return .help }
            throw UsageError("flag provided but not defined: -\(name)")
        }
        if flag.isBool {
            guard let on = parseGoBool(value ?? "true") else {
                throw UsageError("invalid boolean value \"\(value!)\" for -\(name): parse error")
            }
            _ = flag.set(&flags, on ? "true" : "false")
            continue
        }
        if value == nil {
            guard index < args.count else { throw UsageError("flag needs an argument: -\(name)") }
            value = args[index]
            index += 1
        }
        if let problem = flag.set(&flags, value!) {
            throw UsageError("invalid value \"\(value!)\" for flag -\(name): \(problem)")
        }
    }
    if index < args.count {
        // GOST ignores what follows silently; its " -- " form starts several instances.
        if sawTerminator {
            throw UsageError(
                "unexpected argument \"\(args[index])\" after --: running several instances is not supported")
        }
        throw UsageError("unexpected argument \"\(args[index])\" (every setting is a flag: see -h)")
    }
    if flags.version { return .version }
    if let unsupported = flags.unsupported.first { throw UsageError(unsupported) }

    var logLevel: LogLevel? = flags.trace ? .trace : flags.debug ? .debug : flags.logLevel
    if logLevel == nil, let text = environment["GOST_LOGGER_LEVEL"], !text.isEmpty {
        guard let level = LogLevel(name: text) else {
            throw UsageError(
                "GOST_LOGGER_LEVEL=\"\(text)\": unknown log level (use trace, debug, info, warning or error)")
        }
        logLevel = level
    }
    var commandLine = try buildCommandLineConfig(services: flags.services, nodes: flags.nodes)
    if let metrics = flags.metrics { commandLine.metrics = try parseMetricsFlag(metrics) }
    var (config, warnings) = try buildConfig(files: flags.configFiles, commandLine: commandLine, readSource: readSource)
    if flags.metrics == nil { config = applyMetricsEnvironment(config, environment) }
    if let format = flags.output {
        var printed = config
        if let logLevel {
            var log = printed.log ?? LogConfig()
            log.level = logLevel.name
            printed.log = log
        }
        return .printConfig(formatConfig(printed, as: format))
    }
    return .run(
        CommandLineOptions(
            config: config, run: RunOptions(threads: flags.threads, grace: flags.grace, logLevel: logLevel),
            configFiles: flags.configFiles, commandLineConfig: commandLine, warnings: warnings))
}

/// The configuration to run: every `-C` source loaded in order and merged (GOST's
/// `mergeConfig`: services and chains appended, a later `log` wins), then the command line's.
/// Also what a reload calls, with the `configFiles` and `commandLineConfig` of the options.
/// A name used by two services (or two chains) is refused here, where the message can say that
/// the command line names its own `service-<i>` and `chain-0`.
public func buildConfig(
    files: [String], commandLine: Config,
    readSource: (String) throws(ConfigFileError) -> ConfigSource = readConfigSource
) throws(UsageError) -> (Config, [ConfigWarning]) {
    guard !files.isEmpty else { return (commandLine, []) }
    var fileConfig = Config()
    var warnings: [ConfigWarning] = []
    var origin: [String: String] = [:]  // service or chain name → the file that defines it
    for argument in files {
        let loaded: LoadedConfig
        do {
            let source = try readSource(argument)
            loaded = try loadConfig(source.bytes, format: source.format, file: source.name)
        } catch {
            throw UsageError(error.description)
        }
        for name in loaded.config.services.map({ "service " + $0.name })
            + loaded.config.chains.map({ "chain " + $0.name })
        {
            if let other = origin.updateValue(argument, forKey: name) {
                throw UsageError("\(name) is defined in \(other) and again in \(argument)")
            }
        }
        fileConfig = mergeConfig(fileConfig, loaded.config)
        warnings += loaded.warnings
    }
    for name in commandLine.services.map({ "service " + $0.name }) + commandLine.chains.map({ "chain " + $0.name }) {
        if let file = origin[name] {
            throw UsageError(
                "\(name) is defined in \(file) and by the command line, which names its services service-0,"
                    + " service-1, … and its chain chain-0; rename the one in \(file)")
        }
    }
    return (mergeConfig(fileConfig, commandLine), warnings)
}

/// Everything the flags set, before it is checked as a whole.
private struct FlagValues {
    var services: [String] = []
    var nodes: [String] = []
    var debug = false
    var trace = false
    var version = false
    var threads = 0
    var grace: Int64 = 5 * GoDuration.second
    var logLevel: LogLevel?
    /// `-C` arguments, in order.
    var configFiles: [String] = []
    /// `-O`: print the configuration in this format instead of running.
    var output: DocumentFormat?
    /// `-metrics`: the metrics endpoint's address (and credentials, path).
    var metrics: String?
    /// Messages for GOST flags that were given but are not implemented yet, in order.
    var unsupported: [String] = []
}

/// A flag: whether it is boolean and how it stores a value (returning a problem, or nil).
private struct Flag: Sendable {
    var isBool = false
    var set: @Sendable (inout FlagValues, String) -> String?
}

/// Go's `strconv.ParseBool`.
private func parseGoBool(_ text: String) -> Bool? {
    switch text {
    case "1", "t", "T", "TRUE", "true", "True": true
    case "0", "f", "F", "FALSE", "false", "False": false
    default: nil
    }
}

private func unsupported(_ message: String) -> Flag {
    Flag { values, _ in
        values.unsupported.append(message)
        return nil
    }
}

private let flagTable: [String: Flag] = [
    "L": Flag { values, text in
        values.services.append(text)
        return nil
    },
    "F": Flag { values, text in
        values.nodes.append(text)
        return nil
    },
    "D": Flag(isBool: true) { values, text in
        values.debug = text == "true"
        return nil
    },
    "DD": Flag(isBool: true) { values, text in
        values.trace = text == "true"
        return nil
    },
    "V": Flag(isBool: true) { values, text in
        values.version = text == "true"
        return nil
    },
    "threads": Flag { values, text in
        guard !text.isEmpty, text.utf8.allSatisfy(isDigit), let n = Int(text), n <= maxThreads else {
            return "expected a whole number from 0 (one per CPU) to \(maxThreads)"
        }
        values.threads = n
        return nil
    },
    "grace": Flag { values, text in
        guard let ns = GoDuration.parseMetadata(text) else {
            return "expected a duration such as 5s, 1m or 500ms"
        }
        guard ns >= 0 else { return "must not be negative" }
        guard ns <= GoDuration.longestConfigured else {
            return "must be at most \(GoDuration.format(GoDuration.longestConfigured))"
        }
        values.grace = ns
        return nil
    },
    "log-level": Flag { values, text in
        guard let level = LogLevel(name: text) else {
            return "unknown level (use trace, debug, info, warning or error)"
        }
        values.logLevel = level
        return nil
    },
    // Repeatable, merged in order, as at GOST HEAD (v3.2.6 reads only the last one).
    "C": Flag { values, text in
        values.configFiles.append(text)
        return nil
    },
    "O": Flag { values, text in
        guard let format = DocumentFormat(rawValue: text) else { return "expected yaml or json" }
        values.output = format
        return nil
    },
    "api": unsupported("the web API (-api) is not supported yet"),
    "metrics": Flag { values, text in
        values.metrics = text
        return nil
    },
]
