// The libFuzzer entry for plain HTTP forwarding after the first head. scripts/fuzz compiles it with
// HandlerFuzzSupport.swift and the handler sources. Byte 0 picks the first request (no body,
// Content-Length, chunked, or an upgrade), byte 1 whether an upgrade is taken; the rest is what the
// client sends next.

private let firstHeads = [
    "GET http://a.example/ HTTP/1.1\r\n\r\n",
    "POST http://a.example/ HTTP/1.1\r\nContent-Length: 7\r\n\r\n",
    "POST http://a.example/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
    "GET http://a.example/ HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
]

/// Feeds the stream whole and cut in pieces and checks the oracles.
@_cdecl("LLVMFuzzerTestOneInput")
public func httpForwardFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let head = Array(firstHeads[Int(data[0]) % firstHeads.count].utf8)
    let acceptUpgrade = data[1] & 1 == 1
    let input = UnsafeRawBufferPointer(start: data + 2, count: size - 2)
    var inbound = HTTPInbound(options: InboundOptions())
    guard case .forward(let start) = head.withUnsafeBytes({ inbound.received($0) }) else {
        Fuzz.fail("the first head is not forwarded")
    }
    func run(_ pieces: [ArraySlice<UInt8>]) -> (events: [Fuzz.StreamEvent<HTTPForwardStep>], waiting: Bool) {
        var stream = start.stream
        var upgradeDecided = false
        return Fuzz.stream(pieces) { bytes -> HTTPForwardStep in
            var step = stream.received(bytes)
            if step == .awaitUpgrade, !upgradeDecided {
                upgradeDecided = true
                if acceptUpgrade { stream.upgradeAccepted() } else { stream.upgradeDeclined() }
                step = stream.received(bytes)
            }
            return step
        } classify: { step in
            switch step {
            case .needMore: return .needMore
            case .forward(let count): return .pass(count, marker: nil)
            case .request(let request), .redial(let request):
                Fuzz.checkForwarded(request)
                return .consume(request.consumed)
            case .awaitUpgrade, .end, .close: return .stop
            case .refuse(let reply, let refusal):
                let text = String(decoding: reply, as: UTF8.self)
                Fuzz.require(text.hasPrefix("HTTP/1.1 \(HTTPProxyRequest.status(for: refusal)) "), "refusal status")
                return .stop
            }
        }
    }
    let whole = run([ArraySlice(input)])
    for cut in Fuzz.cuts(input) {
        let split = run(Fuzz.pieces(input, cut))
        Fuzz.require(split.events == whole.events && split.waiting == whole.waiting, "cut at \(cut.prefix(4)) differs")
    }
    // Every request after the first is either for the same upstream (request) or not (redial).
    var current = start.request.destination
    for case .step(let step) in whole.events {
        switch step {
        case .request(let r):
            Fuzz.require(r.destination.isSameEndpoint(as: current), "request to another upstream")
        case .redial(let r):
            Fuzz.require(!r.destination.isSameEndpoint(as: current), "redial to the same upstream")
            current = r.destination
        default: break
        }
    }
    return 0
}
