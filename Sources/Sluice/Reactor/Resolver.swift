// Resolver: turns target host names into addresses without blocking a reactor. getaddrinfo blocks,
// so lookups run on a few helper threads and answer through the asking reactor's mailbox; answers are
// cached for `ttl` (getaddrinfo does not expose DNS TTLs), so a busy target costs one lookup per
// TTL, not one per connection, and a changed DNS record is picked up within the TTL.
import Glibc

/// Resolves host names on a small pool of helper threads, with a cache.
public final class Resolver: @unchecked Sendable {
    private struct Job {
        var host: String
        var port: UInt16
        var reply: Mailbox
        var slot: UInt32
        var generation: UInt32
        var attempt: UInt32
    }
    private struct Entry {
        var address: SocketAddress?
        var expires: Int64
    }

    private let lock = ConditionLock()
    private var jobs: [Job] = []
    private var jobHead = 0
    private var cache: [String: Entry] = [:]
    private var stopping = false
    private var threads: [OSThread] = []
    /// Threads waiting for a job.
    private var idleThreads = 0
    /// How long an answer is reused; failures are retried sooner.
    public let ttl: Int64
    public let negativeTTL: Int64
    /// At most this many lookups run at once: one slow name holds one thread, not every lookup.
    public let maxThreads: Int
    private let lookup: @Sendable (String) -> SocketAddress?

    /// `lookup` is getaddrinfo's first answer unless a test gives another.
    public init(
        ttl: Int64 = 30 * nanosecondsPerSecond, negativeTTL: Int64 = 2 * nanosecondsPerSecond, maxThreads: Int = 4,
        lookup: @escaping @Sendable (String) -> SocketAddress? = Resolver.lookup
    ) {
        self.ttl = ttl
        self.negativeTTL = negativeTTL
        self.maxThreads = max(1, maxThreads)
        self.lookup = lookup
    }

    /// A fresh cached address for `host`, if any (a cached failure answers nil too).
    public func cached(host: String, port: UInt16, now: Int64) -> SocketAddress? {
        lock.withLock {
            guard let entry = cache[host], entry.expires > now, let address = entry.address else { return nil }
            return SocketAddress(address.ip, port: port)
        }
    }

    /// Looks `host` up on a helper thread and posts `.resolved` (tagged with `attempt`) to `reply`.
    public func request(
        host: String, port: UInt16, reply: Mailbox, slot: UInt32, generation: UInt32, attempt: UInt32
    ) {
        lock.withLock {
            jobs.append(Job(host: host, port: port, reply: reply, slot: slot, generation: generation, attempt: attempt))
            if jobs.count - jobHead > idleThreads && threads.count < maxThreads {
                // Without a new thread (the system's thread limit), the running ones serve the job.
                if let thread = OSThread(name: "sluice-resolve", { [unowned self] in self.run() }) {
                    threads.append(thread)
                }
            }
        }
        lock.signal()
    }

    public func stop() {
        lock.withLock { stopping = true }
        lock.broadcast()
        for thread in threads { thread.join() }
        threads.removeAll()
    }

    private func run() {
        while true {
            lock.lock()
            idleThreads += 1
            while jobHead == jobs.count && !stopping { lock.wait() }
            idleThreads -= 1
            if stopping {
                lock.unlock()
                return
            }
            let job = jobs[jobHead]
            jobHead += 1
            if jobHead == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                jobHead = 0
            }
            let now = monotonicNanoseconds()
            let hit = cache[job.host].flatMap { $0.expires > now ? $0 : nil }
            lock.unlock()
            let address: SocketAddress?
            if let hit {
                address = hit.address
            } else {
                address = lookup(job.host)
                let expires = monotonicNanoseconds() + (address == nil ? negativeTTL : ttl)
                lock.withLock { cache[job.host] = Entry(address: address, expires: expires) }
            }
            job.reply.post(
                .resolved(
                    slot: job.slot, generation: job.generation, attempt: job.attempt,
                    address: address.map { SocketAddress($0.ip, port: job.port) }))
        }
    }

    /// The first TCP address getaddrinfo gives for `host` (IPv4 and IPv6, in its preferred order).
    public static func lookup(_ host: String) -> SocketAddress? {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(first) }
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let current = node {
            if let sa = current.pointee.ai_addr {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { raw in
                    raw.copyMemory(
                        from: UnsafeRawBufferPointer(start: sa, count: Int(current.pointee.ai_addrlen)))
                }
                if let address = SocketAddress(storage) { return address }
            }
            node = current.pointee.ai_next
        }
        return nil
    }
}
