import Testing

// Tests for plain HTTP proxying after the first head: request bodies walked by Content-Length and by
// the chunked coding (sizes, extensions, trailers, every malformation), the next requests to the same
// or another upstream, pipelining, the end of a connection, upgrades, and split-independence.
@testable import Sluice

/// What a forwarding connection did with the client's bytes: body bytes sent upstream (consecutive
/// forwards merged, so splits compare equal) and every other step.
enum ForwardEvent: Equatable, CustomStringConvertible {
    case upstream([UInt8])
    case step(HTTPForwardStep)

    var description: String {
        switch self {
        case .upstream(let b): "upstream(\(String(decoding: b, as: UTF8.self).debugDescription))"
        case .step(.request(let r)):
            "request(\(r.destination) \(String(decoding: r.head, as: UTF8.self).debugDescription))"
        case .step(.redial(let r)):
            "redial(\(r.destination) \(String(decoding: r.head, as: UTF8.self).debugDescription))"
        case .step(let s): "\(s)"
        }
    }
}

/// Feeds a stream as a session would (cut at `cuts`), until it ends, waits for an upgrade, refuses,
/// closes, or runs out of input (then `waiting` is true).
func driveStream(
    _ stream: inout HTTPForwardStream, _ input: [UInt8], cuts: [Int] = []
) -> (events: [ForwardEvent], waiting: Bool) {
    var events: [ForwardEvent] = []
    var buffer: [UInt8] = []
    var delivered = 0
    let ends = cuts.filter { $0 > 0 && $0 < input.count } + [input.count]
    var nextEnd = 0
    func add(_ event: ForwardEvent) {
        if case .upstream(let more) = event, case .upstream(let earlier)? = events.last {
            events[events.count - 1] = .upstream(earlier + more)
        } else {
            events.append(event)
        }
    }
    while true {
        let step = buffer.withUnsafeBytes { stream.received($0) }
        switch step {
        case .needMore:
            guard nextEnd < ends.count else { return (events, true) }
            buffer += input[delivered..<ends[nextEnd]]
            delivered = ends[nextEnd]
            nextEnd += 1
        case .forward(let count):
            #expect(count > 0 && count <= buffer.count)
            add(.upstream(Array(buffer[..<count])))
            buffer.removeFirst(count)
        case .request(let r), .redial(let r):
            add(.step(step))
            buffer.removeFirst(r.consumed)
        case .awaitUpgrade, .end, .refuse, .close:
            add(.step(step))
            return (events, false)
        }
    }
}

/// The stream the first request of `head` starts, and the events of feeding it `rest`, after checking
/// two-piece splits (`cutPoints`) and a byte-by-byte trickle give the same.
func forwardEvents(first head: String, then rest: String) -> (events: [ForwardEvent], waiting: Bool) {
    guard case .forward(let start)? = run(head) else {
        Issue.record("the first head is not forwarded")
        return ([], false)
    }
    let input = bytes(rest)
    var whole = start.stream
    let expected = driveStream(&whole, input)
    for cut in cutPoints(input.count) {
        var stream = start.stream
        let split = driveStream(&stream, input, cuts: [cut])
        #expect(split.events == expected.events && split.waiting == expected.waiting, "split at \(cut) differs")
        if split.events != expected.events { break }
    }
    var trickled = start.stream
    let byByte = driveStream(&trickled, input, cuts: Array(0..<input.count))
    #expect(byByte.events == expected.events && byByte.waiting == expected.waiting, "byte-by-byte differs")
    return expected
}

private func run(_ head: String) -> HandshakeStep? {
    var machine = HTTPInbound(options: InboundOptions())
    return drive(&machine, bytes(head)).steps.last
}

private func request(_ head: String) -> HTTPForwardedRequest? {
    guard case .forward(let start)? = run(head) else { return nil }
    return start.request
}

private let getA = "GET http://a.example/1 HTTP/1.1\r\n\r\n"

@Suite struct HandlerHTTPForwardTests {
    @Test func contentLengthBodyThenAnotherRequestToTheSameUpstream() {
        let next = "GET http://a.example/2 HTTP/1.1\r\n\r\n"
        let result = forwardEvents(
            first: "POST http://a.example/1 HTTP/1.1\r\nContent-Length: 5\r\n\r\n", then: "hello" + next)
        #expect(result.events == [.upstream(bytes("hello")), .step(.request(request(next)!))])
        #expect(result.waiting)
    }

    @Test func requestToAnotherUpstreamAsksForARedial() {
        let other = "GET http://b.example:81/ HTTP/1.1\r\n\r\n"
        let back = "GET http://A.EXAMPLE:80/3 HTTP/1.1\r\n\r\n"
        let result = forwardEvents(first: getA, then: other + back)
        #expect(result.events == [.step(.redial(request(other)!)), .step(.redial(request(back)!))])
        let sameHostOtherCase = forwardEvents(first: getA, then: back)
        #expect(sameHostOtherCase.events == [.step(.request(request(back)!))])
    }

    @Test func pipelinedRequestsKeepTheirOrder() {
        let second = "POST http://a.example/2 HTTP/1.1\r\nContent-Length: 3\r\n\r\n"
        let third = "GET http://a.example/3 HTTP/1.1\r\nConnection: close\r\n\r\n"
        let result = forwardEvents(first: getA, then: second + "abc" + third + "ignored")
        #expect(
            result.events == [
                .step(.request(request(second)!)), .upstream(bytes("abc")), .step(.request(request(third)!)),
                .step(.end),
            ])
    }

    @Test(arguments: [
        ("5\r\nhello\r\n0\r\n\r\n", true),
        ("5;name=value\r\nhello\r\n0\r\n\r\n", true),
        ("5 ; ext\r\nhello\r\n0\r\n\r\n", true),
        ("A\r\n0123456789\r\n1\r\nx\r\n0\r\nX-Sum: 1\r\nX-More: 2\r\n\r\n", true),
        ("000000000000005\r\nhello\r\n0\r\n\r\n", true),
        ("0\r\n\r\n", true),
        ("5\r\nhel", false),
        ("5\r\nhello\r\n0\r\nX-Sum: 1\r\n", false),
    ])
    func chunkedBodiesPassThroughUnchanged(body: String, complete: Bool) {
        let next = "GET http://a.example/2 HTTP/1.1\r\n\r\n"
        let result = forwardEvents(
            first: "POST http://a.example/1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            then: body + (complete ? next : ""))
        #expect(result.events.first == .upstream(bytes(body)))
        #expect(result.events.dropFirst() == (complete ? [.step(.request(request(next)!))] : []))
        #expect(result.waiting)
    }

    @Test(arguments: [
        ("zz\r\n", HTTPBodyError.badChunkSize),
        ("\r\n", .badChunkSize),
        ("-5\r\n", .badChunkSize),
        ("0000000000000001\r\nx\r\n", .badChunkSize),
        ("1000000000000000\r\n", .badChunkSize),
        ("5\nhello\r\n", .missingCRLF),
        ("5\r\rhello\r\n", .missingCRLF),
        ("5\r\nhelloX\r\n", .missingCRLF),
        ("5\r\nhello\rX", .missingCRLF),
        ("5\r\nhello\n", .missingCRLF),
        ("5;a\u{0}b\r\nhello\r\n", .badChunkExtension),
        ("5;\(String(repeating: "e", count: HTTPBodyFraming.maxLineLength))\r\n", .badChunkExtension),
        ("0\r\nX: a\u{1}\r\n\r\n", .badTrailer),
        ("0\r\nX: 1\nY: 2\r\n\r\n", .missingCRLF),
        (
            "0\r\n\(String(repeating: "X: 123456\r\n", count: HTTPBodyFraming.maxTrailerLength / 11 + 1))\r\n",
            .badTrailer
        ),
    ])
    func malformedChunkedBodiesClose(body: String, error: HTTPBodyError) {
        let result = forwardEvents(
            first: "POST http://a.example/1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", then: body)
        #expect(result.events.last == .step(.close(error)))
    }

    @Test func aClosedBodyStaysClosed() {
        guard case .forward(var start)? = run("POST http://a.example/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        else { return }
        _ = bytes("q").withUnsafeBytes { start.stream.received($0) }
        #expect(bytes("5\r\n").withUnsafeBytes { start.stream.received($0) } == .close(.badChunkSize))
    }

    @Test(arguments: [
        ("GET http://a.example/ HTTP/1.1\r\nConnection: close\r\n\r\n", true),
        ("GET http://a.example/ HTTP/1.0\r\n\r\n", true),
        ("GET http://a.example/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false),
        ("GET http://a.example/ HTTP/1.1\r\n\r\n", false),
    ])
    func theLastRequestEndsTheStream(head: String, last: Bool) {
        let result = forwardEvents(first: head, then: "GET http://a.example/2 HTTP/1.1\r\n\r\n")
        if last {
            #expect(result.events == [.step(.end)])
        } else {
            #expect(result.events.count == 1 && result.events.first != .step(.end))
        }
    }

    @Test func theEndComesAfterTheLastBody() {
        let result = forwardEvents(
            first: "POST http://a.example/ HTTP/1.1\r\nConnection: close\r\nContent-Length: 2\r\n\r\n", then: "okmore")
        #expect(result.events == [.upstream(bytes("ok")), .step(.end)])
    }

    @Test func upgradeWaitsForTheUpstreamThenTunnels() {
        let head = "GET http://a.example/ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
        guard case .forward(var start)? = run(head) else {
            Issue.record("not forwarded")
            return
        }
        #expect(start.request.upgrade)
        let frame: [UInt8] = [0x81, 0x85, 1, 2, 3, 4, 5]
        #expect(frame.withUnsafeBytes { start.stream.received($0) } == .awaitUpgrade)
        start.stream.upgradeAccepted()
        #expect(frame.withUnsafeBytes { start.stream.received($0) } == .forward(count: frame.count))
        #expect([UInt8]().withUnsafeBytes { start.stream.received($0) } == .needMore)
    }

    @Test func aDeclinedUpgradeGoesBackToRequests() {
        let head = "GET http://a.example/ws HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"
        guard case .forward(var start)? = run(head) else { return }
        let next = "GET http://a.example/2 HTTP/1.1\r\n\r\n"
        #expect(bytes(next).withUnsafeBytes { start.stream.received($0) } == .awaitUpgrade)
        start.stream.upgradeDeclined()
        #expect(bytes(next).withUnsafeBytes { start.stream.received($0) } == .request(request(next)!))
        // Outside an upgrade wait, the calls change nothing.
        start.stream.upgradeAccepted()
        #expect([UInt8]().withUnsafeBytes { start.stream.received($0) } == .needMore)
    }

    @Test func aDeclinedUpgradeThatAlsoAskedToCloseEnds() {
        let head = "GET http://a.example/ws HTTP/1.1\r\nConnection: upgrade, close\r\nUpgrade: websocket\r\n\r\n"
        guard case .forward(var start)? = run(head) else { return }
        #expect([UInt8]().withUnsafeBytes { start.stream.received($0) } == .awaitUpgrade)
        start.stream.upgradeDeclined()
        #expect(bytes(getA).withUnsafeBytes { start.stream.received($0) } == .end)
    }

    @Test(arguments: [
        ("CONNECT a.example:443 HTTP/1.1\r\n\r\n", InboundRefusal.httpConnectAfterForward, 400),
        ("GET /relative HTTP/1.1\r\n\r\n", .httpNotProxyRequest, 400),
        ("GET http://a.example/ HTTP/9.9\r\n\r\n", .httpUnsupportedVersion, 505),
        ("GET http://a.example/ HTTP/1.1\r\nBad Field: x\r\n\r\n", .httpBadHeaderField, 400),
        ("POST http://a.example/ HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", .httpBadFraming, 400),
    ])
    func malformedLaterRequestsAreRefused(head: String, refusal: InboundRefusal, status: Int) {
        let result = forwardEvents(first: getA, then: head)
        guard case .step(.refuse(let reply, let got))? = result.events.last else {
            Issue.record("expected a refusal, got \(result.events)")
            return
        }
        #expect(got == refusal)
        #expect(String(decoding: reply, as: UTF8.self).hasPrefix("HTTP/1.1 \(status) "))
        #expect(String(decoding: reply, as: UTF8.self).hasSuffix("Connection: close\r\n\r\n"))
    }

    @Test func laterHeadsAreCappedToo() {
        let huge = "GET http://a.example/ HTTP/1.1\r\nX: " + String(repeating: "a", count: HTTPInbound.maxHeadLength)
        let result = forwardEvents(first: getA, then: huge)
        guard case .step(.refuse(_, .httpHeadTooLarge))? = result.events.last else {
            Issue.record("expected 431, got \(result.events)")
            return
        }
    }

    @Test func laterRequestsNeedNoCredentialsAndLoseTheirProxyFields() {
        var machine = HTTPInbound(options: InboundOptions(credentials: Credentials(username: "u", password: "p")))
        let first = "GET http://a.example/ HTTP/1.1\r\nProxy-Authorization: Basic dTpw\r\n\r\n"
        guard case .forward(var start)? = drive(&machine, bytes(first)).steps.last else {
            Issue.record("first request refused")
            return
        }
        let second = "GET http://a.example/2 HTTP/1.1\r\nProxy-Authorization: Basic eDp5\r\n\r\n"
        guard case .request(let r) = bytes(second).withUnsafeBytes({ start.stream.received($0) }) else {
            Issue.record("second request refused")
            return
        }
        #expect(String(decoding: r.head, as: UTF8.self) == "GET /2 HTTP/1.1\r\nHost: a.example\r\n\r\n")
    }

    @Test func contentLengthFramingCounts() {
        var framing = HTTPBodyFraming.length(10)
        #expect(bytes("abc").withUnsafeBytes { framing.consume($0) } == .body(count: 3, ended: false))
        #expect(bytes("defghijXYZ").withUnsafeBytes { framing.consume($0) } == .body(count: 7, ended: true))
        #expect(framing.isDone)
        #expect(bytes("more").withUnsafeBytes { framing.consume($0) } == .body(count: 0, ended: true))
        var empty = HTTPBodyFraming.length(0)
        #expect(empty.isDone && bytes("x").withUnsafeBytes { empty.consume($0) } == .body(count: 0, ended: true))
        var large = HTTPBodyFraming.length(Int64.max)
        #expect(bytes("abc").withUnsafeBytes { large.consume($0) } == .body(count: 3, ended: false))
    }
}
