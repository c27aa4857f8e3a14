// IPv6: forwarding over ::1, and a dual-stack wildcard listener serving both families.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ForwardingTests {
    @Suite("IPv6")
    struct IPv6 {
        /// Test 13: `-L tcp://[::1]:0/[::1]:<echo>` listens on ::1, forwards to ::1, and logs the
        /// client as `[::1]:port`.
        @Test func forwardsOverIPv6Loopback() throws {
            let echo = try EchoServer(address: loopbackV6AnyPort)
            let sluice = try SluiceProcess.forwarding(to: [echo.target], listen: "[::1]:0")
            #expect(sluice.listeners.first?.ip == .v6(.loopback), "listeners \(sluice.listeners)")
            let connection = try sluice.connect()
            let payload = TestData.random(count: 256 << 10, seed: 6)
            #expect(try connection.exchange(payload, expecting: payload.count) == payload)
            let client = try connection.clientAddress
            #expect(client.ip == .v6(.loopback))
            let log = try #require(
                sluice.sid(ofClient: client).map { sluice.connectionLog(sid: $0) },
                "no accept line for \(client); stderr:\n\(sluice.stderrText)")
            #expect(log.accepted?["local"]?.string == "[::1]:\(sluice.port)")
            #expect(echo.records.first?.peer?.ip == .v6(.loopback))
        }

        /// Test 13: `tcp://:0/…` listens dual-stack (`listening on [::]:PORT/tcp`) and serves both a
        /// 127.0.0.1 and a ::1 client; the IPv4 client is logged as plain IPv4, not `::ffff:`.
        @Test func wildcardListenerServesBothFamilies() throws {
            let echo = try EchoServer()
            let sluice = try SluiceProcess.forwarding(to: [echo.target], listen: ":0")
            let listening = sluice.jsonLines.first { $0["msg"]?.string?.hasPrefix("listening on ") == true }
            #expect(listening?["msg"]?.string == "listening on [::]:\(sluice.port)/tcp")

            let v4 = try TestConnection.connect(to: SocketAddress(localhost, port: sluice.port))
            #expect(try v4.echo("over IPv4"))
            let v6 = try TestConnection.connect(to: SocketAddress(.v6(.loopback), port: sluice.port))
            #expect(try v6.echo("over IPv6"))
            #expect(echo.acceptedCount == 2)

            let v4Client = try v4.clientAddress
            let v4SID = try #require(sluice.sid(ofClient: v4Client), "stderr:\n\(sluice.stderrText)")
            #expect(sluice.connectionLog(sid: v4SID).accepted?["remote"]?.string == v4Client.description)
            let v6SID = try #require(sluice.sid(ofClient: try v6.clientAddress), "stderr:\n\(sluice.stderrText)")
            #expect(v6SID != v4SID)
        }
    }
}
