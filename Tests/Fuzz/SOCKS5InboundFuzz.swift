// The libFuzzer entry for the SOCKS5 server handshake. scripts/fuzz compiles it with
// HandlerFuzzSupport.swift and the handler sources; each input is a client's byte stream.

private let alice = Credentials(username: "alice", password: "s3cret")

/// Drives the handshake without and with credentials, whole and cut in pieces, and checks the oracles.
@_cdecl("LLVMFuzzerTestOneInput")
public func socks5InboundFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let open = Fuzz.checkHandshake(input) { SOCKS5Inbound(credentials: nil) }
    let guarded = Fuzz.checkHandshake(input) { SOCKS5Inbound(credentials: alice) }
    for transcript in [open, guarded] {
        for step in transcript.steps {
            if case .refuse(let reply, _) = step {
                Fuzz.require(
                    reply.isEmpty || reply == [5, 0xFF] || reply == [1, 1] || (reply.count == 10 && reply[0] == 5),
                    "unexpected refusal bytes \(reply)")
            }
        }
    }
    // With credentials nothing is dialled unless alice authenticated first.
    if case .connect(_, _, let user)? = guarded.steps.last {
        Fuzz.require(user == "alice" && guarded.steps.contains(.reply([1, 0], consumed: 14)), "dialled without auth")
    }
    // The dedicated handler gives the same answers as the bare machine.
    if input.first == 5 {
        let handler = Fuzz.checkHandshake(input) {
            InboundHandshake(handler: .only(.socks5), options: InboundOptions(credentials: alice))
        }
        Fuzz.require(handler == guarded, "InboundHandshake differs from SOCKS5Inbound")
    }
    return 0
}
