// Tests for CIDR parsing and membership (IPv4, IPv6, IPv4-mapped IPv6).
import Sluice
import Testing

@Suite struct ConfigCIDRTests {
    @Test(arguments: [
        ("10.0.0.0/8", "10.0.0.0/8"), ("10.1.2.3/8", "10.0.0.0/8"), ("127.0.0.1", "127.0.0.1/32"), ("::1", "::1/128"),
        ("fd00::/8", "fd00::/8"), ("fd12:3456::1/16", "fd12::/16"), ("0.0.0.0/0", "0.0.0.0/0"), ("::/0", "::/0"),
        ("::ffff:10.0.0.0/104", "10.0.0.0/8"), ("::ffff:192.0.2.1", "192.0.2.1/32"), ("192.0.2.0/24", "192.0.2.0/24"),
    ])
    func parsesAndNormalises(text: String, canonical: String) {
        #expect(CIDR(text)?.description == canonical)
    }

    @Test(arguments: [
        "", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/08", "10.0.0/8", "example.com/8", "/8",
        "10.0.0.0/8/8", "fe80::1%eth0", "10.0.0.0/ 8", "1.2.3.4/1000",
    ])
    func rejects(text: String) {
        #expect(CIDR(text) == nil)
    }

    @Test(arguments: [
        ("10.0.0.0/8", "10.255.1.2", true), ("10.0.0.0/8", "11.0.0.1", false), ("10.0.0.0/8", "::ffff:10.1.2.3", true),
        ("10.0.0.0/8", "::ffff:11.1.2.3", false), ("127.0.0.1", "127.0.0.1", true), ("127.0.0.1", "127.0.0.2", false),
        ("127.0.0.1", "::ffff:127.0.0.1", true), ("0.0.0.0/0", "203.0.113.9", true), ("0.0.0.0/0", "::1", false),
        ("::1", "::1", true), ("::1", "::2", false), ("::1", "127.0.0.1", false), ("fd00::/8", "fd12:3456::1", true),
        ("fd00::/8", "fe80::1", false), ("2001:db8::/33", "2001:db8:7fff::1", true),
        ("2001:db8::/33", "2001:db8:8000::1", false), ("2001:db8:0:0:8000::/65", "2001:db8::8000:0:0:1", true),
        ("2001:db8:0:0:8000::/65", "2001:db8::7fff:0:0:1", false), ("::/0", "fe80::1", true),
        ("::/0", "192.0.2.1", false), ("::/0", "::ffff:192.0.2.1", false), ("::ffff:10.0.0.0/104", "10.9.9.9", true),
        ("::ffff:10.0.0.0/104", "::ffff:10.9.9.9", true), ("192.0.2.1/32", "192.0.2.1", true),
    ])
    func contains(cidr: String, ip: String, expected: Bool) throws {
        let network = try #require(CIDR(cidr))
        let address = try #require(IPAddress(ip))
        #expect(network.contains(address) == expected)
    }
}
