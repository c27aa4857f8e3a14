// Forwarding integrity: bulk bytes both ways arrive intact, and half-close works in both
// directions.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ForwardingTests {
    @Suite("Integrity and half-close")
    struct Integrity {
        /// Test 1: 32 MiB of random bytes go out while the echo comes back on another thread; both
        /// the target and the client see exactly the bytes sent.
        /// Both relay paths: buffered copies (the default) and splice through pooled pipes.
        @Test(arguments: ["", "splice=true"])
        func thirtyTwoMiBEachWayArriveIntact(query: String) throws {
            let echo = try EchoServer()
            let sluice = try SluiceProcess.forwarding(to: [echo.target], query: query)
            let inheritedPipes = ProcFS.pipeCount(pid: sluice.pid)  // whatever the test runner passed down
            let connection = try sluice.connect(timeout: .seconds(30))
            let data = TestData.random(count: 32 << 20, seed: 2024)
            let sent = Checksum(data)
            let sendFailure = Locked<String?>(nil)
            let sender = TestThread.spawn {
                do { try connection.sendAll(data) } catch { sendFailure.set("\(error)") }
            }
            defer {
                connection.shutdown()  // unblocks the sender if receiving failed
                sender.join()
            }
            // The splice path leases pipes from its pool while bytes are in flight (and trims them
            // once the pool has been idle for a while); the default, buffered path never creates
            // one. So the pipes are counted while the transfer runs: after each MiB received.
            var received = Checksum()
            var mostPipes = 0
            var nextLook = 0
            try connection.receiveStream(exactly: data.count) { chunk in
                received.update(chunk)
                if received.count >= nextLook {
                    mostPipes = max(mostPipes, ProcFS.pipeCount(pid: sluice.pid) - inheritedPipes)
                    nextLook += 1 << 20
                }
            }
            sender.join()
            #expect(sendFailure.value == nil)
            #expect(received == sent, "client got \(received), sent \(sent)")
            #expect(
                echo.records.first?.received == sent, "target got \(String(describing: echo.records.first?.received))")
            if query.isEmpty {
                #expect(mostPipes == 0, "the buffered path held \(mostPipes) pipe ends")
            } else {
                #expect(mostPipes > 0, "the splice path held no pipe during the transfer")
            }
        }

        /// Test 2a: the client sends, then half-closes; the target replies only after EOF, and the
        /// client still gets the whole reply, then EOF.
        @Test(arguments: ["", "splice=true"])
        func clientHalfCloseStillGetsTheWholeReply(query: String) throws {
            let target = try HalfCloseServer(replyCount: 1 << 20)
            let sluice = try SluiceProcess.forwarding(to: [target.target], query: query)
            let connection = try sluice.connect()
            let request = TestData.random(count: 1 << 20, seed: 21)
            try connection.sendAll(request)
            try connection.shutdownWrite()
            let reply = try connection.checksumUntilEOF()  // ends at EOF, so the FIN came through
            #expect(reply == target.pattern.checksum(count: 1 << 20), "reply \(reply)")
            #expect(target.waitForClosed(1))
            #expect(target.records.first?.sawEOF == true)
            #expect(target.records.first?.received == Checksum(request))
        }

        /// Test 2b (mirror): the target sends, then half-closes but keeps reading; the client
        /// reads to EOF, then sends, and the target receives every byte.
        @Test func targetHalfCloseStillReceivesTheClientsBytes() throws {
            let target = try SenderServer(count: 1 << 20, seed: 22, then: .shutdownWriteAndRead)
            let sluice = try SluiceProcess.forwarding(to: [target.target])
            let connection = try sluice.connect()
            #expect(try connection.checksumUntilEOF() == target.pattern.checksum(count: 1 << 20))
            let upload = TestData.random(count: 1 << 20, seed: 23)
            try connection.sendAll(upload)
            try connection.shutdownWrite()
            #expect(target.waitForClosed(1), "the target never saw the client's EOF")
            #expect(target.records.first?.received == Checksum(upload))
        }
    }
}
