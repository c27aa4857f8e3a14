// Tests for the `info` handler's JSON line: the exact text for no header, v1, v2 LOCAL and a v2
// header with one TLV of every kind, string escaping, and the connection limit's bookkeeping.
import Testing

@testable import Sluice

private func report(_ header: ProxyHeader?, client: String = "203.0.113.7:40000") -> String {
    let line = InfoReport(
        service: "service-0", sid: SessionID(high: 0, low: 0), remote: sa("127.0.0.1:5000"),
        local: sa("127.0.0.1:7001"), client: sa(client), header: header
    ).line()
    return String(decoding: line, as: UTF8.self)
}

private let prefix =
    #"{"service":"service-0","sid":"00000000000000000000","remote":"127.0.0.1:5000","local":"127.0.0.1:7001","#

@Suite struct InfoReportTests {
    @Test func withoutHeader() {
        #expect(report(nil, client: "127.0.0.1:5000") == prefix + #""client":"127.0.0.1:5000"}"# + "\n")
    }

    @Test func v1TCP6() {
        let header = v1Stream("[2001:db8::1]:51512", "[2001:db8::2]:443", family: .inet6)
        #expect(
            report(header, client: "[2001:db8::1]:51512")
                == prefix + #""client":"[2001:db8::1]:51512","proxy":{"version":1,"command":"PROXY","family":"INET6","#
                + #""transport":"STREAM","source":"[2001:db8::1]:51512","destination":"[2001:db8::2]:443","tlvs":[]}}"#
                + "\n")
    }

    @Test func v1UnknownHasNoAddresses() {
        #expect(
            report(v1Unknown, client: "127.0.0.1:5000")
                == prefix + #""client":"127.0.0.1:5000","proxy":{"version":1,"command":"PROXY","family":"UNSPEC","#
                + #""transport":"UNSPEC","tlvs":[]}}"# + "\n")
    }

    @Test func v2LocalKeepsItsFamilyAndTLVs() {
        let header = v2Local(family: .inet, transport: .stream, tlvs: [.noop(count: 3)])
        #expect(
            report(header, client: "127.0.0.1:5000")
                == prefix + #""client":"127.0.0.1:5000","proxy":{"version":2,"command":"LOCAL","family":"INET","#
                + #""transport":"STREAM","tlvs":[{"type":4,"name":"NOOP","length":3}]}}"# + "\n")
    }

    /// One TLV of every kind the parser decodes, in wire order, each with its decoded value.
    @Test func everyTLVKind() {
        let ssl = ProxySSL(
            client: 0x07, verify: 0, version: "TLSv1.3", commonName: "client.example", cipher: "TLS_AES_128_GCM_SHA256",
            signatureAlgorithm: "RSA-SHA256", keyAlgorithm: "RSA2048", group: "secp256r1",
            signatureScheme: "rsa_pss_rsae_sha256", clientCertificate: [0x30, 0x82],
            otherSubTLVs: [ProxyRawTLV(type: 0x29, value: [0xAB])])
        let header = v2Stream(
            "203.0.113.7:40000", "198.51.100.1:443",
            tlvs: [
                .alpn(Array("h2".utf8)), .authority("example.com"), .crc32c(0xA912_A201), .noop(count: 2),
                .uniqueID([0xDE, 0xAD, 0xBE, 0xEF]), .ssl(ssl), .netns("blue"),
                .awsVPCEndpointID("vpce-08d2bf15fac5001c9"),
                .azurePrivateLinkID(0x0102_0304), .gcpPSCConnectionID(0x0123_4567_89AB_CDEF),
                .unknown(type: 0xF0, value: [1, 2]),
            ])
        let expected =
            prefix + #""client":"203.0.113.7:40000","proxy":{"version":2,"command":"PROXY","family":"INET","#
            + #""transport":"STREAM","source":"203.0.113.7:40000","destination":"198.51.100.1:443","tlvs":["#
            + #"{"type":1,"name":"ALPN","value":"h2"},{"type":2,"name":"AUTHORITY","value":"example.com"},"#
            + #"{"type":3,"name":"CRC32C","value":"a912a201","valid":true},{"type":4,"name":"NOOP","length":2},"#
            + #"{"type":5,"name":"UNIQUE_ID","value":"deadbeef"},{"type":32,"name":"SSL","client":7,"client_ssl":true,"#
            + #""client_cert_conn":true,"client_cert_sess":true,"verify":0,"version":"TLSv1.3","cn":"client.example","#
            + #""cipher":"TLS_AES_128_GCM_SHA256","sig_alg":"RSA-SHA256","key_alg":"RSA2048","group":"secp256r1","#
            + #""sig_scheme":"rsa_pss_rsae_sha256","client_cert":"3082","other":[{"type":41,"value":"ab"}]},"#
            + #"{"type":48,"name":"NETNS","value":"blue"},"#
            + #"{"type":234,"name":"AWS","subtype":1,"vpce_id":"vpce-08d2bf15fac5001c9"},"#
            + #"{"type":238,"name":"AZURE","subtype":1,"link_id":16909060},"#
            + #"{"type":224,"name":"GCP","psc_connection_id":81985529216486895},"#
            + #"{"type":240,"name":"UNKNOWN","value":"0102"}]}}"# + "\n"
        #expect(report(header) == expected)
    }

    /// Text from the wire is escaped: quotes, backslashes and control bytes (an abstract UNIX path
    /// starts with NUL).
    @Test func textIsEscaped() {
        let header = ProxyHeader(
            version: .v2, command: .proxy, family: .unix, transport: .stream,
            addresses: .unix(source: [0, 0x61], destination: Array("/tmp/\"x\"\\\n".utf8)),
            tlvs: [.authority("a\tb")])
        #expect(
            report(header, client: "127.0.0.1:5000")
                == prefix + #""client":"127.0.0.1:5000","proxy":{"version":2,"command":"PROXY","family":"UNIX","#
                + #""transport":"STREAM","source":"\u0000a","destination":"/tmp/\"x\"\\\n","#
                + #""tlvs":[{"type":2,"name":"AUTHORITY","value":"a\tb"}]}}"# + "\n")
    }

    /// The limit hands out exactly `limit` slots; a slot given back from the limit wakes every
    /// reactor's mailbox, one given back below it wakes nobody; a raised limit wakes them, a lowered
    /// one does not.
    @Test func connectionLimitCountsAndWakes() throws {
        let limit = ConnectionLimit(limit: 2)
        let mailboxes = [try Mailbox(), try Mailbox()]
        limit.attach(mailboxes)
        limit.attach([try Mailbox()])  // kept across a reload: the first reactors stay
        func expectWoken(_ woken: Bool, _ comment: Comment) {
            for mailbox in mailboxes {
                let messages = mailbox.drain()
                #expect(messages.count == (woken ? 1 : 0), comment)
                if woken, case .resumeAccepting(let sender)? = messages.first { #expect(sender === limit, comment) }
            }
        }
        #expect(limit.tryReserve() && limit.tryReserve())
        #expect(!limit.tryReserve() && limit.openCount == 2)
        limit.release()
        expectWoken(true, "a slot freed at the limit")
        limit.release()
        expectWoken(false, "a slot freed below the limit")
        #expect(limit.openCount == 0)
        limit.update(limit: 1)
        expectWoken(false, "a lowered limit")
        #expect(limit.tryReserve() && !limit.tryReserve())
        limit.update(limit: 3)
        expectWoken(true, "a raised limit")
        #expect(limit.tryReserve() && limit.limit == 3)
        // The pause is logged by the first listener to stop and the resume by the last to drain.
        #expect(limit.listenerStopped() && !limit.listenerStopped())
        #expect(!limit.listenerDrained() && limit.listenerDrained())
    }
}
