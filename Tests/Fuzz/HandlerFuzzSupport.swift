// Shared oracles for the inbound handler fuzz targets. scripts/fuzz compiles this file with one
// *Fuzz.swift entry and the handler sources; each drive follows the session's feeding contract and is
// repeated with the input cut in pieces, which must not change any decision.

/// An inbound machine the drivers can feed.
protocol FuzzInbound {
    mutating func received(_ bytes: UnsafeRawBufferPointer) -> HandshakeStep
}

extension SOCKS5Inbound: FuzzInbound {}
extension SOCKS4Inbound: FuzzInbound {}
extension HTTPInbound: FuzzInbound {}
extension InboundHandshake: FuzzInbound {}

enum Fuzz {
    static func require(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fail(message()) }
    }

    static func fail(_ message: String) -> Never {
        fatalError("fuzz oracle: \(message)")
    }

    /// Where to cut `count` bytes for the split runs: a few fixed places and one the input picks.
    static func cuts(_ input: UnsafeRawBufferPointer) -> [[Int]] {
        let n = input.count
        guard n > 1 else { return [] }
        var cuts: [[Int]] = [[1], [n / 2], [n - 1], [n / 3, 2 * n / 3]]
        if let last = input.last { cuts.append([Int(last) % n]) }
        // Many small pieces: byte by byte for short inputs, else about 32 of them.
        cuts.append(Array(stride(from: 1, to: n, by: Swift.max(1, n / 32))))
        return cuts
    }

    /// Splits `input` at `cuts` (ascending, in 1..<count) into the pieces a socket might deliver.
    static func pieces(_ input: UnsafeRawBufferPointer, _ cuts: [Int]) -> [ArraySlice<UInt8>] {
        let all = Array(input)
        var result: [ArraySlice<UInt8>] = []
        var start = 0
        for cut in cuts.sorted() where cut > start && cut < all.count {
            result.append(all[start..<cut])
            start = cut
        }
        result.append(all[start...])
        return result
    }

    // MARK: - Handshakes

    struct HandshakeTranscript: Equatable {
        var steps: [HandshakeStep] = []
        var leftover: [UInt8] = []
        var waiting = false
    }

    /// Feeds the pieces as a session would and checks each step's own invariants.
    static func drive<M: FuzzInbound>(_ machine: inout M, _ pieces: [ArraySlice<UInt8>]) -> HandshakeTranscript {
        var transcript = HandshakeTranscript()
        var buffer: [UInt8] = []
        var next = 0
        var calls = 0
        while true {
            calls += 1
            require(calls < 100_000, "handshake does not progress")
            let step = buffer.withUnsafeBytes { machine.received($0) }
            switch step {
            case .needMore:
                guard next < pieces.count else {
                    transcript.waiting = true
                    transcript.leftover = buffer
                    return transcript
                }
                buffer += pieces[next]
                next += 1
                continue
            case .reply(let reply, let consumed):
                require(!reply.isEmpty && consumed > 0 && consumed <= buffer.count, "reply consumed \(consumed)")
                buffer.removeFirst(consumed)
                transcript.steps.append(step)
                continue
            case .connect(let destination, let consumed, _):
                require(consumed > 0 && consumed <= buffer.count, "connect consumed \(consumed) of \(buffer.count)")
                checkDestination(destination)
                buffer.removeFirst(consumed)
            case .forward(let start):
                let consumed = start.request.consumed
                require(consumed > 0 && consumed <= buffer.count, "forward consumed \(consumed) of \(buffer.count)")
                checkForwarded(start.request)
                require(start.stream.destination == start.request.destination, "stream destination")
                buffer.removeFirst(consumed)
            case .refuse:
                break
            }
            transcript.steps.append(step)
            while next < pieces.count {
                buffer += pieces[next]
                next += 1
            }
            transcript.leftover = buffer
            return transcript
        }
    }

    /// Drives `make()` with the whole input and with it cut in pieces: same transcript every time.
    @discardableResult
    static func checkHandshake<M: FuzzInbound>(_ input: UnsafeRawBufferPointer, _ make: () -> M) -> HandshakeTranscript
    {
        var machine = make()
        let whole = drive(&machine, [ArraySlice(input)])
        var again = make()
        require(drive(&again, [ArraySlice(input)]) == whole, "not deterministic")
        for cut in cuts(input) {
            var split = make()
            let transcript = drive(&split, pieces(input, cut))
            require(transcript == whole, "cut at \(cut.prefix(4)) changed \(whole.steps) to \(transcript.steps)")
        }
        return whole
    }

    /// A destination's text parses back to the same destination.
    static func checkDestination(_ destination: Destination) {
        require(Destination(destination.text) == destination, "\(destination.text) does not round-trip")
        require(destination.address == nil || destination.host == destination.address!.ip.description, "literal host")
    }

    /// A rewritten request head parses as a request in origin form (or `*`), with exactly one Host and
    /// no Proxy-* field, and its destination round-trips.
    static func checkForwarded(_ request: HTTPForwardedRequest) {
        checkDestination(request.destination)
        require(request.head.suffix(4).elementsEqual([13, 10, 13, 10]), "rewritten head does not end in CRLF CRLF")
        guard case .success(let head) = HTTPHead.request(request.head) else {
            fail("rewritten head does not parse: \(String(decoding: request.head, as: UTF8.self).debugDescription)")
        }
        let target = head.bytes[head.second]
        require(target.first == 0x2F || target.elementsEqual([0x2A]), "target not in origin form")
        require(head.fields.filter { head.fieldNamed($0, "host") }.count == 1, "Host count")
        require(!head.fields.contains { head.hasLowercasePrefix($0.name, "proxy-") }, "a Proxy-* field survived")
        for i in request.head.indices where request.head[i] == 10 {
            require(i > 0 && request.head[i - 1] == 13, "a bare LF in the rewritten head")
        }
    }

    // MARK: - Streams

    /// Runs a byte stream machine over the pieces and returns its transcript: counts of relayed bytes are
    /// merged into the bytes themselves so that different cuts compare equal.
    static func stream<Step: Equatable>(
        _ pieces: [ArraySlice<UInt8>], step: (UnsafeRawBufferPointer) -> Step, classify: (Step) -> StreamAction<Step>
    ) -> (events: [StreamEvent<Step>], waiting: Bool) {
        var events: [StreamEvent<Step>] = []
        var buffer: [UInt8] = []
        var next = 0
        var calls = 0
        while true {
            calls += 1
            require(calls < 1_000_000, "stream does not progress")
            let s = buffer.withUnsafeBytes { step($0) }
            switch classify(s) {
            case .needMore:
                guard next < pieces.count else { return (events, true) }
                buffer += pieces[next]
                next += 1
            case .pass(let count, let marker):
                require(count >= 0 && count <= buffer.count, "count \(count) of \(buffer.count)")
                require(count > 0 || marker != nil, "an empty pass without a marker")
                let chunk = Array(buffer[..<count])
                buffer.removeFirst(count)
                if case .bytes(let earlier)? = events.last {
                    events[events.count - 1] = .bytes(earlier + chunk)
                } else if !chunk.isEmpty {
                    events.append(.bytes(chunk))
                }
                if let marker { events.append(.step(marker)) }
            case .consume(let count):
                require(count > 0 && count <= buffer.count, "consumed \(count) of \(buffer.count)")
                buffer.removeFirst(count)
                events.append(.step(s))
            case .stop:
                events.append(.step(s))
                return (events, false)
            }
        }
    }

    enum StreamAction<Step> {
        case needMore
        /// Relay `count` bytes; `marker` (the step with its count zeroed, so cuts compare equal) records a
        /// response end or a switch.
        case pass(Int, marker: Step?)
        /// Drop `count` bytes and record the step.
        case consume(Int)
        case stop
    }

    enum StreamEvent<Step: Equatable>: Equatable {
        case bytes([UInt8])
        case step(Step)
    }
}
