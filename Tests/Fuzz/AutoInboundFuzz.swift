// The libFuzzer entry for the auto handler. scripts/fuzz compiles it with HandlerFuzzSupport.swift and
// the handler sources; each input is a client's byte stream.

/// Drives auto whole and cut in pieces, and checks it answers exactly as the protocol its first byte
/// names.
@_cdecl("LLVMFuzzerTestOneInput")
public func autoInboundFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let options = InboundOptions(credentials: Credentials(username: "u", password: ""))
    let auto = Fuzz.checkHandshake(input) { InboundHandshake(handler: .auto, options: options) }
    guard let first = input.first else {
        Fuzz.require(auto.waiting && auto.steps.isEmpty, "auto decided on nothing")
        return 0
    }
    let expected: Fuzz.HandshakeTranscript
    switch InboundProtocol.detect(firstByte: first) {
    case .socks5: expected = Fuzz.checkHandshake(input) { SOCKS5Inbound(credentials: options.credentials) }
    case .socks4: expected = Fuzz.checkHandshake(input) { SOCKS4Inbound(credentials: options.credentials) }
    case .http: expected = Fuzz.checkHandshake(input) { HTTPInbound(options: options) }
    }
    Fuzz.require(auto == expected, "auto differs from the detected protocol")
    return 0
}
