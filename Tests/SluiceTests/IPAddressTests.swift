// Tests for IP address parsing and canonical formatting.
import Sluice
import Testing

@Suite struct IPAddressTests {
    @Test(arguments: [
        ("1.2.3.4", true), ("255.255.255.255", true), ("0.0.0.0", true), ("01.2.3.4", false),
        ("256.1.1.1", false), ("1.2.3", false), ("1.2.3.4.5", false), ("1..2.3", false), ("+1.2.3.4", false),
        ("1.2.3.4 ", false), ("", false),
    ])
    func ipv4Parsing(text: String, valid: Bool) {
        #expect((IPv4Address(text) != nil) == valid)
        if valid { #expect(IPv4Address(text)!.description == text) }
    }

    @Test(arguments: [
        ("::1", "::1"), ("::", "::"), ("2001:DB8::1", "2001:db8::1"), ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1"), ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"), ("1::", "1::"), ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
        ("fe80::1:2", "fe80::1:2"), ("0:0:0:0:0:0:0:0", "::"), ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
    ])
    func ipv6Canonical(text: String, canonical: String) {
        #expect(IPv6Address(text)?.description == canonical)
    }

    @Test(arguments: [
        ":1", "1:", "1:::2", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "fe80::1%eth0", "::1.2.3",
        "g::", "1:2:3:4:5:6:7:1.2.3.4", "", ":", "::ffff:01.2.3.4",
    ])
    func ipv6Invalid(text: String) {
        #expect(IPv6Address(text) == nil)
    }

    @Test func socketAddressText() {
        #expect(SocketAddress("127.0.0.1:8080")?.description == "127.0.0.1:8080")
        #expect(SocketAddress("[::1]:443")?.description == "[::1]:443")
        #expect(SocketAddress("[::ffff:10.0.0.1]:1")?.unmapped.description == "10.0.0.1:1")
        #expect(SocketAddress("1.2.3.4:65536") == nil)
        #expect(SocketAddress("::1:80") == nil)
    }
}
