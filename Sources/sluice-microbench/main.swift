// sluice-microbench: micro-benchmarks of pure parts (PROXY codec), run by scripts/bench. Each case runs
// for about a second on CLOCK_MONOTONIC; a checksum of every result is printed so no work can be elided.
// `sluice-microbench --probe <case> <iterations>` runs one case a fixed number of times without timing, for
// counting its heap allocations from outside (scripts/alloc-check runs it under valgrind).
import Glibc
import Sluice

// MARK: - Timing

func nanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

/// One benchmark: `run(n)` does the operation `n` times and returns a checksum of the results.
struct Case {
    let name: String
    let run: (Int) -> UInt64
}

nonisolated(unsafe) var checksum: UInt64 = 0

/// Calibrates the iteration count to about `seconds`, measures, and prints the rate.
func measure(_ bench: Case, seconds: Double = 1.0) {
    var iterations = 1000
    var elapsed: UInt64 = 0
    while true {
        let start = nanoseconds()
        checksum &+= bench.run(iterations)
        elapsed = nanoseconds() - start
        if elapsed >= 100_000_000 { break }
        iterations *= 4
    }
    iterations = max(iterations, Int(Double(iterations) * seconds * 1e9 / Double(elapsed)))
    let start = nanoseconds()
    checksum &+= bench.run(iterations)
    elapsed = nanoseconds() - start
    let rate = Double(iterations) * 1e9 / Double(elapsed)
    let nsPerOp = Double(elapsed) / Double(iterations)
    print(pad(bench.name, 30) + pad(format(rate / 1e6, 2) + " M headers/s", 18) + format(nsPerOp, 1) + " ns/header")
}

func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(1, width - text.count)) }

func format(_ value: Double, _ decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = String(rounded)
    if let dot = text.firstIndex(of: ".") {
        let have = text.distance(from: dot, to: text.endIndex) - 1
        if have < decimals { text += String(repeating: "0", count: decimals - have) }
    }
    return text
}

// MARK: - Inputs (built at run time, so nothing is a compile-time constant)

let v4Source = SocketAddress("192.168.0.1:56324")!
let v4Destination = SocketAddress("192.168.0.11:443")!
let v6Source = SocketAddress("[2001:db8::1]:51512")!
let v6Destination = SocketAddress("[2001:db8:0:1::2]:443")!
let threeTLVs = ProxyEncodeTLVs(alpn: Array("h2".utf8), authority: "example.com", crc32c: true)

func encoded(_ write: (UnsafeMutableRawBufferPointer) throws -> Int) -> [UInt8] {
    var buffer = [UInt8](repeating: 0, count: 512)
    let n = try! buffer.withUnsafeMutableBytes { try write($0) }
    return Array(buffer[..<n])
}

let v1Line = encoded { try ProxyEncoder.writeV1(source: v4Source, destination: v4Destination, into: $0) }
let v2Block = encoded {
    try ProxyEncoder.writeV2(source: v6Source, destination: v6Destination, tlvs: threeTLVs, into: $0)
}
let plain = Array("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n".utf8)
let parser = ProxyParser()
for input in [v1Line, v2Block] {
    guard case .header = parser.parse(input) else { fatalError("benchmark input does not parse") }
}

func parseCase(_ name: String, _ input: [UInt8]) -> Case {
    Case(name: name) { n in
        input.withUnsafeBytes { bytes in
            var sum: UInt64 = 0
            for _ in 0..<n {
                switch parser.parse(bytes) {
                case .header(let header, let consumed):
                    sum &+= UInt64(consumed) &+ UInt64(header.tlvs.count) &+ UInt64(header.source?.port ?? 0)
                case .needMore(let atLeast): sum &+= UInt64(atLeast)
                case .notProxy: sum &+= 1
                case .invalid: sum &+= 2
                }
            }
            return sum
        }
    }
}

func encodeCase(_ name: String, _ write: @escaping (UnsafeMutableRawBufferPointer) throws -> Int) -> Case {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 16)
    return Case(name: name) { n in
        var sum: UInt64 = 0
        for _ in 0..<n {
            let written = try! write(buffer)
            sum &+= UInt64(written) &+ UInt64(buffer[written - 1])
        }
        return sum
    }
}

if CommandLine.arguments.count == 1 {
    print("PROXY codec, \(v1Line.count)-byte v1 line, \(v2Block.count)-byte v2 header (TCP6 + ALPN, AUTHORITY, CRC32C)")
}
let cases = [
    parseCase("parse v1 TCP4", v1Line),
    parseCase("parse v2 TCP6 + 3 TLVs", v2Block),
    encodeCase("encode v1 TCP4") { try ProxyEncoder.writeV1(source: v4Source, destination: v4Destination, into: $0) },
    encodeCase("encode v2 TCP6 + 3 TLVs") {
        try ProxyEncoder.writeV2(source: v6Source, destination: v6Destination, tlvs: threeTLVs, into: $0)
    },
    encodeCase("encode v2 TCP4 (no TLVs)") {
        try ProxyEncoder.writeV2(source: v4Source, destination: v4Destination, into: $0)
    },
    parseCase("detect plain (notProxy)", plain),
    parseCase("partial v2 (needMore)", Array(v2Block[..<20])),
]
let arguments = CommandLine.arguments
if arguments.count > 1, arguments[1] == "--probe" {
    guard arguments.count == 4, let index = Int(arguments[2]), cases.indices.contains(index),
        let iterations = Int(arguments[3])
    else {
        print("usage: sluice-microbench --probe <case 0..<\(cases.count)> <iterations>")
        exit(2)
    }
    print("\(cases[index].name): checksum \(cases[index].run(iterations))")
    exit(0)
}
for bench in cases { measure(bench) }
print("checksum \(checksum)")
