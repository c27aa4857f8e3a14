// The libFuzzer entry for the SOCKS4/4a server handshake. scripts/fuzz compiles it with
// HandlerFuzzSupport.swift and the handler sources; each input is a client's byte stream.

/// Drives the handshake without and with credentials, whole and cut in pieces, and checks the oracles.
@_cdecl("LLVMFuzzerTestOneInput")
public func socks4InboundFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let open = Fuzz.checkHandshake(input) { SOCKS4Inbound(credentials: nil) }
    let guarded = Fuzz.checkHandshake(input) { SOCKS4Inbound(credentials: Credentials(username: "bob", password: "")) }
    let never = Fuzz.checkHandshake(input) { SOCKS4Inbound(credentials: Credentials(username: "bob", password: "pw")) }
    for transcript in [open, guarded, never] {
        Fuzz.require(transcript.steps.count <= 1, "SOCKS4 has a single step")
        switch transcript.steps.first {
        case .connect(_, let consumed, _)?:
            Fuzz.require(input[0] == 4 && input[1] == 1 && input[consumed - 1] == 0, "connect shape")
            Fuzz.require(consumed <= 8 + 256 + 256, "connect consumed \(consumed)")
        case .refuse(let reply, _)?:
            Fuzz.require(reply.isEmpty || (reply.count == 8 && reply[0] == 0), "refusal bytes \(reply)")
        default:
            break
        }
    }
    if case .connect(_, _, let user)? = guarded.steps.first {
        Fuzz.require(user == "bob", "dialled for \(user ?? "nil")")
    }
    if case .connect? = never.steps.first { Fuzz.fail("a SOCKS4 client passed credentials with a password") }
    if input.first == 4 {
        let handler = Fuzz.checkHandshake(input) {
            InboundHandshake(handler: .only(.socks4), options: InboundOptions())
        }
        Fuzz.require(handler == open, "InboundHandshake differs from SOCKS4Inbound")
    }
    return 0
}
