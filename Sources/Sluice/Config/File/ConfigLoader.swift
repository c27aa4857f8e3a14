// Loading a configuration file: text → `Config` plus positioned warnings, or a positioned error;
// merging file and command-line configurations as GOST does; printing a `Config` (`-O`).
// Everything here is pure, so a reload can call it again; reading the file is ConfigSource.swift.

/// A configuration that did not load: which file, where in it, and what was expected.
public struct ConfigFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file as named on the command line (`<stdin>` for `-C -`).
    public var file: String
    /// Where the problem is; nil when the file could not be read at all.
    public var position: SourcePosition?
    public var message: String

    /// Memberwise.
    public init(file: String, position: SourcePosition?, message: String) {
        self.file = file
        self.position = position
        self.message = message
    }

    /// `gost.yaml:8:1: a tab character is used for indentation; …`.
    public var description: String {
        guard let position else { return "\(file): \(message)" }
        return "\(file):\(position): \(message)"
    }
}

/// Something in a configuration that Sluice ignores (as GOST ignores unknown keys), and where.
public struct ConfigWarning: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var position: SourcePosition
    public var message: String

    /// Memberwise.
    public init(file: String, position: SourcePosition, message: String) {
        self.file = file
        self.position = position
        self.message = message
    }

    /// `gost.yaml:3:5: services[0].foo: unknown key, ignored`.
    public var description: String { "\(file):\(position): \(message)" }
}

/// A loaded configuration and what was ignored in it.
public struct LoadedConfig: Sendable, Equatable {
    public var config: Config
    public var warnings: [ConfigWarning]

    /// Memberwise.
    public init(config: Config, warnings: [ConfigWarning] = []) {
        self.config = config
        self.warnings = warnings
    }
}

/// Parses `bytes` as `format` and maps the document onto GOST's schema (`services`, `chains`,
/// `log`). Keys of the schema match in any case (as GOST's viper does); metadata keys are
/// lowercased. `file` only names the source in messages. Pure: call it again to reload.
public func loadConfig(
    _ bytes: [UInt8], format: DocumentFormat, file: String
) throws(ConfigFileError) -> LoadedConfig {
    let document: DocumentNode
    do {
        document = try DocumentNode.parse(bytes, format: format)
    } catch {
        throw ConfigFileError(file: file, position: error.position, message: error.message)
    }
    var decoder = ConfigDecoder(file: file)
    let config = try decoder.decodeConfig(document)
    return LoadedConfig(config: config, warnings: decoder.warnings)
}

/// `loadConfig` on UTF-8 text.
public func loadConfig(_ text: String, format: DocumentFormat, file: String) throws(ConfigFileError) -> LoadedConfig {
    try loadConfig(Array(text.utf8), format: format, file: file)
}

/// GOST's `mergeConfig`: services and chains of `second` follow those of `first`; `second`'s
/// `log` and `metrics`, when set, replace `first`'s.
public func mergeConfig(_ first: Config, _ second: Config) -> Config {
    var merged = Config(
        services: first.services + second.services, chains: first.chains + second.chains, log: second.log ?? first.log)
    merged.metrics = second.metrics ?? first.metrics
    return merged
}

/// The configuration in GOST's schema as YAML or JSON (what `-O yaml|json` prints). Loading the
/// text gives back an equal `Config`. Field order follows GOST's structs; metadata keys are
/// sorted, as Go writes maps; durations are Go duration text in YAML and nanoseconds in JSON,
/// as GOST's encoders write `time.Duration`.
public func formatConfig(_ config: Config, as format: DocumentFormat) -> String {
    // GOST's JSON output (`json.Encoder.Encode`) ends with a newline, as YAML output does.
    let text = ConfigEncoder(format: format).encode(config).formatted(as: format)
    return text.hasSuffix("\n") ? text : text + "\n"
}
