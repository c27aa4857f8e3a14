// The proxy handlers (http, socks4, socks5, auto) against the real curl as the client and a python
// http.server origin: plain GET, CONNECT, SOCKS5 with host names and IPv6 literals, SOCKS4 and 4a,
// Basic and RFC 1929 authentication; each checks the body bytes and the connection's log lines.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ProxyHandlerTests {
    @Suite("Proxy handlers: curl through http, socks4, socks5 and auto")
    struct ProxyHandlerClients {
        typealias T = ProxyHandlerTesting

        /// The origin's body for one request, up to the `conn=` value (the upstream's port, which the
        /// test cannot know in advance).
        static func expectBody(
            _ body: String, method: String = "GET", path: String, server: String = "origin", sequence: Int = 1,
            sourceLocation: SourceLocation = #_sourceLocation
        ) {
            let prefix = "\(method) \(path) server=\(server) conn="
            let fits =
                body.hasPrefix(prefix) && body.hasSuffix(" seq=\(sequence)\n")
                && Int(body.dropFirst(prefix.count).prefix { $0 != " " }) != nil
            #expect(fits, "origin body \(body.debugDescription)", sourceLocation: sourceLocation)
        }

        /// Checks a proxied connection's story: the accept line names the (sub-)handler, the connected
        /// and relay-ended lines name the requested `host` (`client <-> host`), `dst` is the address
        /// dialled, `user` (when given) is on the connected line, and the close reason is `done`.
        static func expectProxiedLog(
            _ log: ConnectionLog, client: SocketAddress, handler: String, host: String, dialled: SocketAddress,
            user: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
        ) {
            #expect(log.accepted?["handler"]?.string == handler, "\(log)", sourceLocation: sourceLocation)
            #expect(log.accepted?["kind"]?.string == "handler", "\(log)", sourceLocation: sourceLocation)
            let connected = log.connected
            #expect(connected?["msg"]?.string == "\(client) <-> \(host)", "\(log)", sourceLocation: sourceLocation)
            #expect(connected?["host"]?.string == host, "\(log)", sourceLocation: sourceLocation)
            #expect(connected?["dst"]?.string == dialled.description, "\(log)", sourceLocation: sourceLocation)
            #expect(connected?["handler"]?.string == handler, "\(log)", sourceLocation: sourceLocation)
            #expect(connected?["user"]?.string == user, "\(log)", sourceLocation: sourceLocation)
            #expect(log.relayEnded?["msg"]?.string == "\(client) >-< \(host)", "\(log)", sourceLocation: sourceLocation)
            #expect(log.reason == "done", "\(log)", sourceLocation: sourceLocation)
            #expect(log.errors.isEmpty, "\(log)", sourceLocation: sourceLocation)
        }

        // MARK: HTTP

        /// `curl -x http://sluice http://origin/plain` through `http://` and `auto`: the origin gets
        /// one origin-form `GET /plain HTTP/1.1` with `Host` = its authority and no `Proxy-*` field;
        /// curl gets the origin's body; the log says `http` (auto's sub-handler too).
        @Test(arguments: ["http", ""])
        func plainGet(scheme: String) throws {
            let origin = try HTTPOrigin()
            let sluice = try T.start(scheme)
            let result = try Curl.run(["-x", "http://\(sluice.proxyAuthority)"], url: origin.url(path: "/plain?q=1"))
            #expect(result.exitCode == 0 && result.status == 200, "\(result)\n\(sluice.stderrText)")
            Self.expectBody(result.body, path: "/plain?q=1")

            let request = try #require(origin.waitForRequests(1)?.first, "\(origin.diagnostics)")
            #expect(request["method"]?.string == "GET")
            #expect(request["path"]?.string == "/plain?q=1", "origin-form expected: \(request)")
            #expect(request["version"]?.string == "HTTP/1.1")
            let headers = (request["headers"]?.array ?? []).compactMap { pair -> (String, String)? in
                guard let name = pair[0]?.string, let value = pair[1]?.string else { return nil }
                return (name.lowercased(), value)
            }
            #expect(headers.first { $0.0 == "host" }?.1 == origin.address().description, "\(request)")
            #expect(!headers.contains { $0.0.hasPrefix("proxy-") }, "a Proxy-* field reached the origin: \(request)")

            let client = try #require(result.localAddress, "\(result)")
            let log = try sluice.closedLog(ofClient: client)
            Self.expectProxiedLog(
                log, client: client, handler: "http", host: origin.address().description, dialled: origin.address())
        }

        /// `curl -x … -H "Expect: 100-continue" --data-binary @file` (64 KiB): curl waits for the
        /// origin's `100 Continue` through Sluice before sending the body (for 60 s, past curl's 10 s
        /// `--max-time`: without the interim response the transfer fails); the origin echoes the body
        /// whole after it.
        @Test func postWithExpectContinue() throws {
            let origin = try HTTPOrigin()
            let sluice = try T.start("http")
            let directory = try TemporaryDirectory(prefix: "proxy-post")
            let alphabet = Array("0123456789abcdef".utf8)
            let body = String(decoding: (0..<(64 << 10)).map { alphabet[($0 * 31 + $0 / 7) % 16] }, as: UTF8.self)
            let file = try directory.write("body", body)
            let result = try Curl.run(
                [
                    "-x", "http://\(sluice.proxyAuthority)", "-H", "Expect: 100-continue", "--expect100-timeout", "60",
                    "--data-binary", "@\(file)",
                ],
                url: origin.url(path: "/post"))
            #expect(result.exitCode == 0 && result.status == 200, "\(result)\n\(sluice.stderrText)")
            #expect(result.body.hasPrefix("POST /post server=origin conn="), "\(result.body.prefix(80))")
            #expect(result.body.hasSuffix(" seq=1\n" + body), "the echoed body differs")
            let request = try #require(origin.waitForRequests(1)?.first, "\(origin.diagnostics)")
            let names = (request["headers"]?.array ?? []).compactMap { $0[0]?.string?.lowercased() }
            #expect(names.contains("expect"), "curl did not ask 100-continue: \(request)")
            #expect(request["bodyLength"]?.int == 64 << 10)
        }

        /// `curl -p -x http://sluice` (CONNECT) through `http://` and `auto`: the tunnel carries curl's
        /// own request to the origin and the body back; the log names the CONNECT authority.
        @Test(arguments: ["http", ""])
        func connectTunnel(scheme: String) throws {
            let origin = try HTTPOrigin()
            let sluice = try T.start(scheme)
            let result = try Curl.run(
                ["-p", "-x", "http://\(sluice.proxyAuthority)"], url: origin.url(path: "/tunnel"))
            #expect(result.exitCode == 0 && result.status == 200, "\(result)\n\(sluice.stderrText)")
            Self.expectBody(result.body, path: "/tunnel")
            let client = try #require(result.localAddress, "\(result)")
            let log = try sluice.closedLog(ofClient: client)
            Self.expectProxiedLog(
                log, client: client, handler: "http", host: origin.address().description, dialled: origin.address())
        }

        /// The CONNECT reply is GOST's exact bytes (`200 Connection established`, `Proxy-Agent:
        /// gost/3.0`, nothing else), and the tunnel then echoes 256 KiB intact. Bytes sent right behind
        /// the CONNECT head (before the reply) reach the target first, in order.
        @Test(arguments: ["http", ""])
        func connectReplyBytesAndTunnel(scheme: String) throws {
            let echo = try EchoServer()
            let sluice = try T.start(scheme)
            let connection = try sluice.connect()
            defer { connection.close() }
            let client = try #require(connection.localAddress)
            let early = "early bytes right behind the head"
            try connection.sendAll("CONNECT \(echo.target) HTTP/1.1\r\nHost: \(echo.target)\r\n\r\n" + early)
            let reply = try connection.receive(exactly: T.connectEstablished.utf8.count)
            #expect(String(decoding: reply, as: UTF8.self) == T.connectEstablished)
            #expect(try connection.receive(exactly: early.utf8.count) == Array(early.utf8))
            let payload = TestData.random(count: 256 << 10, seed: 71)
            #expect(try connection.exchange(payload, expecting: payload.count) == payload)
            connection.close()
            let log = try sluice.closedLog(ofClient: client)
            #expect(log.closed?["inputBytes"]?.int ?? 0 >= payload.count, "\(log)")
        }

        /// One absolute-form request target and the origin-form path the origin must receive.
        struct Rewrite: Sendable, CustomTestStringConvertible {
            var name: String
            var method = "GET"
            /// The scheme as the client writes it.
            var scheme = "http://"
            /// What follows the authority in the URI.
            var suffix: String
            var path: String
            var server = "origin"
            /// Bytes before the request line (RFC 9112 §2.2 lets a server skip empty lines).
            var before = ""
            var testDescription: String { name }
        }

        /// Absolute URIs become origin form at the origin: an empty path is `/` (`*` for OPTIONS), a
        /// bare query gets its `/`, a fragment is dropped, the scheme is case-insensitive, empty lines
        /// before the request are skipped, and an IPv6 authority keeps its brackets in `Host`.
        @Test(arguments: [
            Rewrite(name: "no path", suffix: "", path: "/"),
            Rewrite(name: "query only", suffix: "?x=1&y=2", path: "/?x=1&y=2"),
            Rewrite(name: "fragment", suffix: "/a/b?c=d#frag", path: "/a/b?c=d"),
            Rewrite(name: "upper-case scheme", scheme: "HTTP://", suffix: "/upper", path: "/upper"),
            Rewrite(name: "OPTIONS without a path", method: "OPTIONS", suffix: "", path: "*"),
            Rewrite(name: "empty lines first", suffix: "/lead", path: "/lead", before: "\r\n\r\n"),
            Rewrite(name: "IPv6 authority", suffix: "/six", path: "/six", server: "six"),
        ])
        func absoluteURIBecomesOriginForm(_ run: Rewrite) throws {
            let origin = try HTTPOrigin([("origin", "127.0.0.1"), ("six", "::1")])
            let sluice = try T.start("http")
            let connection = try sluice.connect()
            defer { connection.close() }
            let authority = origin.address(run.server).description
            let response = try T.exchange(
                connection,
                "\(run.before)\(run.method) \(run.scheme)\(authority)\(run.suffix) HTTP/1.1\r\nHost: \(authority)\r\n"
                    + "Connection: close\r\n\r\n")
            #expect(response.status == 200, "\(response)")
            #expect(response.text.hasPrefix("\(run.method) \(run.path) server=\(run.server) "), "\(response)")
            let request = try #require(origin.waitForRequests(1)?.first, "\(origin.diagnostics)")
            #expect(request["path"]?.string == run.path, "\(request)")
            #expect(request["headers"]?[0]?[1]?.string == authority, "Host first, as the authority: \(request)")
        }

        /// The fields that reach the origin: `Host` first (the URI's authority, not the client's `Host`),
        /// then the client's end-to-end fields in order; `Proxy-*`, `Keep-Alive`, `TE`, GOST's
        /// `Gost-Target`/`X-Gost-Target` and the fields `Connection` names are gone, and `Connection`
        /// keeps only `close`.
        @Test func hopByHopFieldsAreRemoved() throws {
            let origin = try HTTPOrigin()
            let sluice = try T.start("http")
            let connection = try sluice.connect()
            defer { connection.close() }
            let head = [
                "GET \(origin.url(path: "/fields")) HTTP/1.1", "Host: wrong.example", "X-First: 1",
                "Proxy-Connection: keep-alive", "Proxy-Authorization: Basic YTpi", "Keep-Alive: timeout=5",
                "TE: trailers", "Gost-Target: 192.0.2.1:80", "X-Gost-Target: 192.0.2.1:80",
                "Connection: X-Named, close", "X-Named: dropped", "X-Last: 2",
            ]
            let response = try T.exchange(connection, head.joined(separator: "\r\n") + "\r\n\r\n")
            #expect(response.status == 200, "\(response)")
            let request = try #require(origin.waitForRequests(1)?.first, "\(origin.diagnostics)")
            let fields = (request["headers"]?.array ?? []).compactMap { pair -> String? in
                guard let name = pair[0]?.string, let value = pair[1]?.string else { return nil }
                return "\(name): \(value)"
            }
            #expect(
                fields == ["Host: \(origin.address())", "X-First: 1", "X-Last: 2", "Connection: close"], "\(fields)")
        }

        // MARK: SOCKS5

        /// `curl --socks5-hostname` through `socks5://` and `auto`: the name travels to Sluice (ATYP 3)
        /// and Sluice resolves it; the log's `host` is the name as sent, `dst` the address dialled.
        @Test(arguments: ["socks5", ""])
        func socks5Hostname(scheme: String) throws {
            let resolved = try #require(Resolver.lookup("localhost"), "localhost does not resolve")
            let origin = try HTTPOrigin([("origin", resolved.ip.description)])
            let sluice = try T.start(scheme)
            let port = origin.address().port
            let result = try Curl.run(
                ["--socks5-hostname", sluice.proxyAuthority], url: "http://localhost:\(port)/named")
            #expect(result.exitCode == 0 && result.status == 200, "\(result)\n\(sluice.stderrText)")
            Self.expectBody(result.body, path: "/named")
            let client = try #require(result.localAddress, "\(result)")
            let log = try sluice.closedLog(ofClient: client)
            Self.expectProxiedLog(
                log, client: client, handler: "socks5", host: "localhost:\(port)", dialled: origin.address())
        }

        /// `curl --socks5 … http://[::1]:port/` (ATYP 4, an IPv6 literal) through `socks5://` and
        /// `auto` to an origin on ::1: the body arrives and the log names `[::1]:port`.
        @Test(arguments: ["socks5", ""])
        func socks5IPv6Literal(scheme: String) throws {
            let origin = try HTTPOrigin([("origin", "::1")])
            let sluice = try T.start(scheme)
            let result = try Curl.run(["--socks5", sluice.proxyAuthority], url: origin.url(path: "/v6"))
            #expect(result.exitCode == 0 && result.status == 200, "\(result)\n\(sluice.stderrText)")
            Self.expectBody(result.body, path: "/v6")
            let request = try #require(origin.waitForRequests(1)?.first, "\(origin.diagnostics)")
            #expect(request["path"]?.string == "/v6")
            let client = try #require(result.localAddress, "\(result)")
            let log = try sluice.closedLog(ofClient: client)
            #expect(origin.address().description.hasPrefix("[::1]:"))
            Self.expectProxiedLog(
                log, client: client, handler: "socks5", host: origin.address().description, dialled: origin.address())
        }

        /// An auto service on `[::1]`: curl reaches it over IPv6 as an HTTP proxy and as a SOCKS5 proxy;
        /// the log's `remote` and `local` are IPv6.
        @Test(arguments: [["-x", "http://[::1]:PORT"], ["--socks5-hostname", "[::1]:PORT"]])
        func ipv6Listener(arguments: [String]) throws {
            let origin = try HTTPOrigin()
            let sluice = try SluiceProcess.start(["-L", "[::1]:0"])
            let result = try Curl.run(
                arguments.map { $0.replacing("PORT", with: String(sluice.port)) }, url: origin.url(path: "/over-v6"))
            #expect(result.exitCode == 0 && result.status == 200, "\(result)\n\(sluice.stderrText)")
            Self.expectBody(result.body, path: "/over-v6")
            let client = try #require(result.localAddress, "\(result)")
            #expect(client.ip == .v6(.loopback))
            let log = try sluice.closedLog(ofClient: client)
            #expect(log.accepted?["local"]?.string == "[::1]:\(sluice.port)", "\(log)")
            #expect(log.connected?["dst"]?.string == origin.address().description, "\(log)")
        }

        // MARK: SOCKS4 and 4a

        /// `curl --socks4` (an IPv4 address resolved by curl) through `socks4://` and `auto`.
        @Test(arguments: ["socks4", ""])
        func socks4(scheme: String) throws {
            let origin = try HTTPOrigin()
            let sluice = try T.start(scheme)
            let result = try Curl.run(["--socks4", sluice.proxyAuthority], url: origin.url(path: "/four"))
            #expect(result.exitCode == 0 && result.status == 200, "\(result)\n\(sluice.stderrText)")
            Self.expectBody(result.body, path: "/four")
            let client = try #require(result.localAddress, "\(result)")
            let log = try sluice.closedLog(ofClient: client)
            Self.expectProxiedLog(
                log, client: client, handler: "socks4", host: origin.address().description, dialled: origin.address())
        }

        /// `curl --socks4a` (the host name after the user id, DSTIP 0.0.0.x) through `socks4://` and
        /// `auto`: Sluice resolves `localhost`; the log's `host` is the name.
        @Test(arguments: ["socks4", ""])
        func socks4a(scheme: String) throws {
            let resolved = try #require(Resolver.lookup("localhost"), "localhost does not resolve")
            let origin = try HTTPOrigin([("origin", resolved.ip.description)])
            let sluice = try T.start(scheme)
            let port = origin.address().port
            let result = try Curl.run(["--socks4a", sluice.proxyAuthority], url: "http://localhost:\(port)/four-a")
            #expect(result.exitCode == 0 && result.status == 200, "\(result)\n\(sluice.stderrText)")
            Self.expectBody(result.body, path: "/four-a")
            let client = try #require(result.localAddress, "\(result)")
            let log = try sluice.closedLog(ofClient: client)
            Self.expectProxiedLog(
                log, client: client, handler: "socks4", host: "localhost:\(port)", dialled: origin.address())
        }

        // MARK: Authentication

        /// `-L http://alice:s3cret@…` (and auto): `curl -U alice:s3cret` passes, for a plain GET and
        /// for CONNECT; the `user` field says `alice`; `Proxy-Authorization` never reaches the origin.
        @Test(arguments: ["http", ""])
        func basicAuthenticationPasses(scheme: String) throws {
            let origin = try HTTPOrigin()
            let sluice = try T.start(scheme, userinfo: "alice:s3cret@")
            for (tunnel, path) in [(false, "/plain-auth"), (true, "/tunnel-auth")] {
                let result = try Curl.run(
                    (tunnel ? ["-p"] : []) + ["-x", "http://\(sluice.proxyAuthority)", "-U", "alice:s3cret"],
                    url: origin.url(path: path))
                #expect(result.exitCode == 0 && result.status == 200, "\(result)\n\(sluice.stderrText)")
                Self.expectBody(result.body, path: path)
                let client = try #require(result.localAddress, "\(result)")
                let log = try sluice.closedLog(ofClient: client)
                Self.expectProxiedLog(
                    log, client: client, handler: "http", host: origin.address().description,
                    dialled: origin.address(), user: "alice")
            }
            let requests = try #require(origin.waitForRequests(2), "\(origin.diagnostics)")
            for request in requests where request["path"]?.string == "/plain-auth" {
                let names = (request["headers"]?.array ?? []).compactMap { $0[0]?.string?.lowercased() }
                #expect(!names.contains("proxy-authorization"), "\(request)")
            }
        }

        /// Wrong password, unknown user, or no credentials, through `http://` and `auto`: curl gets
        /// 407, the warning says why, the close reason is `requestRefused`, and nothing is dialled.
        @Test(arguments: ["http", ""], [["-U", "alice:wrong"], ["-U", "mallory:s3cret"], []])
        func basicAuthenticationFailsWith407(scheme: String, credentials: [String]) throws {
            let origin = try HTTPOrigin()
            let sluice = try T.start(scheme, userinfo: "alice:s3cret@")
            let result = try Curl.run(
                ["-x", "http://\(sluice.proxyAuthority)"] + credentials, url: origin.url(path: "/denied"))
            #expect(result.status == 407, "\(result)\n\(sluice.stderrText)")
            let client = try #require(result.localAddress, "\(result)")
            let log = try sluice.closedLog(ofClient: client)
            #expect(log.reason == "requestRefused", "\(log)")
            #expect(log.connected == nil, "\(log)")
            let user = credentials.last.map { String($0.prefix { $0 != ":" }) }
            let why = user.map { "http: authentication failed for user \"\($0)\"" } ?? "http: authentication required"
            #expect(sluice.refusal(sid: log.sid)?["msg"]?.string == why, "\(log)")
            #expect(origin.requests.isEmpty, "\(origin.diagnostics)")
        }

        /// The 407 itself, on a raw connection: `Proxy-Authenticate: Basic realm="gost"`,
        /// `Proxy-Agent`, `Connection: close`, and the connection ends after it. A client that sent
        /// `Proxy-Connection: keep-alive` also gets `Proxy-Connection: close`, as from GOST.
        @Test(arguments: [false, true])
        func basicAuthenticationReply(proxyConnectionKeepAlive: Bool) throws {
            let target = try RecordingServer()
            let sluice = try T.start("http", userinfo: "alice:s3cret@")
            let connection = try sluice.connect()
            defer { connection.close() }
            // "alice:wrong" in base64.
            var head = "GET http://\(target.target)/ HTTP/1.1\r\nHost: \(target.target)\r\n"
            head += "Proxy-Authorization: Basic YWxpY2U6d3Jvbmc=\r\n"
            if proxyConnectionKeepAlive { head += "Proxy-Connection: keep-alive\r\n" }
            let response = try T.exchange(connection, head + "\r\n")
            #expect(response.statusLine == "HTTP/1.1 407 Proxy Authentication Required", "\(response)")
            #expect(response.field("Proxy-Authenticate") == "Basic realm=\"gost\"", "\(response)")
            #expect(response.field("Proxy-Agent") == "gost/3.0", "\(response)")
            #expect(response.field("Connection") == "close", "\(response)")
            #expect(response.field("Proxy-Connection") == (proxyConnectionKeepAlive ? "close" : nil), "\(response)")
            #expect(response.body.isEmpty)
            #expect(connection.waitForClose(timeout: .seconds(5)) == .eof)
            #expect(target.acceptedCount == 0)
        }

        /// `-L socks5://alice:s3cret@…` (and auto): curl with `alice:s3cret` passes RFC 1929 and the
        /// `user` field says `alice`.
        @Test(arguments: ["socks5", ""])
        func socks5AuthenticationPasses(scheme: String) throws {
            let origin = try HTTPOrigin()
            let sluice = try T.start(scheme, userinfo: "alice:s3cret@")
            let result = try Curl.run(
                ["-x", "socks5h://alice:s3cret@\(sluice.proxyAuthority)"], url: origin.url(path: "/socks-auth"))
            #expect(result.exitCode == 0 && result.status == 200, "\(result)\n\(sluice.stderrText)")
            Self.expectBody(result.body, path: "/socks-auth")
            let client = try #require(result.localAddress, "\(result)")
            let log = try sluice.closedLog(ofClient: client)
            Self.expectProxiedLog(
                log, client: client, handler: "socks5", host: origin.address().description, dialled: origin.address(),
                user: "alice")
        }

        /// What a SOCKS5 client gives against `socks5://alice:s3cret@…`, and why Sluice refuses it.
        struct SOCKS5AuthFailure: Sendable, CustomTestStringConvertible {
            var userinfo: String
            var why: String
            var testDescription: String { userinfo.isEmpty ? "no credentials" : userinfo }
        }

        /// A wrong password or user: RFC 1929 status 1 and curl fails; no credentials at all: method
        /// X'FF'. Either way curl fails, nothing is dialled, and the warning says why.
        @Test(arguments: [
            SOCKS5AuthFailure(userinfo: "alice:wrong@", why: "socks5: authentication failed for user \"alice\""),
            SOCKS5AuthFailure(userinfo: "bob:s3cret@", why: "socks5: authentication failed for user \"bob\""),
            SOCKS5AuthFailure(userinfo: "", why: "socks5: no acceptable authentication method"),
        ])
        func socks5AuthenticationFails(_ run: SOCKS5AuthFailure) throws {
            let origin = try HTTPOrigin()
            let sluice = try T.start("socks5", userinfo: "alice:s3cret@")
            let result = try Curl.run(
                ["-x", "socks5h://\(run.userinfo)\(sluice.proxyAuthority)"], url: origin.url(path: "/nope"))
            #expect(result.exitCode != 0 && result.status == 0, "\(result)")
            let line = try #require(
                sluice.waitForLine { $0["level"]?.string == "warning" }, "no warning:\n\(sluice.stderrText)")
            #expect(line["msg"]?.string == run.why, "\(line)")
            let sid = try #require(line["sid"]?.string)
            #expect(sluice.waitForLine { $0["sid"]?.string == sid && $0["reason"]?.string == "requestRefused" } != nil)
            #expect(origin.requests.isEmpty, "\(origin.diagnostics)")
        }

        /// The RFC 1929 exchange on a raw connection: method 2 chosen, status 0 for the right pair and
        /// 1 (then EOF) for a wrong one.
        @Test func socks5AuthenticationBytes() throws {
            let echo = try EchoServer()
            let sluice = try T.start("socks5", userinfo: "alice:s3cret@")
            func greetAndAuthenticate(password: String) throws -> (TestConnection, [UInt8]) {
                let connection = try sluice.connect()
                try connection.sendAll([5, 2, 0, 2])
                #expect(try connection.receive(exactly: 2) == [5, 2])
                try connection.sendAll(
                    [1, 5] + Array("alice".utf8) + [UInt8(password.utf8.count)] + Array(password.utf8))
                return (connection, try connection.receive(exactly: 2))
            }
            let (good, status) = try greetAndAuthenticate(password: "s3cret")
            defer { good.close() }
            #expect(status == [1, 0])
            let port = echo.port
            try good.sendAll([5, 1, 0, 1, 127, 0, 0, 1, UInt8(port >> 8), UInt8(port & 0xFF)])
            let reply = try good.receive(exactly: 10)
            #expect(Array(reply[0..<4]) == [5, 0, 0, 1], "reply \(reply)")
            #expect(try T.echoes(good, "through socks5 with a password"))

            let (bad, refused) = try greetAndAuthenticate(password: "wrong!")
            defer { bad.close() }
            #expect(refused == [1, 1])
            #expect(bad.waitForClose(timeout: .seconds(5)).isClosed)
            #expect(echo.acceptedCount == 1)
        }
    }
}
