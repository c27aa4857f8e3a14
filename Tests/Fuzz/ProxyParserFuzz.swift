// The libFuzzer entry for the PROXY parser. scripts/fuzz compiles it with swiftc together with the codec
// and address sources (SwiftPM builds get no coverage); each input is parsed and checked against oracles.

/// Parses `data` with the default cap and with a small one, and checks every oracle.
@_cdecl("LLVMFuzzerTestOneInput")
public func proxyParserFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    FuzzOracles.check(bytes, parser: ProxyParser())
    FuzzOracles.check(bytes, parser: ProxyParser(maxV2Length: 64))
    return 0
}

enum FuzzOracles {
    static func check(_ bytes: UnsafeRawBufferPointer, parser: ProxyParser) {
        let result = parser.parse(bytes)
        // A second parse of the same bytes gives the same answer.
        require(parser.parse(bytes) == result, "parse is not deterministic")
        // notProxy exactly when the bytes match neither signature prefix.
        require((result == .notProxy) == !matchesASignature(bytes), "notProxy disagrees with the signatures")
        switch result {
        case .needMore(let atLeast):
            require(atLeast >= 1, "needMore(\(atLeast))")
            require(bytes.count + atLeast <= parser.maxHeaderLength, "needMore past maxHeaderLength")
        case .notProxy:
            break
        case .header(let header, let consumed):
            require(consumed > 0 && consumed <= bytes.count, "consumed \(consumed) of \(bytes.count)")
            require(consumed <= parser.maxHeaderLength, "header longer than maxHeaderLength")
            // The header alone parses the same; one byte less needs more.
            require(parser.parse(prefix(bytes, consumed)) == result, "header alone parses differently")
            require(parser.parse(prefix(bytes, consumed - 1)).isNeedMore, "header minus one byte is decided")
            require(header.version == (bytes[0] == 0x50 ? .v1 : .v2), "wrong version")
            require(header.usesRealAddresses == (header.source == nil), "source and usesRealAddresses disagree")
            if header.version == .v1 { require(header.tlvs.isEmpty && consumed <= 107, "v1 shape") }
            if header.command == .local { require(header.usesRealAddresses, "LOCAL uses header addresses") }
            reencode(header, parser: parser)
        case .invalid:
            break
        }
        // Growing prefixes: the first answer that is not needMore is the answer for all the bytes.
        if !result.isNeedMore {
            for length in 0...bytes.count {
                let partial = parser.parse(prefix(bytes, length))
                if partial.isNeedMore { continue }
                require(partial == result, "trickled bytes decided differently at \(length)")
                break
            }
        }
    }

    /// A header with IP addresses re-encodes (v1 and v2) and parses back to the same addresses and
    /// the TLVs the encoder can write.
    static func reencode(_ header: ProxyHeader, parser: ProxyParser) {
        guard header.command == .proxy, case .inet(let source, let destination) = header.addresses else { return }
        var buffer = [UInt8](repeating: 0, count: 16 + 65535)
        let v1Length = buffer.withUnsafeMutableBytes {
            try! ProxyEncoder.writeV1(source: source, destination: destination, into: $0)
        }
        guard case .header(let v1, v1Length) = parser.parse(Array(buffer[..<v1Length])) else {
            fail("v1 re-encoding does not parse")
        }
        require(v1.addresses == header.addresses, "v1 re-encoding changed the addresses")
        var tlvs = ProxyEncodeTLVs(alpn: header.alpn, uniqueID: header.uniqueID)
        if let authority = header.authority, authority.utf8.count <= ProxyTLVType.maxAuthorityLength {
            tlvs.authority = authority  // a repaired (U+FFFD) name may have grown past the limit
        }
        tlvs.crc32c = true
        guard
            let v2Length = try? buffer.withUnsafeMutableBytes({
                try ProxyEncoder.writeV2(source: source, destination: destination, tlvs: tlvs, into: $0)
            })
        else { return }  // the original's len fitted, but added CRC and re-encoded text may not
        guard case .header(let v2, v2Length) = ProxyParser(maxV2Length: 65535).parse(Array(buffer[..<v2Length])) else {
            fail("v2 re-encoding does not parse")
        }
        require(v2.addresses == header.addresses, "v2 re-encoding changed the addresses")
        require(v2.alpn == tlvs.alpn && v2.authority == tlvs.authority && v2.uniqueID == tlvs.uniqueID, "v2 TLVs")
    }

    static func matchesASignature(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let v1: [UInt8] = [0x50, 0x52, 0x4F, 0x58, 0x59, 0x20]
        let v2: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
        return bytes.prefix(6).elementsEqual(v1.prefix(bytes.count))
            || bytes.prefix(12).elementsEqual(v2.prefix(bytes.count))
    }

    static func prefix(_ bytes: UnsafeRawBufferPointer, _ length: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[..<length])
    }

    static func require(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fail(message()) }
    }

    static func fail(_ message: String) -> Never {
        fatalError("fuzz oracle: \(message)")
    }
}

extension ProxyParseResult {
    var isNeedMore: Bool {
        if case .needMore = self { return true }
        return false
    }
}
