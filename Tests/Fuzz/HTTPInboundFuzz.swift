// The libFuzzer entry for the http handler's first request. scripts/fuzz compiles it with
// HandlerFuzzSupport.swift and the handler sources; each input is a client's byte stream.

private let alice = Credentials(username: "alice", password: "s3cret")

/// Drives the handshake without and with credentials, whole and cut in pieces, and checks the oracles.
@_cdecl("LLVMFuzzerTestOneInput")
public func httpInboundFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let open = Fuzz.checkHandshake(input) { HTTPInbound(options: InboundOptions()) }
    let guarded = Fuzz.checkHandshake(input) { HTTPInbound(options: InboundOptions(credentials: alice)) }
    for transcript in [open, guarded] {
        Fuzz.require(transcript.steps.count <= 1, "the http handshake has a single step")
        switch transcript.steps.first {
        case .refuse(let reply, let refusal)?:
            let text = String(decoding: reply, as: UTF8.self)
            let status = HTTPProxyRequest.status(for: refusal)
            Fuzz.require(text.hasPrefix("HTTP/1.1 \(status) "), "status line of \(refusal): \(text)")
            Fuzz.require(text.hasSuffix("\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"), "refusal framing")
        case .connect(_, let consumed, _)?:
            Fuzz.require(input[consumed - 1] == 0x0A && consumed <= HTTPInbound.maxHeadLength, "connect head end")
        case .forward(let start)?:
            Fuzz.require(input[start.request.consumed - 1] == 0x0A, "forward head end")
        default:
            break
        }
    }
    // With credentials nothing is dialled unless alice's password came along; the open handler decides
    // the same way whenever the guarded one lets the request through.
    var admittedUser: String??
    switch guarded.steps.first {
    case .connect(_, _, let user)?: admittedUser = user
    case .forward(let start)?: admittedUser = start.user
    default: break
    }
    if let user = admittedUser {
        Fuzz.require(user == "alice", "dialled for \(user ?? "nil")")
        // A forward step carries the stream for later requests, which keeps the handler's options
        // (and so its credentials): compare what the step asks for, not the options it carries.
        switch (open.steps.first, guarded.steps.first) {
        case (.forward(let a)?, .forward(let b)?):
            Fuzz.require(a.request == b.request && a.user == b.user, "credentials changed an admitted request")
        default:
            Fuzz.require(open.steps == guarded.steps, "credentials changed an admitted request")
        }
    }
    return 0
}
