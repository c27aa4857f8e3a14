// Self-tests of the TestSupport library on its own (no sluice binary): servers, clients, the black
// hole, data and checksums, and the process runner. Run with `swift test --filter TestSupport`.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration {
    @Suite("TestSupport self-tests: servers and clients", .timeLimit(.minutes(2)))
    struct TestSupportServerSelfTests {
        @Test func echoServerServes200ConcurrentClients() throws {
            let echo = try EchoServer()
            defer { echo.stop() }
            let address = echo.address
            try concurrently(count: 200, threads: 200) { i in
                let connection = try TestConnection.connect(to: address)
                let data = TestData.random(count: 64 << 10, seed: UInt64(i))
                let back = try connection.exchange(data, expecting: data.count)
                guard Checksum(back) == Checksum(data) else {
                    throw TestSupportError("echo \(i)", detail: "got \(Checksum(back)), sent \(Checksum(data))")
                }
            }
            #expect(echo.acceptedCount == 200)
        }

        /// 1,000 connections open at once, every echo intact (a failure or a socket timeout
        /// throws), every connection closed afterwards.
        @Test func echoLoadOf1000ConnectionsCompletes() throws {
            let echo = try EchoServer()
            let result = try runEchoLoad(to: echo.address, connections: 1000, bytesEach: 64 << 10)
            #expect(result.connections == 1000)
            #expect(echo.acceptedCount == 1000)
            #expect(echo.waitForClosed(1000, timeout: .seconds(30)))
        }

        @Test func echoServerFinishesEchoingAfterClientHalfClose() throws {
            let echo = try EchoServer()
            let connection = try TestConnection.connect(to: echo.address)
            let data = TestData.random(count: 1 << 20, seed: 7)
            try connection.sendAll(data)
            try connection.shutdownWrite()
            let back = try connection.receiveUntilEOF()
            #expect(back == data)
            #expect(echo.waitForClosed(1))
            #expect(echo.records.first?.sawEOF == true)
        }

        @Test func recordingServerRecordsAndReplies() throws {
            let onAccept = try RecordingServer(reply: Array("220 hello\r\n".utf8))
            let first = try TestConnection.connect(to: onAccept.address)
            #expect(try first.receive(exactly: 11) == Array("220 hello\r\n".utf8))
            try first.sendAll("abc")
            try first.sendAll("def")
            try first.shutdownWrite()
            #expect(first.waitForClose(timeout: .seconds(5)) == .eof)
            #expect(onAccept.waitForClosed(1))
            #expect(onAccept.connections == [Array("abcdef".utf8)])

            let afterBytes = try RecordingServer(reply: Array("pong".utf8), replyWhen: .afterFirstBytes)
            let second = try TestConnection.connect(to: afterBytes.address)
            // Nothing before the first bytes, once the server has handled the accept.
            #expect(afterBytes.acceptedCountOnceSettled() == 1)
            #expect(second.waitForClose(timeout: .zero) == .timeout)
            try second.sendAll("ping")
            #expect(try second.receive(exactly: 4) == Array("pong".utf8))
            #expect(afterBytes.waitForBytes(4) == Array("ping".utf8))
            #expect(afterBytes.acceptedCount == 1)
        }

        @Test func halfCloseServerRepliesAfterEOF() throws {
            let server = try HalfCloseServer(replyCount: 1 << 20)
            let connection = try TestConnection.connect(to: server.address)
            let request = TestData.random(count: 1 << 20, seed: 11)
            try connection.sendAll(request)
            // No reply before EOF, once the server has read all the request.
            #expect(waitUntil(timeout: .seconds(10)) { server.records.first?.bytesReceived == request.count })
            #expect(connection.waitForClose(timeout: .zero) == .timeout)
            try connection.shutdownWrite()
            let reply = try connection.checksumUntilEOF()
            #expect(reply == server.pattern.checksum(count: 1 << 20))
            #expect(server.waitForClosed(1))
            #expect(server.records.first?.received == Checksum(request))
        }

        @Test func senderServerSendsPatternThenCloses() throws {
            let count = 8 << 20
            let sender = try SenderServer(count: count, seed: 5)
            let connection = try TestConnection.connect(to: sender.address)
            var offset = 0
            var intact = true
            var sum = Checksum()
            while true {
                let chunk = try connection.receive(upTo: 100_003)
                if chunk.isEmpty { break }
                intact = intact && chunk.withUnsafeBytes { sender.pattern.matches($0, at: offset) }
                sum.update(chunk)
                offset += chunk.count
            }
            #expect(offset == count)
            #expect(intact)
            #expect(sum == sender.pattern.checksum(count: count))
        }

        @Test func senderServerHalfClosesAndKeepsReading() throws {
            let sender = try SenderServer(count: 1 << 20, seed: 6, then: .shutdownWriteAndRead)
            let connection = try TestConnection.connect(to: sender.address)
            #expect(try connection.checksumUntilEOF() == sender.pattern.checksum(count: 1 << 20))
            let upload = TestData.random(count: 1 << 20, seed: 12)
            try connection.sendAll(upload)
            try connection.shutdownWrite()
            #expect(sender.waitForClosed(1))
            #expect(sender.records.first?.received == Checksum(upload))
        }

        @Test func sinkServerCounts() throws {
            let sink = try SinkServer()
            let connection = try TestConnection.connect(to: sink.address)
            try connection.send(DataPattern(seed: 1), count: 3 << 20)
            connection.close()
            #expect(sink.waitForClosed(1))
            #expect(sink.totalReceived == 3 << 20)
        }

        @Test func resetServerSendsThenResets() throws {
            let server = try ResetServer(count: 10_000)
            let connection = try TestConnection.connect(to: server.address)
            // The RST is out (behind the data) once the server has closed its end.
            #expect(server.waitForClosed(1, timeout: .seconds(10)))
            let data = try connection.receive(exactly: 10_000)
            #expect(data == server.pattern.bytes(count: 10_000))
            #expect(connection.waitForClose(timeout: .seconds(10)) == .reset(.connectionReset))
        }

        @Test func blackHoleHangsConnectForAtLeastOneSecond() throws {
            let hole = try SilentServer()
            defer { hole.stop() }
            let started = Monotonic.now
            var failure: TestSupportError?
            do {
                _ = try TestConnection.connect(to: hole.address, timeout: .milliseconds(1500))
            } catch let error as TestSupportError {
                failure = error
            }
            let elapsed = started.elapsedSeconds
            #expect(failure?.isTimeout == true, "connect should time out, got \(String(describing: failure))")
            #expect(elapsed >= 1.0, "connect gave up after \(elapsed) s")
        }

        /// Refused at once: well before the connect's 10 s timeout.
        @Test func closedPortRefusesPromptly() throws {
            let closed = try ClosedPort()
            let started = Monotonic.now
            #expect {
                _ = try TestConnection.connect(to: closed.address, timeout: .seconds(10))
            } throws: { ($0 as? TestSupportError)?.errno == .connectionRefused }
            #expect(TimingBound.isWellBefore(started.elapsedSeconds, deadline: 10))
        }

        @Test func serversListenOnIPv6Loopback() throws {
            let echo = try EchoServer(address: loopbackV6AnyPort)
            #expect(echo.target.hasPrefix("[::1]:"))
            let connection = try TestConnection.connect(to: echo.address)
            #expect(try connection.exchange(Array("six".utf8), expecting: 3) == Array("six".utf8))
        }

        @Test func clientBindsSourceAddress() throws {
            let echo = try EchoServer()
            let connection = try TestConnection.connect(to: echo.address, from: .v4(IPv4Address(127, 0, 0, 2)))
            #expect(connection.localAddress?.ip == .v4(IPv4Address(127, 0, 0, 2)))
            #expect(echo.waitForAccepted(1))
            #expect(echo.records.first?.peer?.ip == .v4(IPv4Address(127, 0, 0, 2)))
        }

        /// The kernel's socket table lists a listener with its accept queue, and whose it is.
        @Test func socketTableSeesListenersAndTheirQueues() throws {
            let holder = try PortHolder()  // listens, never accepts
            let clients = try (0..<3).map { _ in try TestConnection.connect(to: holder.address) }
            let listening = try SocketTable.listeners(port: holder.port)
            #expect(listening.count == 1)
            #expect(listening.first?.acceptQueue == clients.count)
            #expect(FreePorts.areListening([holder.port], heldBy: getpid()))
            let other = try BackgroundProcess("/bin/sleep", ["30"])
            #expect(!FreePorts.areListening([holder.port], heldBy: other.pid), "the port is this process's")
            holder.close()
            #expect(try SocketTable.listeners(port: holder.port).isEmpty)
        }

        /// A server's accepted count once settled counts a connection the moment `connect`
        /// returns, with no wait in between.
        @Test func acceptedCountOnceSettledCountsFreshConnections() throws {
            let server = try RecordingServer()
            #expect(server.acceptedCountOnceSettled() == 0)
            let clients = try (0..<3).map { _ in try TestConnection.connect(to: server.address) }
            #expect(server.acceptedCountOnceSettled() == clients.count)
        }

        @Test func concurrentlyReportsFailures() {
            #expect(throws: ConcurrentFailures.self) {
                try concurrently(count: 10, threads: 3) { i in
                    if i % 4 == 0 { throw TestSupportError("job \(i)") }
                }
            }
            let counter = AtomicCounter()
            #expect(throws: Never.self) { try concurrently(count: 100, threads: 7) { _ in counter.add() } }
            #expect(counter.value == 100)
        }
    }
}

extension Integration {
    @Suite("TestSupport self-tests: data")
    struct TestSupportDataSelfTests {
        @Test func splitMixMatchesReferenceOutput() {
            var generator = SplitMix64(seed: 0)
            #expect(generator.next() == 0xE220_A839_7B1D_CDAF)
            #expect(generator.next() == 0x6E78_9E6A_A1B9_65F4)
            #expect(TestData.random(count: 1000, seed: 9) == TestData.random(count: 1000, seed: 9))
            #expect(TestData.random(count: 1000, seed: 9) != TestData.random(count: 1000, seed: 10))
        }

        @Test func checksumIgnoresChunkingButSeesChanges() {
            let data = TestData.random(count: 100_001, seed: 3)
            var chunked = Checksum()
            var offset = 0
            var step = 1
            while offset < data.count {
                let end = min(data.count, offset + step)
                chunked.update(Array(data[offset..<end]))
                offset = end
                step = step * 3 % 9_973 + 1
            }
            #expect(chunked == Checksum(data))
            var flipped = data
            flipped[77_777] ^= 0x10
            #expect(Checksum(flipped) != Checksum(data))
            #expect(Checksum(Array(data.dropLast())) != Checksum(data))
            #expect(Checksum([0, 0]) != Checksum([0]))
        }

        @Test func patternIsConsistentAcrossOffsets() {
            let pattern = DataPattern(seed: 4)
            let long = pattern.bytes(count: DataPattern.blockLength * 2 + 100)
            let slice = pattern.bytes(from: DataPattern.blockLength - 50, count: 200)
            #expect(Array(long[(DataPattern.blockLength - 50)..<(DataPattern.blockLength + 150)]) == slice)
            #expect(slice.withUnsafeBytes { pattern.matches($0, at: DataPattern.blockLength - 50) })
            #expect(!slice.withUnsafeBytes { pattern.matches($0, at: DataPattern.blockLength - 49) })
            #expect(pattern.checksum(count: long.count) == Checksum(long))
        }
    }
}
