// Target selection across several targets: round-robin, fifo and random.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ForwardingTests {
    @Suite("Target selection")
    struct Selection {
        /// Opens `count` connections one after another, each sending `conn <i>`, and waits until a
        /// target has recorded each before opening the next.
        static func connectSequentially(
            _ count: Int, through sluice: SluiceProcess, to servers: [RecordingServer]
        ) throws {
            for i in 0..<count {
                let connection = try sluice.connect()
                try connection.sendAll("conn \(i)\n")
                let recorded = waitUntil(timeout: .seconds(10)) {
                    servers.reduce(0) { total, server in total + server.connections.filter { !$0.isEmpty }.count }
                        == i + 1
                }
                #expect(recorded, "connection \(i) reached no target")
                connection.close()
            }
        }

        /// The connection numbers each server recorded.
        static func connectionNumbers(_ server: RecordingServer) -> [Int] {
            server.connections.compactMap { bytes in
                Int(String(decoding: bytes, as: UTF8.self).dropFirst(5).prefix { $0 != "\n" })
            }
        }

        /// Test 7: 30 sequential connections over 3 targets with `strategy=round`: 10 each, and
        /// each target gets every third connection. Run with one and with two reactor threads
        /// (the rotation must be shared by all reactors).
        @Test(arguments: [1, 2])
        func roundRobinSpreadsEvenly(threads: Int) throws {
            let servers = try (0..<3).map { _ in try RecordingServer() }
            let sluice = try SluiceProcess.forwarding(
                to: servers.map(\.target), query: "strategy=round", flags: ["-threads", "\(threads)"])
            try Self.connectSequentially(30, through: sluice, to: servers)
            #expect(servers.map(\.acceptedCount) == [10, 10, 10])
            for (k, server) in servers.enumerated() {
                let residues = Set(Self.connectionNumbers(server).map { $0 % 3 })
                #expect(residues.count == 1, "target-\(k) got connections \(Self.connectionNumbers(server))")
            }
        }

        /// `strategy=fifo`: every connection goes to the first target while it is healthy.
        @Test func fifoUsesTheFirstTarget() throws {
            let servers = try (0..<3).map { _ in try RecordingServer() }
            let sluice = try SluiceProcess.forwarding(to: servers.map(\.target), query: "strategy=fifo")
            try Self.connectSequentially(9, through: sluice, to: servers)
            #expect(servers.map(\.acceptedCount) == [9, 0, 0])
        }

        /// `strategy=random`: over 30 connections every target is used (a miss has probability
        /// 3 × (2/3)^30 ≈ 1.6e-5).
        @Test func randomUsesEveryTarget() throws {
            let servers = try (0..<3).map { _ in try RecordingServer() }
            let sluice = try SluiceProcess.forwarding(to: servers.map(\.target), query: "strategy=random")
            try Self.connectSequentially(30, through: sluice, to: servers)
            #expect(servers.allSatisfy { $0.acceptedCount > 0 }, "\(servers.map(\.acceptedCount))")
            #expect(servers.reduce(0) { $0 + $1.acceptedCount } == 30)
        }
    }
}
