// The proxy handlers against bad and hostile clients: malformed HTTP (400/505), a request head that
// never ends (capped at 16 KiB), dial failures (503 and the SOCKS codes), SOCKS versions and commands
// that are not served, clients that send nothing (the handshake deadline, `readTimeout`), and 500
// concurrent CONNECT tunnels.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ProxyHandlerTests {
    @Suite("Proxy handlers: bad input, deadlines and load")
    struct ProxyHandlerBadInput {
        typealias T = ProxyHandlerTesting

        /// Reads the one response a refused HTTP client gets and checks GOST's shape: the status line,
        /// `Proxy-Agent: gost/3.0`, `Content-Length: 0`, `Connection: close`, then EOF.
        static func expectRefusal(
            _ connection: TestConnection, statusLine: String, sourceLocation: SourceLocation = #_sourceLocation
        ) throws {
            let bytes = try connection.receiveUntilEOF(limit: 64 << 10)
            let text = String(decoding: bytes, as: UTF8.self)
            let expected =
                "\(statusLine)\r\nProxy-Agent: gost/3.0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            #expect(text == expected, "reply \(text.debugDescription)", sourceLocation: sourceLocation)
        }

        // MARK: Malformed HTTP

        /// One malformed request and what Sluice answers.
        struct Malformed: Sendable, CustomTestStringConvertible {
            var name: String
            /// The request; `TARGET` stands for the recording target's address.
            var request: String
            var statusLine: String
            var warning: String
            var testDescription: String { name }
        }

        static let malformed: [Malformed] = [
            Malformed(
                name: "garbage first line", request: "this is not http at all\r\n\r\n",
                statusLine: "HTTP/1.1 400 Bad Request", warning: "http: malformed request line"),
            Malformed(
                name: "origin-form GET (not a proxy request)", request: "GET / HTTP/1.1\r\nHost: TARGET\r\n\r\n",
                statusLine: "HTTP/1.1 400 Bad Request", warning: "http: not a proxy request"),
            Malformed(
                name: "header line without a colon",
                request: "GET http://TARGET/ HTTP/1.1\r\nHost: TARGET\r\nno colon here\r\n\r\n",
                statusLine: "HTTP/1.1 400 Bad Request", warning: "http: malformed header field"),
            Malformed(
                name: "CONNECT to a bad authority", request: "CONNECT [::1 HTTP/1.1\r\nHost: x\r\n\r\n",
                statusLine: "HTTP/1.1 400 Bad Request", warning: "http: invalid request target"),
            Malformed(
                name: "two different Content-Length values",
                request:
                    "POST http://TARGET/ HTTP/1.1\r\nHost: TARGET\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                statusLine: "HTTP/1.1 400 Bad Request", warning: "http: invalid Content-Length or Host"),
            Malformed(
                name: "257 header fields",
                request: "GET http://TARGET/ HTTP/1.1\r\nHost: TARGET\r\n"
                    + String(repeating: "a: b\r\n", count: 256) + "\r\n",
                statusLine: "HTTP/1.1 431 Request Header Fields Too Large", warning: "http: request head too large"),
            Malformed(
                name: "HTTP/3.0", request: "GET http://TARGET/ HTTP/3.0\r\nHost: TARGET\r\n\r\n",
                statusLine: "HTTP/1.1 505 HTTP Version Not Supported", warning: "http: unsupported protocol version"),
        ]

        /// Each malformed request, to `http://` and to `auto`: GOST's status and fields, then EOF; the
        /// warning says why; the close reason is `requestRefused`; the target is never dialled.
        @Test(arguments: ["http", ""], malformed)
        func malformedRequestIsRefused(scheme: String, _ run: Malformed) throws {
            let target = try RecordingServer()
            let sluice = try T.start(scheme)
            let connection = try sluice.connect()
            defer { connection.close() }
            let client = try #require(connection.localAddress)
            try connection.sendAll(run.request.replacing("TARGET", with: target.target))
            try Self.expectRefusal(connection, statusLine: run.statusLine)
            // Sluice lingers until the client's EOF (so the reply is not lost to a reset): close now.
            connection.close()
            let log = try sluice.closedLog(ofClient: client)
            #expect(sluice.refusal(sid: log.sid)?["msg"]?.string == run.warning, "\(log)")
            #expect(log.accepted?["handler"]?.string == "http", "\(log)")
            #expect(log.reason == "requestRefused", "\(log)")
            #expect(target.acceptedCount == 0)
        }

        // MARK: The 16 KiB head cap

        /// How a head over the cap is sent.
        enum EndlessHead: String, Sendable, CaseIterable, CustomTestStringConvertible {
            /// Header lines that keep coming, the blank line never does.
            case manyFields
            /// One line with no CRLF at all.
            case oneLongLine
            var testDescription: String { rawValue }
        }

        /// A request head that does not end within 16 KiB (64 KiB are sent, then the client waits): the
        /// answer is 431 (or 400), the connection is closed, nothing was dialled (the recording target
        /// named in the request saw no connection), and the process lives.
        @Test(arguments: ["http", ""], EndlessHead.allCases)
        func endlessHeadIsCappedAt16KiB(scheme: String, shape: EndlessHead) throws {
            let target = try RecordingServer()
            let sluice = try T.start(scheme)
            let connection = try sluice.connect()
            defer { connection.close() }
            let client = try #require(connection.localAddress)
            var head = "GET http://\(target.target)/ HTTP/1.1\r\nHost: \(target.target)\r\n"
            switch shape {
            case .manyFields:
                var i = 0
                while head.utf8.count < 64 << 10 {
                    head += "X-Field-\(i): \(String(repeating: "v", count: 100))\r\n"
                    i += 1
                }
            case .oneLongLine:
                head += "X-Long: " + String(repeating: "x", count: 64 << 10)
            }
            try connection.sendAll(head)
            let bytes = try connection.receiveUntilEOF(limit: 64 << 10)
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(
                text.hasPrefix("HTTP/1.1 431 Request Header Fields Too Large\r\n")
                    || text.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "reply \(text.debugDescription)")
            connection.close()
            let log = try sluice.closedLog(ofClient: client)
            #expect(log.reason == "requestRefused", "\(log)")
            #expect(log.connected == nil, "\(log)")
            #expect(target.acceptedCount == 0, "the target was dialled")
            #expect(sluice.isRunning)
        }

        /// The cap's edge: a whole head (request line, fields, blank line) of exactly 16,384 bytes is
        /// served by the origin; one of 16,385 bytes is answered 431 and not dialled.
        @Test(arguments: [16_384, 16_385])
        func headAtTheCap(length: Int) throws {
            let origin = try HTTPOrigin()
            let sluice = try T.start("http")
            let connection = try sluice.connect()
            defer { connection.close() }
            let start = "GET \(origin.url(path: "/edge")) HTTP/1.1\r\nHost: \(origin.address())\r\nX-Pad: "
            let end = "\r\nConnection: close\r\n\r\n"
            let head = start + String(repeating: "p", count: length - start.utf8.count - end.utf8.count) + end
            #expect(head.utf8.count == length)
            let response = try T.exchange(connection, head)
            if length <= 16_384 {
                #expect(response.status == 200, "\(response)")
                #expect(response.text.hasPrefix("GET /edge server=origin"), "\(response)")
            } else {
                #expect(response.statusLine == "HTTP/1.1 431 Request Header Fields Too Large", "\(response)")
                #expect(origin.requests.isEmpty, "\(origin.diagnostics)")
            }
        }

        // MARK: Dial failures

        /// A request to a closed port and the reply each protocol gets.
        struct DialFailure: Sendable, CustomTestStringConvertible {
            var scheme: String
            var name: String
            var testDescription: String { "\(scheme.isEmpty ? "auto" : scheme): \(name)" }
        }

        /// CONNECT or a plain GET to a closed port is 503 (GOST's status, `Proxy-Agent`, then EOF); a
        /// SOCKS5 CONNECT is refused with code 5 (connection refused), a SOCKS4 one with 91. The log has
        /// an error line naming the destination and the close reason `dialFailed`.
        @Test(arguments: [
            DialFailure(scheme: "http", name: "CONNECT"), DialFailure(scheme: "http", name: "GET"),
            DialFailure(scheme: "", name: "CONNECT"), DialFailure(scheme: "socks5", name: "SOCKS5"),
            DialFailure(scheme: "", name: "SOCKS5"), DialFailure(scheme: "socks4", name: "SOCKS4"),
        ])
        func dialFailureIsAnswered(_ run: DialFailure) throws {
            let closed = try ClosedPort()
            defer { closed.close() }
            let port = closed.port
            let destination = closed.target
            let sluice = try T.start(run.scheme)
            let connection = try sluice.connect()
            defer { connection.close() }
            let client = try #require(connection.localAddress)
            let high = UInt8(port >> 8)
            let low = UInt8(port & 0xFF)
            switch run.name {
            case "CONNECT":
                try connection.sendAll("CONNECT \(destination) HTTP/1.1\r\nHost: \(destination)\r\n\r\n")
                try Self.expectRefusal(connection, statusLine: "HTTP/1.1 503 Service Unavailable")
            case "GET":
                try connection.sendAll("GET http://\(destination)/ HTTP/1.1\r\nHost: \(destination)\r\n\r\n")
                try Self.expectRefusal(connection, statusLine: "HTTP/1.1 503 Service Unavailable")
            case "SOCKS5":
                try connection.sendAll([5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, high, low])
                let reply = try connection.receiveUntilEOF(limit: 1024)
                #expect(reply == [5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0], "reply \(reply)")
            default:
                try connection.sendAll([4, 1, high, low, 127, 0, 0, 1, 0])
                let reply = try connection.receiveUntilEOF(limit: 1024)
                #expect(reply == [0, 91, 0, 0, 0, 0, 0, 0], "reply \(reply)")
            }
            connection.close()
            let log = try sluice.closedLog(ofClient: client)
            #expect(log.reason == "dialFailed", "\(log)")
            #expect(log.errors.contains { $0["dst"]?.string == destination }, "\(log)")
            #expect(log.connected == nil, "\(log)")
        }

        // MARK: SOCKS requests that are not served

        /// What a SOCKS client sends (all at once) and what it must get back before EOF.
        struct SOCKSCase: Sendable, CustomTestStringConvertible {
            var scheme: String
            var name: String
            /// The bytes; `0xAA 0xBB` stand for the recording target's port.
            var send: [UInt8]
            var reply: [UInt8]
            var warning: String
            var testDescription: String { "\(scheme.isEmpty ? "auto" : scheme): \(name)" }
        }

        static let socksCases: [SOCKSCase] = {
            let v4Target: [UInt8] = [1, 127, 0, 0, 1, 0xAA, 0xBB]
            let failure: (UInt8) -> [UInt8] = { [5, $0, 0, 1, 0, 0, 0, 0, 0, 0] }
            var cases: [SOCKSCase] = []
            for scheme in ["socks5", ""] {
                cases += [
                    SOCKSCase(
                        scheme: scheme, name: "BIND", send: [5, 1, 0, 5, 2, 0] + v4Target, reply: [5, 0] + failure(7),
                        warning: "socks5: command not supported (2)"),
                    SOCKSCase(
                        scheme: scheme, name: "UDP ASSOCIATE", send: [5, 1, 0, 5, 3, 0] + v4Target,
                        reply: [5, 0] + failure(7), warning: "socks5: command not supported (3)"),
                    SOCKSCase(
                        scheme: scheme, name: "unknown command 9", send: [5, 1, 0, 5, 9, 0] + v4Target,
                        reply: [5, 0] + failure(7), warning: "socks5: command not supported (9)"),
                    SOCKSCase(
                        scheme: scheme, name: "address type 5", send: [5, 1, 0, 5, 1, 0, 5, 1, 2, 3, 4, 0xAA, 0xBB],
                        reply: [5, 0] + failure(8), warning: "socks5: address type not supported (5)"),
                    SOCKSCase(
                        scheme: scheme, name: "request version 4", send: [5, 1, 0, 4, 1, 0] + v4Target,
                        reply: [5, 0] + failure(1), warning: "socks5: bad version 4"),
                    SOCKSCase(
                        scheme: scheme, name: "no methods", send: [5, 0], reply: [5, 0xFF],
                        warning: "socks5: no authentication methods offered"),
                ]
            }
            for scheme in ["socks4", ""] {
                cases.append(
                    SOCKSCase(
                        scheme: scheme, name: "SOCKS4 BIND", send: [4, 2, 0xAA, 0xBB, 127, 0, 0, 1, 0],
                        reply: [0, 91, 0, 0, 0, 0, 0, 0], warning: "socks4: command not supported (2)"))
            }
            cases += [
                SOCKSCase(
                    scheme: "socks5", name: "a SOCKS4 request", send: [4, 1, 0xAA, 0xBB, 127, 0, 0, 1, 0], reply: [],
                    warning: "unexpected first byte 4"),
                SOCKSCase(
                    scheme: "socks4", name: "a SOCKS5 greeting", send: [5, 1, 0], reply: [],
                    warning: "unexpected first byte 5"),
                SOCKSCase(
                    scheme: "socks5", name: "an HTTP request", send: Array("GET http://x/ HTTP/1.1\r\n\r\n".utf8),
                    reply: [], warning: "unexpected first byte 71"),
            ]
            return cases
        }()

        /// SOCKS versions, commands and address types that are not served: the RFC 1928 / SOCKS4 reply
        /// code (7 for BIND and UDP ASSOCIATE, 8 for an unknown address type, 91 for SOCKS4 BIND) or,
        /// for another protocol on a dedicated handler, no reply at all; then EOF, a warning saying
        /// why, and no dial.
        @Test(arguments: socksCases)
        func unsupportedSOCKSRequestIsRefused(_ run: SOCKSCase) throws {
            let target = try RecordingServer()
            let sluice = try T.start(run.scheme)
            let connection = try sluice.connect()
            defer { connection.close() }
            let client = try #require(connection.localAddress)
            let port = target.port
            let bytes = run.send.map { $0 == 0xAA ? UInt8(port >> 8) : $0 == 0xBB ? UInt8(port & 0xFF) : $0 }
            try connection.sendAll(bytes)
            let reply = try connection.receiveUntilEOF(limit: 1024)
            #expect(reply == run.reply, "reply \(reply)")
            connection.close()
            let log = try sluice.closedLog(ofClient: client)
            #expect(sluice.refusal(sid: log.sid)?["msg"]?.string == run.warning, "\(log)")
            #expect(log.reason == "requestRefused", "\(log)")
            #expect(target.acceptedCount == 0)
        }

        // MARK: The handshake deadline

        /// A handler, a `readTimeout` key, and what the client sends before going silent.
        struct SilentCase: Sendable, CustomTestStringConvertible {
            var scheme: String
            /// The query, e.g. `handler.readTimeout=1s`; empty for the default (15 s).
            var query: String
            var partial: [UInt8] = []
            var testDescription: String {
                "\(scheme.isEmpty ? "auto" : scheme)?\(query)"
                    + (partial.isEmpty ? ", nothing sent" : ", partial request")
            }
        }

        /// A client that sends nothing (or half a request) is closed at the handshake deadline:
        /// `readTimeout=1s` and `handler.readTimeout=1s` both set it. The close comes when that 1 s
        /// deadline fires (`TimingBound.isAt`: not the 15 s default), with reason `requestTimeout`, and
        /// nothing is dialled. For auto with no byte the handler field stays `auto`.
        @Test(arguments: [
            SilentCase(scheme: "http", query: "handler.readTimeout=1s"),
            SilentCase(scheme: "http", query: "readTimeout=1s"),
            SilentCase(scheme: "socks5", query: "readTimeout=1s"),
            SilentCase(scheme: "socks4", query: "handler.readTimeout=1s"),
            SilentCase(scheme: "", query: "handler.readTimeout=1s"),
            SilentCase(scheme: "", query: "readTimeout=1s"),
            SilentCase(scheme: "http", query: "readTimeout=1s", partial: Array("CONNECT TARGET HTTP/1.1\r\n".utf8)),
            SilentCase(scheme: "", query: "handler.readTimeout=1s", partial: [5, 1, 0, 5, 1]),
        ])
        func silentClientIsClosedAtTheHandshakeDeadline(_ run: SilentCase) throws {
            let target = try RecordingServer()
            let sluice = try T.start(run.scheme, query: run.query)
            let connection = try sluice.connect()
            defer { connection.close() }
            let client = try #require(connection.localAddress)
            let start = Monotonic.now
            if !run.partial.isEmpty {
                let text = String(decoding: run.partial, as: UTF8.self)
                try connection.sendAll(
                    run.partial.first == 5 ? run.partial : Array(text.replacing("TARGET", with: target.target).utf8))
            }
            var outcome = connection.waitForClose(timeout: .seconds(10))
            if case .data(let greeting) = outcome, greeting == [5, 0] {
                outcome = connection.waitForClose(timeout: .seconds(10))
            }
            let elapsed = start.elapsedSeconds
            #expect(outcome.isClosed, "after \(elapsed) s: \(outcome)")
            #expect(TimingBound.isAt(elapsed, deadline: 1), "closed after \(elapsed) s")
            let log = try sluice.closedLog(ofClient: client)
            #expect(log.reason == "requestTimeout", "\(log)")
            if run.scheme.isEmpty && run.partial.isEmpty {
                #expect(log.accepted?["handler"]?.string == "auto", "\(log)")
            }
            #expect(target.acceptedCount == 0)
        }

        /// Without `readTimeout` (GOST's default, 15 s) a silent client is still open after 2.5 s: the
        /// 1 s closes above come from the setting, not from some shorter built-in deadline.
        @Test func silentClientWithoutReadTimeoutIsNotClosedEarly() throws {
            let sluice = try T.start("http")
            let connection = try sluice.connect()
            defer { connection.close() }
            #expect(connection.waitForClose(timeout: .milliseconds(2500)) == .timeout)
        }

        // MARK: Load

        /// 500 clients open tunnels (HTTP CONNECT through `http://`, or SOCKS5 through auto) to an echo
        /// server at the same time (all 500 replies are in before any payload moves), then each sends
        /// its own 64 KiB and gets exactly
        /// those bytes back. It finishes within 90 s on a busy 2-core machine; Sluice held at least
        /// 1,000 descriptors (both sides of every tunnel) at the peak, and is back to its idle count
        /// once the clients are gone.
        @Test(arguments: ["http", "socks5 on auto"])
        func fiveHundredConcurrentTunnels(kind: String) throws {
            raiseOpenFileLimit()
            let echo = try EchoServer()
            let socks = kind != "http"
            let sluice = try T.start(socks ? "" : "http")
            let idle = try #require(sluice.openFDCount())
            let count = 500
            let bytesEach = 64 << 10
            let started = Monotonic.now
            let open = Locked<[TestConnection?]>(Array(repeating: nil, count: count))
            let port = [UInt8(echo.port >> 8), UInt8(echo.port & 0xFF)]
            let request =
                socks
                ? [5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1] + port
                : Array("CONNECT \(echo.target) HTTP/1.1\r\nHost: \(echo.target)\r\n\r\n".utf8)
            // SOCKS5: the method choice, then a success reply with an IPv4 bound address (10 bytes).
            let established = socks ? [5, 0, 5, 0, 0, 1] : Array(T.connectEstablished.utf8)
            let replyLength = socks ? 12 : established.count
            try concurrently(count: count, threads: 50) { i in
                let connection = try TestConnection.connect(to: sluice.address(), timeout: .seconds(60))
                open.withLock { $0[i] = connection }
                try connection.sendAll(request)
                let reply = try connection.receive(exactly: replyLength)
                guard reply.starts(with: established) else {
                    throw TestSupportError(
                        "CONNECT \(i)", detail: String(decoding: reply, as: UTF8.self).debugDescription)
                }
            }
            let peak = sluice.openFDCount() ?? 0
            #expect(peak >= idle + 2 * count, "descriptors at the peak: \(peak), idle \(idle)")
            let clients = open.value
            let pattern = DataPattern(seed: 77)
            try concurrently(count: count, threads: 50) { i in
                guard let connection = clients[i] else { throw TestSupportError("connection \(i) was not opened") }
                defer { connection.close() }
                let payload = pattern.bytes(from: i &* 7_919 % DataPattern.blockLength, count: bytesEach)
                let echoed = try connection.exchange(payload, expecting: bytesEach)
                guard echoed == payload else { throw TestSupportError("tunnel \(i)", detail: "echo differs") }
            }
            let elapsed = started.elapsedSeconds
            #expect(elapsed < 90, "500 tunnels took \(elapsed) s")
            let settled = waitUntil(timeout: .seconds(20)) { (sluice.openFDCount() ?? .max) <= idle }
            #expect(settled, "descriptors: \(sluice.openFDCount() ?? -1), idle \(idle)")
            #expect(waitUntil(timeout: .seconds(20)) { sluice.closeLinesLogged >= count }, "close lines")
            #expect(sluice.lines(level: "error").isEmpty, "\(sluice.lines(level: "error").prefix(5))")
            #expect(sluice.isRunning)
        }
    }
}
