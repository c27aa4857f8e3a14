// InfoReport: the one JSON line the `info` handler answers each connection with — the addresses
// Sluice saw and, when a PROXY header arrived, every field and TLV of it, decoded — and the small
// JSON writer that builds it. Here rather than in Handlers/, which scripts/fuzz compiles on its own
// without the PROXY model and session ids this file needs.

/// What the `info` handler reports about one connection.
public struct InfoReport {
    public var service: String
    public var sid: SessionID
    /// The real socket addresses (the log's `remote` and `local`).
    public var remote: SocketAddress
    public var local: SocketAddress
    /// The original client: the header's source, else `remote`.
    public var client: SocketAddress
    /// The received header, nil when none arrived (or receiving is off).
    public var header: ProxyHeader?

    public init(
        service: String, sid: SessionID, remote: SocketAddress, local: SocketAddress, client: SocketAddress,
        header: ProxyHeader?
    ) {
        self.service = service
        self.sid = sid
        self.remote = remote
        self.local = local
        self.client = client
        self.header = header
    }

    /// The line: one JSON object and a newline. Keys: `service`, `sid`, `remote`, `local`, `client`,
    /// then `proxy` only when a header arrived: `version` (1, 2), `command` (`PROXY`, `LOCAL`),
    /// `family` (`UNSPEC`, `INET`, `INET6`, `UNIX`), `transport` (`UNSPEC`, `STREAM`, `DGRAM`),
    /// `source` and `destination` when it carries addresses, and `tlvs`, in wire order.
    public func line() -> [UInt8] {
        var json = JSONWriter()
        json.beginObject()
        json.field("service", service)
        json.field("sid", sid.description)
        json.field("remote", remote.description)
        json.field("local", local.description)
        json.field("client", client.description)
        if let header {
            json.key("proxy")
            Self.write(header, to: &json)
        }
        json.endObject()
        return json.bytes + [0x0A]
    }

    private static func write(_ header: ProxyHeader, to json: inout JSONWriter) {
        json.beginObject()
        json.field("version", Int64(header.version.rawValue))
        json.field("command", header.command == .local ? "LOCAL" : "PROXY")
        json.field("family", familyNames[Int(header.family.rawValue)])
        json.field("transport", transportNames[Int(header.transport.rawValue)])
        switch header.addresses {
        case .none: break
        case .inet(let source, let destination):
            json.field("source", source.description)
            json.field("destination", destination.description)
        case .unix(let source, let destination):
            json.field("source", String(decoding: source, as: UTF8.self))
            json.field("destination", String(decoding: destination, as: UTF8.self))
        }
        json.key("tlvs")
        json.beginArray()
        for tlv in header.tlvs { write(tlv, to: &json) }
        json.endArray()
        json.endObject()
    }

    private static let familyNames = ["UNSPEC", "INET", "INET6", "UNIX"]
    private static let transportNames = ["UNSPEC", "STREAM", "DGRAM"]

    /// One TLV: `type` (the code), `name` (the spec's, without `PP2_TYPE_`) and its decoded value.
    private static func write(_ tlv: ProxyTLV, to json: inout JSONWriter) {
        json.beginObject()
        json.field("type", Int64(tlv.type))
        switch tlv {
        case .alpn(let value):
            json.field("name", "ALPN")
            json.field("value", String(decoding: value, as: UTF8.self))
        case .authority(let value):
            json.field("name", "AUTHORITY")
            json.field("value", value)
        case .crc32c(let value):
            json.field("name", "CRC32C")
            json.field("value", hex(value))
            // The parser verified it: a header whose CRC does not match is refused (spec §2.2.3)
            // and never reaches a handler.
            json.field("valid", true)
        case .noop(let count):
            json.field("name", "NOOP")
            json.field("length", Int64(count))
        case .uniqueID(let value):
            json.field("name", "UNIQUE_ID")
            json.field("value", hex(value))
        case .ssl(let ssl):
            json.field("name", "SSL")
            write(ssl, to: &json)
        case .netns(let value):
            json.field("name", "NETNS")
            json.field("value", value)
        case .awsVPCEndpointID(let value):
            json.field("name", "AWS")
            json.field("subtype", Int64(1))
            json.field("vpce_id", value)
        case .azurePrivateLinkID(let value):
            json.field("name", "AZURE")
            json.field("subtype", Int64(1))
            json.field("link_id", Int64(value))
        case .gcpPSCConnectionID(let value):
            json.field("name", "GCP")
            json.field("psc_connection_id", value)
        case .unknown(_, let value):
            json.field("name", "UNKNOWN")
            json.field("value", hex(value))
        }
        json.endObject()
    }

    /// The SSL TLV's fields (spec §2.2.6): the `client` bit field and each bit by name, `verify`, then
    /// the sub-TLVs present, named after `PP2_SUBTYPE_SSL_*`; other sub-TLVs as `type` + hex.
    private static func write(_ ssl: ProxySSL, to json: inout JSONWriter) {
        json.field("client", Int64(ssl.client))
        json.field("client_ssl", ssl.isTLS)
        json.field("client_cert_conn", ssl.certificateOnConnection)
        json.field("client_cert_sess", ssl.certificateInSession)
        json.field("verify", Int64(ssl.verify))
        if let value = ssl.version { json.field("version", value) }
        if let value = ssl.commonName { json.field("cn", value) }
        if let value = ssl.cipher { json.field("cipher", value) }
        if let value = ssl.signatureAlgorithm { json.field("sig_alg", value) }
        if let value = ssl.keyAlgorithm { json.field("key_alg", value) }
        if let value = ssl.group { json.field("group", value) }
        if let value = ssl.signatureScheme { json.field("sig_scheme", value) }
        if let value = ssl.clientCertificate { json.field("client_cert", hex(value)) }
        guard !ssl.otherSubTLVs.isEmpty else { return }
        json.key("other")
        json.beginArray()
        for sub in ssl.otherSubTLVs {
            json.beginObject()
            json.field("type", Int64(sub.type))
            json.field("value", hex(sub.value))
            json.endObject()
        }
        json.endArray()
    }

    /// Lowercase hex, two digits per byte.
    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xf)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Eight hex digits, big-endian (the CRC as it appears on the wire).
    static func hex(_ value: UInt32) -> String {
        hex([
            UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8),
            UInt8(truncatingIfNeeded: value),
        ])
    }
}

/// Writes compact JSON into a byte array: objects, arrays, strings (escaped as RFC 8259 requires),
/// integers and booleans. Keys are written in the order given.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []
    /// The next value or key follows another in the same container.
    private var needsComma = false

    mutating func beginObject() { open(0x7B) }
    mutating func endObject() { close(0x7D) }
    mutating func beginArray() { open(0x5B) }
    mutating func endArray() { close(0x5D) }

    mutating func key(_ name: String) {
        separate()
        writeString(name)
        bytes.append(0x3A)
        needsComma = false
    }

    mutating func field(_ name: String, _ value: String) {
        key(name)
        separate()
        writeString(value)
        needsComma = true
    }

    mutating func field(_ name: String, _ value: Int64) {
        key(name)
        separate()
        if value < 0 { bytes.append(0x2D) }
        bytes.append(contentsOf: String(value.magnitude).utf8)
        needsComma = true
    }

    mutating func field(_ name: String, _ value: UInt64) {
        key(name)
        separate()
        bytes.append(contentsOf: String(value).utf8)
        needsComma = true
    }

    mutating func field(_ name: String, _ value: Bool) {
        key(name)
        separate()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
        needsComma = true
    }

    private mutating func open(_ bracket: UInt8) {
        separate()
        bytes.append(bracket)
        needsComma = false
    }

    private mutating func close(_ bracket: UInt8) {
        bytes.append(bracket)
        needsComma = true
    }

    private mutating func separate() {
        if needsComma { bytes.append(0x2C) }
    }

    /// A quoted string: `"` and `\` escaped, control characters as `\n`, `\r`, `\t` or `\u00XX`.
    private mutating func writeString(_ text: String) {
        bytes.append(0x22)
        for byte in text.utf8 {
            switch byte {
            case 0x22, 0x5C: bytes.append(contentsOf: [0x5C, byte])
            case 0x0A: bytes.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: bytes.append(contentsOf: [0x5C, 0x72])
            case 0x09: bytes.append(contentsOf: [0x5C, 0x74])
            case 0..<0x20:
                let digits = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(0x22)
    }
}
