// Session log lines, in GOST v3.2.6's shape: `R <> L` on accept, `R <-> T` when connected,
// `R >-< T` when the relay ends, `R >< L` on close, errors at `error` level.

extension Session {
    /// The fields every line of this connection carries.
    @inline(__always)
    func addConnectionFields(_ line: inout LineBuilder) {
        service.addServiceFields(&line)
        line.add(.client, .address(client))
        line.add(.local, .address(local))
        line.add(.network, .literal("tcp"))
        line.add(.remote, .address(remote))
        line.add(.sid, .sid(id))
    }

    func logAccepted() {
        reactor.logger.log(.info) { line in
            addConnectionFields(&line)
            line.add(.msg, .flow(remote, "<>", local))
        }
    }

    func logConnected() {
        let logger = reactor.logger
        guard logger.enabled(.info) else { return }
        let source = Socket.localAddress(upstreamFD)
        logger.log(.info) { line in
            addConnectionFields(&line)
            line.add(.node, .escaped(service.targetNames[targetIndex]))
            if let upstreamAddress { line.add(.dst, .address(upstreamAddress)) }
            if let source { line.add(.src, .address(source)) }
            line.add(.msg, .flowText(remote, "<->", service.targetTexts[targetIndex]))
        }
    }

    func logRelayEnded(now: Int64) {
        reactor.logger.log(.info) { line in
            addConnectionFields(&line)
            line.add(.duration, .integer(now - connectedAt))
            line.add(.msg, .flowText(remote, ">-<", service.targetTexts[targetIndex]))
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
            for (hop, index) in hopNodes.enumerated() {
                let node = chain.hops[hop].nodes[index]
                path += "\(node.name)@\(node.text) > "
            }
        }
        path += service.plan.targets[targetIndex].text
        let attempt = dialAttempts - 1
        logger.log(.debug) { line in
            addConnectionFields(&line)
            line.add(.msg, .text("route(retry=\(attempt)) \(path)"))
        }
    }

    /// An `error` line with the connection's fields (and the target's, once one was picked).
    func logError(_ fill: (inout LineBuilder) -> Void) {
        reactor.logger.log(.error) { line in
            addConnectionFields(&line)
            if targetIndex >= 0 {
                line.add(.node, .escaped(service.targetNames[targetIndex]))
                line.add(.dst, .escaped(service.targetTexts[targetIndex]))
            }
            fill(&line)
        }
    }
}
