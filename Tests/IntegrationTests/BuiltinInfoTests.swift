// Integration tests for the `info` target: its JSON line for no header, v1, v2 with every TLV kind,
// LOCAL, UNIX and UDP headers (each value checked), its echo after the line, the PROXY keys it
// shares with every service (trusted, required), and a forwarder of the same process in front.
import Glibc
import Sluice
import TestSupport
import Testing

/// One connection to an `info` service: what the client sends first, and the `proxy` object and
/// `client` the line must carry (nil `proxy`: no header was taken; nil `client`: the real peer).
struct InfoVector: Sendable, CustomTestStringConvertible {
    var id: String
    var bytes: [UInt8]
    var proxy: String?
    var client: String?

    init(_ id: String, _ bytes: [UInt8], proxy: String?, client: String? = nil) {
        self.id = id
        self.bytes = bytes
        self.proxy = proxy
        self.client = client
    }

    var testDescription: String { id }
}

/// A v2 PROXY header built by hand: `verCmd`, `fam`, the address block, the TLVs in order, then a
/// CRC32C TLV over the whole header (spec §2.2.3); returns the bytes and the CRC.
func handBuiltV2(verCmd: UInt8, fam: UInt8, addresses: [UInt8], tlvs: [(UInt8, [UInt8])]) -> ([UInt8], UInt32) {
    var body = addresses
    for (type, value) in tlvs { body += [type, UInt8(value.count >> 8), UInt8(value.count & 0xff)] + value }
    body += [ProxyTLVType.crc32c, 0, 4, 0, 0, 0, 0]
    var header = hex(v2Signature) + [verCmd, fam, UInt8(body.count >> 8), UInt8(body.count & 0xff)] + body
    let crc = CRC32C.checksum(header)
    header.replaceSubrange((header.count - 4)..., with: [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: crc >> $0) })
    return (header, crc)
}

/// 203.0.113.7:40000 → 198.51.100.1:443 with one TLV of every kind the parser decodes (ALPN,
/// AUTHORITY, UNIQUE_ID, NOOP, SSL with every sub-TLV, NETNS, AWS, Azure, GCP, an unknown type)
/// and the CRC32C last.
let everyTLV = handBuiltV2(
    verCmd: 0x21, fam: 0x11, addresses: hex("cb007107 c6336401 9c40 01bb"),
    tlvs: [
        (0x01, ascii("h2")), (0x02, ascii("example.com")), (0x05, hex("deadbeef")), (0x04, [0, 0, 0]),
        (
            0x20,
            [0x07, 0, 0, 0, 0] + [0x21, 0, 7] + ascii("TLSv1.3") + [0x22, 0, 14] + ascii("client.example")
                + [0x23, 0, 22] + ascii("TLS_AES_128_GCM_SHA256") + [0x24, 0, 10] + ascii("RSA-SHA256")
                + [0x25, 0, 7] + ascii("RSA2048")
        ),
        (0x30, ascii("blue")), (0xEA, [0x01] + ascii("vpce-08d2bf15fac5001c9")), (0xEE, [0x01, 4, 3, 2, 1]),
        (0xE0, hex("0123456789abcdef")), (0xF0, [1, 2]),
    ])

/// The CRC as the line shows it: eight lowercase hex digits.
func crcText(_ crc: UInt32) -> String {
    let digits = String(crc, radix: 16)
    return String(repeating: "0", count: 8 - digits.count) + digits
}

/// A v2 header from `ProxyEncoder` with the TLVs it writes (ALPN, AUTHORITY, UNIQUE_ID, NOOP, CRC32C).
let encodedV2: [UInt8] = {
    var buffer = [UInt8](repeating: 0, count: 512)
    let tlvs = ProxyEncodeTLVs(
        alpn: ascii("http/1.1"), authority: "a.example", uniqueID: [1, 2, 3], noopPadding: 2, crc32c: true)
    let source = SocketAddress("[2001:db8::1]:1234")!
    let destination = SocketAddress("[2001:db8::2]:443")!
    let count = buffer.withUnsafeMutableBytes {
        (try? ProxyEncoder.writeV2(source: source, destination: destination, tlvs: tlvs, into: $0)) ?? 0
    }
    return Array(buffer[0..<count])
}()

extension Integration.BuiltinTargetTests {
    @Suite("info")
    struct Info {
        static let vectors: [InfoVector] = [
            .init("NO-HEADER", ascii("hello"), proxy: nil),
            .init(
                "V1-TCP4", ascii("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"),
                proxy:
                    #"{"version":1,"command":"PROXY","family":"INET","transport":"STREAM","source":"192.0.2.1:56324","destination":"198.51.100.2:443","tlvs":[]}"#,
                client: "192.0.2.1:56324"),
            .init(
                "V1-TCP6", ascii("PROXY TCP6 2001:db8::1 2001:db8::2 51512 443\r\n"),
                proxy:
                    #"{"version":1,"command":"PROXY","family":"INET6","transport":"STREAM","source":"[2001:db8::1]:51512","destination":"[2001:db8::2]:443","tlvs":[]}"#,
                client: "[2001:db8::1]:51512"),
            .init(
                "V1-UNKNOWN", ascii("PROXY UNKNOWN\r\n"),
                proxy: #"{"version":1,"command":"PROXY","family":"UNSPEC","transport":"UNSPEC","tlvs":[]}"#),
            .init(
                "V2-LOCAL", hex(v2Signature + "20000000"),
                proxy: #"{"version":2,"command":"LOCAL","family":"UNSPEC","transport":"UNSPEC","tlvs":[]}"#),
            // LOCAL with an address block: the block is skipped, the family stays as sent.
            .init(
                "V2-LOCAL-TCP4-ADDR", hex(v2Signature + "2011000c0a0000010a00000203e807d0"),
                proxy: #"{"version":2,"command":"LOCAL","family":"INET","transport":"STREAM","tlvs":[]}"#),
            .init(
                "V2-LOCAL-CRC", hex("0d0a0d0a000d0a515549540a20000007030004a9b87e8f"),
                proxy:
                    #"{"version":2,"command":"LOCAL","family":"UNSPEC","transport":"UNSPEC","tlvs":[{"type":3,"name":"CRC32C","value":"a9b87e8f","valid":true}]}"#
            ),
            .init(
                "V2-UDP4", hex("0d0a0d0a000d0a515549540a2112000cc0000201c000020214e90035"),
                proxy:
                    #"{"version":2,"command":"PROXY","family":"INET","transport":"DGRAM","source":"192.0.2.1:5353","destination":"192.0.2.2:53","tlvs":[]}"#
            ),
            .init(
                "V2-UNIX",
                hex(v2Signature + "213100d8") + ascii("/tmp/src.sock") + [UInt8](repeating: 0, count: 95)
                    + ascii("/tmp/dst.sock") + [UInt8](repeating: 0, count: 95),
                proxy:
                    #"{"version":2,"command":"PROXY","family":"UNIX","transport":"STREAM","source":"/tmp/src.sock","destination":"/tmp/dst.sock","tlvs":[]}"#
            ),
            .init(
                "V2-EVERY-TLV", everyTLV.0,
                proxy:
                    #"{"version":2,"command":"PROXY","family":"INET","transport":"STREAM","source":"203.0.113.7:40000","#
                    + #""destination":"198.51.100.1:443","tlvs":[{"type":1,"name":"ALPN","value":"h2"},"#
                    + #"{"type":2,"name":"AUTHORITY","value":"example.com"},{"type":5,"name":"UNIQUE_ID","value":"deadbeef"},"#
                    + #"{"type":4,"name":"NOOP","length":3},{"type":32,"name":"SSL","client":7,"client_ssl":true,"#
                    + #""client_cert_conn":true,"client_cert_sess":true,"verify":0,"version":"TLSv1.3","cn":"client.example","#
                    + #""cipher":"TLS_AES_128_GCM_SHA256","sig_alg":"RSA-SHA256","key_alg":"RSA2048"},"#
                    + #"{"type":48,"name":"NETNS","value":"blue"},"#
                    + #"{"type":234,"name":"AWS","subtype":1,"vpce_id":"vpce-08d2bf15fac5001c9"},"#
                    + #"{"type":238,"name":"AZURE","subtype":1,"link_id":16909060},"#
                    + #"{"type":224,"name":"GCP","psc_connection_id":81985529216486895},"#
                    + #"{"type":240,"name":"UNKNOWN","value":"0102"},"#
                    + #"{"type":3,"name":"CRC32C","value":""# + crcText(everyTLV.1) + #"","valid":true}]}"#,
                client: "203.0.113.7:40000"),
            .init(
                "V2-ENCODER", encodedV2,
                proxy:
                    #"{"version":2,"command":"PROXY","family":"INET6","transport":"STREAM","source":"[2001:db8::1]:1234","#
                    + #""destination":"[2001:db8::2]:443","tlvs":[{"type":1,"name":"ALPN","value":"http/1.1"},"#
                    + #"{"type":2,"name":"AUTHORITY","value":"a.example"},{"type":5,"name":"UNIQUE_ID","value":"010203"},"#
                    + #"{"type":4,"name":"NOOP","length":2},{"type":3,"name":"CRC32C","value":""#
                    + crcText(UInt32(encodedV2.suffix(4).reduce(0) { $0 << 8 | UInt32($1) })) + #"","valid":true}]}"#,
                client: "[2001:db8::1]:1234"),
        ]

        /// Each vector, sent from 127.0.0.2 in one write to `info?proxyProtocol=1&close=true`: one
        /// JSON line, then EOF. Every member is checked: the service, the sid of the connection's
        /// log lines, the real addresses, the client, and the header with every TLV.
        @Test(arguments: vectors)
        func lineDescribesTheConnection(_ vector: InfoVector) throws {
            let sluice = try SluiceProcess.services(["info://127.0.0.1:0?proxyProtocol=1&close=true"])
            let connection = try TestConnection.connect(to: sluice.address(), from: peer2)
            let remote = try #require(connection.localAddress)
            try connection.sendAll(vector.bytes)
            let bytes = try connection.receiveUntilEOF()
            connection.close()  // ends the linger after the line at once
            #expect(bytes.last == 0x0A && bytes.filter { $0 == 0x0A }.count == 1, "not one line: \(printable(bytes))")
            let line = try JSONValue.parse(bytes: Array(bytes.dropLast()))
            let object = try #require(line.object)
            let keys = ["service", "sid", "remote", "local", "client"] + (vector.proxy == nil ? [] : ["proxy"])
            #expect(object.keys == keys)
            #expect(line["service"]?.string == "service-0")
            #expect(line["sid"]?.string == sluice.sid(ofClient: remote))
            #expect(line["remote"]?.string == remote.description)
            #expect(line["local"]?.string == "127.0.0.1:\(sluice.port)")
            #expect(line["client"]?.string == vector.client ?? remote.description)
            if let proxy = vector.proxy {
                #expect(line["proxy"] == (try JSONValue.parse(proxy)), "\(line)")
            }
            let closed = try closeLine(sluice, client: remote)
            #expect(closed["handler"]?.string == "info" && closed["reason"]?.string == "done")
            #expect(closed["outputBytes"]?.int == bytes.count)
        }

        /// The built header has the length its `len` field says, and the encoder wrote one.
        @Test func builtHeadersAreWellFormed() {
            let (header, _) = everyTLV
            #expect(header.count == 16 + (Int(header[14]) << 8 | Int(header[15])))
            #expect(encodedV2.count > 16 && encodedV2.count == 16 + (Int(encodedV2[14]) << 8 | Int(encodedV2[15])))
        }

        /// Without PROXY receive the line comes at once, before the client sends anything.
        @Test func lineComesFirstWithoutProxyReceive() throws {
            let sluice = try SluiceProcess.services(["info://127.0.0.1:0?close=true"])
            let connection = try sluice.connect()
            let remote = try #require(connection.localAddress)
            let line = try JSONValue.parse(bytes: Array(try connection.receiveUntilEOF().dropLast()))
            #expect(line["client"]?.string == remote.description && line["proxy"] == nil)
        }

        /// Without `close`, the line is followed by the echo of everything the client sends (the bytes
        /// after the header included), and EOF after the client's.
        @Test func lineThenEcho() throws {
            let sluice = try SluiceProcess.services(["info://127.0.0.1:0?proxyProtocol=1"])
            let connection = try sluice.connect()
            let remote = try #require(connection.localAddress)
            try connection.sendAll(ascii("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nping"))
            var bytes: [UInt8] = []
            while !bytes.contains(0x0A) { bytes += try connection.receive(upTo: 4096) }
            let end = bytes.firstIndex(of: 0x0A)!
            let line = try JSONValue.parse(bytes: Array(bytes[..<end]))
            #expect(line["client"]?.string == "192.0.2.1:56324")
            var rest = Array(bytes[(end + 1)...])
            if rest.count < 4 { rest += try connection.receive(exactly: 4 - rest.count) }
            #expect(rest == ascii("ping"))
            try connection.sendAll(ascii("pong"))
            #expect(try connection.receive(exactly: 4) == ascii("pong"))
            try connection.shutdownWrite()
            #expect(try connection.receiveUntilEOF().isEmpty)
            let closed = try closeLine(sluice, client: remote)
            #expect(closed["inputBytes"]?.int == 8 && closed["outputBytes"]?.int == end + 1 + 8)
            #expect(closed["reason"]?.string == "done")
        }

        /// `proxyProtocol.trusted`: a header from an untrusted peer is not interpreted (the line has
        /// no `proxy`), from a trusted one it is. `proxyProtocol.required`: a trusted peer without a
        /// header is closed before any line.
        @Test func trustedAndRequired() throws {
            let sluice = try SluiceProcess.services([
                "info://127.0.0.1:0?proxyProtocol=1&proxyProtocol.trusted=127.0.0.2&proxyProtocol.required=true&close=true"
            ])
            let header = ascii("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n")
            let untrusted = try TestConnection.connect(to: sluice.address(), from: peer3)
            try untrusted.sendAll(header)
            let plain = try JSONValue.parse(bytes: Array(try untrusted.receiveUntilEOF().dropLast()))
            #expect(plain["proxy"] == nil && plain["client"]?.string == untrusted.localAddress?.description)
            let trusted = try TestConnection.connect(to: sluice.address(), from: peer2)
            try trusted.sendAll(header)
            let seen = try JSONValue.parse(bytes: Array(try trusted.receiveUntilEOF().dropLast()))
            #expect(seen["proxy"]?["source"]?.string == "192.0.2.1:56324")
            let headerless = try TestConnection.connect(to: sluice.address(), from: peer2)
            let headerlessAddress = try #require(headerless.localAddress)
            try headerless.sendAll(ascii("hello"))
            #expect(headerless.waitForClose(timeout: .seconds(10)).isClosed)
            let closed = try closeLine(sluice, client: headerlessAddress)
            #expect(closed["reason"]?.string == "headerMissing" && closed["outputBytes"]?.int == 0)
        }

        /// A CRC32C that does not match is an invalid header (spec §2.2.3): the connection is closed
        /// with a warning and no line, so a line's CRC32C is always `valid`.
        @Test func crcMismatchClosesWithoutALine() throws {
            let sluice = try SluiceProcess.services(["info://127.0.0.1:0?proxyProtocol=1&close=true"])
            var header = everyTLV.0
            header[header.count - 1] ^= 0xff
            let connection = try TestConnection.connect(to: sluice.address(), from: peer2)
            let remote = try #require(connection.localAddress)
            try connection.sendAll(header)
            #expect(connection.waitForClose(timeout: .seconds(10)).isClosed)
            let closed = try closeLine(sluice, client: remote)
            #expect(closed["reason"]?.string == "headerInvalid" && closed["outputBytes"]?.int == 0)
            #expect(sluice.waitForMessage(containing: "proxy protocol: v2 crc32c mismatch") != nil)
        }

        /// `-L tcp://:8000/:7001?handler.proxyProtocol=2 -L info://:7001?proxyProtocol=1`: the line
        /// shows the v2 header the forwarder of the same process sent, naming the real client and
        /// the forwarder's address; `remote` is the forwarder's own socket.
        @Test func forwarderOfTheSameProcessSendsTheClient() throws {
            let port = try unusedLoopbackPort()
            let sluice = try SluiceProcess.services([
                "tcp://127.0.0.1:0/127.0.0.1:\(port)?handler.proxyProtocol=2",
                "info://127.0.0.1:\(port)?proxyProtocol=1&close=true",
            ])
            let connection = try TestConnection.connect(to: sluice.address(0), from: peer2)
            let client = try #require(connection.localAddress)
            let line = try JSONValue.parse(bytes: Array(try connection.receiveUntilEOF().dropLast()))
            #expect(line["service"]?.string == "service-1" && line["client"]?.string == client.description)
            #expect(line["local"]?.string == "127.0.0.1:\(port)")
            #expect(
                line["remote"]?.string != client.description && line["remote"]?.string?.hasPrefix("127.0.0.1:") == true)
            let expected =
                #"{"version":2,"command":"PROXY","family":"INET","transport":"STREAM","source":"\#(client)","#
                + #""destination":"127.0.0.1:\#(sluice.ports[0])","tlvs":[]}"#
            #expect(line["proxy"] == (try JSONValue.parse(expected)), "\(line)")
        }
    }
}
