// SocketTable: the kernel's own list of listening TCP sockets, asked over sock_diag netlink (as
// `ss -ltn` does): who listens on a port, and how many connections wait in its accept queue.
import CSluice
import Glibc
import Sluice

/// A TCP socket in the LISTEN state, as the kernel reports it.
public struct ListeningSocket: Sendable, Equatable {
    /// The local port.
    public var port: UInt16
    /// The socket's inode: the `socket:[<inode>]` an owner's `/proc/<pid>/fd` entry links to.
    public var inode: UInt64
    /// Connections whose handshake is done, waiting for `accept`.
    public var acceptQueue: Int
}

/// Queries of the kernel's socket table (`NETLINK_SOCK_DIAG`, `SOCK_DIAG_BY_FAMILY`, the layouts of
/// `linux/inet_diag.h`; no privileges needed).
public enum SocketTable {
    /// Every listening TCP socket (IPv4 and IPv6) in this network namespace.
    public static func listeners() throws -> [ListeningSocket] {
        try dump(family: UInt8(AF_INET)) + dump(family: UInt8(AF_INET6))
    }

    /// The listening sockets on `port` (one per bound address, and more with `SO_REUSEPORT`).
    public static func listeners(port: UInt16) throws -> [ListeningSocket] {
        try listeners().filter { $0.port == port }
    }

    // `linux/netlink.h`, `linux/sock_diag.h`, `linux/inet_diag.h`: values fixed by the kernel ABI.
    private static let netlinkSockDiag: Int32 = 4
    private static let sockDiagByFamily: UInt16 = 20
    private static let requestDumpFlags: UInt16 = 0x0001 | 0x0300  // NLM_F_REQUEST | NLM_F_DUMP
    private static let messageError: UInt16 = 2
    private static let messageDone: UInt16 = 3
    private static let tcpListen: UInt32 = 10
    private static let headerSize = 16  // struct nlmsghdr
    private static let requestSize = 56  // struct inet_diag_req_v2
    private static let replySize = 72  // struct inet_diag_msg

    /// One `SOCK_DIAG_BY_FAMILY` dump of the LISTEN sockets of `family`.
    private static func dump(family: UInt8) throws -> [ListeningSocket] {
        let fd = socket(AF_NETLINK, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), netlinkSockDiag)
        guard fd != -1 else { throw TestSupportError.system("socket AF_NETLINK") }
        defer { Glibc.close(fd) }
        guard sl_set_timeouts(fd, 5000) != -1 else { throw TestSupportError.system("setsockopt on netlink") }

        var request = [UInt8](repeating: 0, count: headerSize + requestSize)
        store(UInt32(request.count), into: &request, at: 0)  // nlmsg_len
        store(sockDiagByFamily, into: &request, at: 4)  // nlmsg_type
        store(requestDumpFlags, into: &request, at: 6)  // nlmsg_flags
        store(UInt32(1), into: &request, at: 8)  // nlmsg_seq
        request[16] = family  // sdiag_family
        request[17] = UInt8(IPPROTO_TCP)  // sdiag_protocol
        store(UInt32(1) << tcpListen, into: &request, at: 20)  // idiag_states
        // The destination: the kernel (`struct sockaddr_nl` with pid 0 and no groups).
        var kernel = sockaddr_storage()
        withUnsafeMutableBytes(of: &kernel) { raw in
            raw.storeBytes(of: sa_family_t(AF_NETLINK), as: sa_family_t.self)
        }
        let sent = request.withUnsafeBytes { bytes in
            withUnsafePointer(to: &kernel) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes.baseAddress, bytes.count, 0, $0, 12)
                }
            }
        }
        guard sent == request.count else { throw TestSupportError.system("send sock_diag request") }

        var sockets: [ListeningSocket] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == -1 {
                if Errno.current == .interrupted { continue }
                throw TestSupportError.system("recv sock_diag reply")
            }
            var offset = 0
            while offset + headerSize <= n {
                let length = Int(load(UInt32.self, from: buffer, at: offset))
                let type = load(UInt16.self, from: buffer, at: offset + 4)
                guard length >= headerSize, offset + length <= n else {
                    throw TestSupportError("parse sock_diag reply", detail: "bad message length \(length)")
                }
                switch type {
                case messageDone:
                    return sockets
                case messageError:
                    let code = length >= headerSize + 4 ? load(Int32.self, from: buffer, at: offset + headerSize) : 0
                    throw TestSupportError("sock_diag dump", errno: Errno(-code))
                default:
                    let reply = offset + headerSize
                    guard length >= headerSize + replySize else { break }
                    // idiag_sport is big-endian; idiag_rqueue is the accept queue for a listener.
                    let port = UInt16(buffer[reply + 4]) << 8 | UInt16(buffer[reply + 5])
                    let queue = Int(load(UInt32.self, from: buffer, at: reply + 56))
                    let inode = UInt64(load(UInt32.self, from: buffer, at: reply + 68))
                    sockets.append(ListeningSocket(port: port, inode: inode, acceptQueue: queue))
                }
                offset += (length + 3) & ~3  // NLMSG_ALIGN
            }
            if n == 0 { return sockets }
        }
    }

    private static func store<T: FixedWidthInteger>(_ value: T, into bytes: inout [UInt8], at offset: Int) {
        withUnsafeBytes(of: value) { bytes.replaceSubrange(offset..<(offset + $0.count), with: $0) }
    }

    private static func load<T: FixedWidthInteger>(_ type: T.Type, from bytes: [UInt8], at offset: Int) -> T {
        bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
    }
}
