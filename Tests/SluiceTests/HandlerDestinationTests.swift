import Testing

// Tests for Destination: authority parsing (names, IPv4, bracketed IPv6, default and empty ports), the
// host-name rule that keeps inet_aton forms away from getaddrinfo, text forms and endpoint comparison.
@testable import Sluice

private func parse(_ text: String, defaultPort: UInt16? = nil) -> Destination? {
    Array(text.utf8).withUnsafeBytes { Destination(authority: $0, defaultPort: defaultPort) }
}

@Suite struct HandlerDestinationTests {
    @Test(arguments: [
        ("example.com:443", nil as UInt16?, "example.com", UInt16(443), false, "example.com:443"),
        ("Example.COM:1", nil, "Example.COM", 1, false, "Example.COM:1"),
        ("a-b_c.d.:65535", nil, "a-b_c.d.", 65535, false, "a-b_c.d.:65535"),
        ("192.0.2.1:80", nil, "192.0.2.1", 80, true, "192.0.2.1:80"),
        ("[2001:DB8::1]:8443", nil, "2001:db8::1", 8443, true, "[2001:db8::1]:8443"),
        ("[::ffff:1.2.3.4]:5", nil, "::ffff:1.2.3.4", 5, true, "[::ffff:1.2.3.4]:5"),
        ("example.com", 80, "example.com", 80, false, "example.com:80"),
        ("example.com:", 80, "example.com", 80, false, "example.com:80"),
        ("[::1]", 80, "::1", 80, true, "[::1]:80"),
        ("10.0.0.1", 3128, "10.0.0.1", 3128, true, "10.0.0.1:3128"),
        ("host:0", nil, "host", 0, false, "host:0"),
        ("host:00080", nil, "host", 80, false, "host:80"),
        ("1e100.net:80", nil, "1e100.net", 80, false, "1e100.net:80"),
    ])
    func parsesAuthorities(
        text: String, defaultPort: UInt16?, host: String, port: UInt16, literal: Bool, formatted: String
    ) throws {
        let destination = try #require(parse(text, defaultPort: defaultPort))
        #expect(destination.host == host)
        #expect(destination.port == port)
        #expect((destination.address != nil) == literal)
        #expect(destination.text == formatted)
        #expect(Destination(formatted) == destination)
    }

    @Test(arguments: [
        "", ":80", "example.com", "example.com:", "example.com:65536", "example.com:123456", "example.com:-1",
        "example.com:8a", "exa mple.com:80", "exa/mple:80", "user@host:80", "::1:80", "[::1]x:80", "[::1:80",
        "[fe80::1%eth0]:80", "[1.2.3.4]:80", "[]:80", "127.1:80", "2130706433:80", "0x7f.1:80", "0X7F000001:80",
        "a..1:80", ".:80", "h\u{e9}.com:80", String(repeating: "a", count: 256) + ":80",
    ])
    func refusesMalformedAuthorities(text: String) {
        #expect(parse(text) == nil)
    }

    @Test func noDefaultPortMeansThePortIsRequired() {
        #expect(parse("example.com") == nil)
        #expect(parse("[::1]") == nil)
        #expect(Destination("example.com") == nil)
    }

    @Test func hostInitialiserTakesLiteralsAndNames() throws {
        let v6 = try #require(Destination(host: "2001:db8::0:1", port: 22))
        #expect(v6.address == SocketAddress("[2001:db8::1]:22"))
        #expect(v6.text == "[2001:db8::1]:22")
        #expect(Destination(host: "[::1]", port: 1) == nil)
        #expect(Destination(host: "", port: 1) == nil)
        #expect(Destination(host: String(repeating: "a", count: 255), port: 1) != nil)
        let v4 = Destination(SocketAddress("10.1.2.3:4")!)
        #expect(v4.host == "10.1.2.3" && v4.port == 4 && v4.description == "10.1.2.3:4")
    }

    @Test(arguments: [
        ("a.example:80", "A.EXAMPLE:80", true), ("a.example:80", "a.example:81", false),
        ("a.example:80", "b.example:80", false), ("10.0.0.1:80", "10.0.0.1:80", true),
        ("[::1]:80", "[0::1]:80", true), ("10.0.0.1:80", "10.0.0.2:80", false),
        ("localhost:80", "127.0.0.1:80", false),
    ])
    func sameEndpoint(a: String, b: String, same: Bool) {
        #expect(Destination(a)!.isSameEndpoint(as: Destination(b)!) == same)
        #expect(Destination(b)!.isSameEndpoint(as: Destination(a)!) == same)
    }
}
