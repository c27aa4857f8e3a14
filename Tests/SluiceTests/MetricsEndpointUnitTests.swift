// The metrics endpoint's request machine without sockets: which answer each request head gets,
// whether the connection stays open, HEAD, credentials, and the response head's bytes.
import Testing

@testable import Sluice

@Suite struct MetricsEndpointUnitTests {
    static func step(
        _ text: String, _ endpoint: MetricsEndpoint = MetricsEndpoint(), ready: Bool = true
    )
        -> MetricsEndpoint.Step
    {
        Array(text.utf8).withUnsafeBytes { endpoint.received($0, ready: ready) }
    }

    static func reply(
        _ text: String, _ endpoint: MetricsEndpoint = MetricsEndpoint(), ready: Bool = true
    )
        -> MetricsEndpoint.Reply?
    {
        guard case .reply(let reply) = step(text, endpoint, ready: ready) else { return nil }
        return reply
    }

    @Test(
        arguments: [
            ("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", MetricsEndpoint.Answer.metrics, true),
            ("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", .metrics, true),
            ("GET http://a:9000/metrics HTTP/1.1\r\nHost: a\r\n\r\n", .metrics, true),
            ("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", .healthy, true),
            ("GET /readyz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", .ready, false),
            ("\r\nGET /healthz HTTP/1.1\nHost: a\n\n", .healthy, true),
            ("GET /metrics/ HTTP/1.1\r\nHost: a\r\n\r\n", .notFound, true),
            ("GET /METRICS HTTP/1.1\r\nHost: a\r\n\r\n", .notFound, true),
            ("GET / HTTP/1.1\r\nHost: a\r\n\r\n", .notFound, true),
            ("POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", .methodNotAllowed, false),
            ("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", .methodNotAllowed, true),
            ("get /metrics HTTP/1.1\r\nHost: a\r\n\r\n", .methodNotAllowed, true),
            ("GET /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nab", .metrics, false),
            ("GET /metrics HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", .metrics, false),
            ("GET /metrics HTTP/1.1\r\n\r\n", .badRequest, false),
            ("GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", .badRequest, false),
            ("GET /metrics HTTP/1.0\r\n\r\n", .metrics, false),
            ("GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", .metrics, true),
            ("GET metrics HTTP/1.1\r\nHost: a\r\n\r\n", .badRequest, false),
            ("GET http://a HTTP/1.1\r\nHost: a\r\n\r\n", .badRequest, false),
            ("GARBAGE\r\n\r\n", .badRequest, false),
            ("GET /metrics HTTP/2.0\r\nHost: a\r\n\r\n", .badRequest, false),
            ("GET /metrics HTTP/1.1\r\nHost: a\r\n bad: fold\r\n\r\n", .badRequest, false),
            ("GET /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", .badRequest, false),
        ])
    func answers(request: String, answer: MetricsEndpoint.Answer, keepAlive: Bool) throws {
        let reply = try #require(Self.reply(request))
        #expect(reply.answer == answer)
        #expect(reply.keepAlive == keepAlive)
        #expect(reply.consumed <= request.utf8.count)
    }

    @Test func readinessFollowsTheProcess() {
        #expect(Self.reply("GET /readyz HTTP/1.1\r\nHost: a\r\n\r\n", ready: false)?.answer == .notReady)
        #expect(Self.reply("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", ready: false)?.answer == .healthy)
    }

    @Test func headIsHeadOnly() {
        let reply = Self.reply("HEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(reply?.answer == .metrics)
        #expect(reply?.headOnly == true)
        #expect(reply?.keepAlive == true)
    }

    /// The head ends on its empty line: what follows (a pipelined request) is not consumed.
    @Test func pipelinedRequestStays() {
        let first = "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"
        let reply = Self.reply(first + "GET /readyz HTTP/1.1\r\n")
        #expect(reply?.consumed == first.utf8.count)
    }

    @Test func partialHeadNeedsMore() {
        #expect(Self.step("") == .needMore)
        #expect(Self.step("GET /metrics HTTP/1.1\r\nHost: a\r\n") == .needMore)
    }

    @Test func oversizedHeadIs431() {
        let text = "GET /metrics HTTP/1.1\r\nX: " + String(repeating: "a", count: MetricsEndpoint.maxHeadLength)
        let reply = Self.reply(text)
        #expect(reply?.answer == .headTooLarge)
        #expect(reply?.keepAlive == false)
    }

    @Test func configuredPath() {
        let endpoint = MetricsEndpoint(path: "/prom/stats")
        #expect(Self.reply("GET /prom/stats HTTP/1.1\r\nHost: a\r\n\r\n", endpoint)?.answer == .metrics)
        #expect(Self.reply("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", endpoint)?.answer == .notFound)
    }

    @Test(
        arguments: [
            ("", MetricsEndpoint.Answer.unauthorized), ("Authorization: Basic dTpw\r\n", .metrics),  // u:p
            ("authorization: basic dTpw\r\n", .metrics), ("Authorization: Basic dTp4\r\n", .unauthorized),  // u:x
            ("Authorization: Bearer dTpw\r\n", .unauthorized), ("Authorization: Basic !!!\r\n", .unauthorized),
            ("Proxy-Authorization: Basic dTpw\r\n", .unauthorized),
        ])
    func credentials(field: String, answer: MetricsEndpoint.Answer) {
        let endpoint = MetricsEndpoint(credentials: Credentials(username: "u", password: "p"))
        #expect(Self.reply("GET /metrics HTTP/1.1\r\nHost: a\r\n\(field)\r\n", endpoint)?.answer == answer)
        // Probes carry no credentials.
        #expect(Self.reply("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", endpoint)?.answer == .healthy)
    }

    @Test func responseHeads() {
        var bytes: [UInt8] = []
        let ok = MetricsEndpoint.Reply(answer: .metrics, headOnly: false, keepAlive: true, consumed: 0)
        MetricsEndpoint.writeHead(ok, contentLength: 1234, into: &bytes)
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                + "Content-Length: 1234\r\nCache-Control: no-store\r\n\r\n")
        bytes = []
        let refused = MetricsEndpoint.Reply(answer: .methodNotAllowed, headOnly: false, keepAlive: false, consumed: 0)
        MetricsEndpoint.writeHead(refused, contentLength: 23, into: &bytes)
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\n"
                + "Content-Length: 23\r\nCache-Control: no-store\r\nAllow: GET, HEAD\r\nConnection: close\r\n\r\n")
        bytes = []
        let old = MetricsEndpoint.Reply(answer: .notReady, headOnly: false, keepAlive: true, http10: true, consumed: 0)
        MetricsEndpoint.writeHead(old, contentLength: 0, into: &bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        #expect(text.hasSuffix("Connection: keep-alive\r\n\r\n"))
        #expect(MetricsEndpoint.Answer.unauthorized.status.description == "401 Unauthorized")
    }
}
