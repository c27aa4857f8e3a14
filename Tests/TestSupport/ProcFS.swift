// ProcFS: readings of another process's /proc entries: memory, descriptors and the sockets among
// them, children, signal masks, and its threads' scheduling state (to tell when it has gone quiet).
import CSluice
import Glibc
import Sluice

/// Readings of another process's /proc entries. Every reading is nil (or empty) once the process
/// is gone.
public enum ProcFS {
    /// The whole content of a (small) file, or nil when it cannot be read.
    public static func readFile(_ path: String) -> String? {
        let fd = sl_open_readonly(path)
        guard fd != -1 else { return nil }
        defer { Glibc.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n > 0 {
                bytes.append(contentsOf: chunk[0..<n])
            } else if n == 0 {
                return String(decoding: bytes, as: UTF8.self)
            } else if Errno.current != .interrupted {
                return nil
            }
        }
    }

    /// The names in a directory, without `.` and `..`; empty when it cannot be read.
    static func entries(_ path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The ids of the process's threads.
    public static func threads(pid: pid_t) -> [pid_t] { entries("/proc/\(pid)/task").compactMap { pid_t($0) } }

    /// A field of `/proc/<pid>/status` (the text after `<field>:`, trimmed).
    public static func statusField(pid: pid_t, _ field: String) -> String? {
        guard let text = readFile("/proc/\(pid)/status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return String(line.dropFirst(field.count + 1).drop { $0 == " " || $0 == "\t" })
        }
        return nil
    }

    /// A `kB` field of `/proc/<pid>/status`, e.g. `VmRSS`.
    public static func statusKiB(pid: pid_t, field: String) -> Int? {
        statusField(pid: pid, field).flatMap { Int($0.filter { $0 >= "0" && $0 <= "9" }) }
    }

    /// Resident set size in KiB (`VmRSS`).
    public static func rssKiB(pid: pid_t) -> Int? { statusKiB(pid: pid, field: "VmRSS") }

    /// The peak resident set size so far in KiB (`VmHWM`): catches a peak between two readings.
    public static func peakRSSKiB(pid: pid_t) -> Int? { statusKiB(pid: pid, field: "VmHWM") }

    /// Whether `signal` is in the signal mask `field` (`SigIgn`, `SigBlk`, …) of thread `tid` (of
    /// the process itself when nil).
    public static func signalMask(pid: pid_t, tid: pid_t? = nil, _ field: String, contains signal: Int32) -> Bool? {
        let path = tid.map { "/proc/\(pid)/task/\($0)/status" } ?? "/proc/\(pid)/status"
        guard let text = readFile(path),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
            let mask = UInt64(line.dropFirst(field.count + 1).trimmingPrefix(while: \.isWhitespace), radix: 16)
        else { return nil }
        return mask & (1 << UInt64(signal - 1)) != 0
    }

    /// How many descriptors the process has open (entries of `/proc/<pid>/fd`).
    public static func openFDCount(pid: pid_t) -> Int? {
        guard access("/proc/\(pid)/fd", F_OK) == 0 else { return nil }
        return entries("/proc/\(pid)/fd").count
    }

    /// What each open descriptor refers to (`socket:[1234]`, `pipe:[5678]`, a path), as
    /// `readlink` on `/proc/<pid>/fd/<n>` gives it.
    public static func descriptorTargets(pid: pid_t) -> [String] {
        var target = [CChar](repeating: 0, count: 4096)
        return entries("/proc/\(pid)/fd").compactMap { name in
            let n = readlink("/proc/\(pid)/fd/\(name)", &target, target.count - 1)
            guard n > 0 else { return nil }
            return String(decoding: target[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// How many pipe ends the process holds.
    public static func pipeCount(pid: pid_t) -> Int {
        descriptorTargets(pid: pid).lazy.filter { $0.hasPrefix("pipe:") }.count
    }

    /// The inodes of the sockets the process holds (`socket:[<inode>]`).
    public static func socketInodes(pid: pid_t) -> Set<UInt64> {
        Set(
            descriptorTargets(pid: pid).compactMap { target -> UInt64? in
                guard target.hasPrefix("socket:["), target.hasSuffix("]") else { return nil }
                return UInt64(target.dropFirst(8).dropLast())
            })
    }

    /// The process and every descendant (children of any of its threads, recursively).
    public static func processTree(pid: pid_t) -> [pid_t] {
        var tree: [pid_t] = []
        var pending = [pid]
        while let next = pending.popLast(), tree.count < 4096 {
            tree.append(next)
            for tid in entries("/proc/\(next)/task") {
                let children = readFile("/proc/\(next)/task/\(tid)/children") ?? ""
                pending += children.split(separator: " ").compactMap { pid_t($0.filter(\.isNumber)) }
            }
        }
        return tree
    }

    // MARK: Scheduling

    /// One reading of a process's threads: each one's state letter (`S` sleeping, `R` running or
    /// waiting for a CPU, `D` uninterruptible, `Z` zombie, …) and the CPU time they used in all.
    public struct SchedulingSample: Equatable, Sendable {
        public var states: [Character]
        /// Time spent on a CPU by every thread, in nanoseconds (`schedstat`, first field).
        public var cpuNanoseconds: Int64

        /// Every thread sleeps (blocked in a system call, waiting for something to happen).
        public var allSleeping: Bool { !states.isEmpty && states.allSatisfy { $0 == "S" } }
    }

    /// The threads' states and CPU time now; nil once the process is gone.
    public static func schedulingSample(pid: pid_t) -> SchedulingSample? {
        let tids = entries("/proc/\(pid)/task")
        guard !tids.isEmpty else { return nil }
        var sample = SchedulingSample(states: [], cpuNanoseconds: 0)
        for tid in tids {
            // `stat` is `<tid> (<comm>) <state> …`; comm may hold spaces and parentheses.
            guard let stat = readFile("/proc/\(pid)/task/\(tid)/stat"), let close = stat.lastIndex(of: ")"),
                let state = stat[stat.index(after: close)...].first(where: { $0 != " " }),
                let schedstat = readFile("/proc/\(pid)/task/\(tid)/schedstat"),
                let onCPU = schedstat.split(separator: " ").first.flatMap({ Int64($0) })
            else { continue }  // the thread ended meanwhile
            sample.states.append(state)
            sample.cpuNanoseconds &+= onCPU
        }
        return sample.states.isEmpty ? nil : sample
    }
}
