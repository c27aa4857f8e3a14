"""scripts/bench --profile: where Sluice spends its time, next to HAProxy and nginx.

1. Syscalls per connection (churn, Connection: close) and per request (keep-alive), and per MiB
   (bulk, 1 stream), counted with `strace -c -f -p <pid>` on each forwarder in turn. strace slows the
   traced process a lot: only the counts per connection / request / MiB are meaningful, not its rate.
   Connections = successful accept4 calls of the forwarder.
2. `perf stat` (software events: this VM has no PMU, so `instructions`/`cycles` are "not supported")
   on each forwarder during an untraced churn run: CPU ms and context switches per connection.
3. `perf record -g` on sluice-1t, sluice-1t-logoff and haproxy-splice during churn: the DSO split,
   the top symbols and the inclusive user-space frames (Swift names demangled with
   `swift demangle --simplified`), and the share of Sluice's samples spent building log lines.

Run it with --sluice <binary> to profile another build; --peers narrows the peers; --duration sets
the seconds per measurement (default 5, 3 with --quick).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import time

PEERS = ["sluice-1t", "sluice-1t-logoff", "haproxy-splice", "nginx"]


def strace_counts(path):
    """Parses `strace -c` output: {syscall: (calls, errors)}."""
    out = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*[\d.]+\s+[\d.]+\s+(?:\d+\s+)?(\d+)\s+(\d+)?\s*(\w+)\s*$", line)
            if m and m.group(3) != "total":
                out[m.group(3)] = (int(m.group(1)), int(m.group(2) or 0))
    return out


def traced(h, cmd, attach_s, detach_s, load):
    """Runs `load()` under the tracer `cmd` (strace / perf attached with -p): waits `attach_s` for it to
    attach, stops it with SIGINT afterwards (so it writes its report) and waits up to `detach_s`."""
    tracer = h.spawn(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(attach_s)
    out = load()
    os.kill(tracer.pid, signal.SIGINT)
    try:
        tracer.wait(detach_s)
    except subprocess.TimeoutExpired:
        pass
    h.kill(tracer)
    return out


def traced_pids(peer, h):
    """The processes doing the work: nginx's worker(s), not its master; else the process itself."""
    pids = peer.pids()
    if peer.name == "nginx" and len(pids) > 1:
        return pids[1:]
    return pids[:1]


def run(lab, res, cfg, args, say, log, helpers):
    h = helpers
    seconds = int(args.duration or (3 if args.quick else 5))
    wanted = PEERS[:1] + [cfg.sN] + PEERS[1:]
    peers_wanted = [p for p in wanted if not cfg.filter or p in cfg.filter]
    oport, origin = lab.origin()
    iperf_server = None
    peers, bulk_peers = {}, {}
    perf = shutil.which("perf")
    try:
        for name in peers_wanted:
            peers[name] = lab.peer(name, oport)
            if peers[name].error:
                log("  %s failed to start: %s" % (name, peers[name].error))

        # 0. Untraced churn: rate and forwarder CPU per connection, for reference.
        say()
        say("== Profile: untraced churn (wrk -c 64 -t 2 -H 'Connection: close', %d s)" % seconds)
        say("%-18s %10s %10s %14s %14s %12s" % ("peer", "req/s", "p99 ms", "CPU us/conn", "log B/conn", "noise"))
        for name, peer in peers.items():
            if not peer.alive():
                say("%-18s %s" % (name, "NA: " + str(peer.error)))
                continue
            h.wrk(peer.port, 1, True)
            out, extra = h.measured(peer, lambda: h.wrk(peer.port, seconds, True))
            req = out.get("requests") or 0
            cpu = extra.get("peer_cpu_s")
            say("%-18s %10s %10s %14s %14s %12s" % (
                name, h.fmt(out.get("rps")), h.fmt(out.get("p99_ms")),
                "%.1f" % (cpu * 1e6 / req) if cpu is not None and req else "NA",
                "%.0f" % (extra["log_bytes"] / req) if req and extra.get("log_bytes") is not None else "-",
                extra.get("foreign_cpus")))
            res.write({"type": "profile", "what": "churn-untraced", "peer": name, "result": out, "extra": extra})

        # 1. Syscalls per connection / request / MiB.
        if not shutil.which("strace"):
            say("strace missing: skipping syscall counts")
        else:
            scenarios = [("churn", "connection", peers), ("keepalive", "request", peers),
                         ("bulk", "MiB", bulk_peers)]
            for scenario, unit, group in scenarios:
                if scenario == "bulk":
                    # Started only now: an iperf3 server left idle for minutes was found gone.
                    iport, iperf_server = lab.iperf_server()
                    for name in ("sluice-1t", "haproxy-splice"):
                        if name in peers_wanted:
                            bulk_peers[name] = lab.peer(name, iport)
                table = {}
                units = {}
                for name, peer in group.items():
                    if not peer.alive():
                        continue
                    path = os.path.join(lab.tmp, "strace-%s-%s.txt" % (scenario, name))
                    cmd = ["strace", "-c", "-f", "-o", path]
                    for pid in traced_pids(peer, h):
                        cmd += ["-p", str(pid)]
                    if scenario == "bulk":
                        out = traced(h, cmd, 1.0, 20, lambda: h.iperf(peer.port, seconds, 1, False))
                        if "error" in out:
                            log("  iperf3 through %s under strace: %s" % (name, out["error"]))
                    else:
                        out = traced(h, cmd, 1.0, 20, lambda: h.wrk(peer.port, seconds, scenario == "churn"))
                    counts = strace_counts(path) if os.path.exists(path) else {}
                    accepts = counts.get("accept4", (0, 0))
                    if scenario == "churn":
                        n = accepts[0] - accepts[1]
                    elif scenario == "keepalive":
                        n = out.get("requests") or 0
                    else:
                        n = (out.get("gbps") or 0) * 1e9 * seconds / 8 / (1 << 20)
                    table[name] = counts
                    units[name] = n
                    res.write({"type": "profile", "what": "strace-" + scenario, "peer": name, "units": n,
                               "unit": unit, "client": out, "syscalls": {k: list(v) for k, v in counts.items()}})
                show_syscalls(say, scenario, unit, seconds, table, units)

        # 2. perf stat per connection (software events).
        if perf:
            say()
            say("== Profile: perf stat during untraced churn (%d s); hardware counters: %s" % (
                seconds, hw_counters()))
            say("%-18s %12s %14s %14s %14s" % ("peer", "conns", "CPU ms/kconn", "ctx-sw/conn", "faults/conn"))
            for name, peer in peers.items():
                if not peer.alive():
                    continue
                path = os.path.join(lab.tmp, "perfstat-%s.txt" % name)
                pids = ",".join(str(p) for p in peer.pids())
                cmd = ["perf", "stat", "-x", ",", "-o", path, "-e", "task-clock,context-switches,page-faults", "-p", pids]
                out = traced(h, cmd, 0.5, 10, lambda: h.wrk(peer.port, seconds, True))
                stat = {}
                if os.path.exists(path):
                    for line in open(path):
                        parts = line.strip().split(",")
                        if len(parts) > 3 and parts[0] and parts[0][0].isdigit():
                            stat[parts[2]] = float(parts[0])
                n = out.get("requests") or 0
                if n:
                    say("%-18s %12d %14.1f %14.2f %14.3f" % (
                        name, n, stat.get("task-clock", 0) / n * 1000, stat.get("context-switches", 0) / n,
                        stat.get("page-faults", 0) / n))
                res.write({"type": "profile", "what": "perf-stat-churn", "peer": name, "requests": n, "stat": stat})

        # 3. perf record on sluice-1t and haproxy-splice during churn.
        if perf:
            for name in ("sluice-1t", "sluice-1t-logoff", "haproxy-splice"):
                peer = peers.get(name)
                if not peer or not peer.alive():
                    continue
                data = os.path.join(lab.tmp, "perf-%s.data" % name)
                pid = str(peer.pids()[0])
                cmd = ["perf", "record", "-g", "-F", "1999", "-o", data, "-p", pid]
                out = traced(h, cmd, 0.5, 30, lambda: h.wrk(peer.port, seconds, True))
                show_perf(say, res, name, data, out)
    finally:
        for p in list(peers.values()) + list(bulk_peers.values()):
            p.stop()
        h.kill(origin)
        if iperf_server:
            h.kill(iperf_server)


def hw_counters():
    p = subprocess.run(["perf", "stat", "-x", ",", "-e", "instructions", "true"], capture_output=True, text=True)
    return "not supported in this VM (software events only)" if "not supported" in p.stderr else "available"


def show_syscalls(say, scenario, unit, seconds, table, units):
    names = list(table)
    if not names:
        return
    say()
    what = {"churn": "churn (wrk -c 64 -t 2, Connection: close)", "keepalive": "keep-alive (wrk -c 64 -t 2)",
            "bulk": "bulk (iperf3 1 stream, client->server)"}[scenario]
    say("== Syscalls per %s: %s, %d s under strace -c -f (failed calls, e.g. EAGAIN, in brackets)" % (
        unit, what, seconds))
    calls = {}
    for name in names:
        for sc, (c, e) in table[name].items():
            calls.setdefault(sc, 0)
            calls[sc] += c / max(1, units[name])
    order = sorted(calls, key=lambda sc: -calls[sc])
    say("%-22s" % "syscall" + "".join("%22s" % n for n in names))
    for sc in order:
        row = "%-22s" % sc
        shown = False
        for name in names:
            c, e = table[name].get(sc, (0, 0))
            n = max(1, units[name])
            if c / n < 0.005:
                row += "%22s" % "-"
                continue
            shown = True
            row += "%22s" % ("%.2f" % (c / n) + (" (%.2f)" % (e / n) if e / n >= 0.005 else ""))
        if shown:
            say(row)
    row = "%-22s" % "TOTAL"
    for name in names:
        n = max(1, units[name])
        c = sum(v[0] for v in table[name].values())
        e = sum(v[1] for v in table[name].values())
        row += "%22s" % ("%.2f (%.2f)" % (c / n, e / n))
    say(row)
    say("%-22s" % (unit + "s counted") + "".join("%22s" % ("%.0f" % units[n]) for n in names))


def demangle(lines):
    try:
        p = subprocess.run(["swift", "demangle", "--simplified"], input="\n".join(lines), capture_output=True,
                           text=True, timeout=60)
        if p.returncode == 0:
            return p.stdout.split("\n")
    except (OSError, subprocess.TimeoutExpired):
        pass
    return lines


def clean(ln):
    return re.sub(r"(\s+-)+\s*$", "", ln.rstrip())


def show_perf(say, res, name, data, out):
    if not os.path.exists(data):
        say("perf record produced nothing for %s" % name)
        return

    def report(*extra):
        p = subprocess.run(["perf", "report", "-i", data, "--stdio", "-g", "none"] + list(extra),
                           capture_output=True, text=True, timeout=300)
        return [clean(ln) for ln in p.stdout.splitlines() if ln.strip() and not ln.startswith("#")]

    dsos = report("--no-children", "--sort", "dso", "--percent-limit", "1")
    syms = demangle(report("--no-children", "--sort", "dso,symbol", "--percent-limit", "0.7"))
    incl = demangle(report("--children", "--sort", "symbol", "--percent-limit", "0.3"))
    user = [ln for ln in incl if "[.]" in ln]
    say()
    say("== perf record -g (cpu-clock, all threads) on %s during churn: %s requests; where its CPU goes" % (
        name, out.get("requests")))
    say("   by DSO (self):")
    for ln in dsos[:8]:
        say("     " + ln.strip())
    say("   top symbols (self, >= 0.7 %):")
    for ln in syms[:25]:
        say("     " + re.sub(r"\s{2,}", "  ", ln.strip())[:140])
    say("   user-space frames (inclusive: children counted, >= 0.3 %):")
    for ln in user[:35]:
        say("     " + re.sub(r"\s{2,}", "  ", ln.strip())[:140])
    share = {}
    for ln in user:
        m = re.match(r"\s*([\d.]+)%\s+([\d.]+)%\s+\[\.\]\s+(.*)$", ln)
        if m:
            share[m.group(3).strip()] = float(m.group(1))
    if name.startswith("sluice"):
        logs = {k: v for k, v in share.items() if re.match(r"Session\.log(Accepted|Connected|RelayEnded|Closed)", k)}
        sink = sum(v for k, v in share.items() if "LogSink.init" in k)
        if logs:
            say("   per-connection logging: %.1f %% of sluice's CPU samples in Session.log* (%s) + %.1f %% in the "
                "LogSink writer thread" % (sum(logs.values()), ", ".join("%s %.1f" % (k.split("(")[0], v)
                                                                     for k, v in logs.items()), sink))
    res.write({"type": "profile", "what": "perf-record-churn", "peer": name, "requests": out.get("requests"),
               "dso": dsos[:20], "symbols": syms[:60], "inclusive_user": user[:80]})
