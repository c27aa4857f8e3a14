// The http handler's plain (absolute-URI) forwarding over one persistent client connection: several
// requests to one origin reuse one upstream; a new host closes it and dials the next; request bodies
// (Content-Length and chunked) pass unchanged; pipelined requests are answered in order; `Connection:
// close` and HTTP/1.0 end the connection. The origin is python's http.server, which tells in each body
// which server answered, over which upstream connection, as which request on it.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ProxyHandlerTests {
    @Suite("Proxy handlers: keep-alive forwarding, host changes, bodies, pipelining")
    struct ProxyHandlerKeepAlive {
        typealias T = ProxyHandlerTesting

        /// A proxy request head for `url` on `origin` (absolute form, `Host`), with extra fields.
        static func get(_ origin: HTTPOrigin, _ server: String = "origin", path: String, fields: String = "") -> String
        {
            "GET \(origin.url(server, path: path)) HTTP/1.1\r\nHost: \(origin.address(server))\r\n\(fields)\r\n"
        }

        /// A POST with a Content-Length body.
        static func post(_ origin: HTTPOrigin, path: String, body: String) -> String {
            "POST \(origin.url(path: path)) HTTP/1.1\r\nHost: \(origin.address())\r\n"
                + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
        }

        /// What one response body says: `<METHOD> <path> server=<s> conn=<port> seq=<n>\n<echoed body>`.
        struct OriginAnswer: Equatable, CustomStringConvertible {
            var method: String
            var path: String
            var server: String
            var connection: Int
            var sequence: Int
            var body: String

            init?(_ response: HTTPResponse) {
                let text = response.text
                guard response.status == 200, let newline = text.firstIndex(of: "\n") else { return nil }
                let words = text[..<newline].split(separator: " ").map(String.init)
                guard words.count == 5, words[2].hasPrefix("server="), words[3].hasPrefix("conn="),
                    words[4].hasPrefix("seq="), let connection = Int(words[3].dropFirst(5)),
                    let sequence = Int(words[4].dropFirst(4))
                else { return nil }
                method = words[0]
                path = words[1]
                server = String(words[2].dropFirst(7))
                self.connection = connection
                self.sequence = sequence
                body = String(text[text.index(after: newline)...])
            }

            var description: String { "\(method) \(path) server=\(server) conn=\(connection) seq=\(sequence)" }
        }

        /// Reads the next response and parses the origin's answer, failing the test when it is not one.
        static func answer(
            _ reader: HTTPResponseReader, sourceLocation: SourceLocation = #_sourceLocation
        ) throws -> OriginAnswer {
            let response = try reader.next()
            return try #require(
                OriginAnswer(response), "not an origin answer: \(response)", sourceLocation: sourceLocation)
        }

        /// Three GETs one after another on one client connection (each sent once the previous answer
        /// is in): the origin answers all three over one upstream connection (`conn` equal, `seq` 1, 2,
        /// 3); Sluice logged one accepted connection and dialled once.
        @Test(arguments: ["http", ""])
        func sequentialRequestsReuseOneUpstream(scheme: String) throws {
            let origin = try HTTPOrigin()
            let sluice = try T.start(scheme)
            let connection = try sluice.connect()
            defer { connection.close() }
            let reader = HTTPResponseReader(connection)
            var answers: [OriginAnswer] = []
            for path in ["/one", "/two", "/three"] {
                try connection.sendAll(Self.get(origin, path: path))
                answers.append(try Self.answer(reader))
            }
            #expect(answers.map(\.path) == ["/one", "/two", "/three"], "\(answers)")
            #expect(answers.map(\.sequence) == [1, 2, 3], "\(answers)")
            #expect(Set(answers.map(\.connection)).count == 1, "\(answers)")
            #expect(sluice.settledAcceptLineCount() == 1, "\(sluice.stderrText)")
            let requests = try #require(origin.waitForRequests(3), "\(origin.diagnostics)")
            #expect(requests.map { $0["path"]?.string } == ["/one", "/two", "/three"])
        }

        /// curl with three URLs and `-x`: curl reuses its proxy connection (one accept line), the
        /// bodies arrive in order, and the first two (same origin) share one upstream connection.
        @Test func curlFetchesSeveralURLsOverOneProxyConnection() throws {
            let origin = try HTTPOrigin([("a", "127.0.0.1"), ("b", "127.0.0.1")])
            let sluice = try T.start("http")
            let binary = try PeerBinary.find("curl")
            let result = try runProcess(
                binary,
                [
                    "-sS", "--max-time", "20", "-x", "http://\(sluice.proxyAuthority)", origin.url("a", path: "/c1"),
                    origin.url("a", path: "/c2"), origin.url("b", path: "/c3"),
                ], timeout: .seconds(30))
            #expect(result.exitCode == 0, "\(result.stderr)\n\(sluice.stderrText)")
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 3, "\(result.stdout.debugDescription)")
            guard lines.count == 3 else { return }
            #expect(lines[0].hasPrefix("GET /c1 server=a ") && lines[0].hasSuffix(" seq=1"), "\(lines)")
            #expect(lines[1].hasPrefix("GET /c2 server=a ") && lines[1].hasSuffix(" seq=2"), "\(lines)")
            #expect(lines[2].hasPrefix("GET /c3 server=b ") && lines[2].hasSuffix(" seq=1"), "\(lines)")
            #expect(sluice.settledAcceptLineCount() == 1, "curl's connection was not reused:\n\(sluice.stderrText)")
        }

        /// Requests to origin a, then b, then a again on one client connection: each host change closes
        /// the upstream and dials the next, so the answers come from a (seq 1), b (seq 1) and a new
        /// connection to a (seq 1, another `conn`); the client connection stays open throughout.
        @Test(arguments: ["http", ""])
        func hostChangeRedials(scheme: String) throws {
            let origin = try HTTPOrigin([("a", "127.0.0.1"), ("b", "127.0.0.1")])
            let sluice = try T.start(scheme)
            let connection = try sluice.connect()
            defer { connection.close() }
            let reader = HTTPResponseReader(connection)
            var answers: [OriginAnswer] = []
            for (server, path) in [("a", "/first"), ("b", "/second"), ("a", "/third")] {
                try connection.sendAll(Self.get(origin, server, path: path))
                answers.append(try Self.answer(reader))
            }
            #expect(answers.map(\.server) == ["a", "b", "a"], "\(answers)")
            #expect(answers.map(\.path) == ["/first", "/second", "/third"], "\(answers)")
            #expect(answers.map(\.sequence) == [1, 1, 1], "\(answers)")
            if answers.count == 3 { #expect(answers[0].connection != answers[2].connection, "\(answers)") }
            #expect(sluice.settledAcceptLineCount() == 1, "\(sluice.stderrText)")
        }

        /// A 100,000-byte Content-Length body, then a chunked body in three chunks, then a GET, on one
        /// connection: the origin receives each body whole (it echoes them) and all three go over one
        /// upstream connection in order.
        @Test(arguments: ["http", ""])
        func requestBodiesPassUnchanged(scheme: String) throws {
            let origin = try HTTPOrigin()
            let sluice = try T.start(scheme)
            let connection = try sluice.connect()
            defer { connection.close() }
            let reader = HTTPResponseReader(connection)
            let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
            let large = String(
                decoding: (0..<100_000).map { alphabet[($0 &* 7 &+ $0 / 97) % alphabet.count] }, as: UTF8.self)
            try connection.sendAll(Self.post(origin, path: "/large", body: large))
            let first = try Self.answer(reader)
            #expect(first.method == "POST" && first.path == "/large" && first.sequence == 1, "\(first)")
            #expect(first.body == large, "the 100,000-byte body differs (\(first.body.utf8.count) bytes came back)")

            let chunks = ["first chunk;", String(repeating: "z", count: 5_000), "last"]
            var chunked = "POST \(origin.url(path: "/chunked")) HTTP/1.1\r\nHost: \(origin.address())\r\n"
            chunked += "Transfer-Encoding: chunked\r\n\r\n"
            for chunk in chunks { chunked += String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n" }
            chunked += "0\r\n\r\n"
            try connection.sendAll(chunked)
            let second = try Self.answer(reader)
            #expect(second.path == "/chunked" && second.sequence == 2, "\(second)")
            #expect(
                second.body == chunks.joined(), "chunked body came back as \(second.body.prefix(40).debugDescription)…")

            try connection.sendAll(Self.get(origin, path: "/after-bodies"))
            let third = try Self.answer(reader)
            #expect(third.path == "/after-bodies" && third.sequence == 3 && third.body.isEmpty, "\(third)")
            #expect(Set([first.connection, second.connection, third.connection]).count == 1)
            let requests = try #require(origin.waitForRequests(3), "\(origin.diagnostics)")
            #expect(requests.map { $0["bodyLength"]?.int } == [100_000, chunks.joined().utf8.count, 0])
        }

        /// Three requests (GET, POST with a body, GET) in one write: three answers, in order, over one
        /// upstream connection (`seq` 1, 2, 3).
        @Test(arguments: ["http", ""])
        func pipelinedRequestsAreAnsweredInOrder(scheme: String) throws {
            let origin = try HTTPOrigin()
            let sluice = try T.start(scheme)
            let connection = try sluice.connect()
            defer { connection.close() }
            let reader = HTTPResponseReader(connection)
            try connection.sendAll(
                Self.get(origin, path: "/p1") + Self.post(origin, path: "/p2", body: "pipelined body")
                    + Self.get(origin, path: "/p3"))
            let answers = try (0..<3).map { _ in try Self.answer(reader) }
            #expect(answers.map(\.path) == ["/p1", "/p2", "/p3"], "\(answers)")
            #expect(answers.map(\.sequence) == [1, 2, 3], "\(answers)")
            #expect(answers.map(\.body) == ["", "pipelined body", ""], "\(answers)")
            #expect(Set(answers.map(\.connection)).count == 1, "\(answers)")
        }

        /// Pipelined requests to a, b and a in one write: answered in order, each by the right server,
        /// though the host changes twice while requests wait.
        @Test func pipelinedHostChangesAreAnsweredInOrder() throws {
            let origin = try HTTPOrigin([("a", "127.0.0.1"), ("b", "127.0.0.1")])
            let sluice = try T.start("http")
            let connection = try sluice.connect()
            defer { connection.close() }
            let reader = HTTPResponseReader(connection)
            try connection.sendAll(
                Self.get(origin, "a", path: "/q1") + Self.get(origin, "b", path: "/q2")
                    + Self.get(origin, "a", path: "/q3"))
            let answers = try (0..<3).map { _ in try Self.answer(reader) }
            #expect(answers.map(\.server) == ["a", "b", "a"], "\(answers)")
            #expect(answers.map(\.path) == ["/q1", "/q2", "/q3"], "\(answers)")
        }

        /// Responses framed three ways on one connection: a HEAD answer (a Content-Length but no body),
        /// a chunked answer, then a Content-Length one. Each is relayed whole and no more, so every
        /// next answer parses, all over one upstream connection (`seq` 1, 2, 3).
        @Test(arguments: ["http", ""])
        func headAndChunkedResponsesKeepTheConnectionUsable(scheme: String) throws {
            let origin = try HTTPOrigin()
            let sluice = try T.start(scheme)
            let connection = try sluice.connect()
            defer { connection.close() }
            let reader = HTTPResponseReader(connection)
            try connection.sendAll(
                "HEAD \(origin.url(path: "/head")) HTTP/1.1\r\nHost: \(origin.address())\r\n\r\n")
            let head = try reader.next(bodyless: true)
            #expect(head.status == 200 && head.field("Content-Length") != nil, "\(head)")
            try connection.sendAll(Self.get(origin, path: "/chunked-response"))
            let chunked = try reader.next()
            #expect(chunked.field("Transfer-Encoding") == "chunked", "\(chunked)")
            let chunkedAnswer = try #require(OriginAnswer(chunked), "\(chunked)")
            #expect(chunkedAnswer.path == "/chunked-response" && chunkedAnswer.body == "tail\n", "\(chunked)")
            try connection.sendAll(Self.get(origin, path: "/after"))
            let after = try Self.answer(reader)
            #expect(after.path == "/after", "\(after)")
            #expect([chunkedAnswer.sequence, after.sequence] == [2, 3], "\(chunkedAnswer), \(after)")
            #expect(chunkedAnswer.connection == after.connection)
            #expect(reader.leftover.isEmpty, "bytes beyond the last answer: \(reader.leftover)")
        }

        /// A response without a length (delimited by the origin closing) after a keep-alive one: its
        /// body arrives whole and the client connection then ends, since nothing else can say where
        /// it stops.
        @Test func closeDelimitedResponseEndsTheClientConnection() throws {
            let origin = try HTTPOrigin()
            let sluice = try T.start("http")
            let connection = try sluice.connect()
            defer { connection.close() }
            let reader = HTTPResponseReader(connection)
            try connection.sendAll(Self.get(origin, path: "/kept"))
            #expect(try Self.answer(reader).sequence == 1)
            try connection.sendAll(Self.get(origin, path: "/until-close"))
            let last = try reader.next()
            let answer = try #require(OriginAnswer(last), "\(last)")
            #expect(answer.path == "/until-close" && answer.sequence == 2, "\(answer)")
            #expect(connection.waitForClose(timeout: .seconds(5)).isClosed)
        }

        /// The origin closes after an answer (`Connection: close` from its side) while the client keeps
        /// its connection: the client's next request is sent over a new upstream connection (`seq` 1,
        /// another `conn`) and answered.
        @Test func originClosingBetweenRequestsIsRedialled() throws {
            let origin = try HTTPOrigin()
            let sluice = try T.start("http")
            let connection = try sluice.connect()
            defer { connection.close() }
            let reader = HTTPResponseReader(connection)
            try connection.sendAll(Self.get(origin, path: "/close-after"))
            let first = try Self.answer(reader)
            #expect(first.path == "/close-after" && first.sequence == 1, "\(first)")
            #expect(origin.waitForRequests(1) != nil)
            try connection.sendAll(Self.get(origin, path: "/next"))
            let second = try Self.answer(reader)
            #expect(second.path == "/next" && second.sequence == 1, "\(second)")
            #expect(second.connection != first.connection, "\(first), \(second)")
            #expect(sluice.settledAcceptLineCount() == 1, "\(sluice.stderrText)")
        }

        /// Bytes pipelined after a `Connection: close` request are not forwarded: the origin sees one
        /// request, the client gets one answer and then EOF.
        @Test func nothingIsForwardedAfterTheLastRequest() throws {
            let origin = try HTTPOrigin()
            let sluice = try T.start("http")
            let connection = try sluice.connect()
            defer { connection.close() }
            let reader = HTTPResponseReader(connection)
            try connection.sendAll(
                Self.get(origin, path: "/only", fields: "Connection: close\r\n") + Self.get(origin, path: "/ignored"))
            let answer = try Self.answer(reader)
            #expect(answer.path == "/only", "\(answer)")
            #expect(connection.waitForClose(timeout: .seconds(5)) == .eof)
            #expect(reader.leftover.isEmpty, "more after the last answer: \(reader.leftover)")
            // The origin's record of a request trails its answer: wait for it before reading the list.
            #expect(origin.waitForRequests(1) != nil)
            #expect(origin.requests.map { $0["path"]?.string } == ["/only"], "\(origin.diagnostics)")
        }

        /// `Connection: close` on the second request: its answer arrives, then the client connection
        /// ends (EOF); once the client closes too, the close line says `done`. The origin saw
        /// `Connection: close` too.
        @Test func connectionCloseEndsTheConnection() throws {
            let origin = try HTTPOrigin()
            let sluice = try T.start("http")
            let connection = try sluice.connect()
            defer { connection.close() }
            let client = try #require(connection.localAddress)
            let reader = HTTPResponseReader(connection)
            try connection.sendAll(Self.get(origin, path: "/keep"))
            #expect(try Self.answer(reader).sequence == 1)
            try connection.sendAll(Self.get(origin, path: "/last", fields: "Connection: close\r\n"))
            let last = try Self.answer(reader)
            #expect(last.path == "/last" && last.sequence == 2, "\(last)")
            #expect(reader.leftover.isEmpty)
            #expect(connection.waitForClose(timeout: .seconds(5)) == .eof)
            connection.close()
            let log = try sluice.closedLog(ofClient: client)
            #expect(log.reason == "done", "\(log)")
            let requests = try #require(origin.waitForRequests(2), "\(origin.diagnostics)")
            let fields = (requests[1]["headers"]?.array ?? []).compactMap { pair -> String? in
                guard let name = pair[0]?.string, let value = pair[1]?.string else { return nil }
                return "\(name.lowercased()): \(value.lowercased())"
            }
            #expect(fields.contains("connection: close"), "\(requests[1])")
        }

        /// An HTTP/1.0 request without keep-alive is the last one: answered, then EOF.
        @Test func http10WithoutKeepAliveIsTheLastRequest() throws {
            let origin = try HTTPOrigin()
            let sluice = try T.start("http")
            let connection = try sluice.connect()
            defer { connection.close() }
            try connection.sendAll("GET \(origin.url(path: "/old")) HTTP/1.0\r\nHost: \(origin.address())\r\n\r\n")
            let reader = HTTPResponseReader(connection)
            let answer = try Self.answer(reader)
            #expect(answer.path == "/old", "\(answer)")
            #expect(connection.waitForClose(timeout: .seconds(5)) == .eof)
        }
    }
}
