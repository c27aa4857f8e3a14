// HTTPBody: walks a message body that is relayed unchanged, to find where it ends: a Content-Length
// count, or the chunked coding (RFC 9112 §7.1) decoded incrementally, sizes, extensions and trailers
// included, with caps on everything that is not data.

/// Why a chunked body is refused. The body is already partly relayed, so the only answer is to close.
public enum HTTPBodyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A chunk-size line without hex digits, or more than 15 of them.
    case badChunkSize
    /// A chunk extension over `HTTPBodyFraming.maxLineLength`, or one holding a control byte.
    case badChunkExtension
    /// Chunk data not followed by CRLF, or a size line ended by a bare LF or CR.
    case missingCRLF
    /// Trailer fields over `HTTPBodyFraming.maxTrailerLength`, or holding a control byte.
    case badTrailer

    public var description: String {
        switch self {
        case .badChunkSize: "http: invalid chunk size"
        case .badChunkExtension: "http: invalid chunk extension"
        case .missingCRLF: "http: chunk not terminated by CRLF"
        case .badTrailer: "http: invalid trailer section"
        }
    }
}

/// Where a body being relayed stands. Bytes are never changed, only counted.
public struct HTTPBodyFraming: Equatable, Sendable {
    enum Chunked: Equatable, Sendable {
        /// Reading hex digits of a chunk size.
        case size(value: Int64, digits: Int)
        /// After the size: an extension up to CR (`length` bytes so far).
        case sizeLine(value: Int64, length: Int)
        /// CR seen at the end of a size line.
        case sizeLF(value: Int64)
        /// Chunk data still to come.
        case data(remaining: Int64)
        case dataCR
        case dataLF
        /// In the trailer section: `lineLength` bytes into the current line, `total` bytes in all.
        case trailer(lineLength: Int, total: Int)
        /// CR seen at the end of a trailer line of `lineLength` bytes.
        case trailerLF(lineLength: Int, total: Int)
    }

    enum Kind: Equatable, Sendable {
        case length(remaining: Int64)
        case chunked(Chunked)
        case untilClose
        case done
        /// Refused; every later call repeats the error.
        case failed(HTTPBodyError)
    }

    var kind: Kind

    /// The longest chunk-size line (size and extensions) accepted.
    public static let maxLineLength = 4096
    /// The longest trailer section accepted.
    public static let maxTrailerLength = 16 * 1024

    /// A body of `length` bytes (done at once when 0).
    public static func length(_ length: Int64) -> HTTPBodyFraming {
        HTTPBodyFraming(kind: length > 0 ? .length(remaining: length) : .done)
    }
    /// A chunked body.
    public static let chunked = HTTPBodyFraming(kind: .chunked(.size(value: 0, digits: 0)))
    /// A body that ends when the connection does (responses only).
    public static let untilClose = HTTPBodyFraming(kind: .untilClose)
    /// No body.
    public static let none = HTTPBodyFraming(kind: .done)

    /// True once the whole body has gone by.
    public var isDone: Bool { kind == .done }

    /// What one call found.
    public enum Progress: Equatable, Sendable {
        /// The first `count` bytes are body; `ended` when they complete it (what follows is not body).
        case body(count: Int, ended: Bool)
        /// The body breaks its coding at the first of `bytes` (valid bytes before a fault are reported
        /// as `.body` first).
        case invalid(HTTPBodyError)
    }

    /// Walks the body's next bytes: `bytes` start right where the last call's count ended.
    public mutating func consume(_ bytes: UnsafeRawBufferPointer) -> Progress {
        switch kind {
        case .done:
            return .body(count: 0, ended: true)
        case .failed(let error):
            return .invalid(error)
        case .untilClose:
            return .body(count: bytes.count, ended: false)
        case .length(let remaining):
            let take = Int(Swift.min(Int64(bytes.count), remaining))
            kind = remaining - Int64(take) == 0 ? .done : .length(remaining: remaining - Int64(take))
            return .body(count: take, ended: kind == .done)
        case .chunked(let state):
            return consumeChunked(bytes, state)
        }
    }

    private mutating func consumeChunked(_ bytes: UnsafeRawBufferPointer, _ start: Chunked) -> Progress {
        var state = start
        var i = 0
        let count = bytes.count
        while i < count {
            let byte = bytes[i]
            switch state {
            case .size(let value, let digits):
                if let nibble = hexValue(byte) {
                    // 15 hex digits keep the size below 2^60: no overflow, and no one sends a bigger chunk.
                    guard digits < 15 else { return fail(.badChunkSize, valid: i) }
                    state = .size(value: value << 4 | Int64(nibble), digits: digits + 1)
                } else {
                    guard digits > 0 else { return fail(.badChunkSize, valid: i) }
                    if byte == 0x0D {
                        state = .sizeLF(value: value)
                    } else if byte == 0x3B || byte == 0x20 || byte == 0x09 {  // ";" or BWS before it
                        state = .sizeLine(value: value, length: digits + 1)
                    } else {
                        return fail(byte == 0x0A ? .missingCRLF : .badChunkSize, valid: i)
                    }
                }
                i += 1
            case .sizeLine(let value, let length):
                if byte == 0x0D {
                    state = .sizeLF(value: value)
                } else {
                    guard byte >= 0x20 || byte == 0x09, byte != 0x7F else {
                        return fail(byte == 0x0A ? .missingCRLF : .badChunkExtension, valid: i)
                    }
                    guard length < Self.maxLineLength else { return fail(.badChunkExtension, valid: i) }
                    state = .sizeLine(value: value, length: length + 1)
                }
                i += 1
            case .sizeLF(let value):
                guard byte == 0x0A else { return fail(.missingCRLF, valid: i) }
                state = value == 0 ? .trailer(lineLength: 0, total: 0) : .data(remaining: value)
                i += 1
            case .data(let remaining):
                let take = Int(Swift.min(Int64(count - i), remaining))
                i += take
                state = remaining == Int64(take) ? .dataCR : .data(remaining: remaining - Int64(take))
            case .dataCR:
                guard byte == 0x0D else { return fail(.missingCRLF, valid: i) }
                state = .dataLF
                i += 1
            case .dataLF:
                guard byte == 0x0A else { return fail(.missingCRLF, valid: i) }
                state = .size(value: 0, digits: 0)
                i += 1
            case .trailer(let lineLength, let total):
                guard total < Self.maxTrailerLength else { return fail(.badTrailer, valid: i) }
                if byte == 0x0D {
                    state = .trailerLF(lineLength: lineLength, total: total + 1)
                } else {
                    guard byte >= 0x20 || byte == 0x09, byte != 0x7F else {
                        return fail(byte == 0x0A ? .missingCRLF : .badTrailer, valid: i)
                    }
                    state = .trailer(lineLength: lineLength + 1, total: total + 1)
                }
                i += 1
            case .trailerLF(let lineLength, let total):
                guard byte == 0x0A else { return fail(.missingCRLF, valid: i) }
                i += 1
                if lineLength == 0 {
                    kind = .done
                    return .body(count: i, ended: true)
                }
                state = .trailer(lineLength: 0, total: total + 1)
            }
        }
        kind = .chunked(state)
        return .body(count: count, ended: false)
    }

    /// The body breaks the coding at `bytes[valid]`. The valid bytes before it are reported first and
    /// the error on the next call, so the answer never depends on how the bytes were split.
    private mutating func fail(_ error: HTTPBodyError, valid: Int) -> Progress {
        kind = .failed(error)
        return valid > 0 ? .body(count: valid, ended: false) : .invalid(error)
    }
}
