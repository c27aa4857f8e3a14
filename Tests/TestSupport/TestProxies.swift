// TestProxies: loopback proxies for the chain tests (a recording HTTP CONNECT proxy and a SOCKS5
// server, both relaying to the target they are asked for) and a target that keeps every read apart.
// Each runs one accept thread and one thread per connection: they serve a handful of connections.
import CSluice
import Glibc
import Sluice

// MARK: - Socket chores with a deadline

/// Reads, writes, connects and relays on non-blocking sockets for the proxies' connection threads:
/// every call waits with `poll` and gives up at a deadline instead of hanging a test.
enum ProxyIO {
    /// Waits for `events` on `fd`; false when the deadline passes first.
    static func wait(_ fd: Int32, _ events: Int16, until deadline: Deadline) -> Bool {
        var entry = pollfd(fd: fd, events: events, revents: 0)
        while true {
            let ready = poll(&entry, 1, deadline.remainingMilliseconds)
            if ready == -1 && Errno.current == .interrupted { continue }
            return ready > 0
        }
    }

    /// One read of at most `limit` bytes: the bytes, `[]` at EOF, nil on an error or at the deadline.
    static func read(_ fd: Int32, limit: Int = 64 << 10, until deadline: Deadline) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: limit)
        while true {
            guard wait(fd, Int16(POLLIN), until: deadline) else { return nil }
            let n = buffer.withUnsafeMutableBytes { sl_recv(fd, $0.baseAddress!, $0.count) }
            if n >= 0 { return Array(buffer[0..<n]) }
            let error = Errno.current
            if error != .wouldBlock && error != .interrupted { return nil }
        }
    }

    /// Writes every byte; false on an error or at the deadline.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], until deadline: Deadline) -> Bool {
        var offset = 0
        while offset < bytes.count {
            guard wait(fd, Int16(POLLOUT), until: deadline) else { return false }
            let n = bytes.withUnsafeBytes { sl_send(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n > 0 {
                offset += n
            } else if n == -1, Errno.current != .wouldBlock, Errno.current != .interrupted {
                return false
            }
        }
        return true
    }

    /// Connects to `address`; the socket, or nil when the connect fails or times out.
    static func connect(to address: SocketAddress, timeout: Duration = .seconds(3)) -> Int32? {
        guard let fd = try? Socket.startConnect(to: address) else { return nil }
        guard wait(fd, Int16(POLLOUT), until: Deadline(timeout)), Socket.pendingError(fd) == nil else {
            Glibc.close(fd)
            return nil
        }
        Socket.setNoDelay(fd)
        return fd
    }

    /// Copies bytes both ways until both directions reached EOF, a socket failed, or `stopping` is
    /// set. An EOF on one side becomes a `shutdown(SHUT_WR)` on the other (half-close).
    static func relay(_ a: Int32, _ b: Int32, stopping: Locked<Bool>) {
        var open = [true, true]  // a → b, b → a
        let ends = [(a, b), (b, a)]
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while open[0] || open[1], !stopping.value {
            var entries = ends.map { pollfd(fd: $0.0, events: Int16(POLLIN), revents: 0) }
            for i in 0..<2 where !open[i] { entries[i].fd = -1 }
            let ready = poll(&entries, 2, 100)
            if ready == -1 && Errno.current != .interrupted { return }
            guard ready > 0 else { continue }
            for i in 0..<2 where open[i] && entries[i].revents != 0 {
                let (from, to) = ends[i]
                let n = buffer.withUnsafeMutableBytes { sl_recv(from, $0.baseAddress!, $0.count) }
                if n > 0 {
                    guard writeAll(to, Array(buffer[0..<n]), until: Deadline(.seconds(5))) else { return }
                } else if n == 0 {
                    open[i] = false
                    _ = Glibc.shutdown(to, Int32(SHUT_WR))
                } else if Errno.current != .wouldBlock && Errno.current != .interrupted {
                    return
                }
            }
        }
    }
}

/// The bytes a connection thread has read but not yet used, and more on demand.
struct Inbox {
    let fd: Int32
    let deadline: Deadline
    var bytes: [UInt8] = []
    /// The peer closed its write side.
    var atEOF = false

    init(fd: Int32, timeout: Duration = .seconds(5)) {
        self.fd = fd
        deadline = Deadline(timeout)
    }

    /// Reads once more; false at EOF, on an error or at the deadline.
    mutating func fill() -> Bool {
        guard !atEOF, let more = ProxyIO.read(fd, until: deadline) else { return false }
        if more.isEmpty {
            atEOF = true
            return false
        }
        bytes += more
        return true
    }

    /// Makes sure at least `count` bytes are held; false when they do not come.
    mutating func need(_ count: Int) -> Bool {
        while bytes.count < count {
            if !fill() { return false }
        }
        return true
    }

    /// Removes and returns the first `count` bytes (which must be held).
    mutating func take(_ count: Int) -> [UInt8] {
        let head = Array(bytes[0..<count])
        bytes.removeFirst(count)
        return head
    }
}

// MARK: - The server engine

/// A listening socket with an accept thread that hands each connection to `handle` on a thread of
/// its own. `stop` (or deinit) wakes every thread, shuts down every socket still open and joins.
public final class ThreadedServer: @unchecked Sendable {
    /// What a connection thread gets: its socket, the client's address, and the server (to track the
    /// upstream sockets it opens, and to see whether the server is stopping).
    public typealias Handler = @Sendable (_ fd: Int32, _ peer: SocketAddress?, _ server: ThreadedServer) -> Void

    /// The bound address (the real port when asked for port 0).
    public let address: SocketAddress
    private let listener: Int32
    private let wakeFD: Int32
    private var acceptThread: TestThread?
    private let workers = Locked<[TestThread]>([])
    private let sockets = Locked<Set<Int32>>([])
    /// Set by `stop`: relays and reads end.
    let stopping = Locked(false)

    public init(address: SocketAddress, handle: @escaping Handler) throws {
        let (fd, bound, wake) = try listenWithWakeup(on: address, backlog: 512)
        self.address = bound
        listener = fd
        wakeFD = wake
        acceptThread = TestThread.spawn { [self] in acceptLoop(handle) }
    }

    /// Owners call `stop` (their deinit does): the threads hold the server until then.
    deinit { stop() }

    public var port: UInt16 { address.port }

    /// The text a URL uses for this server, e.g. `127.0.0.1:41234`.
    public var target: String { address.description }

    private func acceptLoop(_ handle: @escaping Handler) {
        var entries = [
            pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0),
        ]
        while !stopping.value {
            entries[0].revents = 0
            entries[1].revents = 0
            let ready = poll(&entries, 2, -1)
            if ready == -1 && Errno.current == .interrupted { continue }
            if ready == -1 || entries[1].revents != 0 { return }
            while case .accepted(let fd) = Socket.accept(listener) {
                Socket.setNoDelay(fd)
                track(fd)
                let peer = Socket.peerAddress(fd)
                let worker = TestThread.spawn { [self] in
                    handle(fd, peer, self)
                    release(fd)
                }
                workers.withLock { $0.append(worker) }
            }
        }
    }

    /// Registers a socket the connection thread opened, so `stop` can wake a thread blocked on it.
    func track(_ fd: Int32) { sockets.withLock { _ = $0.insert(fd) } }

    /// Closes a tracked socket (once).
    func release(_ fd: Int32) {
        sockets.withLock { set in
            if set.remove(fd) != nil { Glibc.close(fd) }
        }
    }

    /// Stops accepting, wakes and joins every thread, closes every socket. Idempotent.
    public func stop() {
        let first = stopping.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        guard first else { return }
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
        acceptThread?.join()
        acceptThread = nil
        sockets.withLock { set in
            for fd in set { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
        }
        for worker in workers.value { worker.join() }
        Glibc.close(wakeFD)
        Glibc.close(listener)
    }
}

// MARK: - HTTP CONNECT proxy

/// One header field of a request, as received.
public struct HTTPField: Sendable, Equatable {
    public var name: String
    public var value: String
}

/// What the HTTP proxy saw on one connection.
public struct HTTPProxyRecord: Sendable {
    /// The TCP peer (Sluice's socket).
    public var peer: SocketAddress?
    /// Every byte read before the proxy wrote its reply: the PROXY header (if any), then the request
    /// head, then anything else that had arrived by then (nothing, from a well-behaved client).
    public var received: [UInt8] = []
    /// The PROXY header, when the proxy expects one.
    public var proxyHeader: ProxyHeader?
    /// Its length on the wire.
    public var proxyHeaderLength = 0
    /// Why the PROXY header or the request was refused, if it was.
    public var failure: String?
    /// `CONNECT 127.0.0.1:80 HTTP/1.1`.
    public var requestLine = ""
    public var fields: [HTTPField] = []
    /// The status the proxy answered, e.g. 200.
    public var status = 0
    /// The proxy reached the requested target (200 only).
    public var connectedToTarget = false

    /// The `host:port` of the request line.
    public var target: String? {
        let parts = requestLine.split(separator: " ")
        return parts.count == 3 ? String(parts[1]) : nil
    }

    /// The first field named `name` (case-insensitive).
    public func field(_ name: String) -> String? {
        fields.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// An HTTP CONNECT proxy on loopback. It optionally reads a PROXY header first, then the request head;
/// it records both, answers with its configured status (200, or e.g. 407/503) and, after a 200, sends
/// `afterReply` in the same write, connects to the requested target and relays both ways.
public final class RecordingHTTPProxy: @unchecked Sendable {
    /// How the proxy answers.
    public struct Options: Sendable {
        /// The status line after `HTTP/1.1 `, e.g. `200 Connection established`.
        public var status: String
        /// Bytes sent right after a 200 reply, in the same write (tunnel data from "the target").
        public var afterReply: [UInt8]
        /// A PROXY v1/v2 header must come before the request (else the connection is closed).
        public var expectsProxyHeader: Bool
        /// After a refusal, close at once instead of waiting for the client to close (keep-alive).
        public var closeAfterRefusal: Bool

        public init(
            status: String = "200 Connection established", afterReply: [UInt8] = [], expectsProxyHeader: Bool = false,
            closeAfterRefusal: Bool = false
        ) {
            self.status = status
            self.afterReply = afterReply
            self.expectsProxyHeader = expectsProxyHeader
            self.closeAfterRefusal = closeAfterRefusal
        }
    }

    public let options: Options
    private let engine: ThreadedServer
    private let log = Locked<[HTTPProxyRecord]>([])

    public init(address: SocketAddress = loopbackAnyPort, _ options: Options = Options()) throws {
        self.options = options
        let log = self.log
        engine = try ThreadedServer(address: address) { fd, peer, server in
            RecordingHTTPProxy.serve(fd, peer: peer, options: options, log: log, server: server)
        }
    }

    /// A status code other than 200 refuses the tunnel.
    public static func refusing(_ status: String) throws -> RecordingHTTPProxy {
        try RecordingHTTPProxy(Options(status: status))
    }

    // The engine's threads hold it until it is stopped.
    deinit { engine.stop() }

    public var address: SocketAddress { engine.address }
    public var port: UInt16 { engine.port }
    public var target: String { engine.target }
    /// What each connection saw so far, in accept order (a record appears once the reply is sent).
    public var records: [HTTPProxyRecord] { log.value }
    public func stop() { engine.stop() }

    /// Waits until `count` connections have been answered; their records, or nil on timeout.
    public func waitForRecords(_ count: Int, timeout: Duration = .seconds(10)) -> [HTTPProxyRecord]? {
        waitFor(timeout: timeout) { log.value.count >= count ? log.value : nil }
    }

    private static func serve(
        _ fd: Int32, peer: SocketAddress?, options: Options, log: Locked<[HTTPProxyRecord]>, server: ThreadedServer
    ) {
        var record = HTTPProxyRecord(peer: peer)
        var inbox = Inbox(fd: fd)
        let upstream = answer(&record, &inbox, options: options, server: server)
        // Published once the reply is out, before relaying: tests read it while the tunnel is open.
        log.withLock { $0.append(record) }
        if let upstream {
            ProxyIO.relay(fd, upstream, stopping: server.stopping)
            server.release(upstream)
        } else if record.status > 0 && record.status != 200 && !options.closeAfterRefusal {
            // Keep-alive after a refusal: wait for the client to give up.
            var rest = Inbox(fd: fd, timeout: .seconds(10))
            while !server.stopping.value, rest.fill() {}
        }
    }

    /// Reads the PROXY header (if expected) and the request head, records them, and answers. Returns
    /// the target's socket once a 200 is sent (the bytes after the head already forwarded to it).
    private static func answer(
        _ record: inout HTTPProxyRecord, _ inbox: inout Inbox, options: Options, server: ThreadedServer
    ) -> Int32? {
        if options.expectsProxyHeader {
            let parser = ProxyParser()
            parsing: while true {
                switch parser.parse(inbox.bytes) {
                case .needMore:
                    if !inbox.fill() { record.failure = "no complete PROXY header" }
                case .header(let header, let consumed):
                    record.proxyHeader = header
                    record.proxyHeaderLength = consumed
                case .notProxy:
                    record.failure = "no PROXY header"
                case .invalid(let error):
                    record.failure = "invalid PROXY header: \(error)"
                }
                if record.failure != nil || record.proxyHeader != nil { break parsing }
            }
            if record.failure != nil {
                record.received = inbox.bytes
                return nil
            }
        }
        // The request head ends with an empty line.
        var headEnd = endOfHead(inbox.bytes, from: record.proxyHeaderLength)
        while headEnd == nil {
            guard inbox.fill() else {
                record.failure = "incomplete request head"
                record.received = inbox.bytes
                return nil
            }
            headEnd = endOfHead(inbox.bytes, from: record.proxyHeaderLength)
        }
        let end = headEnd!
        record.received = inbox.bytes
        let head = String(decoding: inbox.bytes[record.proxyHeaderLength..<(end - 4)], as: UTF8.self)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        record.requestLine = lines.isEmpty ? "" : lines.removeFirst()
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].drop { $0 == " " }
            record.fields.append(HTTPField(name: String(line[..<colon]), value: String(value)))
        }
        let leftover = Array(inbox.bytes[end...])
        let fd = inbox.fd
        let deadline = Deadline(.seconds(5))

        let parts = record.requestLine.split(separator: " ")
        guard parts.count == 3, parts[0] == "CONNECT" else {
            record.status = 400
            record.failure = "not a CONNECT request"
            _ = ProxyIO.writeAll(fd, Array("HTTP/1.1 400 Bad Request\r\n\r\n".utf8), until: deadline)
            return nil
        }
        let status = Int(options.status.prefix(3)) ?? 0
        guard status == 200 else {
            record.status = status
            let reply = "HTTP/1.1 \(options.status)\r\nContent-Length: 0\r\n\r\n"
            _ = ProxyIO.writeAll(fd, Array(reply.utf8), until: deadline)
            return nil
        }
        guard let address = SocketAddress(String(parts[1])), let upstream = ProxyIO.connect(to: address) else {
            record.status = 502
            record.failure = "cannot reach \(parts[1])"
            _ = ProxyIO.writeAll(fd, Array("HTTP/1.1 502 Bad Gateway\r\n\r\n".utf8), until: deadline)
            return nil
        }
        server.track(upstream)
        record.status = 200
        record.connectedToTarget = true
        let reply = Array("HTTP/1.1 \(options.status)\r\n\r\n".utf8) + options.afterReply
        guard ProxyIO.writeAll(fd, reply, until: deadline),
            leftover.isEmpty || ProxyIO.writeAll(upstream, leftover, until: deadline)
        else {
            server.release(upstream)
            return nil
        }
        return upstream
    }

    /// The offset just past the first `\r\n\r\n` at or after `start`.
    private static func endOfHead(_ bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= start + 4 else { return nil }
        for i in (start + 3)..<bytes.count
        where bytes[i] == 0x0A && bytes[i - 1] == 0x0D && bytes[i - 2] == 0x0A && bytes[i - 3] == 0x0D {
            return i + 1
        }
        return nil
    }
}
// MARK: - SOCKS5 server

/// What the SOCKS5 server saw on one connection.
public struct SOCKS5Record: Sendable {
    /// The TCP peer (Sluice's socket, or the previous hop's).
    public var peer: SocketAddress?
    /// The authentication methods the greeting offered (0 none, 2 username/password).
    public var methods: [UInt8] = []
    /// RFC 1929 credentials, when the client sent them.
    public var username: String?
    public var password: String?
    /// The request's command (1 CONNECT) and address type (1 IPv4, 3 domain, 4 IPv6).
    public var command: UInt8 = 0
    public var addressType: UInt8 = 0
    /// The requested host (address text or domain name) and port.
    public var host = ""
    public var port: UInt16 = 0
    /// The reply code sent (0 success); nil when the handshake ended before a request.
    public var reply: UInt8?
    /// Why the handshake ended early, if it did.
    public var failure: String?

    /// `host:port` (IPv6 in brackets).
    public var target: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A SOCKS5 server (RFC 1928) on loopback: no authentication, or username/password (RFC 1929) when
/// `credentials` are set; CONNECT to an IPv4, IPv6 or domain target (`localhost` only), recorded, then
/// relayed both ways.
public final class TestSOCKS5Server: @unchecked Sendable {
    public let credentials: (username: String, password: String)?
    private let engine: ThreadedServer
    private let log = Locked<[SOCKS5Record]>([])

    public init(
        address: SocketAddress = loopbackAnyPort, credentials: (username: String, password: String)? = nil
    )
        throws
    {
        self.credentials = credentials
        let log = self.log
        let expected = credentials.map { [$0.username, $0.password] }
        engine = try ThreadedServer(address: address) { fd, peer, server in
            var record = SOCKS5Record(peer: peer)
            var inbox = Inbox(fd: fd)
            let upstream = TestSOCKS5Server.answer(&record, &inbox, credentials: expected, server: server)
            log.withLock { $0.append(record) }
            if let upstream {
                ProxyIO.relay(fd, upstream, stopping: server.stopping)
                server.release(upstream)
            }
        }
    }

    // The engine's threads hold it until it is stopped.
    deinit { engine.stop() }

    public var address: SocketAddress { engine.address }
    public var port: UInt16 { engine.port }
    public var target: String { engine.target }
    /// One record per connection whose handshake ended, in that order.
    public var records: [SOCKS5Record] { log.value }
    public func stop() { engine.stop() }

    /// Waits until `count` handshakes have ended; the records, or nil on timeout.
    public func waitForRecords(_ count: Int, timeout: Duration = .seconds(10)) -> [SOCKS5Record]? {
        waitFor(timeout: timeout) { log.value.count >= count ? log.value : nil }
    }

    private static func answer(
        _ record: inout SOCKS5Record, _ inbox: inout Inbox, credentials: [String]?, server: ThreadedServer
    ) -> Int32? {
        let fd = inbox.fd
        let deadline = Deadline(.seconds(5))
        func send(_ bytes: [UInt8]) -> Bool { ProxyIO.writeAll(fd, bytes, until: deadline) }

        guard inbox.need(2), inbox.bytes[0] == 5, inbox.need(2 + Int(inbox.bytes[1])) else {
            record.failure = "bad greeting \(inbox.bytes)"
            return nil
        }
        let greeting = inbox.take(2 + Int(inbox.bytes[1]))
        record.methods = Array(greeting[2...])
        if let credentials {
            guard record.methods.contains(2), send([5, 2]) else {
                record.failure = "no username/password method offered"
                _ = send([5, 0xFF])
                return nil
            }
            // RFC 1929: 01 ULEN UNAME PLEN PASSWD
            guard inbox.need(2), inbox.need(3 + Int(inbox.bytes[1])) else {
                record.failure = "short authentication"
                return nil
            }
            let userLength = Int(inbox.bytes[1])
            guard inbox.need(3 + userLength + Int(inbox.bytes[2 + userLength])) else {
                record.failure = "short authentication"
                return nil
            }
            let auth = inbox.take(3 + userLength + Int(inbox.bytes[2 + userLength]))
            record.username = String(decoding: auth[2..<(2 + userLength)], as: UTF8.self)
            record.password = String(decoding: auth[(3 + userLength)...], as: UTF8.self)
            guard [record.username!, record.password!] == credentials else {
                record.failure = "wrong credentials"
                _ = send([1, 1])
                return nil
            }
            guard send([1, 0]) else { return nil }
        } else {
            guard record.methods.contains(0), send([5, 0]) else {
                record.failure = "no no-auth method offered"
                _ = send([5, 0xFF])
                return nil
            }
        }
        // VER CMD RSV ATYP DST.ADDR DST.PORT
        guard inbox.need(5) else {
            record.failure = "short request"
            return nil
        }
        record.command = inbox.bytes[1]
        record.addressType = inbox.bytes[3]
        let addressLength: Int
        switch record.addressType {
        case 1: addressLength = 4
        case 4: addressLength = 16
        case 3: addressLength = 1 + Int(inbox.bytes[4])
        default:
            record.failure = "address type \(record.addressType)"
            record.reply = 8
            _ = send([5, 8, 0, 1, 0, 0, 0, 0, 0, 0])
            return nil
        }
        guard inbox.need(4 + addressLength + 2) else {
            record.failure = "short request"
            return nil
        }
        let request = inbox.take(4 + addressLength + 2)
        let address = Array(request[4..<(4 + addressLength)])
        record.port = UInt16(request[4 + addressLength]) << 8 | UInt16(request[5 + addressLength])
        var ip: IPAddress?
        switch record.addressType {
        case 1:
            let v4 = IPv4Address(address[0], address[1], address[2], address[3])
            record.host = v4.description
            ip = .v4(v4)
        case 4:
            let words = address.withUnsafeBytes { raw in
                (
                    UInt64(bigEndian: raw.loadUnaligned(as: UInt64.self)),
                    UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
                )
            }
            let v6 = IPv6Address(high: words.0, low: words.1)
            record.host = v6.description
            ip = .v6(v6)
        default:
            record.host = String(decoding: address[1...], as: UTF8.self)
            ip = record.host == "localhost" ? .v4(IPv4Address(127, 0, 0, 1)) : nil
        }
        guard record.command == 1 else {
            record.reply = 7
            _ = send([5, 7, 0, 1, 0, 0, 0, 0, 0, 0])
            return nil
        }
        guard let ip, let upstream = ProxyIO.connect(to: SocketAddress(ip, port: record.port)) else {
            record.reply = ip == nil ? 4 : 5
            _ = send([5, record.reply!, 0, 1, 0, 0, 0, 0, 0, 0])
            return nil
        }
        server.track(upstream)
        record.reply = 0
        guard send([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
            inbox.bytes.isEmpty || ProxyIO.writeAll(upstream, inbox.bytes, until: deadline)
        else {
            server.release(upstream)
            return nil
        }
        return upstream
    }
}

// MARK: - A target that keeps each read apart

/// A target that records every `recv` of each connection as a separate chunk (to see what arrived
/// in one segment), optionally sends a banner on accept, and closes at the client's EOF.
public final class ReadRecordingServer: @unchecked Sendable {
    private let engine: ThreadedServer
    private let log = Locked<[[[UInt8]]]>([])

    public init(address: SocketAddress = loopbackAnyPort, banner: [UInt8] = []) throws {
        let log = self.log
        engine = try ThreadedServer(address: address) { fd, _, server in
            let index = log.withLock { list in
                list.append([])
                return list.count - 1
            }
            if !banner.isEmpty { _ = ProxyIO.writeAll(fd, banner, until: Deadline(.seconds(5))) }
            let deadline = Deadline(.seconds(20))
            while !server.stopping.value, let chunk = ProxyIO.read(fd, until: deadline), !chunk.isEmpty {
                log.withLock { $0[index].append(chunk) }
            }
        }
    }

    // The engine's threads hold it until it is stopped.
    deinit { engine.stop() }

    public var address: SocketAddress { engine.address }
    public var port: UInt16 { engine.port }
    public var target: String { engine.target }
    public func stop() { engine.stop() }

    /// The chunks each connection has read so far, in accept order.
    public var connections: [[[UInt8]]] { log.value }

    /// Waits until connection `index` has received `count` bytes in all; its chunks, or nil.
    public func waitForBytes(_ count: Int, on index: Int = 0, timeout: Duration = .seconds(10)) -> [[UInt8]]? {
        waitFor(timeout: timeout) {
            let list = log.value
            guard index < list.count, list[index].reduce(0, { $0 + $1.count }) >= count else { return nil }
            return list[index]
        }
    }
}
