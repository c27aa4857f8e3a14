// Helpers for the PROXY codec tests: hex and text vectors, address shorthands, a seeded SplitMix64
// generator, and a parse-one-byte-at-a-time driver.
import Sluice
import Testing

/// Bytes from hex text; spaces are ignored.
func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8.filter { $0 != 0x20 })
    precondition(digits.count % 2 == 0, "odd hex length")
    return stride(from: 0, to: digits.count, by: 2).map {
        UInt8(String(decoding: digits[$0..<($0 + 2)], as: UTF8.self), radix: 16)!
    }
}

/// The bytes of an ASCII string.
func ascii(_ text: String) -> [UInt8] { Array(text.utf8) }

/// The v2 signature.
let v2Signature = hex("0d0a0d0a000d0a515549540a")

/// `"1.2.3.4:80"` / `"[::1]:80"` as a SocketAddress.
func sa(_ text: String) -> SocketAddress {
    guard let address = SocketAddress(text) else { preconditionFailure("bad address \(text)") }
    return address
}

/// An `.inet` address pair.
func inet(_ source: String, _ destination: String) -> ProxyAddresses {
    .inet(source: sa(source), destination: sa(destination))
}

/// A v2 PROXY/STREAM header over IPv4 or IPv6 (family from the source text).
func v2Stream(_ source: String, _ destination: String, tlvs: [ProxyTLV] = []) -> ProxyHeader {
    let family: ProxyFamily = sa(source).ip.isIPv4 ? .inet : .inet6
    return ProxyHeader(
        version: .v2, command: .proxy, family: family, transport: .stream, addresses: inet(source, destination),
        tlvs: tlvs)
}

/// A v1 TCP4/TCP6 header.
func v1Stream(_ source: String, _ destination: String, family: ProxyFamily) -> ProxyHeader {
    ProxyHeader(version: .v1, command: .proxy, family: family, transport: .stream, addresses: inet(source, destination))
}

/// The v1 `PROXY UNKNOWN` header.
let v1Unknown = ProxyHeader(version: .v1, command: .proxy, family: .unspec, transport: .unspec, addresses: .none)

/// A v2 LOCAL header with the given `fam` byte's family/transport.
func v2Local(
    family: ProxyFamily = .unspec, transport: ProxyTransport = .unspec, tlvs: [ProxyTLV] = []
) -> ProxyHeader {
    ProxyHeader(version: .v2, command: .local, family: family, transport: transport, addresses: .none, tlvs: tlvs)
}

/// Feeds `bytes` as growing prefixes (one more byte each time) and returns the first answer that is
/// not `.needMore`, with the prefix length it came at; `.needMore` if every prefix needs more.
func parseTrickled(_ bytes: [UInt8], parser: ProxyParser = ProxyParser()) -> (ProxyParseResult, at: Int) {
    var last = ProxyParseResult.needMore(atLeast: 1)
    for length in 0...bytes.count {
        last = bytes.withUnsafeBytes { parser.parse(UnsafeRawBufferPointer(rebasing: $0[..<length])) }
        if case .needMore = last { continue }
        return (last, length)
    }
    return (last, bytes.count)
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator so property tests are repeatable.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One table row: a named input and the exact answer expected for it.
struct ParseCase: Sendable, CustomTestStringConvertible {
    let id: String
    let input: [UInt8]
    let expected: ProxyParseResult
    init(_ id: String, _ input: [UInt8], _ expected: ProxyParseResult) {
        self.id = id
        self.input = input
        self.expected = expected
    }
    var testDescription: String { id }
}

extension ProxyParseResult {
    var isNeedMore: Bool {
        if case .needMore = self { return true }
        return false
    }
}

extension ProxyEncodeTLVs: CustomTestStringConvertible {
    public var testDescription: String {
        "alpn=\(alpn?.count ?? -1) authority=\(authority?.utf8.count ?? -1) uniqueID=\(uniqueID?.count ?? -1) "
            + "noop=\(noopPadding ?? -1) crc32c=\(crc32c)"
    }
}
