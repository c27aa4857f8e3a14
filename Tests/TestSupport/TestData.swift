// Test data: a deterministic PRNG (SplitMix64), random byte buffers, an endless deterministic byte
// stream for servers to send, and a streaming 64-bit checksum for integrity checks.
import Glibc

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fast, seedable generator; the same seed always
/// gives the same sequence.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    @inline(__always)
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Fills `buffer` with the next bytes of the sequence (little-endian words).
    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        let count = buffer.count
        guard let base = buffer.baseAddress else { return }
        var offset = 0
        while offset + 8 <= count {
            base.storeBytes(of: next().littleEndian, toByteOffset: offset, as: UInt64.self)
            offset += 8
        }
        if offset < count {
            var word = next()
            while offset < count {
                base.storeBytes(of: UInt8(truncatingIfNeeded: word), toByteOffset: offset, as: UInt8.self)
                word >>= 8
                offset += 1
            }
        }
    }
}

/// Byte buffers for tests.
public enum TestData {
    /// `count` pseudo-random bytes; the same `seed` gives the same bytes.
    public static func random(count: Int, seed: UInt64) -> [UInt8] {
        var generator = SplitMix64(seed: seed)
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            generator.fill(UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
    }
}

/// An endless deterministic byte stream: byte `i` is `block[i % block.count]`, where `block` is
/// 1 MiB + 13 bytes of SplitMix64 output for `seed`. The odd block length keeps the repetition out
/// of step with power-of-two buffer sizes, so lost, repeated or reordered chunks change the bytes.
/// Servers send it without generating data per byte; clients verify it without storing it.
public struct DataPattern: Sendable {
    public let seed: UInt64
    /// One period of the stream.
    public let block: [UInt8]

    public static let blockLength = (1 << 20) + 13

    public init(seed: UInt64) {
        self.seed = seed
        block = TestData.random(count: DataPattern.blockLength, seed: seed)
    }

    /// Copies the stream's bytes starting at `offset` into `buffer`.
    public func fill(_ buffer: UnsafeMutableRawBufferPointer, from offset: Int) {
        guard let base = buffer.baseAddress else { return }
        block.withUnsafeBytes { source in
            var written = 0
            var position = offset % source.count
            while written < buffer.count {
                let run = min(buffer.count - written, source.count - position)
                (base + written).copyMemory(from: source.baseAddress! + position, byteCount: run)
                written += run
                position = 0
            }
        }
    }

    /// `count` bytes of the stream starting at `offset`.
    public func bytes(from offset: Int = 0, count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            fill(UnsafeMutableRawBufferPointer(buffer), from: offset)
            initialized = count
        }
    }

    /// True when `data` equals the stream's bytes at `offset`.
    public func matches(_ data: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        var checked = 0
        var position = offset % block.count
        return block.withUnsafeBytes { source in
            while checked < data.count {
                let run = min(data.count - checked, source.count - position)
                // memcmp: a generic byte-by-byte comparison is far too slow in debug builds.
                if memcmp(data.baseAddress! + checked, source.baseAddress! + position, run) != 0 { return false }
                checked += run
                position = 0
            }
            return true
        }
    }

    /// The checksum of the first `count` bytes of the stream.
    public func checksum(count: Int) -> Checksum {
        var sum = Checksum()
        var remaining = count
        block.withUnsafeBytes { source in
            while remaining > 0 {
                let run = min(remaining, source.count)
                sum.update(UnsafeRawBufferPointer(rebasing: source[0..<run]))
                remaining -= run
            }
        }
        return sum
    }
}

/// A streaming 64-bit checksum of a byte sequence plus its length. The result does not depend on
/// how the bytes were split into chunks. It is FNV-1a-like but works on 64-bit little-endian
/// words (`h = (h ^ word) * FNV prime; h ^= h >> 32`) so debug builds can hash 100 MiB quickly;
/// each step is a bijection of `h`, so a single changed word always changes the result.
public struct Checksum: Sendable, Hashable, CustomStringConvertible {
    /// The hash so far (without the tail bytes that do not yet fill a word).
    private var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    /// Bytes seen so far.
    public private(set) var count: Int = 0
    private var pending: UInt64 = 0
    private var pendingCount = 0

    public init() {}

    /// The checksum of `bytes`.
    public init(_ bytes: [UInt8]) { update(bytes) }

    @inline(__always)
    private static func mix(_ hash: UInt64, _ word: UInt64) -> UInt64 {
        var h = (hash ^ word) &* 0x0000_0100_0000_01B3
        h ^= h >> 32
        return h
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public mutating func update(_ data: UnsafeRawBufferPointer) {
        guard let base = data.baseAddress, data.count > 0 else { return }
        count += data.count
        var index = 0
        // Complete a partial word left by the previous chunk.
        while pendingCount > 0 && pendingCount < 8 && index < data.count {
            pending |= UInt64(data[index]) << UInt64(pendingCount * 8)
            pendingCount += 1
            index += 1
        }
        if pendingCount == 8 {
            hash = Checksum.mix(hash, pending)
            pending = 0
            pendingCount = 0
        }
        var h = hash
        while index + 8 <= data.count {
            h = Checksum.mix(h, UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt64.self)))
            index += 8
        }
        hash = h
        while index < data.count {
            pending |= UInt64(data[index]) << UInt64(pendingCount * 8)
            pendingCount += 1
            index += 1
        }
    }

    /// The final 64-bit value (tail bytes and length folded in).
    public var value: UInt64 {
        var h = hash
        if pendingCount > 0 { h = Checksum.mix(h, pending | UInt64(pendingCount) << 60) }
        return Checksum.mix(h, UInt64(count))
    }

    public var description: String {
        let hex = String(value, radix: 16)
        return "\(count) bytes, checksum \(String(repeating: "0", count: 16 - hex.count) + hex)"
    }

    public static func == (l: Checksum, r: Checksum) -> Bool { l.count == r.count && l.value == r.value }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        hasher.combine(value)
    }
}
