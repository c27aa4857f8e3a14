// Integration tests for running under a container's limits: with no `-threads`, sluice starts one
// reactor per CPU it may use, narrowed by the affinity mask (`taskset`) and by a cgroup CPU quota.
//
// The reactors are threads named `sluice-<index>`; each test counts them in /proc/<pid>/task.
// The static binary in an empty root is tested by scripts/test-static (it needs its own build).
import Glibc
import Sluice
import TestSupport
import Testing

extension Integration {
    @Suite("Containers", .timeLimit(.minutes(2)))
    struct ContainerTests {
        /// The control for the two tests below: unconstrained, sluice starts as many reactors as the
        /// process may use CPUs (2 on the reference machine), so counting them sees more than one.
        @Test func startsOneReactorPerUsableCPU() throws {
            let echo = try EchoServer()
            let sluice = try SluiceProcess.start(["-L", forwardURL(to: [echo.target])])
            #expect(try reactorNames(of: sluice) == (0..<CPUs.available()).map { "sluice-\($0)" })
        }

        @Test func tasksetToOneCPUStartsOneReactor() throws {
            let echo = try EchoServer()
            let sluice = try SluiceProcess.start(
                ["-c", "0", SluiceProcess.binaryPath, "-L", forwardURL(to: [echo.target])], binary: "/usr/bin/taskset")
            #expect(ProcFS.statusField(pid: sluice.pid, "Cpus_allowed_list") == "0")
            #expect(try reactorNames(of: sluice) == ["sluice-0"])
        }

        /// Half a CPU rounds up to one reactor (not zero), whatever the affinity mask allows.
        @Test func cgroupQuotaOfHalfACPUStartsOneReactor() throws {
            let cgroup = try QuotaCgroup(microseconds: 50_000, per: 100_000)
            defer { cgroup.remove() }
            let echo = try EchoServer()
            // The shell joins the cgroup, then becomes sluice: sluice is in it from its first instruction.
            let sluice = try SluiceProcess.start(
                [
                    "-c", "echo $$ > \"$0\" && exec \"$@\"", cgroup.procsFile, SluiceProcess.binaryPath,
                    "-L", forwardURL(to: [echo.target]),
                ], binary: "/bin/sh")
            defer { sluice.stop() }  // before `cgroup.remove()`: a cgroup with a process in it stays
            let membership = ProcFS.readFile("/proc/\(sluice.pid)/cgroup") ?? ""
            #expect(membership.contains(cgroup.path), "sluice runs in \(cgroup.path): \(membership)")
            #expect(try reactorNames(of: sluice) == ["sluice-0"])
        }
    }
}

/// The reactor threads' names (`sluice-0`, `sluice-1`, …), in index order, once sluice has
/// started them all and forwarded a round trip.
private func reactorNames(of sluice: SluiceProcess) throws -> [String] {
    let client = try sluice.connect()
    #expect(try client.echo("ping"), "a reactor forwards")
    // The main thread starts every reactor, then sleeps in poll: once all threads sleep, the
    // start-up is over and every reactor has its name.
    #expect(sluice.waitUntilQuiet(), "sluice settles")
    var indices: [Int] = []
    for tid in ProcFS.threads(pid: sluice.pid) {
        guard let comm = ProcFS.readFile("/proc/\(sluice.pid)/task/\(tid)/comm") else { continue }
        let name = comm.split(separator: "\n").first ?? ""
        if name.hasPrefix("sluice-"), let index = Int(name.dropFirst("sluice-".count)) { indices.append(index) }
    }
    return indices.sorted().map { "sluice-\($0)" }
}

/// A new cgroup, below the test process's own, with a CPU quota: the v1 `cpu` controller where the
/// host has it, else v2 `cpu.max`. Needs root, like the rest of these suites' system set-up.
private struct QuotaCgroup {
    /// The cgroup's path as /proc/<pid>/cgroup shows it.
    let path: String
    /// Its directory in the mounted hierarchy.
    let directory: String
    /// Write a pid here to move that process in.
    var procsFile: String { directory + "/cgroup.procs" }

    init(microseconds quota: Int, per period: Int) throws {
        let groups = CPUs.cgroups(procSelfCgroup: ProcFS.readFile("/proc/self/cgroup") ?? "")
        let mounts = CPUs.cgroupMounts(mountinfo: ProcFS.readFile("/proc/self/mountinfo") ?? "")
        let name = "sluice-test-\(getpid())"
        var failures: [String] = []
        for version in [1, 2] {
            guard let parentPath = version == 1 ? groups.v1CPU : groups.v2,
                let mount = mounts.first(where: {
                    $0.version == version && CPUs.directory(of: parentPath, in: $0) != nil
                }),
                let parent = CPUs.directory(of: parentPath, in: mount)
            else {
                failures.append("v\(version): no cpu hierarchy mounted")
                continue
            }
            let path = parentPath.hasSuffix("/") ? parentPath + name : parentPath + "/" + name
            let directory = parent + "/" + name
            guard mkdir(directory, 0o755) == 0 || errno == EEXIST else {
                failures.append("v\(version): mkdir \(directory): \(Errno.current)")
                continue
            }
            let written: String?
            if version == 1 {
                written =
                    writeFile(directory + "/cpu.cfs_period_us", "\(period)")
                    ?? writeFile(directory + "/cpu.cfs_quota_us", "\(quota)")
            } else {
                // The cpu controller must be enabled for the parent's children first.
                let enabled = ProcFS.readFile(parent + "/cgroup.subtree_control")?.contains("cpu") == true
                written =
                    (enabled ? nil : writeFile(parent + "/cgroup.subtree_control", "+cpu"))
                    ?? writeFile(directory + "/cpu.max", "\(quota) \(period)")
            }
            if let written {
                failures.append("v\(version): \(written)")
                rmdir(directory)
                continue
            }
            self.path = path
            self.directory = directory
            return
        }
        throw TestSupportError("make a cgroup with a CPU quota", detail: failures.joined(separator: "; "))
    }

    /// Removes the cgroup (it must have no process left).
    func remove() { rmdir(directory) }
}

/// Writes `text` to a cgroup control file; nil on success, else what failed.
private func writeFile(_ path: String, _ text: String) -> String? {
    let fd = open(path, O_WRONLY | O_CLOEXEC)
    guard fd != -1 else { return "open \(path): \(Errno.current)" }
    defer { close(fd) }
    let n = text.withCString { write(fd, $0, strlen($0)) }
    return n == text.utf8.count ? nil : "write \(text) to \(path): \(Errno.current)"
}
