// CPUs: how many CPUs this process may use, for the default reactor count: the scheduler affinity
// mask and the cgroup CPU quota (v2 `cpu.max`, v1 `cpu.cfs_quota_us`), the smaller of the two.
import CSluice
import Glibc

/// The CPUs the process may use. `available()` asks the system; the parsers it uses are pure
/// functions of the file contents, so they are tested without a cgroup.
public enum CPUs {
    /// The CPUs this process may use: the smaller of the affinity mask's CPU count and the cgroup
    /// quota (rounded up), at least 1. The online CPU count stands in for the mask if the
    /// system refuses to report it.
    public static func available() -> Int {
        usable(affinity: affinityCount(), quota: cgroupQuota(), online: Int(sl_online_cpus()))
    }

    /// The CPUs in the scheduler affinity mask (`taskset`, `cpuset` cgroups, `docker --cpuset-cpus`
    /// all narrow it), or nil when `sched_getaffinity` fails.
    public static func affinityCount() -> Int? {
        // glibc's `cpu_set_t` holds 1024 CPUs; the kernel answers EINVAL when its mask is larger
        // than the buffer, so grow the buffer until it fits (up to 2^20 CPUs).
        var bytes = 128
        while bytes <= (1 << 17) {
            var mask = [UInt64](repeating: 0, count: bytes / 8)
            let result = mask.withUnsafeMutableBytes { sl_sched_getaffinity($0.count, $0.baseAddress!) }
            if result == 0 { return mask.reduce(0) { $0 + $1.nonzeroBitCount } }
            guard Errno.current == .invalidArgument else { return nil }
            bytes *= 2
        }
        return nil
    }

    /// The CPU quota of the process's cgroup and its ancestors (the tightest one), rounded up to
    /// whole CPUs; nil when none sets one. Reads cgroup v2 `cpu.max` and, on v1 or hybrid hosts,
    /// the v1 cpu controller's `cpu.cfs_quota_us` / `cpu.cfs_period_us`.
    public static func cgroupQuota() -> Int? {
        guard let membership = readSmallFile("/proc/self/cgroup"), let mountinfo = readSmallFile("/proc/self/mountinfo")
        else { return nil }
        let groups = cgroups(procSelfCgroup: membership)
        let mounts = cgroupMounts(mountinfo: mountinfo)
        var tightest: Int? = nil
        func consider(_ quota: Int?) {
            if let quota { tightest = min(tightest ?? quota, quota) }
        }
        if let path = groups.v2,
            let mount = mounts.first(where: { $0.version == 2 && components(of: path, under: $0.root) != nil })
        {
            for dir in directoryAndAncestors(of: path, in: mount) {
                consider(readSmallFile(dir + "/cpu.max").flatMap { quota(cpuMax: $0) })
            }
        }
        if let path = groups.v1CPU,
            let mount = mounts.first(where: { $0.version == 1 && components(of: path, under: $0.root) != nil })
        {
            for dir in directoryAndAncestors(of: path, in: mount) {
                guard let quotaText = readSmallFile(dir + "/cpu.cfs_quota_us"),
                    let periodText = readSmallFile(dir + "/cpu.cfs_period_us")
                else { continue }
                consider(quota(cfsQuota: quotaText, cfsPeriod: periodText))
            }
        }
        return tightest
    }

    // MARK: Pure parts

    /// The reactor count for `affinity` CPUs (nil: unknown, use `online`) under `quota` CPUs (nil:
    /// no quota): the smaller, at least 1.
    public static func usable(affinity: Int?, quota: Int?, online: Int) -> Int {
        let mask = affinity ?? online
        return max(1, quota.map { min(mask, $0) } ?? mask)
    }

    /// The whole CPUs a cgroup v2 `cpu.max` grants (`"<quota> <period>"` in microseconds, quota
    /// rounded up to whole periods); nil for `max` (no quota) or anything malformed.
    public static func quota(cpuMax text: String) -> Int? {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
        guard fields.count == 2, let quota = UInt64(fields[0]), let period = UInt64(fields[1]) else { return nil }
        return wholeCPUs(quota: quota, period: period)
    }

    /// The whole CPUs a cgroup v1 CFS quota grants (`cpu.cfs_quota_us` over `cpu.cfs_period_us`,
    /// rounded up); nil for `-1` (no quota) or anything malformed.
    public static func quota(cfsQuota: String, cfsPeriod: String) -> Int? {
        guard let quota = UInt64(trimmed(cfsQuota)), let period = UInt64(trimmed(cfsPeriod)) else { return nil }
        return wholeCPUs(quota: quota, period: period)
    }

    /// The cgroup paths in a `/proc/self/cgroup`: the v2 one (the `0::<path>` line) and the one of
    /// the v1 hierarchy that has the `cpu` controller (`<id>:cpu,cpuacct:<path>`), either nil
    /// when absent.
    public static func cgroups(procSelfCgroup text: String) -> (v2: String?, v1CPU: String?) {
        var v2: String? = nil
        var v1CPU: String? = nil
        for line in text.split(separator: "\n") {
            // `<hierarchy id>:<controllers>:<path>`; the path may itself hold colons.
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, fields[2].hasPrefix("/") else { continue }
            if fields[0] == "0" && fields[1].isEmpty {
                v2 = String(fields[2])
            } else if fields[1].split(separator: ",").contains("cpu") {
                v1CPU = String(fields[2])
            }
        }
        return (v2, v1CPU)
    }

    /// A mounted cgroup hierarchy: which version, where it is mounted, and which cgroup its mount
    /// point shows (`/` on the host; the container's own cgroup when a container engine bind
    /// mounts it).
    public struct CgroupMount: Equatable, Sendable {
        /// 2 for the unified hierarchy, 1 for a v1 hierarchy with the `cpu` controller.
        public var version: Int
        public var mountPoint: String
        public var root: String

        public init(version: Int, mountPoint: String, root: String) {
            self.version = version
            self.mountPoint = mountPoint
            self.root = root
        }
    }

    /// The cgroup v2 mounts and the v1 mounts carrying the `cpu` controller in a
    /// `/proc/self/mountinfo`, in file order.
    public static func cgroupMounts(mountinfo text: String) -> [CgroupMount] {
        var mounts: [CgroupMount] = []
        for line in text.split(separator: "\n") {
            // `<id> <parent> <dev> <root> <mount point> <options> [optional…] - <fstype> <source> <super options>`
            let fields = line.split(separator: " ")
            guard fields.count >= 10, let dash = fields.firstIndex(of: "-"), dash >= 6, dash + 3 < fields.count
            else { continue }
            let root = unescapeMountField(fields[3])
            let mountPoint = unescapeMountField(fields[4])
            switch fields[dash + 1] {
            case "cgroup2":
                mounts.append(CgroupMount(version: 2, mountPoint: mountPoint, root: root))
            case "cgroup" where fields[dash + 3].split(separator: ",").contains("cpu"):
                mounts.append(CgroupMount(version: 1, mountPoint: mountPoint, root: root))
            default:
                continue
            }
        }
        return mounts
    }

    /// Where cgroup `path` (from `/proc/self/cgroup`) appears under `mount`, or nil when the mount
    /// does not show it (the path lies outside the mount's root).
    public static func directory(of path: String, in mount: CgroupMount) -> String? {
        directoryAndAncestors(of: path, in: mount).first
    }

    /// The directory of cgroup `path` under `mount`, then its parents up to the mount point: a
    /// quota on any ancestor limits the process too. Empty when the mount does not show `path`.
    public static func directoryAndAncestors(of path: String, in mount: CgroupMount) -> [String] {
        guard let components = components(of: path, under: mount.root) else { return [] }
        return (0...components.count).reversed().map { depth in
            var directory = mount.mountPoint
            for component in components[0..<depth] {
                if !directory.hasSuffix("/") { directory += "/" }
                directory += component
            }
            return directory
        }
    }

    /// The components of `path` below `root`, or nil when `path` is not under it. A path outside
    /// the reader's cgroup namespace reads `/../…`: never under any mount, and never walked up.
    static func components(of path: String, under root: String) -> [Substring]? {
        let relative: Substring
        if root == "/" {
            relative = Substring(path)
        } else if path == root {
            relative = ""
        } else if path.hasPrefix(root.hasSuffix("/") ? root : root + "/") {
            relative = path.dropFirst(root.count)
        } else {
            return nil
        }
        let components = relative.split(separator: "/")
        guard path.hasPrefix("/"), !components.contains(where: { $0 == ".." || $0 == "." }) else { return nil }
        return components
    }

    /// `quota` microseconds per `period` as whole CPUs, rounded up; nil for a zero quota or period.
    static func wholeCPUs(quota: UInt64, period: UInt64) -> Int? {
        guard quota > 0, period > 0 else { return nil }
        // Quotient and remainder: no overflow for any quota.
        let cpus = quota / period + (quota % period == 0 ? 0 : 1)
        return Int(clamping: cpus)
    }

    /// mountinfo escapes space, tab, newline and backslash in paths as `\ooo` (octal).
    static func unescapeMountField(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        let utf8 = Array(field.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "\\"), index + 3 < utf8.count,
                let value = octalByte(utf8[(index + 1)...(index + 3)])
            {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Three octal digits as a byte, or nil.
    private static func octalByte(_ digits: ArraySlice<UInt8>) -> UInt8? {
        var value: UInt16 = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "7") else { return nil }
            value = value * 8 + UInt16(digit - UInt8(ascii: "0"))
        }
        return value <= 255 ? UInt8(value) : nil
    }

    /// `text` without surrounding spaces, tabs and newlines.
    private static func trimmed(_ text: String) -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" }
        var slice = Substring(text)
        while let first = slice.first, isSpace(first) { slice.removeFirst() }
        while let last = slice.last, isSpace(last) { slice.removeLast() }
        return slice
    }

    /// The content of a small kernel file (at most 4 MiB read), or nil when it cannot be read.
    private static func readSmallFile(_ path: String) -> String? {
        let fd = sl_open_readonly(path)
        guard fd != -1 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < (4 << 20) {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n > 0 {
                bytes.append(contentsOf: chunk[0..<n])
            } else if n == 0 {
                break
            } else if Errno.current != .interrupted {
                return nil
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
