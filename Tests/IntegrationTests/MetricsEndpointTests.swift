// The metrics endpoint of the real binary: every way to turn it on, counters that match the traffic
// served (requests, bytes, close reasons, PROXY header outcomes, chains), promtool's verdict on the
// exposition, and the error statuses.
import Glibc
import Sluice
import TestSupport
import Testing

extension SluiceProcess {
    /// Starts sluice with `arguments` and `-metrics 127.0.0.1:0` (`metrics` extra flags included);
    /// the endpoint is the last of `services + 1` listeners.
    static func withMetrics(
        _ arguments: [String], services: Int, metrics: String = "127.0.0.1:0"
    ) throws
        -> SluiceProcess
    {
        try start(arguments + ["-metrics", metrics], expectListeners: services + 1)
    }

    /// The metrics endpoint: the last listener.
    var metricsAddress: SocketAddress { address(listeners.count - 1) }

    /// One scrape of `path` (of the endpoint at `address`, by default the last listener).
    func scrape(_ path: String = "/metrics", at address: SocketAddress? = nil) throws -> ExpositionSamples {
        let response = try HTTPExchange.request(address ?? metricsAddress, path)
        guard response.status == 200 else { throw TestSupportError("scrape \(path)", detail: "\(response)") }
        return ExpositionSamples(response.text)
    }

    /// Scrapes until `condition` holds (counters are published within ~0.5 s); the last scrape
    /// either way.
    func waitForMetrics(
        path: String = "/metrics", at address: SocketAddress? = nil, timeout: Duration = .seconds(10),
        _ condition: (ExpositionSamples) -> Bool
    ) throws -> (met: Bool, samples: ExpositionSamples) {
        let deadline = Deadline(timeout)
        while true {
            let samples = try scrape(path, at: address)
            if condition(samples) { return (true, samples) }
            if deadline.hasPassed { return (false, samples) }
            sleep(for: .milliseconds(50))
        }
    }
}

extension Integration {
    @Suite("Metrics and health endpoints")
    struct MetricsEndpointTests {
        /// `-metrics`, GOST_METRICS, `metrics:` in a file, and `-L metrics://` all start one endpoint
        /// that answers `/healthz` and its exposition path.
        @Test(arguments: ["flag", "environment", "file", "service"])
        func everyWayToTurnItOnServes(way: String) throws {
            let echo = try EchoServer()
            let forward = forwardURL(to: [echo.target])
            let directory = try TemporaryDirectory(prefix: "metrics-config")
            var arguments = ["-L", forward]
            var environment: [String: String] = [:]
            var path = "/metrics"
            switch way {
            case "flag": arguments += ["-metrics", "127.0.0.1:0?path=/stats"]
            case "environment": environment["GOST_METRICS"] = "127.0.0.1:0"
            case "file":
                let file = try directory.write(
                    "gost.yaml", "metrics:\n  addr: 127.0.0.1:0\n  path: /prom\n")
                arguments += ["-C", file]
            default: arguments += ["-L", "metrics://127.0.0.1:0?path=/m"]
            }
            path = ["flag": "/stats", "file": "/prom", "service": "/m"][way] ?? path
            let sluice = try SluiceProcess.start(arguments, expectListeners: 2, environment: environment)
            let listening = sluice.jsonLines.filter { $0["msg"]?.string?.hasPrefix("listening on") == true }
            #expect(listening.last?["handler"]?.string == "metrics", "\(listening)")
            let health = try HTTPExchange.request(sluice.metricsAddress, "/healthz")
            #expect(health.status == 200 && health.text == "ok\n", "\(health)")
            let samples = try sluice.scrape(path)
            #expect(samples.int("gost_services") == 1)
            #expect(samples.types["gost_service_request_duration_seconds"] == "histogram")
            if path != "/metrics" {
                #expect(try HTTPExchange.request(sluice.metricsAddress, "/metrics").status == 404)
            }
        }

        /// The counters follow the traffic: requests, bytes both ways, durations, close reasons,
        /// every PROXY header outcome (v1, v2, none, invalid, untrusted) and headers sent; the
        /// endpoint's own requests are not counted.
        @Test func countersMatchTheTrafficServed() throws {
            let echo = try EchoServer()
            let sluice = try SluiceProcess.withMetrics(
                [
                    "-threads", "2",
                    "-L", forwardURL(to: [echo.target]),
                    "-L", forwardURL(to: [echo.target], query: "proxyProtocol=1&proxyProtocol.trusted=127.0.0.1/32"),
                    "-L", forwardURL(to: [echo.target], query: "handler.proxyProtocol=2"),
                ], services: 3)
            var plainBytes = 0
            for i in 0..<3 {
                let connection = try sluice.connect(0)
                let message = "hello \(i) " + String(repeating: "x", count: 100 * i)
                #expect(try connection.echo(message))
                plainBytes += message.utf8.count
                connection.close()
            }
            // Service 1 receives headers: v1, v2, none, invalid, and one from an untrusted peer.
            let v1 = Array("PROXY TCP4 192.0.2.1 192.0.2.2 1000 80\r\n".utf8)
            let v2: [UInt8] =
                [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0x00, 0x0C]
                + [192, 0, 2, 1, 192, 0, 2, 2, 0x03, 0xE8, 0x00, 0x50]
            for header in [v1, v2, []] {
                let connection = try sluice.connect(1)
                try connection.sendAll(header + Array("ping".utf8))
                #expect(try connection.receive(exactly: 4) == Array("ping".utf8))
                connection.close()
            }
            let invalid = try sluice.connect(1)
            try invalid.sendAll("PROXY TCP4 bad\r\n")
            #expect(invalid.waitForClose(timeout: .seconds(5)).isClosed)
            let untrusted = try TestConnection.connect(to: sluice.address(1), from: .v4(IPv4Address(127, 0, 0, 2)))
            try untrusted.sendAll(v1)
            #expect(try untrusted.receive(exactly: v1.count) == v1, "an untrusted peer's header is relayed as data")
            untrusted.close()
            // Service 2 sends a v2 header to its target (which echoes it back after the payload's way in).
            let sending = try sluice.connect(2)
            try sending.sendAll("s")
            #expect(try sending.receive(exactly: 29).last == UInt8(ascii: "s"))
            sending.close()

            let service = { (name: String) in [("service", name)] }
            let (met, samples) = try sluice.waitForMetrics { s in
                (0..<3).allSatisfy { s.int("gost_service_requests_in_flight", service("service-\($0)")) == 0 }
                    && s.int("gost_service_requests_total", service("service-1")) == 5
                    && s.int("gost_service_request_duration_seconds_count", service("service-2")) == 1
            }
            #expect(met, "the counters did not settle: \(samples.values.filter { $0.value != 0 })")
            #expect(samples.int("gost_services") == 3)
            #expect(samples.int("sluice_reactors") == 2)
            #expect(samples.int("gost_service_requests_total", service("service-0")) == 3)
            #expect(samples.int("gost_service_request_duration_seconds_count", service("service-0")) == 3)
            #expect(samples.int("gost_service_transfer_input_bytes_total", service("service-0")) == plainBytes)
            #expect(samples.int("gost_service_transfer_output_bytes_total", service("service-0")) == plainBytes)
            #expect(
                samples.int("gost_service_request_duration_seconds_bucket", service("service-0") + [("le", "+Inf")])
                    == 3)
            #expect(samples.int("sluice_connections_closed_total", service("service-0") + [("reason", "done")]) == 3)
            #expect(
                samples.int("sluice_connections_closed_total", service("service-1") + [("reason", "headerInvalid")])
                    == 1)
            #expect(samples.int("gost_service_handler_errors_total", service("service-1")) == 0)
            for outcome in ["v1", "v2", "none", "invalid", "untrusted"] {
                #expect(
                    samples.int("sluice_proxy_headers_received_total", service("service-1") + [("outcome", outcome)])
                        == 1, "outcome \(outcome)")
            }
            #expect(samples.int("sluice_proxy_headers_sent_total", service("service-2") + [("version", "2")]) == 1)
            #expect(samples.int("sluice_proxy_headers_sent_total", service("service-0") + [("version", "2")]) == 0)
            #expect(samples.int("gost_service_requests_total", service("metrics")) == nil)
        }

        /// promtool accepts the exposition of a process with chains (a live one and a dead one),
        /// failed dials and a custom path; the chain families count what happened.
        @Test func promtoolAcceptsTheExposition() throws {
            let echo = try EchoServer()
            let proxy = try RecordingHTTPProxy()
            let dead = try ClosedPort()
            let directory = try TemporaryDirectory(prefix: "metrics-chains")
            let file = try directory.write(
                "gost.yaml",
                """
                services:
                - name: via-live
                  addr: 127.0.0.1:0
                  handler: {type: tcp, chain: live}
                  forwarder: {nodes: [{name: echo, addr: "\(echo.target)"}]}
                - name: "via \\"dead\\""
                  addr: 127.0.0.1:0
                  handler: {type: tcp, chain: dead}
                  forwarder: {nodes: [{name: echo, addr: "\(echo.target)"}]}
                chains:
                - name: live
                  hops: [{name: hop-0, nodes: [{name: proxy-a, addr: "\(proxy.address)"}]}]
                - name: dead
                  hops: [{name: hop-0, nodes: [{name: proxy-b, addr: "\(dead.target)"}]}]
                metrics: {addr: "127.0.0.1:0", path: /custom}

                """)
            let sluice = try SluiceProcess.start(["-C", file], expectListeners: 3)
            let live = try sluice.connect(0)
            #expect(try live.echo("through the chain"))
            live.close()
            let failed = try sluice.connect(1)
            #expect(failed.waitForClose(timeout: .seconds(10)).isClosed)

            let response = try HTTPExchange.request(sluice.metricsAddress, "/custom")
            #expect(response.status == 200)
            #expect(response.field("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
            let check = try Promtool.checkMetrics(response.text)
            #expect(check.exitCode == 0, "promtool: \(check.stdout)\(check.stderr)\n\(response.text)")
            #expect(check.stdout.isEmpty && check.stderr.isEmpty, "promtool: \(check.stdout)\(check.stderr)")

            let final = try sluice.waitForMetrics(path: "/custom") { s in
                s.int("gost_chain_errors_total", [("chain", "dead")]) == 1
                    && s.int(
                        "gost_chain_node_connect_duration_seconds_count", [("chain", "live"), ("node", "proxy-a")])
                        == 1
            }
            #expect(final.met, "\(final.samples.values.filter { $0.key.hasPrefix("gost_chain") })")
            #expect(final.samples.int("gost_chain_errors_total", [("chain", "live")]) == 0)
            #expect(
                final.samples.int(
                    "gost_service_handler_errors_total", [("service", "via \\\"dead\\\"")]) == 1,
                "the label value is escaped")
            #expect(
                final.samples.int(
                    "sluice_connections_closed_total", [("service", "via \\\"dead\\\""), ("reason", "dialFailed")])
                    == 1)
            #expect(
                final.samples.int(
                    "gost_chain_node_connect_duration_seconds_count", [("chain", "dead"), ("node", "proxy-b")]) == 0)
        }

        /// Errors: 404 for another path (the connection stays open), 405 with `Allow` for another
        /// method, 400 for a malformed head or a missing Host (closed), 431 for a head too long;
        /// HEAD gets the head alone; pipelined requests are answered in order; HTTP/1.0 closes.
        @Test func errorStatusesAndConnectionHandling() throws {
            let echo = try EchoServer()
            let sluice = try SluiceProcess.withMetrics(["-L", forwardURL(to: [echo.target])], services: 1)
            let address = sluice.metricsAddress

            let keptOpen = try HTTPClientConnection.connect(to: address)
            try keptOpen.request("GET", "/nope")
            let notFound = try keptOpen.readResponse()
            #expect(notFound.status == 404 && notFound.field("Connection") == nil, "\(notFound)")
            try keptOpen.request("HEAD", "/metrics")
            let head = try keptOpen.readResponse(headOnly: true)
            #expect(head.status == 200 && (Int(head.field("Content-Length") ?? "") ?? 0) > 1000, "\(head)")
            try keptOpen.request("GET", "/readyz?verbose=1")
            let ready = try keptOpen.readResponse()
            #expect(ready.status == 200 && ready.text == "ready\n", "\(ready) (HEAD must not have sent a body)")
            keptOpen.close()

            let method = try HTTPExchange.request(address, "/metrics", method: "POST")
            #expect(method.status == 405 && method.field("Allow") == "GET, HEAD", "\(method)")

            for (request, status) in [
                ("GARBAGE\r\n\r\n", 400), ("GET /metrics HTTP/1.1\r\n\r\n", 400),
                ("GET /metrics HTTP/1.1\r\nHost: a\r\nBad Field: x\r\n\r\n", 400),
                ("GET /metrics HTTP/2.0\r\nHost: a\r\n\r\n", 400),
                ("GET /metrics HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "y", count: 9000) + "\r\n\r\n", 431),
            ] {
                let client = try HTTPClientConnection.connect(to: address)
                try client.send(request)
                let response = try client.readResponse()
                #expect(response.status == status, "\(request.prefix(60).debugDescription): \(response)")
                #expect(response.field("Connection") == "close")
                #expect(client.connection.waitForClose(timeout: .seconds(5)) == .eof, "closed after \(status)")
            }

            let pipelined = try HTTPClientConnection.connect(to: address)
            try pipelined.send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /readyz HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try pipelined.readResponse().text == "ok\n")
            #expect(try pipelined.readResponse().text == "ready\n")
            pipelined.close()

            let old = try HTTPClientConnection.connect(to: address)
            try old.send("GET /healthz HTTP/1.0\r\n\r\n")
            #expect(try old.readResponse().status == 200)
            #expect(old.connection.waitForClose(timeout: .seconds(5)) == .eof, "HTTP/1.0 without keep-alive closes")

            // The forwarder is untouched by all of it.
            #expect(try sluice.connect(0).echo("still forwarding"))
        }

        /// `-metrics user:pass@…`: the exposition needs the credentials (401 with a Basic challenge
        /// otherwise); the health checks do not.
        @Test func credentialsGuardTheExpositionOnly() throws {
            let echo = try EchoServer()
            let sluice = try SluiceProcess.withMetrics(
                ["-L", forwardURL(to: [echo.target])], services: 1, metrics: "scraper:s3cret@127.0.0.1:0")
            let address = sluice.metricsAddress
            let refused = try HTTPExchange.request(address, "/metrics")
            #expect(refused.status == 401 && refused.field("WWW-Authenticate") == "Basic realm=\"metrics\"")
            let wrong = try HTTPExchange.request(address, "/metrics", headers: ["Authorization: Basic c2NyYXBlcjp4"])
            #expect(wrong.status == 401)
            // base64("scraper:s3cret")
            let admitted = try HTTPExchange.request(
                address, "/metrics", headers: ["Authorization: Basic c2NyYXBlcjpzM2NyZXQ="])
            #expect(admitted.status == 200 && admitted.text.contains("gost_services 1"), "\(admitted)")
            #expect(try HTTPExchange.request(address, "/healthz").status == 200)
            #expect(try HTTPExchange.request(address, "/readyz").status == 200)
        }
    }
}
