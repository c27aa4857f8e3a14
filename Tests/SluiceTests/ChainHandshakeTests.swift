import Testing

// Tests for the chain connectors: HTTP CONNECT requests and replies, SOCKS5 client handshakes, and
// multi-hop sequencing.
@testable import Sluice

func feed<T>(_ text: String, _ body: (UnsafeRawBufferPointer) -> T) -> T {
    Array(text.utf8).withUnsafeBytes(body)
}

func feed<T>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) -> T) -> T {
    bytes.withUnsafeBytes(body)
}

@Suite struct HTTPConnectTests {
    @Test func requestCarriesHostAuthAndExtraHeaders() {
        let request = String(
            decoding: HTTPConnect.request(
                target: "example.com:443", auth: Credentials(username: "user", password: "pa:ss"),
                headers: [HeaderField(name: "X-A", value: "b")]), as: UTF8.self)
        #expect(request.hasPrefix("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"))
        #expect(request.contains("\r\nProxy-Authorization: Basic dXNlcjpwYTpzcw==\r\n"))
        #expect(request.contains("\r\nX-A: b\r\n"))
        #expect(request.hasSuffix("\r\n\r\n"))
    }

    @Test func requestWithoutCredentialsHasNoAuthorization() {
        let request = String(decoding: HTTPConnect.request(target: "[::1]:80", auth: nil, headers: []), as: UTF8.self)
        #expect(!request.contains("Authorization"))
        #expect(request.hasPrefix("CONNECT [::1]:80 HTTP/1.1\r\n"))
    }

    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
    ])
    func base64Vectors(input: String, output: String) {
        #expect(HTTPConnect.base64(Array(input.utf8)) == output)
    }

    @Test func replyOKReportsTheHeadLengthAndLeavesTunnelBytes() {
        let reply = "HTTP/1.1 200 Connection established\r\nProxy-Agent: gost/3.0\r\n\r\nSSH-2.0"
        let result = feed(reply) { HTTPConnect.parseReply($0) }
        #expect(result == .established(consumed: reply.utf8.count - 7))
    }

    @Test func replyStatusOtherThan200IsRefusedWithTheStatus() {
        #expect(
            feed("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n") { HTTPConnect.parseReply($0) }
                == .refused(status: "407 Proxy Authentication Required"))
        #expect(
            feed("HTTP/1.0 503 Service Unavailable\r\nX: y\r\n\r\n") { HTTPConnect.parseReply($0) }
                == .refused(status: "503 Service Unavailable"))
        #expect(
            feed("HTTP/1.1 204 No Content\r\n\r\n") { HTTPConnect.parseReply($0) } == .refused(status: "204 No Content")
        )
    }

    @Test func partialReplyNeedsMoreAndGarbageFailsEarly() {
        #expect(feed("HTTP/1.1 200 OK\r\n") { HTTPConnect.parseReply($0) } == .needMore)
        #expect(feed("HTT") { HTTPConnect.parseReply($0) } == .needMore)
        let garbage = feed("SSH-2.0-x\r\n") { HTTPConnect.parseReply($0) }
        #expect(garbage == .invalid("malformed HTTP response"))
        let huge = "HTTP/1.1 200 OK\r\n" + String(repeating: "X: y\r\n", count: 2000)
        #expect(feed(huge) { HTTPConnect.parseReply($0) } == .invalid("proxy reply head exceeds 8192 bytes"))
    }
}

@Suite struct SOCKS5ConnectTests {
    @Test func noAuthIPv4() {
        var s = SOCKS5Connect(target: "10.1.2.3:8080", auth: nil)
        #expect(s.greeting() == [5, 1, 0])
        #expect(feed([5, 0]) { s.received($0) } == .send([5, 1, 0, 1, 10, 1, 2, 3, 0x1f, 0x90], consumed: 2))
        #expect(feed([5, 0, 0, 1, 0, 0]) { s.received($0) } == .needMore)
        #expect(feed([5, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41]) { s.received($0) } == .established(consumed: 10))
    }

    @Test func usernamePasswordThenIPv6() {
        var s = SOCKS5Connect(target: "[2001:db8::1]:443", auth: Credentials(username: "u", password: "pw"))
        #expect(s.greeting() == [5, 2, 0, 2])
        #expect(feed([5, 2]) { s.received($0) } == .send([1, 1, 0x75, 2, 0x70, 0x77], consumed: 2))
        let request: [UInt8] = [5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1, 1, 0xbb]
        #expect(feed([1, 0]) { s.received($0) } == .send(request, consumed: 2))
    }

    @Test func domainTargetAndDomainReply() {
        var s = SOCKS5Connect(target: "example.com:80", auth: nil)
        let request: [UInt8] = [5, 1, 0, 3, 11] + Array("example.com".utf8) + [0, 80]
        #expect(feed([5, 0]) { s.received($0) } == .send(request, consumed: 2))
        let reply: [UInt8] = [5, 0, 0, 3, 3] + Array("abc".utf8) + [0, 1]
        #expect(feed(reply) { s.received($0) } == .established(consumed: reply.count))
    }

    @Test func failuresAreNamed() {
        var refused = SOCKS5Connect(target: "1.2.3.4:1", auth: nil)
        _ = feed([5, 0]) { refused.received($0) }
        #expect(feed([5, 5, 0, 1, 0, 0, 0, 0, 0, 0]) { refused.received($0) } == .failed("socks5: connection refused"))
        var badAuth = SOCKS5Connect(target: "1.2.3.4:1", auth: Credentials(username: "u", password: "p"))
        _ = feed([5, 2]) { badAuth.received($0) }
        #expect(feed([1, 1]) { badAuth.received($0) } == .failed("socks5: authentication failed"))
        var noMethod = SOCKS5Connect(target: "1.2.3.4:1", auth: nil)
        #expect(feed([5, 0xff]) { noMethod.received($0) } == .failed("socks5: no acceptable authentication method"))
    }
}

@Suite struct ChainHandshakeTests {
    @Test func httpThenSocks5ReachesTheTarget() {
        var chain = ChainHandshake(steps: [
            .init(connector: .http, target: "127.0.0.1:1081", auth: nil, headers: [], nodeName: "node-0"),
            .init(connector: .socks5, target: "192.0.2.9:22", auth: nil, headers: [], nodeName: "node-0"),
        ])
        #expect(String(decoding: chain.begin(), as: UTF8.self).hasPrefix("CONNECT 127.0.0.1:1081 HTTP/1.1\r\n"))
        let ok = "HTTP/1.1 200 Connection established\r\n\r\n"
        #expect(feed(ok) { chain.received($0) } == .send([5, 1, 0], consumed: ok.utf8.count))
        #expect(chain.current == 1)
        #expect(feed([5, 0]) { chain.received($0) } == .send([5, 1, 0, 1, 192, 0, 2, 9, 0, 22], consumed: 2))
        #expect(feed([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]) { chain.received($0) } == .established(consumed: 10))
    }

    @Test func aRefusingHopFailsWithItsIndexAndStatus() {
        var chain = ChainHandshake(steps: [
            .init(connector: .http, target: "10.0.0.2:8080", auth: nil, headers: [], nodeName: "node-0"),
            .init(connector: .http, target: "10.0.0.3:80", auth: nil, headers: [], nodeName: "node-0"),
        ])
        _ = chain.begin()
        _ = feed("HTTP/1.1 200 OK\r\n\r\n") { chain.received($0) }
        #expect(
            feed("HTTP/1.1 503 Service Unavailable\r\n\r\n") { chain.received($0) }
                == .failed("503 Service Unavailable", step: 1))
    }
}
