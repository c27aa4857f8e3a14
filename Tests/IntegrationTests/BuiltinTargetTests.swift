// Integration tests for the built-in load-test targets through the binary: echo (bulk bytes both
// ways, a reader that stops reading, half-close), discard (and its reply sizes), and each target
// behind a forwarder of the same process. The info line's content has its own file.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration {
    @Suite("Built-in targets: echo, discard, info", .timeLimit(.minutes(5)))
    struct BuiltinTargetTests {}
}

extension SluiceProcess {
    /// Sluice running one service per `-L` URL, started once every listener is up.
    static func services(_ urls: [String], flags: [String] = []) throws -> SluiceProcess {
        try start(flags + urls.flatMap { ["-L", $0] }, expectListeners: urls.count)
    }
}

/// A loopback port nobody listens on now: bound, then released (the tests run one at a time), for a
/// forwarder whose target is another service of the same process.
func unusedLoopbackPort() throws -> UInt16 {
    let holder = try PortHolder()
    defer { holder.close() }
    return holder.port
}

/// The close line (`R >< L`) of the connection from `client`, waiting for it.
func closeLine(_ sluice: SluiceProcess, client: SocketAddress) throws -> JSONValue {
    let log = try #require(sluice.closedConnectionLog(client: client), "no close line for \(client)")
    return try #require(log.closed)
}

extension Integration.BuiltinTargetTests {
    @Suite("echo and discard")
    struct EchoDiscard {
        /// 32 MiB of random bytes go out while the echo comes back on another thread; the client gets
        /// exactly what it sent, then EOF, and the close line counts both ways. Both relay paths: the
        /// copy through the scratch buffer (default) and splice through a pooled pipe.
        @Test(arguments: ["", "?handler.splice=true"])
        func echoReturnsThirtyTwoMiBIntact(query: String) throws {
            let sluice = try SluiceProcess.services(["echo://127.0.0.1:0" + query])
            let connection = try sluice.connect(timeout: .seconds(60))
            let client = try #require(connection.localAddress)
            let data = TestData.random(count: 32 << 20, seed: 7000)
            let sendFailure = Locked<String?>(nil)
            let sender = TestThread.spawn {
                do {
                    try connection.sendAll(data)
                    try connection.shutdownWrite()
                } catch {
                    sendFailure.set("\(error)")
                }
            }
            defer {
                connection.shutdown()  // unblocks the sender if receiving failed
                sender.join()
            }
            var received = Checksum()
            try connection.receiveStream(exactly: data.count) { received.update($0) }
            #expect(try connection.receiveUntilEOF().isEmpty, "more than was sent came back")
            sender.join()
            #expect(sendFailure.value == nil)
            #expect(received == Checksum(data))
            let closed = try closeLine(sluice, client: client)
            #expect(closed["handler"]?.string == "echo" && closed["kind"]?.string == "handler")
            #expect(closed["inputBytes"]?.int == 32 << 20 && closed["outputBytes"]?.int == 32 << 20)
            #expect(closed["reason"]?.string == "done")
            #expect(closed["msg"]?.string == "\(client) >< 127.0.0.1:\(sluice.port)")
            let accepted = sluice.connectionLog(sid: closed["sid"]?.string ?? "").accepted
            #expect(accepted?["msg"]?.string == "\(client) <> 127.0.0.1:\(sluice.port)")
        }

        /// A client that sends 100 MiB and reads nothing: once the socket buffers are full Sluice
        /// stops reading (it holds at most one buffer), so the sender blocks and Sluice's memory
        /// stays flat. When the client reads, every byte comes back in order.
        @Test func readerThatStopsReadingKeepsMemoryBounded() throws {
            let total = 100 << 20
            let sluice = try SluiceProcess.services(["echo://127.0.0.1:0"])
            // Warm up the buffer pool and the allocator, so the baseline is the steady state.
            let warm = try sluice.connect()
            let warmData = TestData.random(count: 1 << 20, seed: 1)
            #expect(try warm.exchange(warmData, expecting: warmData.count) == warmData)
            warm.close()
            #expect(sluice.waitUntilQuiet())
            let baseline = try #require(sluice.rssKiB())

            let connection = try sluice.connect(timeout: .seconds(120))
            let pattern = DataPattern(seed: 100)
            let sent = AtomicCounter()
            let sendFailure = Locked<String?>(nil)
            let sender = TestThread.spawn {
                do {
                    var chunk = [UInt8](repeating: 0, count: 64 << 10)
                    var offset = 0
                    while offset < total {
                        let run = min(chunk.count, total - offset)
                        try chunk.withUnsafeMutableBytes { raw in
                            let part = UnsafeMutableRawBufferPointer(rebasing: raw[0..<run])
                            pattern.fill(part, from: offset)
                            try connection.sendAll(UnsafeRawBufferPointer(part))
                        }
                        offset += run
                        _ = sent.add(run)
                    }
                    try connection.shutdownWrite()
                } catch {
                    sendFailure.set("\(error)")
                }
            }
            defer {
                connection.shutdown()
                sender.join()
            }
            // Stalled: Sluice asleep (not reading) while the sender's count stands still.
            let stalled = waitUntil(timeout: .seconds(60), interval: .milliseconds(20)) {
                let before = sent.value
                return before > 0 && sluice.process.waitUntilQuiet(window: .milliseconds(200)) && sent.value == before
            }
            #expect(stalled, "the sender never blocked (sent \(sent.value) bytes)")
            #expect(sent.value < total, "Sluice took all \(total) bytes from a client that read none")
            let stalledRSS = try #require(sluice.rssKiB())
            #expect(stalledRSS - baseline < 16 << 10, "RSS grew from \(baseline) to \(stalledRSS) KiB")

            var received = Checksum()
            try connection.receiveStream(exactly: total) { received.update($0) }
            #expect(try connection.receiveUntilEOF().isEmpty)
            sender.join()
            #expect(sendFailure.value == nil)
            #expect(received == pattern.checksum(count: total))
            let peak = try #require(ProcFS.peakRSSKiB(pid: sluice.pid))
            #expect(peak - baseline < 16 << 10, "peak RSS \(peak) KiB, baseline \(baseline) KiB")
        }

        /// Half-close: the client sends 4 MiB and shuts its write side; it gets all 4 MiB back, then
        /// EOF, and the close line says `done`.
        @Test func echoHonoursHalfClose() throws {
            let sluice = try SluiceProcess.services(["echo://127.0.0.1:0"])
            let connection = try sluice.connect(timeout: .seconds(30))
            let client = try #require(connection.localAddress)
            let data = TestData.random(count: 4 << 20, seed: 4)
            let sender = TestThread.spawn {
                try? connection.sendAll(data)
                try? connection.shutdownWrite()
            }
            defer {
                connection.shutdown()
                sender.join()
            }
            let back = try connection.receiveUntilEOF()  // returns at EOF: the FIN came after the bytes
            sender.join()
            #expect(back.count == data.count && back == data)
            let closed = try closeLine(sluice, client: client)
            #expect(closed["reason"]?.string == "done" && closed["outputBytes"]?.int == 4 << 20)
        }

        /// Bytes that follow a PROXY header in the same write are echoed; the header is not (and is
        /// not counted in `inputBytes`, as in GOST).
        @Test func echoAfterAProxyHeader() throws {
            let sluice = try SluiceProcess.services(["echo://127.0.0.1:0?proxyProtocol=1"])
            let connection = try sluice.connect()
            let client = try #require(connection.localAddress)
            try connection.sendAll(ascii("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nhello"))
            #expect(try connection.receive(exactly: 5) == ascii("hello"))
            try connection.shutdownWrite()
            #expect(try connection.receiveUntilEOF().isEmpty)
            let closed = try closeLine(sluice, client: client)
            #expect(closed["client"]?.string == "192.0.2.1:56324" && closed["remote"]?.string == "\(client)")
            #expect(closed["inputBytes"]?.int == 5 && closed["outputBytes"]?.int == 5)
        }

        /// Discard reads and drops 10 MiB, sends nothing, and closes at the client's EOF.
        @Test func discardDropsEverything() throws {
            let sluice = try SluiceProcess.services(["discard://127.0.0.1:0"])
            let connection = try sluice.connect(timeout: .seconds(30))
            let client = try #require(connection.localAddress)
            try connection.send(DataPattern(seed: 9), count: 10 << 20)
            try connection.shutdownWrite()
            #expect(try connection.receiveUntilEOF().isEmpty)
            let closed = try closeLine(sluice, client: client)
            #expect(closed["handler"]?.string == "discard" && closed["reason"]?.string == "done")
            #expect(closed["inputBytes"]?.int == 10 << 20 && closed["outputBytes"]?.int == 0)
        }

        /// `reply=N` (bytes or a size with a unit): nothing until the client's EOF, then exactly N
        /// zero bytes, then EOF.
        @Test(
            arguments: [("1", 1), ("4096", 4096), ("64KiB", 65536), ("1MiB", 1 << 20), ("10MB", 10_000_000)]
                as [(String, Int)])
        func discardReplySize(size: String, bytes: Int) throws {
            let sluice = try SluiceProcess.services(["discard://127.0.0.1:0?reply=\(size)"])
            let connection = try sluice.connect(timeout: .seconds(30))
            let client = try #require(connection.localAddress)
            try connection.send(DataPattern(seed: 3), count: 100 << 10)
            #expect(sluice.waitUntilQuiet())
            #expect(connection.receiveAvailable().isEmpty, "the reply started before the client's EOF")
            try connection.shutdownWrite()
            let reply = try connection.checksumUntilEOF()
            #expect(reply == Checksum([UInt8](repeating: 0, count: bytes)), "got \(reply)")
            let closed = try closeLine(sluice, client: client)
            #expect(closed["inputBytes"]?.int == 100 << 10 && closed["outputBytes"]?.int == bytes)
            #expect(closed["reason"]?.string == "done")
        }

        /// `-L tcp://:8000/:7000 -L echo://:7000`: a forwarder and its built-in target in one
        /// process; bytes go through both and back.
        @Test func echoBehindAForwarderOfTheSameProcess() throws {
            let port = try unusedLoopbackPort()
            let sluice = try SluiceProcess.services([
                "tcp://127.0.0.1:0/127.0.0.1:\(port)", "echo://127.0.0.1:\(port)",
            ])
            #expect(sluice.ports.count == 2 && sluice.ports[1] == port)
            let connection = try sluice.connect(0, timeout: .seconds(30))
            let client = try #require(connection.localAddress)
            let data = TestData.random(count: 1 << 20, seed: 8000)
            #expect(try connection.exchange(data, expecting: data.count) == data)
            try connection.shutdownWrite()
            #expect(try connection.receiveUntilEOF().isEmpty)
            let forwarded = try closeLine(sluice, client: client)
            #expect(forwarded["handler"]?.string == "tcp" && forwarded["reason"]?.string == "done")
            #expect(forwarded["inputBytes"]?.int == 1 << 20 && forwarded["outputBytes"]?.int == 1 << 20)
            let echoed = try #require(
                sluice.waitForLine { $0["handler"]?.string == "echo" && $0["msg"]?.string?.contains(" >< ") == true })
            #expect(echoed["inputBytes"]?.int == 1 << 20 && echoed["reason"]?.string == "done")
        }
    }
}
