// Tests for the start-up listener check: the kernel says whether a port is served (a probe bind).
import Glibc
import Testing

@testable import Sluice

@Suite struct ListenersTests {
    @Test func probeBindFindsAListenerOnTheSamePortAndCoveringWildcards() throws {
        let fd = try Socket.listen(on: SocketAddress("127.0.0.1:0")!, reusePort: true, backlog: 1)
        defer { close(fd) }
        let bound = try #require(Socket.localAddress(fd))
        #expect(Socket.probeBind(bound) == .addressInUse)
        #expect(Socket.probeBind(SocketAddress(.v6(.any), port: bound.port)) == .addressInUse)
        #expect(Socket.probeBind(SocketAddress(.v4(IPv4Address(0)), port: bound.port)) == .addressInUse)
        #expect(Socket.probeBind(SocketAddress("127.0.0.2:\(bound.port)")!) == nil)
    }

    @Test func probeBindLeavesNothingBehind() throws {
        let fd = try Socket.listen(on: SocketAddress("127.0.0.1:0")!, reusePort: false, backlog: 1)
        let bound = try #require(Socket.localAddress(fd))
        close(fd)
        #expect(Socket.probeBind(bound) == nil)
        #expect(Socket.probeBind(bound) == nil)
        let again = try Socket.listen(on: bound, reusePort: true, backlog: 1)
        close(again)
    }
}
