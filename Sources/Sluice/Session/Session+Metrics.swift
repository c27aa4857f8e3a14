// Session metrics: the hooks the connection's walk calls to count itself (accept, PROXY header,
// chain connect, close) into its reactor's counters, and the metrics endpoint's own sessions, which
// read HTTP/1.1 requests and answer `/metrics`, `/healthz` and `/readyz` (MetricsEndpoint decides).
import CSluice
import Glibc

extension Session {
    // MARK: - Counting

    /// Accepted: one more request in flight. A peer outside the trusted list of a service that
    /// receives PROXY headers is relayed untouched: that is its header outcome.
    func noteStarted() {
        let metrics = reactor.metrics
        if service.plan.handler == .metrics {
            metrics.endpointSessions += 1
            return
        }
        let row = service.metricRows.service
        metrics.connectionOpened(service: row, slot: slot)
        if service.plan.receive != nil && service.parser != nil && !service.trusts(remote.ip) {
            metrics.add(service: row, ServiceRow.proxyReceived + ProxyHeaderOutcome.untrusted.rawValue)
        }
    }

    /// The PROXY header question was settled with `outcome`.
    func noteProxyHeader(_ outcome: ProxyHeaderOutcome) {
        reactor.metrics.add(service: service.metricRows.service, ServiceRow.proxyReceived + outcome.rawValue)
    }

    /// A PROXY header of `version` (1, else 2) goes to a target or chain node.
    func noteProxyHeaderSent(version: Int) {
        reactor.metrics.add(service: service.metricRows.service, ServiceRow.proxySent + (version == 1 ? 0 : 1))
    }

    /// The connect to the current attempt's first address starts.
    func noteConnectStarted() {
        let i = Int(slot)
        guard i < reactor.metrics.slots.count else { return }
        reactor.metrics.slots[i].connectStartedAt = reactor.now
    }

    /// The first chain node answered TCP: its connect time (GOST times the first node only).
    func noteFirstNodeConnected() {
        let rows = service.metricRows.firstHopNodes
        let i = Int(slot)
        guard let node = dial.hopNodes.first, node < rows.count, i < reactor.metrics.slots.count else { return }
        reactor.metrics.nodeConnected(rows[node], reactor.now - reactor.metrics.slots[i].connectStartedAt)
    }

    /// An attempt through the chain failed before the tunnel reached its last node.
    func noteChainError() {
        reactor.metrics.chainFailed(service.metricRows.chain)
    }

    /// The bytes moved since the last look (the reactor's housekeeping calls this for every open
    /// connection, so long transfers show while they run).
    func countTransfer() {
        guard let service else { return }
        reactor.metrics.countTransfer(
            service: service.metricRows.service, slot: slot, input: input.bytesRead, output: output.bytesWritten)
    }

    /// Closing with `reason` at `now`: the duration, the reason, the last bytes.
    func noteClosed(_ reason: CloseReason, now: Int64) {
        reactor.metrics.connectionClosed(
            service: service.metricRows.service, slot: slot, reason: reason, duration: now - acceptedAt,
            input: input.bytesRead, output: output.bytesWritten)
    }

    // MARK: - The metrics endpoint

    /// The first buffer of a request head (Prometheus's is about 250 bytes).
    static let metricsRequestBufferSize = 1024

    /// A metrics endpoint connection: read requests until the client leaves. `greeting` is the
    /// phase (its deadline is the request's: `readTimeout`, 15 s by default, for each request).
    func startMetrics() {
        phase = .greeting
        setDeadline(service.plan.handshakeTimeout)
        armTimer()
        serveMetrics()
    }

    /// Writes what is left of the last response, then reads and answers requests one at a time.
    func serveMetrics() {
        guard let endpoint = service.metricRows.endpoint else { return close(.requestRefused) }
        let resources = reactor.resources
        switch output.flushHeld(to: clientFD, resources) {
        case .blocked: return
        case .writeFailed(let e): return close(.clientError(e))
        default: break
        }
        while true {
            if !input.pending.isEmpty {
                let bytes = UnsafeRawBufferPointer(
                    start: input.pending.base! + input.pending.start, count: input.pending.count)
                if case .reply(let reply) = endpoint.received(bytes, ready: MetricsHub.shared.isReady) {
                    input.pending.start += min(reply.consumed, input.pending.count)
                    if input.pending.isEmpty { input.pending.release(to: resources.buffers) }
                    // Another request waits until this response is written (or the session ended).
                    guard respond(to: reply), output.pending.isEmpty else { return }
                    continue
                }
            }
            guard input.srcReadable else { return }
            if input.pending.base == nil {
                input.pending = .allocate(capacity: Self.metricsRequestBufferSize)
            } else if input.pending.room == 0 {
                input.pending.compact()
                if input.pending.room == 0 {
                    // `maxHeadLength` bytes without a head end: the endpoint answers 431 above.
                    input.pending.grow(
                        to: min(MetricsEndpoint.maxHeadLength, 2 * input.pending.capacity), resources.buffers)
                }
            }
            let room = min(input.pending.room, MetricsEndpoint.maxHeadLength - input.pending.count)
            guard room > 0 else { return }
            switch Socket.recv(clientFD, input.pending.base! + input.pending.end, room) {
            case .bytes(let n):
                input.pending.end += n
                if n < room && !input.srcClosing { input.srcReadable = false }
            case .eof: return close(.done)
            case .wouldBlock:
                input.srcReadable = false
                return
            case .error(let e): return close(.clientError(e))
            }
        }
    }

    /// Sends the response to `reply`. True while the connection stays open for another request;
    /// false once it is closing (lingering for the client's EOF, or closed).
    private func respond(to reply: MetricsEndpoint.Reply) -> Bool {
        var reply = reply
        let metrics = reactor.metrics
        // While draining, every response ends its connection: the drain must not wait for scrapers.
        if MetricsHub.shared.isDraining { reply.keepAlive = false }
        metrics.response.removeAll(keepingCapacity: true)
        if reply.answer == .metrics {
            renderMetrics()
            MetricsEndpoint.writeHead(reply, contentLength: metrics.writer.bytes.count, into: &metrics.response)
            if !reply.headOnly { metrics.response.append(contentsOf: metrics.writer.bytes) }
        } else {
            let body = reply.answer.body
            MetricsEndpoint.writeHead(reply, contentLength: body.utf8CodeUnitCount, into: &metrics.response)
            if !reply.headOnly { metrics.response.append(body) }
        }
        guard sendResponse() else { return false }
        if reply.keepAlive {
            setDeadline(service.plan.handshakeTimeout)
            armTimer()
            return true
        }
        // Shut the write side once the response is out, and read until the client's EOF, so the close
        // does not turn into a reset that destroys the response (see `closeAfterReply`).
        phase = .lingering(.done)
        setDeadline(Self.lingerTimeout)
        armTimer()
        linger()
        return false
    }

    /// The exposition of every reactor's counters into the reactor's reused buffers.
    private func renderMetrics() {
        reactor.publishMetrics()
        let metrics = reactor.metrics
        MetricsHub.shared.snapshot(into: &metrics.snapshot)
        metrics.snapshot.logLinesDropped = reactor.logger.sink.droppedTotal
        metrics.writer.bytes.removeAll(keepingCapacity: true)
        metrics.snapshot.render(into: &metrics.writer)
    }

    /// Writes the response in `reactor.metrics.response` as far as the socket takes it; the rest
    /// waits in `output.pending`. False when the session closed.
    private func sendResponse() -> Bool {
        let resources = reactor.resources
        let response = reactor.metrics.response
        var sent = 0
        while sent < response.count && output.dstWritable {
            output.willWrite(to: clientFD)
            let result = response.withUnsafeBytes { Socket.send(clientFD, $0.baseAddress! + sent, $0.count - sent) }
            switch result {
            case .bytes(let n):
                sent += n
                output.bytesWritten += Int64(n)
                if sent < response.count { output.dstWritable = false }
            case .wouldBlock, .eof: output.dstWritable = false
            case .error(let e):
                close(.clientError(e))
                return false
            }
        }
        guard sent < response.count else { return true }
        let rest = response.count - sent
        output.pending.release(to: resources.buffers)
        // A response larger than a pool buffer (many services) gets a buffer of its own.
        if rest <= resources.buffers.bufferSize {
            output.pending = .lease(from: resources.buffers)
        } else {
            output.pending = .allocate(capacity: rest)
        }
        response.withUnsafeBytes { output.pending.base!.copyMemory(from: $0.baseAddress! + sent, byteCount: rest) }
        output.pending.end = rest
        return true
    }

    /// Closes a metrics endpoint connection: the same teardown as `close`, without the connection's
    /// log lines (probes and scrapes would flood the log) or its counters (GOST does not count its
    /// metrics server either).
    func closeMetrics() {
        if armedTick != 0 { reactor.timers.cancel(slot: slot) }
        let resources = reactor.resources
        input.releaseAll(resources)
        output.releaseAll(resources)
        if clientFD >= 0 { Socket.close(clientFD, reset: false) }
        clientFD = -1
        phase = .closed
        reactor.metrics.endpointSessions -= 1
        reactor.release(self)
    }
}
