// HTTP/1 message heads (RFC 9112 §2–5): finding where a head ends without rescanning, and parsing a
// complete request or response head into its start line and fields, strictly enough that the framing
// this proxy reads is the framing every peer reads.

/// Finds the end of a message head in a growing buffer, remembering how far it has looked.
///
/// Empty lines before the head are skipped (RFC 9112 §2.2). Lines may end in CRLF or a bare LF (§2.2
/// allows the latter; the head is rewritten with CRLF anyway); the head ends at the first empty line.
struct HTTPHeadScanner: Equatable, Sendable {
    /// Where the head's first line starts; nil while only empty lines have been seen.
    private var start: Int?
    /// Where the line being scanned starts.
    private var lineStart = 0
    /// Bytes already looked at.
    private var scanned = 0

    enum Result: Equatable {
        case needMore
        /// No head end within `limit` bytes.
        case tooLarge
        /// The head is `bytes[start..<end]` (`end` is just past its empty line's LF).
        case head(start: Int, end: Int)
    }

    /// Looks at `bytes` (the same bytes as before with more appended) up to `limit` bytes in all.
    mutating func scan(_ bytes: UnsafeRawBufferPointer, limit: Int) -> Result {
        let count = Swift.min(bytes.count, limit)
        var i = scanned
        while i < count {
            let byte = bytes[i]
            guard start != nil else {
                if byte == 0x0A {
                    i += 1
                } else if byte == 0x0D {
                    guard i + 1 < count else { break }
                    if bytes[i + 1] == 0x0A {
                        i += 2
                    } else {
                        start = i
                        lineStart = i
                    }
                } else {
                    start = i
                    lineStart = i
                }
                continue
            }
            if byte == 0x0A {
                if i == lineStart || (i == lineStart + 1 && bytes[lineStart] == 0x0D) {
                    scanned = i + 1
                    return .head(start: start!, end: i + 1)
                }
                lineStart = i + 1
            }
            i += 1
        }
        scanned = i
        return bytes.count >= limit ? .tooLarge : .needMore
    }
}

/// One field line: byte ranges of its name and its value (without surrounding whitespace).
struct HTTPField: Equatable, Sendable {
    var name: Range<Int>
    var value: Range<Int>
}

/// Why a head does not parse.
enum HTTPHeadError: Error, Equatable {
    case badStartLine
    case unsupportedVersion
    case badField
    case tooManyFields
}

/// A complete message head, copied out of the connection's buffer, with the ranges of its parts.
struct HTTPHead: Equatable, Sendable {
    /// The head's bytes, from its first line through the empty line.
    let bytes: [UInt8]
    /// Request: method, target. Response: version text, status code (three digits).
    var first: Range<Int>
    var second: Range<Int>
    /// 0 or 1 (HTTP/1.0 or HTTP/1.1).
    var minorVersion: UInt8
    var fields: [HTTPField]

    /// More fields than this is refused (431 for a request).
    static let maxFields = 256

    /// Parses a request head: `method SP request-target SP HTTP/1.x`, then fields.
    static func request(_ bytes: [UInt8]) -> Result<HTTPHead, HTTPHeadError> {
        parse(bytes, isRequest: true)
    }

    /// Parses a response head: `HTTP/1.x SP 3DIGIT [SP reason]`, then fields.
    static func response(_ bytes: [UInt8]) -> Result<HTTPHead, HTTPHeadError> {
        parse(bytes, isRequest: false)
    }

    private static func parse(_ bytes: [UInt8], isRequest: Bool) -> Result<HTTPHead, HTTPHeadError> {
        bytes.withUnsafeBytes { raw in
            var lines = LineIterator(raw)
            guard let line = lines.next() else { return .failure(.badStartLine) }
            let startLine: (Range<Int>, Range<Int>, UInt8)
            switch isRequest ? requestLine(raw, line) : statusLine(raw, line) {
            case .success(let parsed): startLine = parsed
            case .failure(let error): return .failure(error)
            }
            var fields: [HTTPField] = []
            while let line = lines.next() {
                if line.isEmpty { break }
                guard fields.count < maxFields else { return .failure(.tooManyFields) }
                guard let field = fieldLine(raw, line) else { return .failure(.badField) }
                fields.append(field)
            }
            return .success(
                HTTPHead(
                    bytes: bytes, first: startLine.0, second: startLine.1, minorVersion: startLine.2, fields: fields))
        }
    }

    /// `method SP target SP HTTP/1.x`, single spaces, a token method and a visible-ASCII target.
    private static func requestLine(
        _ raw: UnsafeRawBufferPointer, _ line: Range<Int>
    ) -> Result<(Range<Int>, Range<Int>, UInt8), HTTPHeadError> {
        guard let space1 = raw[line].firstIndex(of: 0x20),
            let space2 = raw[(space1 + 1)..<line.upperBound].firstIndex(of: 0x20)
        else { return .failure(.badStartLine) }
        let method = line.lowerBound..<space1
        let target = (space1 + 1)..<space2
        let version = (space2 + 1)..<line.upperBound
        guard !method.isEmpty, method.allSatisfy({ isTokenByte(raw[$0]) }),
            !target.isEmpty, target.allSatisfy({ raw[$0] > 0x20 && raw[$0] < 0x7F })
        else { return .failure(.badStartLine) }
        guard let minor = httpVersion(raw, version) else { return .failure(.badStartLine) }
        guard minor <= 1 else { return .failure(.unsupportedVersion) }
        return .success((method, target, minor))
    }

    /// `HTTP/1.x SP 3DIGIT`, then the end of the line or `SP reason`.
    private static func statusLine(
        _ raw: UnsafeRawBufferPointer, _ line: Range<Int>
    ) -> Result<(Range<Int>, Range<Int>, UInt8), HTTPHeadError> {
        guard line.count >= 12, raw[line.lowerBound + 8] == 0x20,
            let minor = httpVersion(raw, line.lowerBound..<(line.lowerBound + 8))
        else { return .failure(.badStartLine) }
        guard minor <= 1 else { return .failure(.unsupportedVersion) }
        let code = (line.lowerBound + 9)..<(line.lowerBound + 12)
        guard code.allSatisfy({ raw[$0] >= 0x30 && raw[$0] <= 0x39 }),
            line.count == 12 || raw[line.lowerBound + 12] == 0x20
        else { return .failure(.badStartLine) }
        return .success((line.lowerBound..<(line.lowerBound + 8), code, minor))
    }

    /// The minor digit of `HTTP/1.x`; a major version other than 1 gives 255 (unsupported).
    private static func httpVersion(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>) -> UInt8? {
        let prefix: StaticString = "HTTP/"
        guard range.count == 8 else { return nil }
        for i in 0..<5 where raw[range.lowerBound + i] != prefix.utf8Start[i] { return nil }
        let major = raw[range.lowerBound + 5]
        let minor = raw[range.lowerBound + 7]
        guard major >= 0x30, major <= 0x39, raw[range.lowerBound + 6] == 0x2E, minor >= 0x30, minor <= 0x39 else {
            return nil
        }
        return major == 0x31 ? minor - 0x30 : 255
    }

    /// `name ":" OWS value OWS`: a token name with no space before the colon, and a value of visible
    /// bytes, spaces and tabs (obs-text allowed). A line starting with whitespace (obs-fold) is refused
    /// (RFC 9112 §5.2).
    private static func fieldLine(_ raw: UnsafeRawBufferPointer, _ line: Range<Int>) -> HTTPField? {
        guard let colon = raw[line].firstIndex(of: 0x3A), colon > line.lowerBound else { return nil }
        let name = line.lowerBound..<colon
        guard name.allSatisfy({ isTokenByte(raw[$0]) }) else { return nil }
        var start = colon + 1
        var end = line.upperBound
        while start < end, raw[start] == 0x20 || raw[start] == 0x09 { start += 1 }
        while end > start, raw[end - 1] == 0x20 || raw[end - 1] == 0x09 { end -= 1 }
        for i in start..<end {
            let byte = raw[i]
            guard byte >= 0x20 || byte == 0x09, byte != 0x7F else { return nil }
        }
        return HTTPField(name: name, value: start..<end)
    }

    // MARK: - Reading

    /// True when the field's name is `lowercaseName` (ASCII, compared without case).
    func fieldNamed(_ field: HTTPField, _ lowercaseName: StaticString) -> Bool {
        equalsLowercase(field.name, lowercaseName)
    }

    /// True when `bytes[range]` equals the lowercase ASCII `text` without regard to case.
    func equalsLowercase(_ range: Range<Int>, _ text: StaticString) -> Bool {
        guard range.count == text.utf8CodeUnitCount else { return false }
        let base = text.utf8Start
        for (i, index) in range.enumerated() where asciiLowercase(bytes[index]) != base[i] { return false }
        return true
    }

    /// True when `bytes[range]` starts with the lowercase ASCII `prefix` without regard to case.
    func hasLowercasePrefix(_ range: Range<Int>, _ prefix: StaticString) -> Bool {
        guard range.count >= prefix.utf8CodeUnitCount else { return false }
        return equalsLowercase(range.lowerBound..<(range.lowerBound + prefix.utf8CodeUnitCount), prefix)
    }

    /// The user name and password of the first field named `lowercaseName` when it reads
    /// `Basic <base64(user:password)>` (the scheme name in any case), or nil when there is none or it
    /// does not decode to `user:password`. Proxies read `proxy-authorization`, servers `authorization`.
    func basicCredentials(_ lowercaseName: StaticString) -> (user: [UInt8], password: [UInt8])? {
        guard let field = fields.first(where: { fieldNamed($0, lowercaseName) }) else { return nil }
        let value = field.value
        guard value.count > 6, equalsLowercase(value.lowerBound..<(value.lowerBound + 5), "basic"),
            bytes[value.lowerBound + 5] == 0x20
        else { return nil }
        var start = value.lowerBound + 6
        while start < value.upperBound, bytes[start] == 0x20 { start += 1 }
        guard let decoded = base64Decode(bytes[start..<value.upperBound]),
            let colon = decoded.firstIndex(of: 0x3A)
        else { return nil }
        return (Array(decoded[..<colon]), Array(decoded[(colon + 1)...]))
    }

    /// The comma-separated elements of every field named `lowercaseName`, trimmed, empty ones skipped
    /// (RFC 9110 §5.6.1).
    func listElements(_ lowercaseName: StaticString) -> [Range<Int>] {
        var elements: [Range<Int>] = []
        for field in fields where fieldNamed(field, lowercaseName) {
            var start = field.value.lowerBound
            while start <= field.value.upperBound {
                var end = start
                while end < field.value.upperBound, bytes[end] != 0x2C { end += 1 }
                var a = start
                var b = end
                while a < b, bytes[a] == 0x20 || bytes[a] == 0x09 { a += 1 }
                while b > a, bytes[b - 1] == 0x20 || bytes[b - 1] == 0x09 { b -= 1 }
                if a < b { elements.append(a..<b) }
                start = end + 1
            }
        }
        return elements
    }

    /// How a message's body is delimited (RFC 9112 §6.3), as far as its fields tell.
    enum BodyLength: Equatable {
        /// No body (a request without Content-Length or Transfer-Encoding).
        case none
        case length(Int64)
        case chunked
        /// A response whose body runs until the upstream closes.
        case untilClose
    }

    /// The body length the fields declare. In a request, Transfer-Encoding must be exactly `chunked`,
    /// on HTTP/1.1, without Content-Length: anything else is how requests are smuggled past a proxy
    /// (RFC 9112 §6.1, §6.3 rule 3). Content-Length values (repeated, or in a list) must all be the
    /// same decimal number below 10^18. A response without either runs until close; one whose codings
    /// do not end in `chunked` too.
    func bodyLength(isRequest: Bool) -> Result<BodyLength, InboundRefusal> {
        let hasLengthField = fields.contains { fieldNamed($0, "content-length") }
        if fields.contains(where: { fieldNamed($0, "transfer-encoding") }) {
            if isRequest {
                guard !hasLengthField, minorVersion == 1 else { return .failure(.httpAmbiguousFraming) }
            }
            let codings = listElements("transfer-encoding")
            guard let last = codings.last, equalsLowercase(last, "chunked") else {
                return isRequest ? .failure(.httpAmbiguousFraming) : .success(.untilClose)
            }
            // Another coding under chunked (or chunked twice): a server need not understand it (501).
            if isRequest, codings.count > 1 { return .failure(.httpUnsupportedTransferCoding) }
            return .success(.chunked)
        }
        guard hasLengthField else { return .success(isRequest ? .none : .untilClose) }
        let lengths = listElements("content-length")
        guard let first = lengths.first, first.count <= 18 else { return .failure(.httpBadFraming) }
        var value: Int64 = 0
        for i in first {
            guard bytes[i] >= 0x30, bytes[i] <= 0x39 else { return .failure(.httpBadFraming) }
            value = value * 10 + Int64(bytes[i] - 0x30)
        }
        for other in lengths.dropFirst() where !bytes[other].elementsEqual(bytes[first]) {
            return .failure(.httpBadFraming)
        }
        return .success(.length(value))
    }
}

/// RFC 9110 §5.6.2 tchar.
@inline(__always) func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
    case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: true
    default: false
    }
}

/// The lines of a head: ranges without their LF and the CR before it. A CR anywhere else stays in the
/// line, where every check refuses it.
struct LineIterator {
    let raw: UnsafeRawBufferPointer
    var position = 0

    init(_ raw: UnsafeRawBufferPointer) { self.raw = raw }

    mutating func next() -> Range<Int>? {
        guard position < raw.count else { return nil }
        let start = position
        var i = position
        while i < raw.count, raw[i] != 0x0A { i += 1 }
        var end = i
        if end > start, raw[end - 1] == 0x0D { end -= 1 }
        position = i + 1
        return start..<end
    }
}
