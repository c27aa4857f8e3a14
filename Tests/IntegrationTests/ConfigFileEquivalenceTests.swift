// The seed page's three configuration-file examples (receive, forward-send, chain), each run from
// `-C file.yaml` and from its command-line twin: the same bytes reach the target (or the chain's
// proxy) and the client, and the two logs agree line by line but for time, sid and ports.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ConfigFileTests {
    @Suite("Seed examples: -C file against the command line")
    struct Equivalence {
        /// One example of the seed page (GOST's PROXY protocol page), with local ports.
        enum Example: String, CaseIterable, CustomTestStringConvertible {
            /// `services[0]`: an `http` handler receiving PROXY headers (`metadata.proxyProtocol: 1`
            /// under the service: the page's block, its TAB read as the 4 spaces of the Markdown
            /// indentation). Twin: `-L http://:0?proxyProtocol=1`.
            case receive
            /// A `tcp` forwarder sending a header to its target (`handler.metadata.proxyProtocol:
            /// 1`). Twin: `-L tcp://:0/:T?handler.proxyProtocol=1`.
            case forwardSend
            /// An `auto` handler on `chain-0`, whose hop sends a header to its http node (hop
            /// `metadata.proxyProtocol: 1`). Twin: `-L :0 -F http://:P?proxyProtocol=1`.
            case chain

            var testDescription: String { rawValue }

            /// The YAML of the page with `:8080` → `:0` and `:8000` → `:<upstream>`.
            func yaml(upstream: UInt16) -> String {
                switch self {
                case .receive:
                    """
                    services:
                    - name: service-0
                      addr: :0
                      handler:
                        type: http
                      listener:
                        type: tcp
                      metadata:
                        proxyProtocol: 1

                    """
                case .forwardSend:
                    """
                    services:
                    - name: service-0
                      addr: :0
                      handler:
                        type: tcp
                        metadata:
                          proxyProtocol: 1
                      listener:
                        type: tcp
                      forwarder:
                        nodes:
                          - name: target-0
                            addr: :\(upstream)

                    """
                case .chain:
                    """
                    services:
                      - name: service-0
                        addr: :0
                        handler:
                          type: auto
                          chain: chain-0
                        listener:
                          type: tcp
                    chains:
                      - name: chain-0
                        hops:
                          - name: hop-0
                            nodes:
                              - name: node-0
                                addr: :\(upstream)
                                connector:
                                  type: http
                                dialer:
                                  type: tcp
                            metadata:
                              proxyProtocol: 1

                    """
                }
            }

            /// The page's command line for the same service.
            func commandLine(upstream: UInt16) -> [String] {
                switch self {
                case .receive: ["-L", "http://:0?proxyProtocol=1"]
                case .forwardSend: ["-L", "tcp://:0/:\(upstream)?handler.proxyProtocol=1"]
                case .chain: ["-L", ":0", "-F", "http://:\(upstream)?proxyProtocol=1"]
                }
            }
        }

        /// The servers one example talks to; shared by both runs, so their ports are the same.
        final class Upstreams {
            /// The receive and forward-send target: records what arrives, answers `pong`.
            let target: RecordingServer
            /// The chain's http node: records the PROXY header and the CONNECT head.
            let proxy: RecordingHTTPProxy
            /// Where the chain's CONNECT goes.
            let echo: EchoServer

            init() throws {
                target = try RecordingServer(reply: ascii("pong"), replyWhen: .afterFirstBytes)
                proxy = try RecordingHTTPProxy(.init(expectsProxyHeader: true))
                echo = try EchoServer()
            }

            /// The port `:8000` of the page stands for.
            func port(_ example: Example) -> UInt16 { example == .chain ? proxy.port : target.port }
        }

        /// What one run produced.
        struct Run {
            /// Every byte the client received.
            var clientBytes: [UInt8]
            /// What the target (receive, forward-send) or the chain's node (chain) received, with
            /// the client's and sluice's ports written as `<client>` and `<sluice>`.
            var upstreamBytes: String
            /// The whole log, normalized (`ConfigFiles.normalized`).
            var log: [String]
            /// The accept line of the client's connection.
            var accept: JSONValue?
        }

        /// For each example: the file run and the command-line run send the same bytes to the
        /// target or node (checked against the exact bytes expected too: no header on receive,
        /// `PROXY TCP4 127.0.0.2 127.0.0.1 <client port> <sluice port>` before `ping` on send,
        /// before the CONNECT head on the chain), the client gets the same bytes, the receive
        /// run logs the header's client, and the two logs (start-up, the connection's lines,
        /// shutdown) agree line by line: handler, kind, listener, service, node and msg.
        @Test(arguments: Example.allCases)
        func fileAndCommandLineAgree(example: Example) throws {
            let upstreams = try Upstreams()
            let directory = try ConfigFiles.directory()
            let file = try directory.write("\(example.rawValue).yaml", example.yaml(upstream: upstreams.port(example)))

            let fromFile = try run(example, ["-C", file], upstreams: upstreams, index: 0)
            let fromCommandLine = try run(
                example, example.commandLine(upstream: upstreams.port(example)), upstreams: upstreams, index: 1)

            #expect(fromFile.upstreamBytes == fromCommandLine.upstreamBytes)
            #expect(fromFile.clientBytes == fromCommandLine.clientBytes)
            ConfigFiles.expectSameLog(fromFile.log, fromCommandLine.log, "\(example): -C log against -L log")
            for run in [fromFile, fromCommandLine] {
                #expect(run.accept?["service"]?.string == "service-0")
                if example == .receive {
                    #expect(run.accept?["client"]?.string == "203.0.113.7:40000", "\(run.log)")
                }
            }
        }

        /// Starts sluice with `arguments`, makes the example's exchange (the `index`th connection
        /// to its upstream), stops sluice with SIGTERM and returns what happened.
        func run(_ example: Example, _ arguments: [String], upstreams: Upstreams, index: Int) throws -> Run {
            let sluice = try SluiceProcess.start(arguments)
            #expect(sluice.listeners.first?.description == "[::]:\(sluice.port)", "\(sluice.stderrText)")
            let connection = try sluice.connect(from: peer2)
            let client = try connection.clientAddress
            var clientBytes: [UInt8] = []
            let expected: [UInt8]
            let received: [UInt8]?
            let header = "PROXY TCP4 127.0.0.2 127.0.0.1 \(client.port) \(sluice.port)\r\n"
            switch example {
            case .receive:
                try connection.sendAll(spoofedV1 + ConfigFiles.connectRequest(upstreams.target.target))
                clientBytes += try ConfigFiles.readHead(connection)
                try connection.sendAll(ascii("ping"))
                clientBytes += try connection.receive(exactly: 4)
                expected = ascii("ping")
                received = upstreams.target.waitForBytes(expected.count, on: index)
            case .forwardSend:
                try connection.sendAll(ascii("ping"))
                clientBytes += try connection.receive(exactly: 4)
                expected = ascii(header + "ping")
                received = upstreams.target.waitForBytes(expected.count, on: index)
            case .chain:
                try connection.sendAll(ConfigFiles.connectRequest(upstreams.echo.target))
                clientBytes += try ConfigFiles.readHead(connection)
                #expect(try connection.echo("ping"), "\(sluice.stderrText)")
                clientBytes += ascii("ping")
                expected = ascii(header + connectHead(upstreams.echo.target))
                received = upstreams.proxy.waitForRecords(index + 1)?[index].received
            }
            #expect(received == expected, "got \(printable(received ?? [])):\n\(sluice.stderrText)")
            try connection.shutdownWrite()
            clientBytes += try connection.receiveUntilEOF()
            let log = try sluice.requireClosedLog(client)
            #expect(sluice.terminate() == 0, "\(sluice.stderrText)")

            let upstreamText = String(decoding: received ?? [], as: UTF8.self)
                .replacing(" \(client.port) ", with: " <client> ").replacing(
                    " \(sluice.port)\r\n", with: " <sluice>\r\n")
            return Run(
                clientBytes: clientBytes, upstreamBytes: upstreamText, log: ConfigFiles.normalized(sluice.jsonLines),
                accept: log.accepted)
        }
    }
}
