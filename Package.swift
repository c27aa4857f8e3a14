// swift-tools-version:6.2
// Sluice: a TCP forwarder and proxy with a GOST v3 command line, PROXY protocol v1/v2 and an epoll reactor.
import PackageDescription

let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]
// Release builds skip the dynamic exclusivity checks on the data path; debug builds (the tests) keep them.
let library: [SwiftSetting] =
    strict + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "Sluice",
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
        .library(name: "Sluice", targets: ["Sluice"]),
    ],
    targets: [
        // Glibc wrappers and constants Swift cannot import or call directly (epoll, splice, variadics).
        .target(name: "CSluice"),
        .target(name: "Sluice", dependencies: ["CSluice"], swiftSettings: library),
        .executableTarget(name: "sluice", dependencies: ["Sluice"], swiftSettings: strict),
        .executableTarget(name: "sluice-microbench", dependencies: ["Sluice"], swiftSettings: strict),
        // Helpers for the integration tests: child processes, loopback servers and clients, JSON.
        .target(
            name: "TestSupport", dependencies: ["Sluice", "CSluice"], path: "Tests/TestSupport",
            swiftSettings: strict),
        .testTarget(name: "SluiceTests", dependencies: ["Sluice", "CSluice"], swiftSettings: strict),
        .testTarget(
            name: "IntegrationTests", dependencies: ["Sluice", "CSluice", "TestSupport"],
            swiftSettings: strict),
    ]
)
