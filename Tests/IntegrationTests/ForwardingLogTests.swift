// The JSON log lines: every line is JSON with sorted keys, and one connection's accept,
// connected, relay-end and close lines carry GOST's fields and byte counts.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ForwardingTests {
    @Suite("Log lines")
    struct Logs {
        /// Checks the fields every handler line of a forwarded connection carries.
        static func expectHandlerFields(_ line: JSONValue?, client: String, local: String, sid: String, _ name: String)
        {
            guard let line else {
                Issue.record("missing \(name) line")
                return
            }
            #expect(line["kind"]?.string == "handler", "\(name): \(line)")
            #expect(line["handler"]?.string == "tcp", "\(name): \(line)")
            #expect(line["listener"]?.string == "tcp", "\(name): \(line)")
            #expect(line["service"]?.string == "service-0", "\(name): \(line)")
            #expect(line["level"]?.string == "info", "\(name): \(line)")
            #expect(line["sid"]?.string == sid, "\(name): \(line)")
            #expect(line["remote"]?.string == client, "\(name): \(line)")
            #expect(line["client"]?.string == client, "\(name): `client` is `remote` without PROXY: \(line)")
            #expect(line["local"]?.string == local, "\(name): \(line)")
            #expect(line["network"]?.string == "tcp", "\(name): \(line)")
        }

        /// Test 11: one connection that sends 3,000 bytes, half-closes and receives a 5,000-byte
        /// reply. Every stderr line is JSON with sorted keys and a timestamp; the four lines of the
        /// connection share a 20-character sid, come in order, and the close line counts
        /// `inputBytes` 3000 (from the client) and `outputBytes` 5000 (to the client).
        @Test func connectionLinesCarryGOSTFieldsAndByteCounts() throws {
            let target = try HalfCloseServer(replyCount: 5000)
            let sluice = try SluiceProcess.forwarding(to: [target.target])
            let listenerPort = sluice.port
            let connection = try sluice.connect()
            let clientAddress = try connection.clientAddress
            let client = clientAddress.description
            try connection.sendAll(TestData.random(count: 3000, seed: 31))
            try connection.shutdownWrite()
            #expect(try connection.checksumUntilEOF() == target.pattern.checksum(count: 5000))
            connection.close()

            let log = try #require(
                sluice.closedConnectionLog(client: clientAddress),
                "no accept/close lines for \(client); stderr:\n\(sluice.stderrText)")
            let local = "127.0.0.1:\(listenerPort)"
            let targetAddress = target.target
            let sid = log.sid
            #expect(sid.count == 20 && sid.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }, "sid \(sid)")

            Self.expectHandlerFields(log.accepted, client: client, local: local, sid: sid, "accept")
            #expect(log.accepted?["msg"]?.string == "\(client) <> \(local)")

            Self.expectHandlerFields(log.connected, client: client, local: local, sid: sid, "connected")
            #expect(log.connected?["msg"]?.string == "\(client) <-> \(targetAddress)")
            #expect(log.connected?["node"]?.string == "target-0")
            #expect(log.connected?["dst"]?.string == targetAddress)
            // `src` is sluice's upstream socket: exactly the peer address the target saw.
            #expect(log.connected?["src"]?.string == target.records.first?.peer?.description)

            Self.expectHandlerFields(log.relayEnded, client: client, local: local, sid: sid, "relay end")
            #expect(log.relayEnded?["msg"]?.string == "\(client) >-< \(targetAddress)")
            #expect((log.relayEnded?["duration"]?.int ?? -1) >= 0, "relay end: \(String(describing: log.relayEnded))")

            Self.expectHandlerFields(log.closed, client: client, local: local, sid: sid, "close")
            #expect(log.closed?["msg"]?.string == "\(client) >< \(local)")
            #expect((log.closed?["duration"]?.int ?? -1) > 0, "close: \(String(describing: log.closed))")
            #expect(log.closed?["duration"].map { if case .int = $0 { true } else { false } } == true)
            #expect(log.closed?["inputBytes"]?.int == 3000)
            #expect(log.closed?["outputBytes"]?.int == 5000)

            let order = [log.accepted, log.connected, log.relayEnded, log.closed].map { log.position(of: $0) ?? -1 }
            #expect(order == order.sorted() && Set(order).count == 4 && !order.contains(-1), "line order \(order)")

            for line in sluice.logLines {
                #expect(line.json != nil, "not JSON (\(line.jsonError.map(\.description) ?? "")): \(line.text)")
                guard let object = line.json?.object else { continue }
                #expect(object.keysAreSorted, "keys not sorted: \(line.text)")
                #expect(line.json?["time"]?.string.map(isLogTimestamp) == true, "time: \(line.text)")
                #expect(line.json?["level"]?.string != nil && line.json?["msg"]?.string != nil, "\(line.text)")
            }
        }

        /// The listening line of each service, and the `service-<i>` naming of several `-L`.
        @Test func listeningLinesNameEachService() throws {
            let first = try EchoServer()
            let second = try EchoServer()
            let sluice = try SluiceProcess.start(
                [
                    "-L", forwardURL(to: [first.target]), "-L", forwardURL(to: [second.target]),
                ], expectListeners: 2)
            let listening = sluice.jsonLines.filter { $0["msg"]?.string?.hasPrefix("listening on ") == true }
            #expect(listening.count == 2)
            for (i, line) in listening.enumerated() {
                #expect(line["msg"]?.string == "listening on 127.0.0.1:\(sluice.ports[i])/tcp")
                #expect(line["service"]?.string == "service-\(i)")
                #expect(line["kind"]?.string == "service")
                #expect(line["level"]?.string == "info")
                #expect(line["listener"]?.string == "tcp")
                #expect(line["handler"]?.string == "tcp")
            }
            let connection = try sluice.connect(1)
            #expect(try connection.echo("to the second"))
            #expect(second.acceptedCount == 1 && first.acceptedCount == 0)
            let sid = try #require(sluice.sid(ofClient: try connection.clientAddress))
            #expect(sluice.lines(sid: sid).first?["service"]?.string == "service-1")
        }
    }
}
