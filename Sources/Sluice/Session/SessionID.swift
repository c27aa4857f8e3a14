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

    /// Writes the 20 characters at `out`.
    public func write(to out: UnsafeMutablePointer<UInt8>) {
        let alphabet: StaticString = "0123456789abcdefghijklmnopqrstuv"
        // 96 bits as 20 groups of 5 (the last group is padded with zero bits, as xid does).
        alphabet.withUTF8Buffer { a in
            for i in 0..<20 {
                let bit = i * 5
                var v: UInt64 = 0
                for b in 0..<5 {
                    let n = bit + b
                    let set: Bool
                    if n < 64 {
                        set = (high >> UInt64(63 - n)) & 1 != 0
                    } else if n < 96 {
                        set = (low >> UInt32(95 - n)) & 1 != 0
                    } else {
                        set = false
                    }
                    v = v << 1 | (set ? 1 : 0)
                }
                out[i] = a[Int(v)]
            }
        }
    }

    public var description: String {
        String(unsafeUninitializedCapacity: Self.textLength) {
            write(to: $0.baseAddress!)
            return Self.textLength
        }
    }
}
