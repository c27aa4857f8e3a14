"""scripts/bench.d/accounting.py: what a forwarder's connections cost the kernel and the CPU, for scripts/bench:
user and system CPU and context switches of the peer's processes, TCP segments sent, and syscalls counted by
`perf stat` on tracepoints during an extra, unmeasured run.

Counters come from /proc: utime + cutime and stime + cstime of /proc/<pid>/stat (fields 14-17; the children's
part counts what socat's reaped per-connection children used), voluntary + nonvoluntary context switches of
every thread (/proc/<pid>/task/*/status), and Tcp OutSegs of /proc/net/snmp (machine-wide, no state file).
"""
import os
import select
import signal
import subprocess
import time

# The syscalls counted one by one in the accounting run (the total is raw_syscalls:sys_enter; "other" is the
# rest, such as clock_gettime, epoll_pwait2, fork and clone).
SYSCALLS = ["accept4", "accept", "socket", "connect", "setsockopt", "getsockopt", "getsockname", "getpeername",
            "epoll_ctl", "epoll_wait", "epoll_pwait", "read", "write", "readv", "writev", "recvfrom", "sendto",
            "recvmsg", "sendmsg", "splice", "pipe2", "shutdown", "close", "futex", "fcntl", "ioctl"]
TRACEFS = ("/sys/kernel/tracing/events", "/sys/kernel/debug/tracing/events")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def snapshot(pids):
    """The counters of the processes `pids`: user and system CPU seconds (reaped children included) and the
    context switches of each of their threads, {tid: count}."""
    usr = sys_ = 0
    ctxt = {}
    for pid in pids:
        stat = _read("/proc/%d/stat" % pid)
        if stat is None:
            continue
        f = stat[stat.rfind(")") + 2:].split()  # f[0] is field 3 (state): utime is field 14
        usr += int(f[11]) + int(f[13])
        sys_ += int(f[12]) + int(f[14])
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in tids:
            status = _read("/proc/%d/task/%s/status" % (pid, tid))
            if status is None:
                continue
            n = 0
            for line in status.splitlines():
                if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                    n += int(line.split()[1])
            ctxt[int(tid)] = n
    return {"usr_s": usr / CLK_TCK, "sys_s": sys_ / CLK_TCK, "ctxt": ctxt}


def delta(before, after):
    """(user s, system s, context switches) between two snapshots. A thread that ended in between loses its
    switches after the first snapshot (socat's per-connection children: a lower bound there)."""
    cs = sum(n - before["ctxt"].get(tid, 0) for tid, n in after["ctxt"].items())
    return after["usr_s"] - before["usr_s"], after["sys_s"] - before["sys_s"], max(0, cs)


def tcp_out_segs():
    """Tcp OutSegs of this network namespace (every TCP segment sent, loopback included)."""
    lines = [ln.split() for ln in (_read("/proc/net/snmp") or "").splitlines() if ln.startswith("Tcp:")]
    if len(lines) < 2:
        return None
    return int(lines[1][lines[0].index("OutSegs")])


def syscall_events():
    """The perf events of the accounting run: the total, then each of SYSCALLS this kernel can trace."""
    root = next((r for r in TRACEFS if os.path.isdir(os.path.join(r, "syscalls"))), None)
    names = [s for s in SYSCALLS if root is None or os.path.isdir(os.path.join(root, "syscalls", "sys_enter_" + s))]
    return ["raw_syscalls:sys_enter"] + ["syscalls:sys_enter_" + s for s in names]


def _wait_ack(ack_fd, proc, timeout):
    """Waits for perf's 'ack' on its control fifo; False when it exits or stays silent."""
    deadline = time.monotonic() + timeout
    got = b""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        r, _, _ = select.select([ack_fd], [], [], 0.1)
        if r:
            got += os.read(ack_fd, 64)
            if b"ack" in got:
                return True
    return False


def perf_syscalls(pids, load, spawn, kill, tmp):
    """Runs load() with `perf stat` counting the syscalls of `pids` (their threads and the children they fork
    are followed). perf attaches with its counters off and counts only while load() runs: it is switched on
    and off through its control fifo and each switch is acknowledged. Returns (counts, error, load's result):
    counts is {"total": n, "<syscall>": n, ...}."""
    for name in ("ctl", "ack", "perf.csv"):
        try:
            os.unlink(os.path.join(tmp, name))
        except FileNotFoundError:
            pass
    ctl, ack, out = (os.path.join(tmp, n) for n in ("ctl", "ack", "perf.csv"))
    os.mkfifo(ctl)
    os.mkfifo(ack)
    # Read-write on our side: opening a fifo for one direction only blocks until perf opens the other.
    ctl_fd = os.open(ctl, os.O_RDWR)
    ack_fd = os.open(ack, os.O_RDWR | os.O_NONBLOCK)
    events = syscall_events()
    cmd = ["perf", "stat", "-x,", "-o", out, "--delay=-1", "--control", "fifo:%s,%s" % (ctl, ack),
           "-e", ",".join(events), "-p", ",".join(str(p) for p in pids)]
    err_path = os.path.join(tmp, "perf.err")
    with open(err_path, "w") as err:
        perf = spawn(cmd, stdout=subprocess.DEVNULL, stderr=err)
    result = None
    try:
        os.write(ctl_fd, b"enable\n")
        if not _wait_ack(ack_fd, perf, 15):
            return None, "perf stat did not start counting: %s" % _tail(err_path), None
        result = load()
        os.write(ctl_fd, b"disable\n")
        if not _wait_ack(ack_fd, perf, 15):
            return None, "perf stat did not stop counting: %s" % _tail(err_path), result
        perf.send_signal(signal.SIGINT)  # perf writes its counts and exits
        try:
            perf.wait(15)
        except subprocess.TimeoutExpired:
            return None, "perf stat did not exit after SIGINT", result
    finally:
        kill(perf, grace=1.0)
        os.close(ctl_fd)
        os.close(ack_fd)
    counts, bad = {}, []
    for line in (_read(out) or "").splitlines():
        f = line.split(",")
        if len(f) < 3 or f[2] not in events:
            continue
        key = "total" if f[2] == "raw_syscalls:sys_enter" else f[2][len("syscalls:sys_enter_"):]
        if f[0].isdigit():
            counts[key] = int(f[0])
        else:
            bad.append("%s %s" % (key, f[0]))
    if "total" not in counts or bad:
        return None, "perf stat: %s" % ("; ".join(bad) or "no counts in its output " + _tail(err_path)), result
    return counts, None, result


def _tail(path):
    text = (_read(path) or "").strip()
    return text[-300:] if text else "(nothing on stderr)"


def syscall_table(recs, say, title, per):
    """Prints one row per record {"peer", "requests", "counts", "error", "rps"}: syscalls per `per` (the total,
    then each syscall that any row makes at least 0.05 times per `per`, then the rest as "other")."""
    say()
    say("== " + title)
    ok = [r for r in recs if r.get("counts") and r.get("requests")]
    shown = [s for s in SYSCALLS if any(r["counts"].get(s, 0) / r["requests"] >= 0.05 for r in ok)]
    width = max([16] + [len(r["peer"]) for r in recs])
    cols = [(s, max(5, len(s))) for s in shown]
    header = "%-*s %7s |" % (width, "peer", "total") + "".join(" %*s" % (w, s) for s, w in cols) + \
        " %7s | %8s %8s" % ("other", "requests", "req/s")
    say(header)
    say("-" * len(header))
    for r in recs:
        if not r.get("counts") or not r.get("requests"):
            say("%-*s %7s   ! %s" % (width, r["peer"], "NA", (r.get("error") or "no requests")[:200]))
            continue
        n, c = r["requests"], r["counts"]
        listed = sum(c.get(s, 0) for s in SYSCALLS)
        cells = "".join(" %*s" % (w, "%.1f" % (c.get(s, 0) / n) if c.get(s, 0) / n >= 0.05 else "-")
                        for s, w in cols)
        say("%-*s %7.1f |%s %7.1f | %8d %8.0f" % (width, r["peer"], c["total"] / n, cells,
                                                  max(0, c["total"] - listed) / n, n, r.get("rps") or 0))
    say("   syscalls per %s in one extra wrk run per peer after the measured ones, perf stat counting tracepoints "
        "on the peer's processes (threads and forked children followed; the req/s of this run are not the peer's: "
        "tracing slows syscalls). - = below 0.05; other = syscalls not listed (e.g. clock_gettime, epoll_pwait2, "
        "clone); direct has no forwarder" % per)
