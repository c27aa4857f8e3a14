// PeerTLS: throwaway TLS material for the peers that terminate TLS (HAProxy's `ssl` bind): a
// self-signed server certificate and a self-signed client certificate, made by the real openssl.
import Glibc
import Sluice

/// A server certificate for `serverName` and a client certificate with CN `clientName`, each
/// self-signed (P-256, valid two days), in a private directory removed on deinit.
public final class TestCertificates: @unchecked Sendable {
    public let directory: TemporaryDirectory
    /// The DNS name in the server certificate (CN and subjectAltName).
    public let serverName: String
    /// The client certificate's CN.
    public let clientName: String

    /// Server certificate and key in one file, as HAProxy's `crt` wants them.
    public var serverBundle: String { directory.file("server.pem") }
    /// The client certificate (also HAProxy's `ca-file`: it is self-signed).
    public var clientCertificate: String { directory.file("client.crt") }
    /// The client key.
    public var clientKey: String { directory.file("client.key") }

    public init(serverName: String = "sluice-test.example", clientName: String = "interop-client") throws {
        let openssl = try PeerBinary.find("openssl")
        directory = try TemporaryDirectory(prefix: "tls")
        self.serverName = serverName
        self.clientName = clientName
        try TestCertificates.make(
            openssl, subject: serverName, altName: serverName, certificate: directory.file("server.crt"),
            key: directory.file("server.key"))
        try TestCertificates.make(
            openssl, subject: clientName, altName: nil, certificate: clientCertificate, key: clientKey)
        let bundle = directory.read("server.crt") + directory.read("server.key")
        try directory.write("server.pem", bundle)
    }

    private static func make(
        _ openssl: String, subject: String, altName: String?, certificate: String, key: String
    ) throws {
        var arguments = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=\(subject)", "-keyout", key, "-out", certificate,
        ]
        if let altName { arguments += ["-addext", "subjectAltName=DNS:\(altName)"] }
        let result = try runProcess(openssl, arguments, timeout: .seconds(20))
        guard result.exitCode == 0 else {
            throw TestSupportError(
                "openssl \(arguments.joined(separator: " "))",
                detail: "\(result.status.map(\.description) ?? "timed out"): \(result.stderr)")
        }
    }
}
