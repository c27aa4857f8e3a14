// Tests for metadata maps: case-insensitive keys and the typed getters (GOST's `mdutil.GetXxx`
// semantics, made strict about malformed values).
import Sluice
import Testing

@Suite struct ConfigMetadataTests {
    @Test func keysAreCaseInsensitiveAndLowercased() {
        var md: Metadata = ["ProxyProtocol": "1"]
        #expect(md["proxyprotocol"] == .string("1"))
        #expect(md["PROXYPROTOCOL"] == .string("1"))
        #expect(md.fields.map(\.key) == ["proxyprotocol"])
        md["proxyProtocol"] = "2"
        #expect(md.count == 1 && md["proxyprotocol"] == .string("2"))
        md["PROXYprotocol"] = nil
        #expect(md.isEmpty)
    }

    @Test func firstOfKeysDifferingInCaseWins() {
        let md = Metadata([("a", "1"), ("A", "2")])
        #expect(md["a"] == .string("1") && md.count == 1)
    }

    @Test func equalityIgnoresOrder() {
        #expect(Metadata([("a", "1"), ("b", 2)]) == Metadata([("b", 2), ("a", "1")]))
        #expect(Metadata([("a", "1")]) != Metadata([("a", 1)]))
        #expect(Metadata([("a", "1")]) != Metadata([("a", "1"), ("b", "1")]))
    }

    @Test(
        arguments: [
            (MetadataValue.int(3), 3), (.string("3"), 3), (.string("-2"), -2), (.string("+7"), 7), (.float(2.0), 2),
            (.bool(true), 1), (.bool(false), 0), (.string("true"), 1), (.string("FALSE"), 0),
        ] as [(MetadataValue, Int)])
    func intAcceptsEveryIntegralForm(value: MetadataValue, expected: Int) throws {
        let md = Metadata([("proxyProtocol", value)])
        #expect(try md.int("proxyProtocol") == expected)
    }

    @Test(
        arguments: [
            (MetadataValue.string("abc"), "abc"), (.string("1.5"), "1.5"), (.float(1.5), "1.5"), (.string(""), ""),
            (.string(" 1"), " 1"), (.list(["1"]), "[container]"),
        ] as [(MetadataValue, String)])
    func intRejectsTheRest(value: MetadataValue, shown: String) {
        let md = Metadata([("retries", value)])
        #expect(throws: MetadataError(key: "retries", value: shown, expected: "an integer")) { try md.int("retries") }
    }

    @Test func absentKeyIsNilAndAliasesAreTriedInOrder() throws {
        let md: Metadata = ["max_fails": "3", "maxfails": "5"]
        #expect(try md.int("maxFails", "max_fails") == 5)
        #expect(try md.int("max_fails", "maxFails") == 3)
        #expect(try md.int("other") == nil)
        #expect(try md.duration("other") == nil)
        #expect(try md.bool("other") == nil)
    }

    @Test(
        arguments: [
            (MetadataValue.bool(true), true), (.string("1"), true), (.string("t"), true), (.string("TRUE"), true),
            (.string("True"), true), (.string("0"), false), (.string("f"), false), (.string("false"), false),
            (.int(2), true), (.int(0), false),
        ] as [(MetadataValue, Bool)])
    func boolAcceptsGoParseBool(value: MetadataValue, expected: Bool) throws {
        #expect(try Metadata([("required", value)]).bool("required") == expected)
    }

    @Test func boolRejectsOtherText() {
        let md: Metadata = ["required": "yes"]
        #expect(throws: MetadataError(key: "required", value: "yes", expected: "true or false")) {
            try md.bool("required")
        }
    }

    @Test(
        arguments: [
            (MetadataValue.string("10s"), 10 * GoDuration.second), (.string("10"), 10 * GoDuration.second),
            (.string("1m30s"), 90 * GoDuration.second), (.string("0"), 0), (.int(5), 5 * GoDuration.second),
            (.float(1.5), 1500 * GoDuration.millisecond), (.string("-1s"), -GoDuration.second),
        ] as [(MetadataValue, Int64)])
    func durationReadsGoTextOrSeconds(value: MetadataValue, expected: Int64) throws {
        #expect(try Metadata([("dialTimeout", value)]).duration("dialTimeout") == expected)
    }

    @Test func durationRejectsGarbageThatGostReadsAsZero() {
        let md: Metadata = ["dialtimeout": "abc"]
        #expect(
            throws: MetadataError(key: "dialTimeout", value: "abc", expected: "a duration such as 10s, 1m30s or 500ms")
        ) {
            try md.duration("dialTimeout")
        }
    }

    @Test func stringFormatsScalarsLikeGetString() throws {
        let md: Metadata = ["a": "x", "b": 5, "c": true, "d": 2.0, "e": 2.5]
        #expect(try md.string("a") == "x")
        #expect(try md.string("b") == "5")
        #expect(try md.string("c") == "true")
        #expect(try md.string("d") == "2")
        #expect(try md.string("e") == "2.5")
    }

    @Test func stringsSplitsCommasOrTakesAList() throws {
        let md: Metadata = ["a": "10.0.0.0/8, ::1,,", "b": .list(["x", "y"]), "c": .map([])]
        #expect(try md.strings("a") == ["10.0.0.0/8", "::1"])
        #expect(try md.strings("b") == ["x", "y"])
        #expect(throws: MetadataError.self) { try md.strings("c") }
    }

    @Test func mapKeepsNestedKeyCaseAndOrder() throws {
        let header = MetadataValue.map([
            MetadataField(key: "X-B", value: "2"), MetadataField(key: "X-A", value: "1"),
        ])
        let md = Metadata([("Header", header)])
        #expect(try md.map("header")?.map(\.key) == ["X-B", "X-A"])
        #expect(throws: MetadataError.self) { try (["header": "x"] as Metadata).map("header") }
    }

    @Test func errorDescriptionNamesKeyValueAndExpectation() {
        let error = MetadataError(key: "dialTimeout", value: "abc", expected: "a duration")
        #expect(error.description == "invalid value \"abc\" for dialTimeout: expected a duration")
    }
}
