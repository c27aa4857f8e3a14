import Testing

// Tests for the JSON log line builder (sorted keys, escaping, GOST time format) and session ids.
@testable import Sluice

@Suite struct LogLineTests {
    @Test func keysAreSortedAndValuesEscaped() {
        var builder = LineBuilder()
        var clock = LogClock()
        builder.begin()
        builder.add(.service, .text("svc \"a\"\n"))
        builder.add(.msg, .flow(SocketAddress("1.2.3.4:5")!, "<>", SocketAddress("[::1]:80")!))
        builder.add(.duration, .integer(-42))
        builder.add(.client, .address(SocketAddress("10.0.0.1:1")!))
        let line = builder.finish(level: .warning, clock: &clock)
        #expect(
            line.hasPrefix(
                #"{"client":"10.0.0.1:1","duration":-42,"level":"warning","msg":"1.2.3.4:5 <> [::1]:80","service":"svc \"a\"\n","time":""#
            ))
        #expect(line.hasSuffix("}\n"))
    }

    @Test func timeHasMillisecondsAndZone() {
        var builder = LineBuilder()
        var clock = LogClock()
        builder.begin()
        let line = builder.finish(level: .info, clock: &clock)
        // {"level":"info","time":"2026-11-26T18:41:42.123Z"} (or a +hh:mm offset)
        let time = line.split(separator: "\"")[7]
        #expect(time.count == 24 || time.count == 29)
        #expect(time.dropFirst(19).first == ".")
        #expect(time.dropFirst(10).first == "T")
    }

    @Test func controlCharactersUseUnicodeEscapes() {
        var builder = LineBuilder()
        var clock = LogClock()
        builder.begin()
        builder.add(.msg, .text("a\u{01}b"))
        #expect(builder.finish(level: .info, clock: &clock).contains(#""msg":"a\u0001b""#))
    }

    @Test func sessionIDsAreTwentyBase32HexCharactersAndUnique() {
        let a = SessionID.next(wallSeconds: 1_700_000_000)
        let b = SessionID.next(wallSeconds: 1_700_000_000)
        #expect(a != b)
        let text = a.description
        #expect(text.count == 20)
        #expect(text.allSatisfy { "0123456789abcdefghijklmnopqrstuv".contains($0) })
        // xid puts the timestamp first: ids sort by time.
        #expect(SessionID.next(wallSeconds: 1_700_000_100).description > text)
    }
}
