// Integration tests for the forwarding core: their parent suite and the helpers they share. Each
// nested suite lives in its own `Forwarding*Tests.swift` file.
//
// These tests run the real `sluice` binary (see `SluiceProcess.binaryPath`) against loopback
// servers. Like every suite of this target they run one test at a time (see `Integration`):
// several measure time, memory or descriptors, which parallel tests would disturb.
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration {
    @Suite("Forwarding", .timeLimit(.minutes(2)))
    struct ForwardingTests {}
}

extension SluiceProcess {
    /// Starts `sluice [flags] -L tcp://<listen>/<targets>[?query]` and waits for its listener.
    static func forwarding(
        to targets: [String], query: String = "", flags: [String] = [], listen: String = "127.0.0.1:0"
    ) throws -> SluiceProcess {
        try start(flags + ["-L", forwardURL(listen: listen, to: targets, query: query)])
    }

    /// The `error` lines of connection `sid` whose message contains any of `words`
    /// (case-insensitive), waiting up to `timeout` for the first.
    func waitForError(sid: String, containing words: [String], timeout: Duration = .seconds(10)) -> JSONValue? {
        waitForLine(timeout: timeout) { line in
            guard line["sid"]?.string == sid, line["level"]?.string == "error",
                let message = line["msg"]?.string?.lowercased()
            else { return false }
            return words.contains { message.contains($0) }
        }
    }

    /// How many close lines (`" >< "`) have been logged.
    var closeLineCount: Int { jsonLines.filter { $0["msg"]?.string?.contains(" >< ") == true }.count }
}

extension TestConnection {
    /// Sends `text` and expects the same bytes back (through a forwarder to an echo server).
    func echo(_ text: String) throws -> Bool {
        let bytes = Array(text.utf8)
        return try exchange(bytes, expecting: bytes.count) == bytes
    }

    /// The client address as sluice logs it (`remote` of the accept line).
    var clientAddress: SocketAddress {
        get throws {
            guard let address = localAddress else { throw TestSupportError.system("getsockname") }
            return address
        }
    }
}

/// `127.0.0.1`.
let localhost = IPAddress.v4(IPv4Address(127, 0, 0, 1))

/// True when `text` looks like `2026-11-26T18:41:42.123Z` (or with a `+hh:mm` offset instead of Z).
func isLogTimestamp(_ text: String) -> Bool {
    text.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|[+-]\d{2}:\d{2})/) != nil
}
