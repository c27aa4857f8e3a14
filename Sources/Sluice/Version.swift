// Version: what `sluice -V` prints, in GOST's shape: `sluice <version> (swift <version> linux/<arch>)`.

/// Sluice's release version.
public let sluiceVersion = "0.1.0"

/// The Swift compiler version this binary was built with (major.minor).
public var swiftVersion: String {
    #if compiler(>=6.5)
        "6.5"
    #elseif compiler(>=6.4)
        "6.4"
    #elseif compiler(>=6.3)
        "6.3"
    #elseif compiler(>=6.2)
        "6.2"
    #else
        "6"
    #endif
}

/// The architecture, named as Go names it (GOARCH).
public var architecture: String {
    #if arch(x86_64)
        "amd64"
    #elseif arch(arm64)
        "arm64"
    #else
        "unknown"
    #endif
}

/// The `-V` line.
public var versionLine: String { "sluice \(sluiceVersion) (swift \(swiftVersion) linux/\(architecture))" }
