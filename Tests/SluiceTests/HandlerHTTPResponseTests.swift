import Testing

// Tests for following an upstream's responses on a forwarding connection: Content-Length, chunked and
// close-delimited bodies, bodiless responses (HEAD, 204, 304), interim 1xx, upgrades taken or declined,
// pipelined responses, every malformation, and split-independence.
@testable import Sluice

/// What the framer made of an upstream's bytes: relayed bytes (consecutive relays merged) and the
/// points where a response ended, an upgrade was declined or taken, or the stream became invalid.
enum ResponseEvent: Equatable {
    case relayed([UInt8])
    case ended
    case declined
    case switched
    case invalid(HTTPResponseError)
}

func driveResponses(
    _ framing: inout HTTPResponseFraming, _ input: [UInt8], cuts: [Int] = []
) -> (events: [ResponseEvent], waiting: Bool) {
    var events: [ResponseEvent] = []
    var buffer: [UInt8] = []
    var delivered = 0
    let ends = cuts.filter { $0 > 0 && $0 < input.count } + [input.count]
    var nextEnd = 0
    func relay(_ count: Int) {
        let chunk = Array(buffer[..<count])
        buffer.removeFirst(count)
        if case .relayed(let earlier)? = events.last {
            events[events.count - 1] = .relayed(earlier + chunk)
        } else if !chunk.isEmpty {
            events.append(.relayed(chunk))
        }
    }
    while true {
        let step = buffer.withUnsafeBytes { framing.received($0) }
        switch step {
        case .needMore:
            guard nextEnd < ends.count else { return (events, true) }
            buffer += input[delivered..<ends[nextEnd]]
            delivered = ends[nextEnd]
            nextEnd += 1
        case .relay(let count):
            #expect(count > 0 && count <= buffer.count)
            relay(count)
        case .responseEnded(let count):
            relay(count)
            events.append(.ended)
        case .upgradeDeclined(let count):
            relay(count)
            events.append(.declined)
        case .switchedProtocols(let count):
            relay(count)
            events.append(.switched)
        case .invalid(let error):
            events.append(.invalid(error))
            return (events, false)
        }
    }
}

private func sent(_ method: String = "GET", upgrade: Bool = false) -> HTTPForwardedRequest {
    HTTPForwardedRequest(
        destination: Destination("a.example:80")!, head: [], consumed: 0, isHead: method == "HEAD", upgrade: upgrade)
}

/// The events for `input` answering `requests`, checked equal at two-piece splits and byte by byte.
private func responses(_ requests: [HTTPForwardedRequest], _ text: String) -> (events: [ResponseEvent], waiting: Bool) {
    let input = bytes(text)
    func make() -> HTTPResponseFraming {
        var framing = HTTPResponseFraming()
        for request in requests { framing.requestSent(request) }
        return framing
    }
    var whole = make()
    let expected = driveResponses(&whole, input)
    for cut in cutPoints(input.count) {
        var framing = make()
        let split = driveResponses(&framing, input, cuts: [cut])
        #expect(split.events == expected.events && split.waiting == expected.waiting, "split at \(cut) differs")
        if split.events != expected.events { break }
    }
    var trickled = make()
    let byByte = driveResponses(&trickled, input, cuts: Array(0..<input.count))
    #expect(byByte.events == expected.events && byByte.waiting == expected.waiting, "byte-by-byte differs")
    return expected
}

@Suite struct HandlerHTTPResponseTests {
    @Test(arguments: [
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n",
        "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx",
        "HTTP/1.0 200 OK\r\nContent-Length: 2, 2\r\n\r\nok",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n!",
    ])
    func oneCompleteResponse(text: String) {
        let result = responses([sent(), sent()], text + "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        #expect(
            result.events == [
                .relayed(bytes(text)), .ended, .relayed(bytes("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")),
                .ended,
            ])
        #expect(result.waiting)
    }

    @Test func headResponsesHaveNoBodyWhateverTheFieldsSay() {
        let result = responses(
            [sent("HEAD"), sent()],
            "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")
        #expect(
            result.events == [
                .relayed(bytes("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")), .ended,
                .relayed(bytes("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")), .ended,
            ])
    }

    @Test(arguments: [
        "HTTP/1.1 200 OK\r\n\r\nall the rest",
        "HTTP/1.0 200 OK\r\nConnection: close\r\n\r\nall the rest",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nall the rest",
    ])
    func bodiesWithoutLengthRunUntilClose(text: String) {
        let result = responses([sent()], text + "HTTP/1.1 200 OK\r\n\r\n")
        #expect(result.events == [.relayed(bytes(text + "HTTP/1.1 200 OK\r\n\r\n"))])
        #expect(result.waiting)
    }

    @Test func pendingResponsesCountDown() {
        var framing = HTTPResponseFraming()
        framing.requestSent(sent())
        framing.requestSent(sent())
        #expect(framing.pendingResponses == 2)
        let input = bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        #expect(input.withUnsafeBytes { framing.received($0) } == .responseEnded(count: 38))
        #expect(framing.pendingResponses == 1)
        #expect(Array(input[38...]).withUnsafeBytes { framing.received($0) } == .responseEnded(count: 38))
        #expect(framing.pendingResponses == 0)
    }

    @Test func upgradeTaken() {
        let result = responses(
            [sent(upgrade: true)], "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\u{1}\u{1}x")
        #expect(
            result.events == [
                .relayed(bytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")), .switched,
                .relayed([1, 1, 0x78]),
            ])
    }

    @Test func upgradeDeclinedAfterTheWholeResponse() {
        let result = responses(
            [sent(upgrade: true)], "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 2\r\n\r\nno")
        #expect(
            result.events == [
                .relayed(bytes("HTTP/1.1 426 Upgrade Required\r\nContent-Length: 2\r\n\r\nno")), .declined,
            ])
    }

    @Test(arguments: [
        ("HTTP/1.1 101 Switching Protocols\r\n\r\n", HTTPResponseError.unexpectedSwitch),
        ("HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n", .badHead),
        ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", .badHead),
        ("HTTP/1.1 2000 OK\r\n\r\n", .badHead),
        ("HTTP/1.1 20 OK\r\n\r\n", .badHead),
        ("HTTP/2 200\r\n\r\n", .badHead),
        ("HTTP/1.1 200 OK\r\nBad Field: 1\r\n\r\n", .badHead),
        ("SSH-2.0-OpenSSH\r\n\r\n", .badHead),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", .badBody(.badChunkSize)),
    ])
    func malformedResponsesAreInvalid(text: String, error: HTTPResponseError) {
        #expect(responses([sent()], text).events.last == .invalid(error))
    }

    @Test func bytesWithNoRequestPendingAreUnsolicited() {
        #expect(responses([], "HTTP/1.1 408 Request Timeout\r\n\r\n").events == [.invalid(.unsolicited)])
        let afterOne = responses([sent()], "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nX")
        #expect(afterOne.events.last == .invalid(.unsolicited))
        var framing = HTTPResponseFraming()
        #expect([UInt8]().withUnsafeBytes { framing.received($0) } == .needMore)
    }

    @Test func responseHeadsAreCapped() {
        let huge = "HTTP/1.1 200 OK\r\nSet-Cookie: " + String(repeating: "c", count: HTTPResponseFraming.maxHeadLength)
        #expect(responses([sent()], huge).events == [.invalid(.headTooLarge)])
    }
}
