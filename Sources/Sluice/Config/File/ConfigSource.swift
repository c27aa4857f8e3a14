// Reading what `-C` names: a file (format from its extension), standard input (`-`), or inline
// JSON (`-C '{…}'`), as GOST's `readConfig` does. The only I/O of the configuration loader.
import CSluice
import Glibc

/// The bytes of one configuration source and how to read them.
public struct ConfigSource: Sendable, Equatable {
    /// How messages name it: the path, `<stdin>`, or `-C` for inline JSON.
    public var name: String
    public var bytes: [UInt8]
    public var format: DocumentFormat

    /// Memberwise.
    public init(name: String, bytes: [UInt8], format: DocumentFormat) {
        self.name = name
        self.bytes = bytes
        self.format = format
    }
}

/// Largest configuration Sluice reads; a bigger one is surely a mistake (a log file, a device).
public let maxConfigBytes = 16 << 20

/// Reads the `-C` argument: `-` is standard input (JSON when its first byte is `{`, YAML
/// otherwise); `{…}` is inline JSON; anything else is a path whose extension picks the format
/// (`.json` JSON; `.yaml`, `.yml` or anything else YAML, which reads JSON too).
public func readConfigSource(_ argument: String) throws(ConfigFileError) -> ConfigSource {
    let text = trimSpace(argument)
    if text == "-" {
        let bytes = try readAll(fd: 0, name: "<stdin>")
        return ConfigSource(name: "<stdin>", bytes: bytes, format: bytes.first == UInt8(ascii: "{") ? .json : .yaml)
    }
    if text.hasPrefix("{") && text.hasSuffix("}") {
        return ConfigSource(name: "-C", bytes: Array(text.utf8), format: .json)
    }
    guard !text.isEmpty else { throw ConfigFileError(file: "-C", position: nil, message: "empty file name") }
    let fd = text.withCString { sl_open_readonly($0) }
    guard fd != -1 else {
        let error = Errno.current
        // GOST reads `{…}` as inline JSON only when it also ends with `}`.
        let hint = text.hasPrefix("{") ? " (inline JSON must start with { and end with })" : ""
        throw ConfigFileError(file: text, position: nil, message: "cannot open: \(error)\(hint)")
    }
    defer { close(fd) }
    let bytes = try readAll(fd: fd, name: text)
    return ConfigSource(name: text, bytes: bytes, format: configFormat(path: text))
}

/// `.json` (any case) is JSON; everything else is read as YAML.
func configFormat(path: String) -> DocumentFormat {
    let base = path.split(separator: "/").last.map(String.init) ?? path
    guard let dot = base.lastIndex(of: ".") else { return .yaml }
    return base[base.index(after: dot)...].lowercased() == "json" ? .json : .yaml
}

/// Reads `fd` to its end, refusing more than `maxConfigBytes`.
private func readAll(fd: Int32, name: String) throws(ConfigFileError) -> [UInt8] {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count == -1 {
            let error = Errno.current
            if error == .interrupted { continue }
            throw ConfigFileError(file: name, position: nil, message: "cannot read: \(error)")
        }
        if count == 0 { return bytes }
        guard bytes.count + count <= maxConfigBytes else {
            throw ConfigFileError(
                file: name, position: nil, message: "larger than \(maxConfigBytes >> 20) MiB; is this a configuration?")
        }
        bytes.append(contentsOf: chunk[0..<count])
    }
}
