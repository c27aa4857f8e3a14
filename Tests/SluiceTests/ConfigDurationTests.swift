// Tests for Go-style duration parsing and formatting (cases from Go's own time package tests).
import Sluice
import Testing

private let s = GoDuration.second
private let ms = GoDuration.millisecond
private let us = GoDuration.microsecond
private let m = GoDuration.minute
private let h = GoDuration.hour

@Suite struct ConfigDurationTests {
    @Test(
        arguments: [
            ("0", 0), ("5s", 5 * s), ("30s", 30 * s), ("1478s", 1478 * s), ("-5s", -5 * s), ("+5s", 5 * s),
            ("-0", 0), ("+0", 0), ("5.0s", 5 * s), ("5.6s", 5 * s + 600 * ms), ("5.s", 5 * s), (".5s", 500 * ms),
            ("1.0s", s), ("1.00s", s), ("1.004s", s + 4 * ms), ("1.0040s", s + 4 * ms), ("100.00100s", 100 * s + ms),
            ("10ns", 10), ("11us", 11 * us), ("12µs", 12 * us), ("12μs", 12 * us), ("13ms", 13 * ms), ("14s", 14 * s),
            ("15m", 15 * m), ("16h", 16 * h), ("300ms", 300 * ms), ("1.5h", 90 * m), ("2h45m", 2 * h + 45 * m),
            ("3h30m", 3 * h + 30 * m), ("10.5s4m", 4 * m + 10 * s + 500 * ms), ("-2m3.4s", -(2 * m + 3 * s + 400 * ms)),
            ("1h2m3s4ms5us6ns", h + 2 * m + 3 * s + 4 * ms + 5 * us + 6), ("39h9m14.425s", 39 * h + 9 * m + 14425 * ms),
            ("52763797000ns", 52_763_797_000), ("0.3333333333333333333h", 20 * m),
            ("9007199254740993ns", 9_007_199_254_740_993),
            ("9223372036854775807ns", Int64.max), ("9223372036854775.807us", Int64.max),
            ("9223372036s854ms775us807ns", Int64.max), ("-9223372036854775808ns", Int64.min),
            ("-9223372036854775.808us", Int64.min), ("-2562047h47m16.854775808s", Int64.min),
            ("0.100000000000000000000h", 6 * m), ("0.830103483285477580700h", 49 * m + 48 * s + 372_539_827),
        ] as [(String, Int64)])
    func parsesLikeGo(text: String, nanoseconds: Int64) throws {
        #expect(try GoDuration.parse(text) == nanoseconds)
    }

    @Test(arguments: [
        ("", "time: invalid duration \"\""), ("3", "time: missing unit in duration \"3\""),
        ("-", "time: invalid duration \"-\""), ("s", "time: invalid duration \"s\""),
        (".", "time: invalid duration \".\""), ("-.", "time: invalid duration \"-.\""),
        (".s", "time: invalid duration \".s\""), ("+.s", "time: invalid duration \"+.s\""),
        ("1d", "time: unknown unit \"d\" in duration \"1d\""), ("5 s", "time: unknown unit \" s\" in duration \"5 s\""),
        ("9223372036854775808ns", "time: invalid duration \"9223372036854775808ns\""),
        ("9223372036854775.808us", "time: invalid duration \"9223372036854775.808us\""),
        ("-9223372036854775809ns", "time: invalid duration \"-9223372036854775809ns\""),
        ("18446744073709551616h", "time: invalid duration \"18446744073709551616h\""),
        ("5124096h5124096h", "time: invalid duration \"5124096h5124096h\""),
    ])
    func rejectsLikeGo(text: String, message: String) {
        #expect(throws: GoDuration.ParseError(message: message)) { try GoDuration.parse(text) }
    }

    @Test(
        arguments: [
            (0, "0s"), (1, "1ns"), (1100, "1.1µs"), (2_200_000, "2.2ms"), (3_300_000_000, "3.3s"),
            (4 * m + 5 * s, "4m5s"),
            (4 * m + 5001 * ms, "4m5.001s"), (5 * h + 6 * m + 7001 * ms, "5h6m7.001s"), (8 * m + 1, "8m0.000000001s"),
            (Int64.max, "2562047h47m16.854775807s"), (Int64.min, "-2562047h47m16.854775808s"), (30 * s, "30s"),
            (-1000, "-1µs"), (h, "1h0m0s"),
        ] as [(Int64, String)])
    func formatsLikeGo(nanoseconds: Int64, text: String) {
        #expect(GoDuration.format(nanoseconds) == text)
    }

    /// GOST's `GetDuration`: Go text first, then a plain integer counts seconds.
    @Test(
        arguments: [
            ("10", 10 * s), ("10s", 10 * s), ("0", 0), ("1m30s", 90 * s), ("-3", -3 * s), ("abc", nil), ("1.5", nil),
            ("", nil), ("99999999999999999", nil),
        ] as [(String, Int64?)])
    func metadataFallback(text: String, nanoseconds: Int64?) {
        #expect(GoDuration.parseMetadata(text) == nanoseconds)
    }
}
