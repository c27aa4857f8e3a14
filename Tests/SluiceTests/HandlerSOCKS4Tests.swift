import Testing

// Tests for the SOCKS4/4a server handshake: CONNECT to an address or a 4a host name, the user id and
// GOST's way of checking it, the 255-byte caps, every refusal with its reply code, the dial replies,
// and the same answers whatever way the bytes are split.
@testable import Sluice

private func request(
    command: UInt8 = 1, port: UInt16 = 80, ip: [UInt8] = [10, 0, 0, 1], user: String = "", host: String? = nil
) -> [UInt8] {
    var out: [UInt8] = [4, command, UInt8(port >> 8), UInt8(port & 0xFF)] + ip + bytes(user) + [0]
    if let host { out += bytes(host) + [0] }
    return out
}

private let rejected: [UInt8] = [0, 91, 0, 0, 0, 0, 0, 0]
private let userRejected: [UInt8] = [0, 93, 0, 0, 0, 0, 0, 0]

struct SOCKS4Case: CustomTestStringConvertible, Sendable {
    var name: String
    var credentials: Credentials?
    var input: [UInt8]
    var step: HandshakeStep
    var testDescription: String { name }
}

private let cases: [SOCKS4Case] = [
    SOCKS4Case(
        name: "CONNECT to an address", credentials: nil, input: request(),
        step: .connect(Destination("10.0.0.1:80")!, consumed: 9, user: nil)),
    SOCKS4Case(
        name: "user id is reported", credentials: nil, input: request(port: 443, user: "bob"),
        step: .connect(Destination("10.0.0.1:443")!, consumed: 12, user: "bob")),
    SOCKS4Case(
        name: "4a host name", credentials: nil, input: request(ip: [0, 0, 0, 1], host: "example.com"),
        step: .connect(Destination("example.com:80")!, consumed: 21, user: nil)),
    SOCKS4Case(
        name: "4a with user id", credentials: nil, input: request(ip: [0, 0, 0, 255], user: "u", host: "a.b"),
        step: .connect(Destination("a.b:80")!, consumed: 14, user: "u")),
    SOCKS4Case(
        name: "0.0.0.0 is an address, not 4a", credentials: nil, input: request(ip: [0, 0, 0, 0]),
        step: .connect(Destination("0.0.0.0:80")!, consumed: 9, user: nil)),
    SOCKS4Case(
        name: "0.0.1.1 is an address, not 4a", credentials: nil, input: request(ip: [0, 0, 1, 1]),
        step: .connect(Destination("0.0.1.1:80")!, consumed: 9, user: nil)),
    SOCKS4Case(
        name: "user id of 255 bytes", credentials: nil, input: request(user: String(repeating: "u", count: 255)),
        step: .connect(Destination("10.0.0.1:80")!, consumed: 264, user: String(repeating: "u", count: 255))),
    SOCKS4Case(
        name: "user id of 256 bytes", credentials: nil, input: request(user: String(repeating: "u", count: 256)),
        step: .refuse(rejected, .socks4UserIDTooLong)),
    SOCKS4Case(
        name: "4a host name of 256 bytes", credentials: nil,
        input: request(ip: [0, 0, 0, 1], host: String(repeating: "h", count: 256)),
        step: .refuse(rejected, .socks4HostNameTooLong)),
    SOCKS4Case(
        name: "4a empty host name", credentials: nil, input: request(ip: [0, 0, 0, 1], host: ""),
        step: .refuse(rejected, .socks4BadHostName)),
    SOCKS4Case(
        name: "4a host name with a slash", credentials: nil, input: request(ip: [0, 0, 0, 1], host: "a/b"),
        step: .refuse(rejected, .socks4BadHostName)),
    SOCKS4Case(
        name: "BIND", credentials: nil, input: request(command: 2),
        step: .refuse(rejected, .socks4CommandNotSupported(2))),
    SOCKS4Case(
        name: "unknown command", credentials: nil, input: [4, 9], step: .refuse(rejected, .socks4CommandNotSupported(9))
    ),
    SOCKS4Case(name: "version 5", credentials: nil, input: [5, 1, 0], step: .refuse([], .socks4BadVersion(5))),
    SOCKS4Case(
        name: "user id matches credentials with an empty password",
        credentials: Credentials(username: "bob", password: ""), input: request(user: "bob"),
        step: .connect(Destination("10.0.0.1:80")!, consumed: 12, user: "bob")),
    SOCKS4Case(
        name: "user id differs from the credentials", credentials: Credentials(username: "bob", password: ""),
        input: request(user: "eve"), step: .refuse(userRejected, .socks4UserRejected(user: "eve"))),
    SOCKS4Case(
        name: "no user id against credentials", credentials: Credentials(username: "bob", password: ""),
        input: request(), step: .refuse(userRejected, .socks4UserRejected(user: ""))),
    SOCKS4Case(
        name: "credentials with a password can never pass (GOST checks an empty password)",
        credentials: Credentials(username: "bob", password: "pw"), input: request(user: "bob"),
        step: .refuse(userRejected, .socks4UserRejected(user: "bob"))),
]

@Suite struct HandlerSOCKS4Tests {
    @Test(arguments: cases)
    func handshake(_ c: SOCKS4Case) {
        let transcript = driveAtEverySplit({ SOCKS4Inbound(credentials: c.credentials) }, c.input)
        #expect(transcript.steps == [c.step])
    }

    @Test func bytesAfterTheRequestAreTunnelData() {
        var machine = SOCKS4Inbound(credentials: nil)
        let transcript = drive(&machine, request(ip: [0, 0, 0, 1], host: "example.com") + [1, 2, 3])
        #expect(transcript.leftover == [1, 2, 3])
        #expect([UInt8](repeating: 4, count: 9).withUnsafeBytes { machine.received($0) } == .needMore)
    }

    @Test(arguments: [
        [4, 1, 0, 80, 10, 0, 0],
        [4, 1, 0, 80, 10, 0, 0, 1] + [UInt8](repeating: 0x75, count: 255),
        [4, 1, 0, 80, 0, 0, 0, 1, 0] + [UInt8](repeating: 0x68, count: 255),
    ])
    func fieldsAtTheirCapWaitForTheirNUL(input: [UInt8]) {
        #expect(driveAtEverySplit({ SOCKS4Inbound(credentials: nil) }, input).waiting)
    }

    @Test func replies() {
        let machine = SOCKS4Inbound(credentials: nil)
        #expect(machine.successReply(bound: nil) == [0, 90, 0, 0, 0, 0, 0, 0])
        #expect(machine.successReply(bound: SocketAddress("10.1.2.3:4660")) == [0, 90, 0x12, 0x34, 10, 1, 2, 3])
        #expect(machine.successReply(bound: SocketAddress("[::1]:80")) == [0, 90, 0, 0, 0, 0, 0, 0])
        for failure in DialFailure.allCases {
            #expect(machine.failureReply(failure) == [0, failure == .notAllowed ? 92 : 91, 0, 0, 0, 0, 0, 0])
        }
    }
}
