import Testing

// Tests for the SOCKS5 server handshake (RFC 1928, RFC 1929): method choice, username/password, every
// address type, every refusal with its reply code, the dial replies, malicious lengths, and the same
// answers whatever way the bytes are split.
@testable import Sluice

private let alice = Credentials(username: "alice", password: "s3cret")
private func zeroReply(_ code: UInt8) -> [UInt8] { [5, code, 0, 1, 0, 0, 0, 0, 0, 0] }

private func auth(_ user: String, _ password: String) -> [UInt8] {
    [1, UInt8(user.utf8.count)] + bytes(user) + [UInt8(password.utf8.count)] + bytes(password)
}

private func domainRequest(_ name: String, port: UInt16, command: UInt8 = 1) -> [UInt8] {
    [5, command, 0, 3, UInt8(name.utf8.count)] + bytes(name) + [UInt8(port >> 8), UInt8(port & 0xFF)]
}

struct SOCKS5Case: CustomTestStringConvertible, Sendable {
    var name: String
    var credentials: Credentials?
    var input: [UInt8]
    var steps: [HandshakeStep]
    var testDescription: String { name }
}

private let cases: [SOCKS5Case] = [
    SOCKS5Case(
        name: "no auth, IPv4", credentials: nil, input: [5, 1, 0, 5, 1, 0, 1, 192, 0, 2, 7, 0x1F, 0x90],
        steps: [.reply([5, 0], consumed: 3), .connect(Destination("192.0.2.7:8080")!, consumed: 10, user: nil)]),
    SOCKS5Case(
        name: "no auth preferred over username/password", credentials: nil,
        input: [5, 2, 2, 0] + domainRequest("example.com", port: 443),
        steps: [.reply([5, 0], consumed: 4), .connect(Destination("example.com:443")!, consumed: 18, user: nil)]),
    SOCKS5Case(
        name: "IPv6", credentials: nil,
        input: [5, 1, 0, 5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1, 0, 22],
        steps: [.reply([5, 0], consumed: 3), .connect(Destination("[2001:db8::1]:22")!, consumed: 22, user: nil)]),
    SOCKS5Case(
        name: "domain holding an IPv4 literal is that address", credentials: nil,
        input: [5, 1, 0] + domainRequest("127.0.0.1", port: 80),
        steps: [
            .reply([5, 0], consumed: 3),
            .connect(Destination(SocketAddress("127.0.0.1:80")!), consumed: 16, user: nil),
        ]),
    SOCKS5Case(
        name: "domain of 255 bytes", credentials: nil,
        input: [5, 1, 0] + domainRequest(String(repeating: "a", count: 255), port: 80),
        steps: [
            .reply([5, 0], consumed: 3),
            .connect(Destination(host: String(repeating: "a", count: 255), port: 80)!, consumed: 262, user: nil),
        ]),
    SOCKS5Case(
        name: "username/password accepted", credentials: alice,
        input: [5, 2, 0, 2] + auth("alice", "s3cret") + domainRequest("example.com", port: 443),
        steps: [
            .reply([5, 2], consumed: 4), .reply([1, 0], consumed: 14),
            .connect(Destination("example.com:443")!, consumed: 18, user: "alice"),
        ]),
    SOCKS5Case(
        name: "wrong password", credentials: alice, input: [5, 1, 2] + auth("alice", "guess") + [5, 1],
        steps: [.reply([5, 2], consumed: 3), .refuse([1, 1], .socks5AuthenticationFailed(user: "alice"))]),
    SOCKS5Case(
        name: "wrong user", credentials: alice, input: [5, 1, 2] + auth("bob", "s3cret"),
        steps: [.reply([5, 2], consumed: 3), .refuse([1, 1], .socks5AuthenticationFailed(user: "bob"))]),
    SOCKS5Case(
        name: "empty user and password against credentials", credentials: alice, input: [5, 1, 2, 1, 0, 0],
        steps: [.reply([5, 2], consumed: 3), .refuse([1, 1], .socks5AuthenticationFailed(user: ""))]),
    SOCKS5Case(
        name: "credentials required, only no-auth offered", credentials: alice, input: [5, 1, 0],
        steps: [.refuse([5, 0xFF], .socks5NoAcceptableMethod)]),
    SOCKS5Case(
        name: "no credentials, only username/password offered: any name passes", credentials: nil,
        input: [5, 1, 2] + auth("carol", "x") + [5, 1, 0, 1, 10, 0, 0, 1, 0, 80],
        steps: [
            .reply([5, 2], consumed: 3), .reply([1, 0], consumed: 9),
            .connect(Destination("10.0.0.1:80")!, consumed: 10, user: "carol"),
        ]),
    SOCKS5Case(
        name: "only GSSAPI offered", credentials: nil, input: [5, 1, 1],
        steps: [.refuse([5, 0xFF], .socks5NoAcceptableMethod)]),
    SOCKS5Case(
        name: "no methods", credentials: nil, input: [5, 0, 5, 1],
        steps: [.refuse([5, 0xFF], .socks5NoMethods)]),
    SOCKS5Case(
        name: "greeting version 4", credentials: nil, input: [4], steps: [.refuse([], .socks5BadVersion(4))]),
    SOCKS5Case(
        name: "auth version 5", credentials: alice, input: [5, 1, 2, 5, 0],
        steps: [.reply([5, 2], consumed: 3), .refuse([1, 1], .socks5BadAuthVersion(5))]),
    SOCKS5Case(
        name: "request version 4", credentials: nil, input: [5, 1, 0, 4, 1, 0, 1],
        steps: [.reply([5, 0], consumed: 3), .refuse(zeroReply(1), .socks5BadVersion(4))]),
    SOCKS5Case(
        name: "BIND", credentials: nil, input: [5, 1, 0, 5, 2, 0, 1, 0, 0, 0, 0, 0, 0],
        steps: [.reply([5, 0], consumed: 3), .refuse(zeroReply(7), .socks5CommandNotSupported(2))]),
    SOCKS5Case(
        name: "UDP ASSOCIATE", credentials: nil, input: [5, 1, 0, 5, 3, 0, 1, 0, 0, 0, 0, 0, 0],
        steps: [.reply([5, 0], consumed: 3), .refuse(zeroReply(7), .socks5CommandNotSupported(3))]),
    SOCKS5Case(
        name: "unknown command", credentials: nil, input: [5, 1, 0, 5, 0x7F],
        steps: [.reply([5, 0], consumed: 3), .refuse(zeroReply(7), .socks5CommandNotSupported(0x7F))]),
    SOCKS5Case(
        name: "address type 2", credentials: nil, input: [5, 1, 0, 5, 1, 0, 2, 1, 2, 3],
        steps: [.reply([5, 0], consumed: 3), .refuse(zeroReply(8), .socks5AddressTypeNotSupported(2))]),
    SOCKS5Case(
        name: "empty domain", credentials: nil, input: [5, 1, 0, 5, 1, 0, 3, 0, 0, 80],
        steps: [.reply([5, 0], consumed: 3), .refuse(zeroReply(4), .socks5BadHostName)]),
    SOCKS5Case(
        name: "domain with a space", credentials: nil, input: [5, 1, 0] + domainRequest("a b", port: 80),
        steps: [.reply([5, 0], consumed: 3), .refuse(zeroReply(4), .socks5BadHostName)]),
    SOCKS5Case(
        name: "domain with a NUL", credentials: nil, input: [5, 1, 0, 5, 1, 0, 3, 3, 0x61, 0, 0x62, 0, 80],
        steps: [.reply([5, 0], consumed: 3), .refuse(zeroReply(4), .socks5BadHostName)]),
    SOCKS5Case(
        name: "domain that getaddrinfo would read as an address", credentials: nil,
        input: [5, 1, 0] + domainRequest("127.1", port: 80),
        steps: [.reply([5, 0], consumed: 3), .refuse(zeroReply(4), .socks5BadHostName)]),
]

private let truncated: [([UInt8], Credentials?)] = [
    ([5, 255] + [UInt8](repeating: 0, count: 254), nil),
    ([5, 1, 2, 1, 255] + [UInt8](repeating: 0x61, count: 255), alice),
    ([5, 1, 2, 1, 5] + bytes("alice") + [255] + [UInt8](repeating: 0x61, count: 254), alice),
    ([5, 1, 0, 5, 1, 0, 3, 255] + [UInt8](repeating: 0x61, count: 256), nil),
    ([5, 1, 0, 5, 1, 0, 4] + [UInt8](repeating: 0, count: 17), nil),
    ([5, 1, 0, 5, 1, 0, 1, 1, 2, 3, 4, 0], nil),
]

@Suite struct HandlerSOCKS5Tests {
    @Test(arguments: cases)
    func handshake(_ c: SOCKS5Case) {
        let transcript = driveAtEverySplit({ SOCKS5Inbound(credentials: c.credentials) }, c.input)
        #expect(transcript.steps == c.steps)
    }

    @Test func bytesAfterTheRequestAreTunnelData() {
        var machine = SOCKS5Inbound(credentials: nil)
        let transcript = drive(&machine, [5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 1, 0, 80] + bytes("GET / HTTP/1.1\r\n"))
        #expect(transcript.leftover == bytes("GET / HTTP/1.1\r\n"))
        // After the connect step the machine asks for nothing more.
        #expect([UInt8](repeating: 5, count: 20).withUnsafeBytes { machine.received($0) } == .needMore)
    }

    // A truncated message of each stage, with its length field at the maximum: it waits, never reads
    // past the end.
    @Test(arguments: truncated)
    func maximalLengthsWaitForTheirBytes(input: [UInt8], credentials: Credentials?) {
        let transcript = driveAtEverySplit({ SOCKS5Inbound(credentials: credentials) }, input)
        #expect(transcript.waiting)
        #expect(!transcript.steps.contains { if case .connect = $0 { true } else { false } })
    }

    @Test(arguments: [
        (DialFailure.refused, UInt8(5)), (.networkUnreachable, 3), (.hostUnreachable, 4), (.resolveFailed, 4),
        (.timedOut, 6), (.notAllowed, 2), (.other, 1),
    ])
    func failureReplies(failure: DialFailure, code: UInt8) {
        #expect(SOCKS5Inbound(credentials: nil).failureReply(failure) == zeroReply(code))
    }

    @Test func everyDialFailureHasAReplyCode() {
        let codes = Set(DialFailure.allCases.map { SOCKS5Inbound.code(for: $0) })
        #expect(!codes.contains(.succeeded))
    }

    @Test func successRepliesCarryTheBoundAddress() {
        let machine = SOCKS5Inbound(credentials: nil)
        #expect(machine.successReply(bound: nil) == zeroReply(0))
        #expect(machine.successReply(bound: SocketAddress("10.1.2.3:4660")) == [5, 0, 0, 1, 10, 1, 2, 3, 0x12, 0x34])
        #expect(
            machine.successReply(bound: SocketAddress("[::1]:80"))
                == [5, 0, 0, 4] + [UInt8](repeating: 0, count: 15) + [1, 0, 80])
    }
}
