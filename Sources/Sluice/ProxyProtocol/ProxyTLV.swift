// PROXY v2 TLVs (spec §2.2.1–2.2.8): the typed values, the SSL TLV and its sub-TLVs, and the
// decoder that checks every TLV lies inside the header and verifies the CRC32C.

/// The registered TLV type codes (spec §2.2) and the cloud providers' custom ones.
public enum ProxyTLVType {
    public static let alpn: UInt8 = 0x01
    public static let authority: UInt8 = 0x02
    public static let crc32c: UInt8 = 0x03
    public static let noop: UInt8 = 0x04
    public static let uniqueID: UInt8 = 0x05
    public static let ssl: UInt8 = 0x20
    public static let sslVersion: UInt8 = 0x21
    public static let sslCommonName: UInt8 = 0x22
    public static let sslCipher: UInt8 = 0x23
    public static let sslSignatureAlgorithm: UInt8 = 0x24
    public static let sslKeyAlgorithm: UInt8 = 0x25
    public static let sslGroup: UInt8 = 0x26
    public static let sslSignatureScheme: UInt8 = 0x27
    public static let sslClientCertificate: UInt8 = 0x28
    public static let netns: UInt8 = 0x30
    /// GCP Private Service Connect: an 8-byte big-endian connection id.
    public static let gcp: UInt8 = 0xE0
    /// AWS NLB: subtype 0x01 then the VPC endpoint id.
    public static let aws: UInt8 = 0xEA
    /// Azure Private Link: subtype 0x01 then a 4-byte little-endian link id.
    public static let azure: UInt8 = 0xEE

    /// Longest AUTHORITY value accepted and sent (HAProxy's `HA_PP2_AUTHORITY_MAX`; the spec sets none).
    public static let maxAuthorityLength = 255
    /// Longest UNIQUE_ID value (spec §2.2.5: "up to 128 bytes").
    public static let maxUniqueIDLength = 128
}

/// One v2 TLV. Text values are decoded as UTF-8, replacing invalid sequences with U+FFFD (a broken
/// certificate name should not fail the connection). A custom-range TLV (0xE0–0xEF) that does not
/// have its provider's exact shape stays `.unknown`, since other software may use the same code.
public enum ProxyTLV: Equatable, Sendable {
    /// 0x01: the negotiated ALPN protocol, e.g. "h2".
    case alpn([UInt8])
    /// 0x02: the host name the client asked for (TLS SNI); at most 255 bytes.
    case authority(String)
    /// 0x03: the header's CRC32C as sent; the parser has already verified it.
    case crc32c(UInt32)
    /// 0x04: padding; only its length is kept.
    case noop(count: Int)
    /// 0x05: an opaque connection id of at most 128 bytes.
    case uniqueID([UInt8])
    /// 0x20: TLS details of the client connection (boxed: it is far larger than the other cases, and an
    /// inline payload would make every element of a TLV array that large).
    indirect case ssl(ProxySSL)
    /// 0x30: the network namespace name.
    case netns(String)
    /// 0xEA subtype 0x01: the AWS VPC endpoint id (`vpce-…`).
    case awsVPCEndpointID(String)
    /// 0xEE subtype 0x01: the Azure Private Link id.
    case azurePrivateLinkID(UInt32)
    /// 0xE0 with 8 bytes: the GCP Private Service Connect connection id.
    case gcpPSCConnectionID(UInt64)
    /// Any other type, or a custom-range TLV of an unexpected shape, as raw bytes.
    case unknown(type: UInt8, value: [UInt8])

    /// The wire type code.
    public var type: UInt8 {
        switch self {
        case .alpn: ProxyTLVType.alpn
        case .authority: ProxyTLVType.authority
        case .crc32c: ProxyTLVType.crc32c
        case .noop: ProxyTLVType.noop
        case .uniqueID: ProxyTLVType.uniqueID
        case .ssl: ProxyTLVType.ssl
        case .netns: ProxyTLVType.netns
        case .awsVPCEndpointID: ProxyTLVType.aws
        case .azurePrivateLinkID: ProxyTLVType.azure
        case .gcpPSCConnectionID: ProxyTLVType.gcp
        case .unknown(let type, _): type
        }
    }
}

/// A TLV kept as raw bytes (an SSL sub-TLV of a type not listed in spec §2.2.6).
public struct ProxyRawTLV: Equatable, Sendable {
    public var type: UInt8
    public var value: [UInt8]
    public init(type: UInt8, value: [UInt8]) {
        self.type = type
        self.value = value
    }
}

/// The SSL TLV (0x20, spec §2.2.6): `client` flags, `verify` result, then sub-TLVs. When a sub-TLV
/// type repeats, the last one wins.
public struct ProxySSL: Equatable, Sendable {
    /// `PP2_CLIENT_SSL` (0x01), `PP2_CLIENT_CERT_CONN` (0x02), `PP2_CLIENT_CERT_SESS` (0x04).
    public var client: UInt8
    /// Zero when the client presented a certificate and it verified.
    public var verify: UInt32
    /// 0x21, e.g. "TLSv1.3".
    public var version: String?
    /// 0x22: the client certificate's Common Name.
    public var commonName: String?
    /// 0x23, e.g. "ECDHE-RSA-AES128-GCM-SHA256".
    public var cipher: String?
    /// 0x24, e.g. "RSA-SHA256".
    public var signatureAlgorithm: String?
    /// 0x25, e.g. "RSA2048".
    public var keyAlgorithm: String?
    /// 0x26, e.g. "secp256r1".
    public var group: String?
    /// 0x27, e.g. "rsa_pss_rsae_sha256".
    public var signatureScheme: String?
    /// 0x28: the client certificate, DER.
    public var clientCertificate: [UInt8]?
    /// Sub-TLVs of other types, in wire order.
    public var otherSubTLVs: [ProxyRawTLV]

    public init(
        client: UInt8, verify: UInt32, version: String? = nil, commonName: String? = nil, cipher: String? = nil,
        signatureAlgorithm: String? = nil, keyAlgorithm: String? = nil, group: String? = nil,
        signatureScheme: String? = nil, clientCertificate: [UInt8]? = nil, otherSubTLVs: [ProxyRawTLV] = []
    ) {
        self.client = client
        self.verify = verify
        self.version = version
        self.commonName = commonName
        self.cipher = cipher
        self.signatureAlgorithm = signatureAlgorithm
        self.keyAlgorithm = keyAlgorithm
        self.group = group
        self.signatureScheme = signatureScheme
        self.clientCertificate = clientCertificate
        self.otherSubTLVs = otherSubTLVs
    }

    /// The client connected over TLS (`PP2_CLIENT_SSL`).
    public var isTLS: Bool { client & 0x01 != 0 }
    /// The client sent a certificate on this connection (`PP2_CLIENT_CERT_CONN`).
    public var certificateOnConnection: Bool { client & 0x02 != 0 }
    /// The client sent a certificate at least once in this TLS session (`PP2_CLIENT_CERT_SESS`).
    public var certificateInSession: Bool { client & 0x04 != 0 }
    /// The client's certificate was presented and verified (`verify == 0`).
    public var certificateVerified: Bool { verify == 0 }
}

// MARK: - Decoding

enum ProxyTLVDecoder {
    /// Decodes the TLVs in `header[start...]`, where `header` is exactly the 16 + `len` header bytes:
    /// each TLV must lie inside it (HAProxy 488ee7fb6: payload after the header is never a TLV).
    static func decode(_ header: UnsafeRawBufferPointer, from start: Int) throws(ProxyHeaderError) -> [ProxyTLV] {
        var tlvs: [ProxyTLV] = []
        tlvs.reserveCapacity(count(header, from: start))
        var offset = start
        while offset < header.count {
            let (type, value) = try next(
                header, at: &offset, truncated: .v2TLVHeaderTruncated, exceeds: .v2TLVExceedsLength)
            tlvs.append(try typed(type, value, header: header))
        }
        return tlvs
    }

    /// How many TLVs lie in `header[start...]` before the first that does not fit (none allocates).
    private static func count(_ header: UnsafeRawBufferPointer, from start: Int) -> Int {
        var count = 0
        var offset = start
        while header.count - offset >= 3 {
            offset += 3 + (Int(header[offset + 1]) << 8 | Int(header[offset + 2]))
            guard offset <= header.count else { break }
            count += 1
        }
        return count
    }

    /// Reads the TLV at `offset` and moves `offset` past it.
    @inline(__always)
    private static func next(
        _ bytes: UnsafeRawBufferPointer, at offset: inout Int, truncated: ProxyHeaderError, exceeds: ProxyHeaderError
    ) throws(ProxyHeaderError) -> (UInt8, UnsafeRawBufferPointer) {
        guard bytes.count - offset >= 3 else { throw truncated }
        let type = bytes[offset]
        let length = Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2])
        let start = offset + 3
        guard length <= bytes.count - start else { throw exceeds }
        offset = start + length
        return (type, UnsafeRawBufferPointer(rebasing: bytes[start..<offset]))
    }

    private static func typed(
        _ type: UInt8, _ value: UnsafeRawBufferPointer, header: UnsafeRawBufferPointer
    ) throws(ProxyHeaderError) -> ProxyTLV {
        switch type {
        case ProxyTLVType.alpn:
            return .alpn(Array(value))
        case ProxyTLVType.authority:
            guard value.count <= ProxyTLVType.maxAuthorityLength else { throw .v2AuthorityTooLong }
            return .authority(text(value))
        case ProxyTLVType.crc32c:
            // §2.2.3: the CRC covers the whole header with its own 4 bytes zeroed.
            guard value.count == 4 else { throw .v2CRC32CBadLength }
            let sent = value.loadUnaligned(as: UInt32.self).bigEndian
            let offset = value.baseAddress! - header.baseAddress!
            guard CRC32C.checksum(header, zeroing: offset..<(offset + 4)) == sent else { throw .v2CRC32CMismatch }
            return .crc32c(sent)
        case ProxyTLVType.noop:
            return .noop(count: value.count)
        case ProxyTLVType.uniqueID:
            guard value.count <= ProxyTLVType.maxUniqueIDLength else { throw .v2UniqueIDTooLong }
            return .uniqueID(Array(value))
        case ProxyTLVType.ssl:
            return .ssl(try ssl(value))
        case ProxyTLVType.netns:
            return .netns(text(value))
        case ProxyTLVType.aws:
            if value.count >= 1, value[0] == 0x01, value.dropFirst().allSatisfy(isVPCEndpointByte) {
                return .awsVPCEndpointID(text(UnsafeRawBufferPointer(rebasing: value.dropFirst())))
            }
        case ProxyTLVType.azure:
            if value.count == 5, value[0] == 0x01 {
                return .azurePrivateLinkID(value.loadUnaligned(fromByteOffset: 1, as: UInt32.self).littleEndian)
            }
        case ProxyTLVType.gcp:
            if value.count == 8 { return .gcpPSCConnectionID(value.loadUnaligned(as: UInt64.self).bigEndian) }
        default:
            break
        }
        return .unknown(type: type, value: Array(value))
    }

    /// §2.2.6: `client:u8, verify:u32be`, then sub-TLVs that must fill the value exactly.
    private static func ssl(_ value: UnsafeRawBufferPointer) throws(ProxyHeaderError) -> ProxySSL {
        guard value.count >= 5 else { throw .v2SSLTooShort }
        var ssl = ProxySSL(client: value[0], verify: value.loadUnaligned(fromByteOffset: 1, as: UInt32.self).bigEndian)
        var offset = 5
        while offset < value.count {
            let (type, sub) = try next(
                value, at: &offset, truncated: .v2SSLSubTLVExceedsLength, exceeds: .v2SSLSubTLVExceedsLength)
            switch type {
            case ProxyTLVType.sslVersion: ssl.version = text(sub)
            case ProxyTLVType.sslCommonName: ssl.commonName = text(sub)
            case ProxyTLVType.sslCipher: ssl.cipher = text(sub)
            case ProxyTLVType.sslSignatureAlgorithm: ssl.signatureAlgorithm = text(sub)
            case ProxyTLVType.sslKeyAlgorithm: ssl.keyAlgorithm = text(sub)
            case ProxyTLVType.sslGroup: ssl.group = text(sub)
            case ProxyTLVType.sslSignatureScheme: ssl.signatureScheme = text(sub)
            case ProxyTLVType.sslClientCertificate: ssl.clientCertificate = Array(sub)
            default: ssl.otherSubTLVs.append(ProxyRawTLV(type: type, value: Array(sub)))
            }
        }
        return ssl
    }

    @inline(__always)
    private static func text(_ bytes: UnsafeRawBufferPointer) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// go-proxyproto's check for the AWS id: `^[A-Za-z0-9-]*$`.
    private static func isVPCEndpointByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D: true
        default: false
        }
    }
}
