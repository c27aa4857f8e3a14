import Testing

// Tests for the http handler's first request: CONNECT tunnels, absolute-form requests rewritten to
// origin form, Basic proxy authentication, every refusal with its status, GOST's reply bytes, the head
// cap, and the same answers whatever way the bytes are split.
@testable import Sluice

private let alice = Credentials(username: "alice", password: "s3cret")

private func basic(_ userPassword: String) -> String {
    "Proxy-Authorization: Basic \(HTTPConnect.base64(bytes(userPassword)))\r\n"
}

private func text(_ step: HandshakeStep?) -> String {
    switch step {
    case .refuse(let reply, _)?: String(decoding: reply, as: UTF8.self)
    case .forward(let start)?: String(decoding: start.request.head, as: UTF8.self)
    default: "\(String(describing: step))"
    }
}

private func run(_ request: String, credentials: Credentials? = nil) -> HandshakeTranscript {
    driveAtEverySplit({ HTTPInbound(options: InboundOptions(credentials: credentials)) }, bytes(request))
}

struct HTTPRefusalCase: CustomTestStringConvertible, Sendable {
    var name: String
    var request: String
    var refusal: InboundRefusal
    var status: String
    var testDescription: String { name }
}

private let refusals: [HTTPRefusalCase] = [
    .init(
        name: "origin form", request: "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n", refusal: .httpNotProxyRequest,
        status: "400 Bad Request"),
    .init(
        name: "https URI", request: "GET https://a.example/ HTTP/1.1\r\n\r\n", refusal: .httpNotProxyRequest,
        status: "400 Bad Request"),
    .init(
        name: "ftp URI", request: "GET ftp://a.example/ HTTP/1.1\r\n\r\n", refusal: .httpNotProxyRequest,
        status: "400 Bad Request"),
    .init(
        name: "user info", request: "GET http://u:p@a.example/ HTTP/1.1\r\n\r\n", refusal: .httpBadTarget,
        status: "400 Bad Request"),
    .init(
        name: "empty authority", request: "GET http:///x HTTP/1.1\r\n\r\n", refusal: .httpBadTarget,
        status: "400 Bad Request"),
    .init(
        name: "port too big", request: "GET http://a.example:65536/ HTTP/1.1\r\n\r\n", refusal: .httpBadTarget,
        status: "400 Bad Request"),
    .init(
        name: "numeric host name", request: "GET http://127.1/ HTTP/1.1\r\n\r\n", refusal: .httpBadTarget,
        status: "400 Bad Request"),
    .init(
        name: "unbracketed IPv6", request: "CONNECT ::1:443 HTTP/1.1\r\n\r\n", refusal: .httpBadTarget,
        status: "400 Bad Request"),
    .init(
        name: "CONNECT to a port only", request: "CONNECT :443 HTTP/1.1\r\n\r\n", refusal: .httpBadTarget,
        status: "400 Bad Request"),
    .init(
        name: "CONNECT with a zone id", request: "CONNECT [fe80::1%eth0]:443 HTTP/1.1\r\n\r\n", refusal: .httpBadTarget,
        status: "400 Bad Request"),
    .init(
        name: "HTTP/2 preface", request: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", refusal: .httpUnsupportedVersion,
        status: "505 HTTP Version Not Supported"),
    .init(
        name: "HTTP/3.0", request: "GET http://a.example/ HTTP/3.0\r\n\r\n", refusal: .httpUnsupportedVersion,
        status: "505 HTTP Version Not Supported"),
    .init(
        name: "HTTP/1.2 is not 1.0 or 1.1", request: "GET http://a.example/ HTTP/1.2\r\n\r\n",
        refusal: .httpUnsupportedVersion, status: "505 HTTP Version Not Supported"),
    .init(
        name: "lowercase version", request: "GET http://a.example/ http/1.1\r\n\r\n", refusal: .httpBadRequestLine,
        status: "400 Bad Request"),
    .init(
        name: "two spaces", request: "GET  http://a.example/ HTTP/1.1\r\n\r\n", refusal: .httpBadRequestLine,
        status: "400 Bad Request"),
    .init(
        name: "no version", request: "GET http://a.example/\r\n\r\n", refusal: .httpBadRequestLine,
        status: "400 Bad Request"),
    .init(
        name: "binary", request: "\u{1}\u{2}\u{3} x HTTP/1.1\r\n\r\n", refusal: .httpBadRequestLine,
        status: "400 Bad Request"),
    .init(
        name: "bare CR in the request line", request: "GET http://a.example/\rx HTTP/1.1\r\n\r\n",
        refusal: .httpBadRequestLine, status: "400 Bad Request"),
    .init(
        name: "space before colon", request: "GET http://a.example/ HTTP/1.1\r\nHost : a\r\n\r\n",
        refusal: .httpBadHeaderField, status: "400 Bad Request"),
    .init(
        name: "folded field", request: "GET http://a.example/ HTTP/1.1\r\nX-A: 1\r\n 2\r\n\r\n",
        refusal: .httpBadHeaderField, status: "400 Bad Request"),
    .init(
        name: "field without colon", request: "GET http://a.example/ HTTP/1.1\r\nX-A\r\n\r\n",
        refusal: .httpBadHeaderField, status: "400 Bad Request"),
    .init(
        name: "NUL in a value", request: "GET http://a.example/ HTTP/1.1\r\nX-A: a\u{0}b\r\n\r\n",
        refusal: .httpBadHeaderField, status: "400 Bad Request"),
    .init(
        name: "bare CR in a value", request: "GET http://a.example/ HTTP/1.1\r\nX-A: a\rb\r\n\r\n",
        refusal: .httpBadHeaderField, status: "400 Bad Request"),
    .init(
        name: "two Host fields", request: "GET http://a.example/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        refusal: .httpBadFraming, status: "400 Bad Request"),
    .init(
        name: "Content-Length and Transfer-Encoding",
        request: "POST http://a.example/ HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        refusal: .httpAmbiguousFraming, status: "400 Bad Request"),
    .init(
        name: "Transfer-Encoding on HTTP/1.0",
        request: "POST http://a.example/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        refusal: .httpAmbiguousFraming, status: "400 Bad Request"),
    .init(
        name: "chunked not last",
        request: "POST http://a.example/ HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        refusal: .httpAmbiguousFraming, status: "400 Bad Request"),
    .init(
        name: "empty Transfer-Encoding", request: "POST http://a.example/ HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n",
        refusal: .httpAmbiguousFraming, status: "400 Bad Request"),
    .init(
        name: "gzip under chunked",
        request: "POST http://a.example/ HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
        refusal: .httpUnsupportedTransferCoding, status: "501 Not Implemented"),
    .init(
        name: "two Content-Lengths",
        request: "POST http://a.example/ HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
        refusal: .httpBadFraming, status: "400 Bad Request"),
    .init(
        name: "Content-Length list that differs",
        request: "POST http://a.example/ HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\n", refusal: .httpBadFraming,
        status: "400 Bad Request"),
    .init(
        name: "signed Content-Length", request: "POST http://a.example/ HTTP/1.1\r\nContent-Length: +3\r\n\r\n",
        refusal: .httpBadFraming, status: "400 Bad Request"),
    .init(
        name: "empty Content-Length", request: "POST http://a.example/ HTTP/1.1\r\nContent-Length:\r\n\r\n",
        refusal: .httpBadFraming, status: "400 Bad Request"),
    .init(
        name: "19-digit Content-Length",
        request: "POST http://a.example/ HTTP/1.1\r\nContent-Length: 1000000000000000000\r\n\r\n",
        refusal: .httpBadFraming, status: "400 Bad Request"),
]

@Suite struct HandlerHTTPInboundTests {
    @Test(arguments: refusals)
    func refusal(_ c: HTTPRefusalCase) {
        let transcript = run(c.request)
        guard case .refuse(_, let refusal)? = transcript.steps.last else {
            Issue.record("expected a refusal, got \(transcript)")
            return
        }
        #expect(refusal == c.refusal)
        #expect(
            text(transcript.steps.last)
                == "HTTP/1.1 \(c.status)\r\nProxy-Agent: gost/3.0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    }

    @Test(arguments: [
        ("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", "example.com:443"),
        ("CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n\r\n", "[2001:db8::1]:8443"),
        ("CONNECT 192.0.2.1:22 HTTP/1.0\r\n\r\n", "192.0.2.1:22"),
        ("CONNECT example.com HTTP/1.1\r\n\r\n", "example.com:80"),
        ("\r\n\r\nCONNECT example.com:443 HTTP/1.1\r\n\r\n", "example.com:443"),
        ("CONNECT example.com:443 HTTP/1.1\nUser-Agent: nc\n\n", "example.com:443"),
    ])
    func connect(request: String, target: String) {
        let transcript = run(request)
        #expect(transcript.steps == [.connect(Destination(target)!, consumed: request.utf8.count, user: nil)])
    }

    @Test func connectSuccessReplyIsGOSTs() {
        var machine = HTTPInbound(options: InboundOptions())
        _ = drive(&machine, bytes("CONNECT example.com:443 HTTP/1.1\r\n\r\n"))
        #expect(machine.successReply() == bytes("HTTP/1.1 200 Connection established\r\nProxy-Agent: gost/3.0\r\n\r\n"))
        #expect(
            machine.failureReply(.refused)
                == bytes(
                    "HTTP/1.1 503 Service Unavailable\r\nProxy-Agent: gost/3.0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                ))
        #expect(
            machine.failureReply(.notAllowed)
                == bytes(
                    "HTTP/1.1 403 Forbidden\r\nProxy-Agent: gost/3.0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        )
    }

    @Test func tunnelBytesAfterTheHeadAreLeftForTheUpstream() {
        var machine = HTTPInbound(options: InboundOptions())
        let transcript = drive(&machine, bytes("CONNECT example.com:443 HTTP/1.1\r\n\r\n\u{16}\u{3}\u{1}"))
        #expect(transcript.leftover == [0x16, 3, 1])
    }

    @Test func forwardRewritesToOriginFormWithoutHopByHopFields() {
        let request =
            "GET http://Example.com:8080/a/b?c=d#frag HTTP/1.1\r\nHost: wrong.example\r\nUser-Agent: curl/8\r\n"
            + "Proxy-Connection: Keep-Alive\r\n\(basic("bob:pw"))Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"
            + "Keep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: h2c\r\nGost-Target: x\r\nX-Gost-Target: y\r\n"
            + "Accept: */*\r\nTrailer: X-Sum\r\n\r\n"
        let transcript = run(request)
        guard case .forward(let start)? = transcript.steps.last else {
            Issue.record("expected forward, got \(transcript)")
            return
        }
        #expect(
            text(transcript.steps.last)
                == "GET /a/b?c=d HTTP/1.1\r\nHost: Example.com:8080\r\nUser-Agent: curl/8\r\nAccept: */*\r\n"
                + "Trailer: X-Sum\r\nConnection: keep-alive\r\n\r\n")
        #expect(start.request.destination == Destination("Example.com:8080")!)
        #expect(start.request.consumed == request.utf8.count)
        #expect(start.user == "bob")
        #expect(!start.request.isHead && !start.request.upgrade)
        #expect(start.stream.destination == start.request.destination)
    }

    @Test(arguments: [
        ("GET http://a.example HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n"),
        ("GET http://a.example?x=1 HTTP/1.1\r\n\r\n", "GET /?x=1 HTTP/1.1\r\nHost: a.example\r\n\r\n"),
        ("OPTIONS http://a.example HTTP/1.1\r\n\r\n", "OPTIONS * HTTP/1.1\r\nHost: a.example\r\n\r\n"),
        ("OPTIONS http://a.example/ HTTP/1.1\r\n\r\n", "OPTIONS / HTTP/1.1\r\nHost: a.example\r\n\r\n"),
        ("HEAD HTTP://a.example:/x HTTP/1.0\r\n\r\n", "HEAD /x HTTP/1.0\r\nHost: a.example:\r\n\r\n"),
        ("GET http://[::1]:8080/ HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"),
        (
            "GET http://a.example/ HTTP/1.1\r\nConnection: close, x-a\r\nX-A: 1\r\nX-B: 2\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a.example\r\nX-B: 2\r\nConnection: close\r\n\r\n"
        ),
        (
            "GET http://a.example/ HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a.example\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"
        ),
        (
            "GET http://a.example/ HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
            "GET / HTTP/1.0\r\nHost: a.example\r\n\r\n"
        ),
        (
            "POST http://a.example/ HTTP/1.1\r\nConnection: content-length, transfer-encoding, host\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n"
        ),
        (
            "POST http://a.example/ HTTP/1.1\r\nContent-Length: 5, 5\r\nProxy-Foo: x\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5, 5\r\n\r\n"
        ),
        (
            "GET http://a.example/ HTTP/1.1\nX-A:   spaced value \t\n\n",
            "GET / HTTP/1.1\r\nHost: a.example\r\nX-A: spaced value\r\n\r\n"
        ),
    ])
    func rewrite(request: String, upstreamHead: String) {
        #expect(text(run(request).steps.last) == upstreamHead)
    }

    @Test func rewriteFlagsHEADAndUpgrade() {
        guard case .forward(let head)? = run("HEAD http://a.example/ HTTP/1.1\r\n\r\n").steps.last,
            case .forward(let upgrade)? = run(
                "GET http://a.example/ HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"
            ).steps.last,
            case .forward(let notUpgrade)? = run("GET http://a.example/ HTTP/1.1\r\nUpgrade: websocket\r\n\r\n").steps
                .last
        else {
            Issue.record("expected forwards")
            return
        }
        #expect(head.request.isHead && !head.request.upgrade)
        #expect(upgrade.request.upgrade && !upgrade.request.isHead)
        #expect(!notUpgrade.request.upgrade)
        #expect(!String(decoding: notUpgrade.request.head, as: UTF8.self).contains("Upgrade"))
    }

    @Test func forwardLeavesTheBodyForTheStream() {
        var machine = HTTPInbound(options: InboundOptions())
        let transcript = drive(&machine, bytes("POST http://a.example/ HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"))
        #expect(transcript.leftover == bytes("hello"))
        #expect(machine.successReply().isEmpty)
    }

    @Test(arguments: [
        ("CONNECT a.example:443 HTTP/1.1\r\n\(basic("alice:s3cret"))\r\n", true),
        (
            "CONNECT a.example:443 HTTP/1.1\r\nproxy-authorization: basic  \(HTTPConnect.base64(bytes("alice:s3cret")))\r\n\r\n",
            true
        ),
        ("CONNECT a.example:443 HTTP/1.1\r\n\(basic("alice:wrong"))\r\n", false),
        ("CONNECT a.example:443 HTTP/1.1\r\n\(basic("bob:s3cret"))\r\n", false),
        ("CONNECT a.example:443 HTTP/1.1\r\n\(basic("alice"))\r\n", false),
        ("CONNECT a.example:443 HTTP/1.1\r\nProxy-Authorization: Basic !!!!\r\n\r\n", false),
        ("CONNECT a.example:443 HTTP/1.1\r\nProxy-Authorization: Bearer abc\r\n\r\n", false),
        ("CONNECT a.example:443 HTTP/1.1\r\nAuthorization: \(basic("alice:s3cret"))\r\n", false),
        ("CONNECT a.example:443 HTTP/1.1\r\n\r\n", false),
    ])
    func authentication(request: String, admitted: Bool) {
        let transcript = run(request, credentials: alice)
        if admitted {
            #expect(
                transcript.steps == [
                    .connect(Destination("a.example:443")!, consumed: request.utf8.count, user: "alice")
                ])
        } else {
            #expect(
                text(transcript.steps.last)
                    == "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Agent: gost/3.0\r\n"
                    + "Proxy-Authenticate: Basic realm=\"gost\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        }
    }

    @Test func refusedUserIsNamedAndKeepAliveClientsAreToldToClose() {
        let transcript = run(
            "GET http://a.example/ HTTP/1.1\r\nProxy-Connection: keep-alive\r\n\(basic("bob:x"))\r\n",
            credentials: alice)
        guard case .refuse(let reply, let refusal)? = transcript.steps.last else {
            Issue.record("expected a refusal")
            return
        }
        #expect(refusal == .httpAuthenticationRequired(user: "bob"))
        #expect(String(decoding: reply, as: UTF8.self).contains("\r\nProxy-Connection: close\r\nContent-Length: 0\r\n"))
    }

    @Test func realmAndAgentComeFromTheOptions() {
        let options = InboundOptions(credentials: alice, proxyAgent: "sluice/1", authRealm: "lab")
        var machine = HTTPInbound(options: options)
        let transcript = drive(&machine, bytes("CONNECT a.example:443 HTTP/1.1\r\n\r\n"))
        #expect(
            text(transcript.steps.last)
                == "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Agent: sluice/1\r\n"
                + "Proxy-Authenticate: Basic realm=\"lab\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    }

    @Test func malformedRequestsAre400EvenWithoutCredentials() {
        // GOST v3.2.6 checks the request before the credentials.
        let transcript = run("GET /x HTTP/1.1\r\n\r\n", credentials: alice)
        #expect(transcript.steps.map(\.refusal) == [.httpNotProxyRequest])
    }

    @Test func userIsReportedWithoutCredentialsConfigured() {
        let request = "CONNECT a.example:443 HTTP/1.1\r\n\(basic("carol:x"))\r\n"
        let transcript = run(request)
        #expect(
            transcript.steps.first
                == .connect(Destination("a.example:443")!, consumed: request.utf8.count, user: "carol"))
    }

    @Test func headOverTheCapIs431() {
        let filler = "X-Fill: " + String(repeating: "a", count: 100) + "\r\n"
        let fields = String(repeating: filler, count: HTTPInbound.maxHeadLength / filler.utf8.count + 1)
        var machine = HTTPInbound(options: InboundOptions())
        let transcript = drive(&machine, bytes("GET http://a.example/ HTTP/1.1\r\n" + fields + "\r\n"))
        #expect(
            text(transcript.steps.last)
                == "HTTP/1.1 431 Request Header Fields Too Large\r\nProxy-Agent: gost/3.0\r\nContent-Length: 0\r\n"
                + "Connection: close\r\n\r\n")
        // A head that ends exactly at the cap is accepted.
        let line = "GET http://a.example/ HTTP/1.1\r\n"
        let pad = HTTPInbound.maxHeadLength - line.utf8.count - "X: \r\n\r\n".utf8.count
        var exact = HTTPInbound(options: InboundOptions())
        let fits = drive(&exact, bytes(line + "X: " + String(repeating: "b", count: pad) + "\r\n\r\n"))
        guard case .forward(let start)? = fits.steps.last else {
            Issue.record("a head of exactly the cap was refused: \(fits.steps)")
            return
        }
        #expect(start.request.consumed == HTTPInbound.maxHeadLength)
    }

    @Test func emptyLinesCountTowardTheCap() {
        var machine = HTTPInbound(options: InboundOptions())
        let transcript = drive(&machine, [UInt8](repeating: 0x0A, count: HTTPInbound.maxHeadLength))
        #expect(transcript.steps.map(\.refusal) == [.httpHeadTooLarge])
    }

    @Test func tooManyFieldsIs431() {
        let fields = String(repeating: "A: b\r\n", count: HTTPHead.maxFields + 1)
        let transcript = run("GET http://a.example/ HTTP/1.1\r\n" + fields + "\r\n")
        #expect(transcript.steps.map(\.refusal) == [.httpHeadTooLarge])
    }

    @Test func aPartialHeadWaits() {
        let transcript = run("GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\n")
        #expect(transcript.waiting && transcript.steps.isEmpty)
    }

    @Test(arguments: [
        ("", [UInt8]()), ("Zg", bytes("f")), ("Zg==", bytes("f")), ("Zm9v", bytes("foo")), ("Zm9vYg==", bytes("foob")),
        ("YWxpY2U6czNjcmV0", bytes("alice:s3cret")), ("/+8=", [0xFF, 0xEF]),
    ])
    func base64(encoded: String, decoded: [UInt8]) {
        #expect(base64Decode(ArraySlice(bytes(encoded))) == decoded)
    }

    @Test(arguments: ["Z", "Zg===", "Zm9v!", "Zm 9v", "=Zg"])
    func base64Rejects(encoded: String) {
        #expect(base64Decode(ArraySlice(bytes(encoded))) == nil)
    }
}
