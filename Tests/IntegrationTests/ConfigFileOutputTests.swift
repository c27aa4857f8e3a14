// `-O yaml|json` through the binary: the configuration a command line prints reads back to the same
// text (from a YAML file, a JSON file and standard input), and running that file behaves like the
// command line: the same bytes reach the chain's node and the same lines are logged.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration.ConfigFileTests {
    @Suite("-O round trip through the binary")
    struct Output {
        /// What one run of the two services produced.
        struct Run {
            /// What the chain's node received per connection, ports written as `<client>`/`<sluice>`.
            var proxied: [String]
            var log: [String]
        }

        /// `sluice -L tcp://…/<echo1>,<echo2>?strategy=fifo&… -L http://…?proxyProtocol=1 -F
        /// http://user:pass@<node>?proxyProtocol=1 -O yaml` prints a configuration that `-C f.yaml
        /// -O yaml` prints again byte for byte, as do `-C f.json -O yaml` (after `-C f.yaml -O
        /// json`) and `-C - -O yaml` with either file on standard input. Then `sluice -C f.yaml`
        /// and the command line itself each forward one connection per service through the
        /// node: the node gets the same PROXY line and CONNECT head (with the credentials), the
        /// echo comes back, and the two logs agree line by line but for time, sid and ports.
        @Test func printedConfigurationReadsBackAndRunsTheSame() throws {
            let echo1 = try EchoServer()
            let echo2 = try EchoServer()
            let proxy = try RecordingHTTPProxy(.init(expectsProxyHeader: true))
            let commandLine = [
                "-L",
                "tcp://127.0.0.1:0/\(echo1.target),\(echo2.target)?strategy=fifo&maxFails=2&failTimeout=10s"
                    + "&handler.idleTimeout=30s",
                "-L", "http://127.0.0.1:0?proxyProtocol=1",
                "-F", "http://user:pass@\(proxy.target)?proxyProtocol=1",
            ]
            let printed = try ConfigFiles.run(commandLine + ["-O", "yaml"])
            #expect(printed.exitCode == 0, "\(printed)")
            let yaml = printed.stdout
            for part in [
                "name: service-0", "name: service-1", "chain: chain-0", "strategy: fifo", "failTimeout: 10s",
                "username: user", "password: pass", "proxyprotocol:", "idletimeout:",
            ] {
                #expect(yaml.contains(part), "\(part) missing from:\n\(yaml)")
            }

            let directory = try ConfigFiles.directory()
            let yamlFile = try directory.write("printed.yaml", yaml)
            let again = try ConfigFiles.run(["-C", yamlFile, "-O", "yaml"])
            #expect(again.exitCode == 0 && again.stdout == yaml, "\(again)\nfirst:\n\(yaml)")

            let asJSON = try ConfigFiles.run(["-C", yamlFile, "-O", "json"])
            #expect(asJSON.exitCode == 0 && asJSON.stdout.hasPrefix("{"), "\(asJSON)")
            let jsonFile = try directory.write("printed.json", asJSON.stdout)
            let fromJSON = try ConfigFiles.run(["-C", jsonFile, "-O", "yaml"])
            #expect(fromJSON.exitCode == 0 && fromJSON.stdout == yaml, "\(fromJSON)\nfirst:\n\(yaml)")
            for file in [yamlFile, jsonFile] {
                let fromStdin = try ConfigFiles.run(["-C", "-", "-O", "yaml"], stdin: file)
                #expect(fromStdin.exitCode == 0 && fromStdin.stdout == yaml, "\(file): \(fromStdin)")
            }

            let fromFile = try run(["-C", yamlFile], proxy: proxy, echo: echo1, httpTarget: echo2)
            let fromCommandLine = try run(commandLine, proxy: proxy, echo: echo1, httpTarget: echo2)
            #expect(fromFile.proxied == fromCommandLine.proxied)
            ConfigFiles.expectSameLog(fromFile.log, fromCommandLine.log, "-C printed.yaml log against -L/-F log")
        }

        /// Starts sluice, sends one connection through each service (the forwarder to `echo`, the
        /// http proxy with a CONNECT to `httpTarget`), checks what the node got, and stops it.
        func run(
            _ arguments: [String], proxy: RecordingHTTPProxy, echo: EchoServer, httpTarget: EchoServer
        ) throws -> Run {
            let sluice = try SluiceProcess.start(arguments, expectListeners: 2)
            let before = proxy.records.count
            var proxied: [String] = []
            for service in 0..<2 {
                let connection = try TestConnection.connect(to: sluice.address(service), from: peer2)
                let client = try connection.clientAddress
                let target = service == 0 ? echo.target : httpTarget.target
                if service == 1 {
                    try connection.sendAll(ConfigFiles.connectRequest(target))
                    let head = String(decoding: try ConfigFiles.readHead(connection), as: UTF8.self)
                    #expect(head.hasPrefix("HTTP/1.1 200 "), "\(head)")
                }
                #expect(try connection.echo("service \(service)"), "\(sluice.stderrText)")
                let record = try #require(proxy.waitForRecords(before + service + 1)?[before + service])
                let header = "PROXY TCP4 127.0.0.2 127.0.0.1 \(client.port) \(sluice.ports[service])\r\n"
                let expected = ascii(header + connectHead(target, authorization: "dXNlcjpwYXNz"))
                #expect(record.received == expected, "node got \(printable(record.received))")
                proxied.append(
                    String(decoding: record.received, as: UTF8.self).replacing(" \(client.port) ", with: " <client> ")
                        .replacing(" \(sluice.ports[service])\r\n", with: " <sluice>\r\n"))
                connection.close()
                _ = try sluice.requireClosedLog(client)
            }
            #expect(sluice.terminate() == 0, "\(sluice.stderrText)")
            return Run(proxied: proxied, log: ConfigFiles.normalized(sluice.jsonLines))
        }
    }
}
