// Tests for the default reactor count: the cgroup quota parsers, the cgroup and mount lookups, the
// combination with the affinity mask, and the affinity count against /proc/self/status.
import CSluice
import Glibc
import Sluice
import Testing

@Suite struct CPUsTests {
    @Test(
        arguments: [
            ("max 100000\n", nil), ("max 100000", nil), ("100000 100000\n", 1), ("150000 100000\n", 2),
            ("50000 100000\n", 1), ("1000 100000", 1), ("200000 100000", 2), ("200001 100000", 3),
            ("400000 100000\n", 4), ("18446744073709551615 1", Int.max),
            ("18446744073709551615 100000", 184_467_440_737_096),
            ("max", nil), ("", nil), ("\n", nil), ("abc 100000", nil), ("100000 0", nil), ("0 100000", nil),
            ("-1 100000", nil), ("100000", nil), ("100000 100000 1", nil), ("18446744073709551616 1", nil),
            ("1.5 1", nil),
        ] as [(String, Int?)])
    func cgroupV2CPUMax(text: String, cpus: Int?) {
        #expect(CPUs.quota(cpuMax: text) == cpus)
    }

    @Test(
        arguments: [
            ("-1\n", "100000\n", nil), ("50000\n", "100000\n", 1), ("100000\n", "100000\n", 1),
            ("250000\n", "100000\n", 3), ("300000", "100000", 3), (" 200000 ", "100000", 2),
            ("", "100000\n", nil), ("100000\n", "0\n", nil), ("100000\n", "", nil), ("x\n", "100000\n", nil),
            ("0\n", "100000\n", nil),
        ] as [(String, String, Int?)])
    func cgroupV1CFSQuota(quota: String, period: String, cpus: Int?) {
        #expect(CPUs.quota(cfsQuota: quota, cfsPeriod: period) == cpus)
    }

    @Test(
        arguments: [
            ("0::/\n", "/", nil),
            ("0::/user.slice/user-1000.slice/session-2.scope\n", "/user.slice/user-1000.slice/session-2.scope", nil),
            ("0::/a:b\n", "/a:b", nil),
            // A hybrid host: v2 mounted without controllers, v1 cpu on its own hierarchy.
            (
                "9:name=systemd:/\n8:pids:/\n4:memory:/sandbox/1\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/quota-test\n0::/\n",
                "/", "/quota-test"
            ),
            // A v1 container: cpu and cpuacct share a hierarchy.
            ("12:cpu,cpuacct:/docker/abc\n11:cpuset:/docker/abc\n1:name=systemd:/docker/abc\n", nil, "/docker/abc"),
            // `cpuacct` alone is not the cpu controller.
            ("3:cpuacct:/x\n2:cpuset:/y\n", nil, nil),
            ("junk\n1:cpu\n\n", nil, nil), ("", nil, nil),
        ] as [(String, String?, String?)])
    func procSelfCgroup(text: String, v2: String?, v1CPU: String?) {
        let groups = CPUs.cgroups(procSelfCgroup: text)
        #expect(groups.v2 == v2)
        #expect(groups.v1CPU == v1CPU)
    }

    @Test(
        arguments: [
            (
                "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
                    + "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n",
                [CPUs.CgroupMount(version: 2, mountPoint: "/sys/fs/cgroup", root: "/")]
            ),
            (
                "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
                    + "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
                    + "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
                    + "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n",
                [
                    CPUs.CgroupMount(version: 1, mountPoint: "/sys/fs/cgroup/cpu", root: "/"),
                    CPUs.CgroupMount(version: 2, mountPoint: "/sys/fs/cgroup/unified", root: "/"),
                ]
            ),
            // Docker on a v1 host bind mounts the container's own cgroup.
            (
                "1234 1200 0:31 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid master:11 - cgroup cgroup rw,cpu,cpuacct\n",
                [CPUs.CgroupMount(version: 1, mountPoint: "/sys/fs/cgroup/cpu,cpuacct", root: "/docker/abc")]
            ),
            // Octal escapes in paths; no optional fields.
            (
                "40 31 0:38 /a\\040b /mnt/my\\040cg\\134x rw - cgroup2 cgroup2 rw\n",
                [CPUs.CgroupMount(version: 2, mountPoint: "/mnt/my cg\\x", root: "/a b")]
            ),
            // Malformed lines: too short, no separator, nothing after it.
            (
                "40 31 0:38 / /x rw cgroup2 cgroup2 rw\n40 31\n40 31 0:38 / /x rw shared:1 a b -\n",
                [CPUs.CgroupMount]()
            ),
        ] as [(String, [CPUs.CgroupMount])])
    func mountinfo(text: String, mounts: [CPUs.CgroupMount]) {
        #expect(CPUs.cgroupMounts(mountinfo: text) == mounts)
    }

    @Test(
        arguments: [
            (CPUs.CgroupMount(version: 2, mountPoint: "/sys/fs/cgroup", root: "/"), "/", ["/sys/fs/cgroup"]),
            (
                CPUs.CgroupMount(version: 2, mountPoint: "/sys/fs/cgroup", root: "/"), "/a/b",
                ["/sys/fs/cgroup/a/b", "/sys/fs/cgroup/a", "/sys/fs/cgroup"]
            ),
            (
                CPUs.CgroupMount(version: 2, mountPoint: "/sys/fs/cgroup/", root: "/"), "/a",
                ["/sys/fs/cgroup/a", "/sys/fs/cgroup/"]
            ),
            (
                CPUs.CgroupMount(version: 1, mountPoint: "/sys/fs/cgroup/cpu,cpuacct", root: "/docker/abc"),
                "/docker/abc",
                ["/sys/fs/cgroup/cpu,cpuacct"]
            ),
            (
                CPUs.CgroupMount(version: 1, mountPoint: "/sys/fs/cgroup/cpu,cpuacct", root: "/docker/abc"),
                "/docker/abc/sub",
                ["/sys/fs/cgroup/cpu,cpuacct/sub", "/sys/fs/cgroup/cpu,cpuacct"]
            ),
            // Not below the mount's root: the mount does not show it.
            (CPUs.CgroupMount(version: 1, mountPoint: "/sys/fs/cgroup/cpu", root: "/docker/abc"), "/docker/abcdef", []),
            (CPUs.CgroupMount(version: 1, mountPoint: "/sys/fs/cgroup/cpu", root: "/docker/abc"), "/other", []),
            // Outside the reader's cgroup namespace.
            (CPUs.CgroupMount(version: 2, mountPoint: "/sys/fs/cgroup", root: "/"), "/../../x", []),
            (CPUs.CgroupMount(version: 2, mountPoint: "/sys/fs/cgroup", root: "/"), "relative", []),
            (CPUs.CgroupMount(version: 2, mountPoint: "/", root: "/"), "/a", ["/a", "/"]),
        ] as [(CPUs.CgroupMount, String, [String])])
    func directoriesToRead(mount: CPUs.CgroupMount, path: String, directories: [String]) {
        #expect(CPUs.directoryAndAncestors(of: path, in: mount) == directories)
        #expect(CPUs.directory(of: path, in: mount) == directories.first)
    }

    @Test(
        arguments: [
            (2, nil, 4, 2), (nil, nil, 4, 4), (8, 2, 8, 2), (1, 4, 8, 1), (nil, 3, 8, 3), (64, 64, 64, 64),
            (0, nil, 0, 1), (4, 0, 4, 1), (nil, nil, -1, 1), (Int.max, Int.max, 2, Int.max),
        ] as [(Int?, Int?, Int, Int)])
    func usableIsTheSmallerAndAtLeastOne(affinity: Int?, quota: Int?, online: Int, expected: Int) {
        #expect(CPUs.usable(affinity: affinity, quota: quota, online: online) == expected)
    }

    /// `sched_getaffinity` agrees with the kernel's own list, `Cpus_allowed_list` (`0-3,6`).
    @Test func affinityCountMatchesProcStatus() throws {
        let status = try #require(readStatus())
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") })
        var listed = 0
        for range in line.dropFirst("Cpus_allowed_list:".count).split(separator: ",") {
            let bounds = range.split(separator: "-").compactMap { Int($0.filter(\.isNumber)) }
            listed += bounds.count == 2 ? bounds[1] - bounds[0] + 1 : 1
        }
        #expect(listed >= 1)
        #expect(CPUs.affinityCount() == listed)
        #expect(CPUs.available() >= 1 && CPUs.available() <= listed)
    }

    private func readStatus() -> String? {
        let fd = sl_open_readonly("/proc/self/status")
        guard fd != -1 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 64 << 10)
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        return n > 0 ? String(decoding: bytes[0..<n], as: UTF8.self) : nil
    }
}
