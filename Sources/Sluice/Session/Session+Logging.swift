// Session log lines, in GOST v3.2.6's shape: `R <> L` on accept, `R >> D` when a proxy client names
// its destination (debug), `R <-> T` when connected, `R >-< T` when the relay ends, `R >< L` on
// close, errors at `error` level.

extension Session {
    /// The fields every line of this connection carries.
    @inline(__always)
    func addConnectionFields(_ line: inout LineBuilder) {
        service.addServiceFields(&line)
        if let handlerText { line.add(.handler, .escaped(handlerText)) }
        line.add(.client, .address(client))
        line.add(.local, .address(local))
        line.add(.network, .literal("tcp"))
        line.add(.remote, .address(remote))
        line.add(.sid, .sid(id))
        if let inbound, let user = inbound.user { line.add(.user, .text(user)) }
    }

    /// The far side as the `<->` and `>-<` lines name it: the forward target as written, or the
    /// proxy client's destination.
    private func addTargetFields(_ line: inout LineBuilder, arrow: StaticString) {
        if let requested = dial.requested {
            line.add(.host, .text(requested.text))
            line.add(.msg, .text("\(remote) \(arrow) \(requested.text)"))
        } else if dial.targetIndex >= 0 {
            line.add(.node, .escaped(service.targetNames[dial.targetIndex]))
            line.add(.msg, .flowText(remote, arrow, service.targetTexts[dial.targetIndex]))
        }
    }

    func logAccepted() {
        reactor.logger.log(.info) { line in
            addConnectionFields(&line)
            line.add(.msg, .flow(remote, "<>", local))
        }
    }

    /// Debug: what a proxy client asked for.
    func logRequest(_ destination: Destination) {
        let logger = reactor.logger
        guard logger.enabled(.debug) else { return }
        logger.log(.debug) { line in
            addConnectionFields(&line)
            line.add(.dst, .text(destination.text))
            line.add(.msg, .text("\(remote) >> \(destination.text)"))
        }
    }

    func logConnected() {
        let logger = reactor.logger
        guard logger.enabled(.info) else { return }
        let source = Socket.localAddress(upstreamFD)
        logger.log(.info) { line in
            addConnectionFields(&line)
            if let address = dial.address { line.add(.dst, .address(address)) }
            if let source { line.add(.src, .address(source)) }
            addTargetFields(&line, arrow: "<->")
        }
    }

    func logRelayEnded(now: Int64) {
        reactor.logger.log(.info) { line in
            addConnectionFields(&line)
            line.add(.duration, .integer(now - connectedAt))
            addTargetFields(&line, arrow: ">-<")
        }
    }

    func logClosed(now: Int64, reason: CloseReason) {
        reactor.logger.log(.info) { line in
            addConnectionFields(&line)
            line.add(.duration, .integer(now - acceptedAt))
            line.add(.inputBytes, .integer(input.bytesRead))
            line.add(.outputBytes, .integer(output.bytesWritten))
            line.add(.reason, .literal(reason.name))
            line.add(.msg, .flow(remote, "><", local))
        }
    }

    /// Debug: the route of a dial attempt, as GOST's router writes it
    /// (`route(retry=0) node-0@1.2.3.4:8000 > target`).
    func logRoute() {
        let logger = reactor.logger
        guard logger.enabled(.debug) else { return }
        var path = ""
        if let chain = service.plan.chain {
            for (hop, index) in dial.hopNodes.enumerated() {
                let node = chain.hops[hop].nodes[index]
                path += "\(node.name)@\(node.text) > "
            }
        }
        path += dial.requested?.text ?? service.plan.targets[dial.targetIndex].text
        let attempt = dial.attempts - 1
        logger.log(.debug) { line in
            addConnectionFields(&line)
            line.add(.msg, .text("route(retry=\(attempt)) \(path)"))
        }
    }

    /// An `error` line with the connection's fields (and the target's, once one was picked).
    func logError(_ fill: (inout LineBuilder) -> Void) {
        reactor.logger.log(.error) { line in
            addConnectionFields(&line)
            if let requested = dial.requested {
                line.add(.dst, .text(requested.text))
            } else if dial.targetIndex >= 0 {
                line.add(.node, .escaped(service.targetNames[dial.targetIndex]))
                line.add(.dst, .escaped(service.targetTexts[dial.targetIndex]))
            }
            fill(&line)
        }
    }
}
