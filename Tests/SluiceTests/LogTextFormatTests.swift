// Tests for `log.format: text`: Sluice's JSON lines become logrus TextFormatter lines.
import Testing

@testable import Sluice

@Suite struct LogTextFormatTests {
    static func text(_ json: String) -> String {
        var out: [UInt8] = []
        Array(json.utf8).withUnsafeBytes { TextFormat.convert($0, into: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    @Test(arguments: [
        (
            #"{"client":"1.2.3.4:5","duration":42,"level":"info","msg":"a b","time":"2026-11-30T10:00:00.000Z"}"#
                + "\n",
            #"time="2026-11-30T10:00:00.000Z" level=info msg="a b" client="1.2.3.4:5" duration=42"# + "\n"
        ),
        (
            #"{"kind":"service","level":"warning","msg":"say \"hi\"","time":"t"}"# + "\n",
            #"time=t level=warning msg="say \"hi\"" kind=service"# + "\n"
        ),
        ("not json\n", "not json\n"),
    ])
    func jsonLinesBecomeLogrusText(json: String, expected: String) {
        #expect(Self.text(json) == expected)
    }

    @Test func severalLinesConvertInOrder() {
        let two =
            #"{"level":"info","msg":"one","time":"t"}"# + "\n" + #"{"level":"error","msg":"two","time":"t"}"# + "\n"
        #expect(Self.text(two) == "time=t level=info msg=one\ntime=t level=error msg=two\n")
    }
}
