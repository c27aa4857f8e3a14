// The libFuzzer entry for following an upstream's HTTP responses. scripts/fuzz compiles it with
// HandlerFuzzSupport.swift and the handler sources. Byte 0 says how many requests are pending (1–4)
// and, two bits each, whether each is a HEAD or an upgrade; the rest is what the upstream sends.

/// Feeds the responses whole and cut in pieces and checks the oracles.
@_cdecl("LLVMFuzzerTestOneInput")
public func httpResponseFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let count = Int(data[0] & 3) + 1
    let flags = data[1]
    let destination = Destination("a.example:80")!
    let requests = (0..<count).map { i in
        HTTPForwardedRequest(
            destination: destination, head: [], consumed: 0, isHead: flags >> (2 * i) & 1 == 1,
            upgrade: flags >> (2 * i + 1) & 1 == 1)
    }
    let input = UnsafeRawBufferPointer(start: data + 2, count: size - 2)
    func run(_ pieces: [ArraySlice<UInt8>]) -> (events: [Fuzz.StreamEvent<HTTPResponseStep>], waiting: Bool) {
        var framing = HTTPResponseFraming()
        for request in requests { framing.requestSent(request) }
        var ended = 0
        let result = Fuzz.stream(pieces) {
            framing.received($0)
        } classify: { step in
            switch step {
            case .needMore: return .needMore
            case .relay(let n): return .pass(n, marker: nil)
            case .responseEnded(let n):
                ended += 1
                return .pass(n, marker: .responseEnded(count: 0))
            case .upgradeDeclined(let n):
                ended += 1
                return .pass(n, marker: .upgradeDeclined(count: 0))
            case .switchedProtocols(let n):
                ended += 1
                return .pass(n, marker: .switchedProtocols(count: 0))
            case .invalid: return .stop
            }
        }
        Fuzz.require(ended + framing.pendingResponses == requests.count, "pending count drifted")
        return result
    }
    let whole = run([ArraySlice(input)])
    for cut in Fuzz.cuts(input) {
        let split = run(Fuzz.pieces(input, cut))
        Fuzz.require(split.events == whole.events && split.waiting == whole.waiting, "cut at \(cut.prefix(4)) differs")
    }
    // Responses end in request order: a declined or taken upgrade only answers an upgrade request.
    var index = 0
    for case .step(let step) in whole.events {
        switch step {
        case .responseEnded: Fuzz.require(!requests[index].upgrade, "plain end for an upgrade request")
        case .upgradeDeclined, .switchedProtocols:
            Fuzz.require(requests[index].upgrade, "upgrade end for a plain request")
        default: continue
        }
        index += 1
    }
    return 0
}
