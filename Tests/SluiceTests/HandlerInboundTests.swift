import Testing

// Tests for the shared inbound handshake: auto detection by the first byte, dedicated handlers
// refusing other protocols, the reply routing, credential checks, and the feeding helpers the other
// Handler*Tests suites use (a driver that honours the HandshakeStep contract at any split).
@testable import Sluice

/// An inbound machine the driver can feed.
protocol FeedableInbound {
    mutating func received(_ bytes: UnsafeRawBufferPointer) -> HandshakeStep
}

extension SOCKS5Inbound: FeedableInbound {}
extension SOCKS4Inbound: FeedableInbound {}
extension HTTPInbound: FeedableInbound {}
extension InboundHandshake: FeedableInbound {}

/// What a handshake did from start to end: every step except `.needMore`, and the unconsumed bytes
/// left when it stopped (tunnel data after `.connect`).
struct HandshakeTranscript: Equatable {
    var steps: [HandshakeStep] = []
    var leftover: [UInt8] = []
    /// Still waiting for bytes when the input ran out.
    var waiting = false
}

/// Feeds `input` as the session would, delivering it in pieces cut at `cuts` (ascending offsets): keeps
/// unconsumed bytes, drops what steps consume, feeds again at once after `.reply`.
func drive<M: FeedableInbound>(_ machine: inout M, _ input: [UInt8], cuts: [Int] = []) -> HandshakeTranscript {
    var transcript = HandshakeTranscript()
    var buffer: [UInt8] = []
    var delivered = 0
    let ends = cuts.filter { $0 > 0 && $0 < input.count } + [input.count]
    var nextEnd = 0
    while true {
        let step = buffer.withUnsafeBytes { machine.received($0) }
        switch step {
        case .needMore:
            guard nextEnd < ends.count else {
                transcript.waiting = true
                transcript.leftover = buffer
                return transcript
            }
            buffer += input[delivered..<ends[nextEnd]]
            delivered = ends[nextEnd]
            nextEnd += 1
        case .reply(_, let consumed):
            transcript.steps.append(step)
            buffer.removeFirst(consumed)
        case .connect(_, let consumed, _):
            transcript.steps.append(step)
            buffer.removeFirst(consumed)
            transcript.leftover = buffer + input[delivered...]
            return transcript
        case .forward(let start):
            transcript.steps.append(step)
            buffer.removeFirst(start.request.consumed)
            transcript.leftover = buffer + input[delivered...]
            return transcript
        case .refuse:
            transcript.steps.append(step)
            return transcript
        }
    }
}

/// Where to cut an input of `count` bytes in two: everywhere for inputs up to 4 KiB, else at about 512
/// evenly spaced points (every cut of a 64 KiB input would cost minutes in a debug build).
func cutPoints(_ count: Int) -> [Int] {
    guard count > 4096 else { return Array(0...count) }
    return Array(stride(from: 0, to: count, by: count / 512)) + [count - 1, count]
}

/// The transcript of `input` fed whole, after checking that every two-piece split (see `cutPoints`)
/// and a byte-by-byte trickle give the same one.
func driveAtEverySplit<M: FeedableInbound>(_ make: () -> M, _ input: [UInt8]) -> HandshakeTranscript {
    var whole = make()
    let expected = drive(&whole, input)
    for cut in cutPoints(input.count) {
        var machine = make()
        let split = drive(&machine, input, cuts: [cut])
        #expect(split == expected, "split at \(cut) differs")
        if split != expected { break }
    }
    var trickled = make()
    #expect(drive(&trickled, input, cuts: Array(0..<input.count)) == expected, "byte-by-byte feeding differs")
    return expected
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

extension HandshakeStep {
    /// The refusal reason, when this is a refusal.
    var refusal: InboundRefusal? {
        if case .refuse(_, let refusal) = self { return refusal }
        return nil
    }
}

@Suite struct HandlerInboundTests {
    @Test(arguments: [
        (UInt8(0x05), InboundProtocol.socks5), (0x04, .socks4), (UInt8(ascii: "G"), .http),
        (UInt8(ascii: "C"), .http), (0x00, .http), (0x16, .http), (0xFF, .http),
    ])
    func autoDecidesOnTheFirstByte(first: UInt8, expected: InboundProtocol) {
        #expect(InboundProtocol.detect(firstByte: first) == expected)
        var handshake = InboundHandshake(handler: .auto, options: InboundOptions())
        #expect(handshake.inboundProtocol == nil)
        _ = [first].withUnsafeBytes { handshake.received($0) }
        #expect(handshake.inboundProtocol == expected)
    }

    @Test func autoWaitsForTheFirstByteOnly() {
        var handshake = InboundHandshake(handler: .auto, options: InboundOptions())
        #expect([UInt8]().withUnsafeBytes { handshake.received($0) } == .needMore)
        #expect(handshake.inboundProtocol == nil)
    }

    @Test func autoServesEachProtocolEndToEnd() {
        let make = { InboundHandshake(handler: .auto, options: InboundOptions()) }
        let socks5 = driveAtEverySplit(make, [5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 1, 0, 80])
        #expect(socks5.steps.last == .connect(Destination("10.0.0.1:80")!, consumed: 10, user: nil))
        let socks4 = driveAtEverySplit(make, [4, 1, 0, 80, 10, 0, 0, 2, 0])
        #expect(socks4.steps == [.connect(Destination("10.0.0.2:80")!, consumed: 9, user: nil)])
        let http = driveAtEverySplit(make, bytes("CONNECT a.example:443 HTTP/1.1\r\n\r\n"))
        #expect(http.steps == [.connect(Destination("a.example:443")!, consumed: 34, user: nil)])
    }

    @Test func repliesComeFromTheDecidedProtocol() {
        var socks5 = InboundHandshake(handler: .auto, options: InboundOptions())
        _ = drive(&socks5, [5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 1, 0, 80])
        #expect(socks5.successReply(bound: nil) == [5, 0, 0, 1, 0, 0, 0, 0, 0, 0])
        #expect(socks5.failureReply(.refused) == [5, 5, 0, 1, 0, 0, 0, 0, 0, 0])
        var socks4 = InboundHandshake(handler: .auto, options: InboundOptions())
        _ = drive(&socks4, [4, 1, 0, 80, 10, 0, 0, 2, 0])
        #expect(socks4.successReply(bound: nil) == [0, 90, 0, 0, 0, 0, 0, 0])
        #expect(socks4.failureReply(.timedOut) == [0, 91, 0, 0, 0, 0, 0, 0])
        var http = InboundHandshake(handler: .auto, options: InboundOptions(proxyAgent: "sluice"))
        _ = drive(&http, bytes("CONNECT a.example:443 HTTP/1.1\r\n\r\n"))
        #expect(
            http.successReply(bound: nil) == bytes("HTTP/1.1 200 Connection established\r\nProxy-Agent: sluice\r\n\r\n")
        )
        #expect(String(decoding: http.failureReply(.refused), as: UTF8.self).hasPrefix("HTTP/1.1 503 "))
        let undecided = InboundHandshake(handler: .auto, options: InboundOptions())
        #expect(undecided.successReply(bound: nil).isEmpty && undecided.failureReply(.other).isEmpty)
    }

    @Test(arguments: [
        (InboundProtocol.socks5, UInt8(4)), (.socks5, UInt8(ascii: "G")), (.socks4, 5), (.socks4, UInt8(ascii: "C")),
    ])
    func dedicatedSOCKSHandlersCloseOnAnotherProtocol(wanted: InboundProtocol, first: UInt8) {
        var handshake = InboundHandshake(handler: .only(wanted), options: InboundOptions())
        #expect(drive(&handshake, [first, 1, 0]).steps == [.refuse([], .wrongProtocol(first))])
    }

    @Test func dedicatedHTTPHandlerReadsEveryByteAsHTTP() {
        var handshake = InboundHandshake(handler: .only(.http), options: InboundOptions())
        let transcript = drive(&handshake, [5, 1, 0] + bytes(" x HTTP/1.1\r\n\r\n"))
        #expect(handshake.inboundProtocol == .http)
        guard case .refuse(let reply, .httpBadRequestLine) = transcript.steps.last else {
            Issue.record("expected a 400, got \(transcript)")
            return
        }
        #expect(String(decoding: reply, as: UTF8.self).hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
    }

    @Test(arguments: [
        ("user", "pass", "user", "pass", true), ("user", "pass", "user", "pasS", false),
        ("user", "pass", "User", "pass", false), ("user", "pass", "user", "", false),
        ("user", "pass", "user", "pass1", false), ("user", "", "user", "anything", true),
        ("user", "", "other", "", false), ("", "", "", "", true),
    ])
    func credentialsFollowGOST(
        username: String, password: String, user: String, given: String, admitted: Bool
    ) {
        #expect(Credentials(username: username, password: password).admits(user: user, password: given) == admitted)
    }
}
