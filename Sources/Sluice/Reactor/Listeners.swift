// Listeners: binds every service's listening sockets before anything starts (so a bad address or a
// port in use stops start-up with nothing half-started), one SO_REUSEPORT socket per reactor.
import CSluice
import Glibc

/// A start-up failure: printed as one line, exit status 1.
public struct StartupError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// The bound listening sockets of one service: one per reactor, all on the same port.
public struct BoundService {
    public let service: Service
    public let address: SocketAddress
    public var fds: [Int32]
}

public enum Listeners {
    /// The listen backlog: the kernel caps it at `net.core.somaxconn`.
    public static let backlog: Int32 = 4096

    /// Binds `reactors` sockets for each service. On any failure closes what it opened and throws.
    public static func bind(_ services: [Service], reactors: Int) throws(StartupError) -> [BoundService] {
        var bound: [BoundService] = []
        do throws(StartupError) {
            for service in services {
                var address = try resolveListenAddress(service.plan)
                if address.port != 0, let owner = existingListener(on: address) {
                    throw StartupError(
                        message: "\(service.plan.name): listen tcp \(address): bind: address already in use (\(owner))")
                }
                var entry = BoundService(service: service, address: address, fds: [])
                bound.append(entry)
                for _ in 0..<reactors {
                    let fd: Int32
                    do {
                        fd = try Socket.listen(on: address, reusePort: true, backlog: backlog)
                    } catch {
                        throw StartupError(message: "\(service.plan.name): listen tcp \(address): bind: \(error)")
                    }
                    entry.fds.append(fd)
                    bound[bound.count - 1] = entry
                    if address.port == 0, let actual = Socket.localAddress(fd) {
                        // The other reactors' sockets join the port the kernel picked.
                        address.port = actual.port
                        entry = BoundService(service: service, address: address, fds: entry.fds)
                        bound[bound.count - 1] = entry
                    }
                }
            }
        } catch {
            for entry in bound { for fd in entry.fds { Glibc.close(fd) } }
            throw error
        }
        return bound
    }

    /// The bind address; a host name is resolved once, at start-up.
    static func resolveListenAddress(_ plan: ServicePlan) throws(StartupError) -> SocketAddress {
        guard let host = plan.listenHost else { return plan.listen }
        guard let resolved = Resolver.lookup(host) else {
            throw StartupError(
                message: "\(plan.name): listen tcp \(host):\(plan.listen.port): lookup \(host): no such host")
        }
        return SocketAddress(resolved.ip, port: plan.listen.port)
    }

    /// SO_REUSEPORT lets a second process of the same user bind a port that is already served
    /// and silently take half of its connections. Refuse instead: look for a listening socket on
    /// the same port (and an overlapping address) in /proc/net/tcp and tcp6.
    static func existingListener(on address: SocketAddress) -> String? {
        var found: String?
        for path in ["/proc/net/tcp", "/proc/net/tcp6"] where found == nil {
            // Lines look like "  0: 0100007F:1F90 00000000:0000 0A …": field 1 is the local
            // address, field 3 the state (0A is LISTEN). The table can hold tens of thousands of
            // lines: stream it through a small buffer rather than keep it in memory.
            forEachLine(of: path) { line in
                var fields: [Substring.UTF8View.SubSequence] = []
                for field in line.split(separator: 0x20, maxSplits: 4, omittingEmptySubsequences: true) {
                    fields.append(field)
                    if fields.count == 4 { break }
                }
                guard fields.count == 4, fields[3].elementsEqual("0A".utf8) else { return true }
                let local = fields[1]
                guard let colon = local.firstIndex(of: 0x3A),
                    let port = UInt16(String(decoding: local[local.index(after: colon)...], as: UTF8.self), radix: 16),
                    port == address.port
                else { return true }
                let hex = String(decoding: local[..<colon], as: UTF8.self)
                if hex.allSatisfy({ $0 == "0" }) || isWildcard(address) || sameAddress(hex, address) {
                    found = "another socket listens on port \(port)"
                    return false
                }
                return true
            }
        }
        return found
    }

    private static func isWildcard(_ address: SocketAddress) -> Bool {
        switch address.ip {
        case .v4(let a): a.value == 0
        case .v6(let a): a == .any
        }
    }

    /// /proc/net/tcp prints each 32-bit word of the address as a little-endian integer in hex:
    /// swapping the bytes back gives the word's big-endian value (127.0.0.1 is "0100007F").
    private static func sameAddress(_ hex: String, _ address: SocketAddress) -> Bool {
        var words: [UInt32] = []
        var rest = Substring(hex)
        while rest.count >= 8 {
            guard let word = UInt32(rest.prefix(8), radix: 16) else { return false }
            words.append(word.byteSwapped)
            rest = rest.dropFirst(8)
        }
        let v6: IPv6Address
        switch words.count {
        case 1: return IPAddress.v4(IPv4Address(words[0])) == address.ip.unmapped
        case 4:
            v6 = IPv6Address(
                high: UInt64(words[0]) << 32 | UInt64(words[1]), low: UInt64(words[2]) << 32 | UInt64(words[3]))
        default: return false
        }
        return IPAddress.v6(v6).unmapped == address.ip.unmapped
    }

    /// Calls `body` with each line of the file at `path` (without its newline) until it returns
    /// false, reading through one 64 KiB buffer.
    static func forEachLine(of path: String, _ body: (Substring.UTF8View.SubSequence) -> Bool) {
        let fd = sl_open_readonly(path)
        guard fd >= 0 else { return }
        defer { Glibc.close(fd) }
        var text = ""
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var carry: [UInt8] = []
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            carry.append(contentsOf: chunk[0..<n])
            guard let lastNewline = carry.lastIndex(of: 0x0A) else { continue }
            text = String(decoding: carry[...lastNewline], as: UTF8.self)
            carry.removeFirst(lastNewline + 1)
            for line in text.utf8.split(separator: 0x0A) where !body(line) { return }
        }
    }
}
