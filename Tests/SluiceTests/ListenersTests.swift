// Tests for the start-up listener checks: streaming /proc-style tables line by line.
import Glibc
import Testing

@testable import Sluice

@Suite struct ListenersTests {
    @Test func forEachLineStreamsEveryLineAcrossBufferBoundaries() throws {
        let path = "/tmp/sluice-lines-\(getpid())"
        defer { unlink(path) }
        var text = ""
        for i in 0..<20_000 { text += "  \(i): 0100007F:\(String(i, radix: 16)) 00000000:0000 0A\n" }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try #require(fd >= 0)
        _ = text.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        var count = 0
        var last = ""
        Listeners.forEachLine(of: path) { line in
            count += 1
            last = String(decoding: line, as: UTF8.self)
            return true
        }
        #expect(count == 20_000)
        #expect(last == "  19999: 0100007F:4e1f 00000000:0000 0A")
        var seen = 0
        Listeners.forEachLine(of: path) { _ in
            seen += 1
            return seen < 3
        }
        #expect(seen == 3)
    }

    @Test func existingListenerFindsAPlainListenerOnTheSamePort() throws {
        let fd = try Socket.listen(on: SocketAddress("127.0.0.1:0")!, reusePort: false, backlog: 1)
        defer { close(fd) }
        let bound = try #require(Socket.localAddress(fd))
        #expect(Listeners.existingListener(on: bound) != nil)
        #expect(Listeners.existingListener(on: SocketAddress(.v6(.any), port: bound.port)) != nil)
        #expect(Listeners.existingListener(on: SocketAddress("127.0.0.2:\(bound.port)")!) == nil)
    }
}
