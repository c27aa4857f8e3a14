// ReactorGroup: the running process. Starts one reactor thread per configured thread, each with
// its own listening socket per service, and carries out shutdown: SIGINT/SIGTERM stop accepting at
// once, open connections get the grace period, then the rest are closed and the process exits 0.
import CSluice
import Glibc
import Synchronization

/// All the reactors of the process.
public final class ReactorGroup: @unchecked Sendable {
    public let plan: RunPlan
    public let sink: LogSink
    private var reactors: [Reactor] = []
    private var threads: [OSThread] = []
    private let resolver = Resolver()
    /// The listening sockets of every service, one per reactor (replaced by reloads).
    private var bound: [BoundService] = []
    /// Builds the plan again from the same command line and files (SIGHUP); nil: nothing to reload.
    public var reloadSource: (@Sendable () throws(UsageError) -> (plan: RunPlan, warnings: [String]))?
    private let finishedCount = Atomic<Int>(0)
    /// Written once by each reactor as it finishes.
    private let finishedFD: Int32

    public init(plan: RunPlan, sink: LogSink) {
        self.plan = plan
        self.sink = sink
        finishedFD = sl_eventfd()
    }

    deinit { Glibc.close(finishedFD) }

    /// Binds every listener, logs `listening on …` per service, and starts the reactor threads.
    public func start() throws(StartupError) {
        let services = plan.services.enumerated().map { Service(plan: $1, index: $0) }
        let count = max(1, plan.threads)
        let bound = try Listeners.bind(services, reactors: count)
        self.bound = bound
        let mainLogger = Logger(level: plan.logLevel, sink: sink)
        let pipeLimit = Self.pipeLimit(reactors: count)
        for i in 0..<count {
            let listeners = Self.entries(bound, reactor: i)
            let reactor = try Reactor(
                index: i, listeners: listeners, logger: Logger(level: plan.logLevel, sink: sink),
                resolver: resolver, pipeLimit: pipeLimit
            ) { [unowned self] in self.reactorFinished() }
            reactors.append(reactor)
        }
        let mailboxes = reactors.map(\.mailbox)
        for service in services { service.activate(reactors: mailboxes) }
        for reactor in reactors {
            guard let thread = OSThread(name: "sluice-\(reactor.index)", { reactor.run() }) else {
                throw StartupError(message: "cannot start reactor thread \(reactor.index) (pthread_create)")
            }
            threads.append(thread)
        }
        MetricsHub.shared.started(plan, reactors: count)
        // Last: a `listening on` line means the process holds every descriptor it keeps while idle
        // (the tests read that count once they see these lines).
        for entry in bound { Self.logListening(entry, mainLogger) }
        mainLogger.flush()
    }

    /// GOST's start-up line for a service: `listening on <address>/tcp`.
    static func logListening(_ entry: BoundService, _ logger: Logger) {
        logger.log(.info) { line in
            line.add(.handler, .escaped(entry.service.handlerText))
            line.add(.kind, .literal("service"))
            line.add(.listener, .escaped(entry.service.listenerText))
            line.add(.service, .escaped(entry.service.nameText))
            line.add(.msg, .text("listening on \(entry.address)/tcp"))
        }
    }

    /// What reactor `reactor` serves of `bound`.
    static func entries(_ bound: [BoundService], reactor: Int) -> [ListenerEntry] {
        bound.map { ListenerEntry(fd: $0.fds[reactor], service: $0.service, fixedLocal: fixedLocal($0.address)) }
    }

    /// Accepted sockets on a listener bound to one address are local to that address (saves a
    /// getsockname per connection); wildcard listeners ask the kernel.
    static func fixedLocal(_ address: SocketAddress) -> SocketAddress? {
        switch address.ip {
        case .v4(let a): a.value == 0 ? nil : address
        case .v6(let a): a == .any ? nil : address
        }
    }

    /// Pipes per reactor: enough for the connections that move bulk data at the same moment,
    /// never more than a small share of the descriptor budget (each pipe costs two).
    static func pipeLimit(reactors: Int) -> Int {
        var soft: UInt64 = 0
        var hard: UInt64 = 0
        guard sl_get_nofile(&soft, &hard) == 0 else { return 32 }
        let budget = Int(min(soft, 1 << 20)) / 16 / max(reactors, 1)
        return max(0, min(128, budget))
    }

    /// Runs until shutdown completes; returns the exit status. `signals` is the signalfd that
    /// reports SIGINT, SIGTERM and SIGHUP (blocked in every thread).
    public func waitForShutdown(signals: Int32) -> Int32 {
        var draining = false
        var graceDeadline: Int64 = 0
        let logger = Logger(level: plan.logLevel, sink: sink)
        while finishedCount.load(ordering: .relaxed) < reactors.count {
            var fds = [
                pollfd(fd: signals, events: Int16(POLLIN), revents: 0),
                pollfd(fd: finishedFD, events: Int16(POLLIN), revents: 0),
            ]
            var timeout: Int32 = -1
            if draining {
                let left = graceDeadline - monotonicNanoseconds()
                if left <= 0 {
                    closeAll(logger)
                    graceDeadline = Int64.max
                    continue
                }
                timeout = Int32(min(left / nanosecondsPerMillisecond + 1, 60_000))
            }
            let n = poll(&fds, 2, timeout)
            if n <= 0 { continue }
            if fds[1].revents != 0 {
                var counter: UInt64 = 0
                _ = Glibc.read(finishedFD, &counter, 8)
            }
            guard fds[0].revents != 0 else { continue }
            let signal = sl_read_signal(signals)
            if signal == SIGHUP {
                if !draining { reload(logger) }
                logger.flush()
            } else if signal == SIGINT || signal == SIGTERM {
                if draining {
                    closeAll(logger)
                    graceDeadline = Int64.max
                } else {
                    draining = true
                    MetricsHub.shared.beginDraining()  // /readyz fails before any listener closes
                    graceDeadline = GoDuration.deadline(after: monotonicNanoseconds(), plan.grace)
                    logger.log(.info) {
                        $0.add(.kind, .literal("service"))
                        let grace = plan.grace / nanosecondsPerMillisecond
                        $0.add(.msg, .text("signal \(signal): stopped accepting; draining for up to \(grace) ms"))
                    }
                    logger.flush()
                    for reactor in reactors { reactor.mailbox.post(.stopAccepting) }
                }
            }
        }
        for thread in threads { thread.join() }
        resolver.stop()
        return 0
    }

    // MARK: - Reload

    /// SIGHUP: reads the configuration again and moves every reactor to it. Services whose listen
    /// address stays keep their listening sockets (the port never refuses a connection); a changed
    /// service is served by its new plan from the same sockets; a new one is bound; a removed one
    /// stops accepting and its connections get the grace period. Open connections keep flowing
    /// whatever changed. A configuration that does not parse, validate or bind changes nothing.
    private func reload(_ logger: Logger) {
        func say(_ level: LogLevel, _ text: String) {
            logger.log(level) {
                $0.add(.kind, .literal("service"))
                $0.add(.msg, .text(text))
            }
        }
        guard let reloadSource else { return say(.info, "SIGHUP: nothing to reload") }
        let next: RunPlan
        do {
            let (plan, warnings) = try reloadSource()
            for warning in warnings { say(.warning, warning) }
            next = plan
        } catch {
            return say(.error, "reload: \(error.message); the running configuration stays")
        }
        var reused = Set<Int>()
        var updated: [BoundService] = []
        var fresh: [BoundService] = []
        var counts = (started: 0, changed: 0, unchanged: 0)
        var relisten: [(fds: [Int32], backlog: Int32)] = []
        for (index, plan) in next.services.enumerated() {
            if let old = bound.indices.first(where: {
                !reused.contains($0) && Self.sameListener(bound[$0].service.plan, plan)
            }) {
                reused.insert(old)
                if bound[old].service.plan == plan {
                    updated.append(bound[old])
                    counts.unchanged += 1
                } else {
                    updated.append(
                        BoundService(
                            service: Service(plan: plan, index: index, previous: bound[old].service),
                            address: bound[old].address, fds: bound[old].fds
                        ))
                    counts.changed += 1
                    if bound[old].service.plan.listenBacklog != plan.listenBacklog {
                        relisten.append((bound[old].fds, plan.listenBacklog))
                    }
                }
                continue
            }
            do {
                // Sluice's own sockets may hold the port (with SO_REUSEPORT): the probe would refuse it.
                let ownPort = bound.contains { $0.address.port == plan.listen.port }
                let entry = try Listeners.bind(
                    [Service(plan: plan, index: index)], reactors: reactors.count, probe: !ownPort)
                fresh += entry
                updated += entry
                counts.started += 1
            } catch {
                for entry in fresh { for fd in entry.fds { Glibc.close(fd) } }
                return say(.error, "reload: \(error.message); the running configuration stays")
            }
        }
        let removed = bound.indices.filter { !reused.contains($0) }.map { bound[$0] }
        let mailboxes = reactors.map(\.mailbox)
        for entry in updated { entry.service.activate(reactors: mailboxes) }
        // `maxConns.backlog` changed on sockets that stay: listen() again resizes the backlog.
        for (fds, backlog) in relisten { for fd in fds { _ = Glibc.listen(fd, backlog) } }
        let drainDeadline = GoDuration.deadline(after: monotonicNanoseconds(), plan.grace)
        for (i, reactor) in reactors.enumerated() {
            reactor.mailbox.post(
                .replaceListeners(
                    listeners: Self.entries(updated, reactor: i), closing: removed.map { $0.fds[i] },
                    retired: removed.map(\.service), drainDeadline: drainDeadline))
        }
        bound = updated
        MetricsHub.shared.planChanged(next)
        for entry in fresh { Self.logListening(entry, logger) }
        say(
            .info,
            "reload: \(counts.started) started, \(removed.count) stopped, \(counts.changed) changed,"
                + " \(counts.unchanged) unchanged")
    }

    /// Whether a new plan can be served from an old plan's listening sockets. A port-0 service
    /// keeps the port the kernel gave it (services are matched in order, each old one used once).
    static func sameListener(_ a: ServicePlan, _ b: ServicePlan) -> Bool {
        a.listen == b.listen && a.listenHost == b.listenHost
    }

    /// Called on a reactor's thread as its loop ends.
    private func reactorFinished() {
        finishedCount.wrappingAdd(1, ordering: .relaxed)
        var one: UInt64 = 1
        _ = Glibc.write(finishedFD, &one, 8)
    }

    private func closeAll(_ logger: Logger) {
        logger.log(.info) {
            $0.add(.kind, .literal("service"))
            $0.add(.msg, .literal("grace period over: closing the remaining connections"))
        }
        logger.flush()
        for reactor in reactors { reactor.mailbox.post(.closeAll) }
    }
}
