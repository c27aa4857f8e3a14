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
    /// The default listen backlog (a service's `maxConns.backlog` sets its own): the kernel caps it
    /// at `net.core.somaxconn`.
    public static let backlog: Int32 = ServicePlan.defaultBacklog

    /// Binds `reactors` sockets for each service. On any failure closes what it opened and throws.
    /// `probe` first asks whether another socket already listens on the port (a reload skips it for
    /// ports Sluice itself holds).
    public static func bind(
        _ services: [Service], reactors: Int, probe: Bool = true
    ) throws(StartupError)
        -> [BoundService]
    {
        var bound: [BoundService] = []
        do throws(StartupError) {
            for service in services {
                var address = try resolveListenAddress(service.plan)
                if probe, address.port != 0, let error = Socket.probeBind(address) {
                    throw StartupError(message: "\(service.plan.name): listen tcp \(address): bind: \(error)")
                }
                var entry = BoundService(service: service, address: address, fds: [])
                bound.append(entry)
                for _ in 0..<reactors {
                    let fd: Int32
                    do {
                        fd = try Socket.listen(
                            on: address, reusePort: true, backlog: service.plan.listenBacklog)
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
}
