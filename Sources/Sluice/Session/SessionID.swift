// SessionID: a short unique id per connection in the shape of GOST's xid (12 bytes, 20 base32hex
// characters): 4 bytes of seconds, 3 bytes of process-random machine id, 2 bytes of pid, 3 bytes
// of counter.
import Glibc
import Synchronization

/// A connection id, logged as `sid`.
public struct SessionID: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64  // bytes 0–7
    public var low: UInt32  // bytes 8–11

    private static let counter = Atomic<UInt32>(UInt32.random(in: 0..<0x100_0000))
    private static let machine = UInt64.random(in: 0..<0x100_0000)
    private static let pid = UInt64(UInt32(truncatingIfNeeded: getpid()) & 0xffff)

    /// A new id for `wallSeconds`.
    public static func next(wallSeconds: Int64) -> SessionID {
        let count = counter.wrappingAdd(1, ordering: .relaxed).oldValue & 0xff_ffff
        let high = UInt64(UInt32(truncatingIfNeeded: wallSeconds)) << 32 | machine << 8 | pid >> 8
        let low = UInt32(pid & 0xff) << 24 | count
        return SessionID(high: high, low: low)
    }

    public static let textLength = 20

    /// Writes the 20 characters at `out`: the 96 bits in groups of five, the last group padded
    /// with zero bits, as xid does.
    @inline(__always)
    public func write(to out: UnsafeMutablePointer<UInt8>) {
        let alphabet: StaticString = "0123456789abcdefghijklmnopqrstuv"
        let digits = alphabet.utf8Start
        // 96 bits, then 4 zero bits: 100 bits, 20 groups, the first group in the top bits.
        let bits = (UInt128(high) << 36) | (UInt128(low) << 4)
        for i in 0..<20 {
            out[i] = digits[Int(truncatingIfNeeded: (bits >> UInt128(95 - i * 5)) & 31)]
        }
    }

    public var description: String {
        String(unsafeUninitializedCapacity: Self.textLength) {
            write(to: $0.baseAddress!)
            return Self.textLength
        }
    }
}
