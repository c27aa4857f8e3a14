// EchoLoad: many clients at once against an echo path (an EchoServer, or a forwarder in front of
// one): open every connection first, then echo a distinct payload on each and verify it.
import CSluice
import Sluice

/// What an echo load run measured.
public struct EchoLoadResult: Sendable {
    /// Connections that were open at the same time (all of them, when the run succeeded).
    public var connections: Int
    /// Bytes echoed per connection.
    public var bytesEach: Int
    /// Time to open every connection.
    public var connectTime: Duration
    /// Time to echo and verify every payload, after all connections were open.
    public var echoTime: Duration
}

/// Opens `connections` clients to `address` (on at most `threads` threads), holds them all open,
/// then sends `bytesEach` bytes on each (connection `i` sends its own slice of
/// `DataPattern(seed: 42)`) and checks the echo byte for byte before closing it. Throws
/// `ConcurrentFailures` naming the connections that failed.
@discardableResult
public func runEchoLoad(
    to address: SocketAddress, connections: Int, bytesEach: Int, threads: Int = 64,
    timeout: Duration = .seconds(20)
) throws -> EchoLoadResult {
    raiseOpenFileLimit()
    let pattern = DataPattern(seed: 42)
    let open = Locked<[TestConnection?]>(Array(repeating: nil, count: connections))
    let connectStart = Monotonic.now
    try concurrently(count: connections, threads: threads) { i in
        let connection = try TestConnection.connect(to: address, timeout: timeout)
        open.withLock { $0[i] = connection }
    }
    let connectTime = connectStart.elapsed
    let clients = open.value
    let echoStart = Monotonic.now
    try concurrently(count: connections, threads: threads) { i in
        guard let connection = clients[i] else { throw TestSupportError("connection \(i) was not opened") }
        defer { connection.close() }
        let offset = i &* 7_919 % DataPattern.blockLength
        let payload = pattern.bytes(from: offset, count: bytesEach)
        let echoed = try connection.exchange(payload, expecting: bytesEach)
        guard echoed == payload else {
            let firstDifference =
                echoed.indices.first { $0 >= payload.count || echoed[$0] != payload[$0] } ?? echoed.count
            throw TestSupportError(
                "echo on connection \(i)", detail: "echo differs from byte \(firstDifference) of \(bytesEach)")
        }
    }
    return EchoLoadResult(
        connections: connections, bytesEach: bytesEach, connectTime: connectTime, echoTime: echoStart.elapsed)
}

/// Raises this process's soft `RLIMIT_NOFILE` to the hard limit (a thousand clients plus a
/// thousand server-side sockets exceed the common soft limit of 1024). Children inherit it.
public func raiseOpenFileLimit() {
    var soft: UInt64 = 0
    var hard: UInt64 = 0
    guard sl_get_nofile(&soft, &hard) == 0, soft < hard else { return }
    _ = sl_set_nofile_soft(hard)
}
