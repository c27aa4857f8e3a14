"""The chaos harness shared by scripts/chaos and scripts/soak: starts the topology, runs rounds of
seeded random scenarios with a bounded number of workers, and after every round checks the
oracles on each sluice process: alive, no AddressSanitizer report, descriptors back to the
baseline (waited for with a deadline), RSS within a bound of its post-warm-up value, and no CPU
burnt while nothing happens."""
import asyncio
import os
import random
import signal
import time
import traceback

import proxyclients
import proxyproto as PP
import scenarios as S
from sluiceproc import ROOT, build_release
from topology import GRACE_SECONDS, Topology

MiB = 1 << 20
# Scenario kinds whose socket errors are expected (they provoke them); their oracles still count.
LENIENT = {"mutated", "garbage", "oversized", "garbage-chain", "reset-midway", "probe", "proxy-hostile"}


def header_prefix(rng, service):
    """Part of a valid PROXY header for `service`: leaves its connection inside the header."""
    return PP.undecided_prefix(rng, S.header_for(rng, service))


def wanted(name, selection):
    """`selection`: names to keep, or names prefixed with '-' to leave out."""
    if any(item.startswith("-") for item in selection):
        return "-" + name not in selection
    return name in selection


class Context:
    """What scenarios share: the topology and the counters."""

    def __init__(self, topology):
        self.topology = topology
        self.counts = {}

    def count(self, key, n=1):
        self.counts[key] = self.counts.get(key, 0) + n


class Sample:
    """One process's readings at a quiet point (and the peaks seen during the round before it)."""

    def __init__(self, process, fds, rss, cpu):
        self.process, self.fds, self.rss, self.cpu = process, fds, rss, cpu
        self.peak_fds = fds
        self.peak_rss = rss
        self.time = time.monotonic()


class Harness:
    """The topology, the scenario catalogue (with weights), the rounds and every oracle's verdict."""

    def __init__(self, seed, binary, workdir, name="chaos", rss_slack=16 * MiB, idle_cpu=0.25, weights=None,
                 workers=24, quiet_deadline=15.0, only_services=None, warmup_rounds=1, log=print):
        self.seed = seed
        self.name = name
        self.binary = binary
        self.workdir = workdir
        self.rss_slack = rss_slack
        self.idle_cpu = idle_cpu
        self.weights = weights or {}
        self.only_services = only_services
        self.warmup_rounds = warmup_rounds
        self.workers = workers
        self.quiet_deadline = quiet_deadline
        self.log = log
        self.failures = []
        self.rounds = 0
        self.scenarios = 0
        self.crashed = False
        self.baseline = {}
        self.baseline_kinds = {}
        self.rss_reference = {}
        self.history = []  # per round: {process name: Sample}
        self.kinds = {}  # scenarios run, per kind

    def fail(self, message):
        self.failures.append(message)
        if len(self.failures) <= 40:
            self.log(f"{self.name}: FAIL {message}")
        elif len(self.failures) == 41:
            self.log(f"{self.name}: (further failures counted, not printed)")

    async def start(self):
        self.started = time.monotonic()
        os.makedirs(self.workdir, exist_ok=True)
        for stale in os.listdir(self.workdir):
            if stale.endswith((".log", ".json")) or stale.startswith("asan-"):
                os.unlink(os.path.join(self.workdir, stale))
        for attempt in range(3):
            self.topology = Topology(self.seed, self.binary, self.workdir, attempt)
            try:
                await self.topology.start()
                break
            except RuntimeError as error:
                # A port reserved for a range was taken between the probe and sluice's bind (exit 1):
                # try other ports. Anything else (a crash at start-up) is a finding.
                statuses = self.topology.stop()
                if attempt == 2 or any(status not in (1, 0, None) for status in statuses.values()) \
                        or "address already in use" not in str(error):
                    raise
                self.log(f"{self.name}: start-up attempt {attempt} lost a port race; retrying")
        self.context = Context(self.topology)
        self.catalogue = []
        for name, weight, services, factory in S.catalogue(self.topology) + proxyclients.catalogue(self.topology):
            override = self.weights.get(name, self.weights.get("*"))
            weight = weight if override is None else override
            if self.only_services:
                services = [s for s in services if wanted(s.name, self.only_services)]
            if services and weight > 0:
                self.catalogue.append((name, weight, services, factory))
        for process in self.topology.processes:
            self.baseline[process.name] = process.fd_count()
            self.baseline_kinds[process.name] = process.fd_targets()
            self.log(f"{self.name}: process {process.name} pid {process.pid}: {len([s for s in self.topology.services if s.process is process])} "
                     f"services, {self.baseline[process.name]} fds: {process.command_line()}")
        if not self.topology.ipv6:
            self.log(f"{self.name}: no IPv6 loopback here; the IPv6 service is left out")

    def dead_processes(self):
        return [p for p in self.topology.processes if not p.alive()]

    async def run_round(self, seconds, max_scenarios, background=()):
        """Workers pick scenarios (each from its own seeded stream) until `seconds` pass or
        `max_scenarios` ran, next to the `background` scenarios (factories of (ctx, rng, seconds));
        then the quiet-point oracles. Returns False once a process died."""
        index = self.rounds
        self.rounds += 1
        started = time.monotonic()
        stop_at = started + seconds
        counter = {"n": 0}
        kinds = {}

        async def worker(w):
            rng = random.Random(f"{self.seed}:{index}:{w}")
            names = [c[0] for c in self.catalogue]
            weights = [c[1] for c in self.catalogue]
            k = 0
            while time.monotonic() < stop_at and counter["n"] < max_scenarios and not self.crashed:
                counter["n"] += 1
                pick = rng.choices(range(len(names)), weights)[0]
                name, _, services, factory = self.catalogue[pick]
                service = rng.choice(services)
                srng = random.Random(f"{self.seed}:{index}:{w}:{k}")
                where = f"round {index} worker {w} #{k} {name} on {service.name}"
                k += 1
                kinds[name] = kinds.get(name, 0) + 1
                try:
                    await asyncio.wait_for(factory(self.context, srng, service), 120)
                except S.Failure as failure:
                    if not service.process.alive():
                        # A consequence of the crash, which the quiet point reports with its log.
                        self.crashed = True
                        self.context.count("failed_after_crash")
                    else:
                        self.fail(f"{where}: {failure}")
                except asyncio.TimeoutError:
                    self.fail(f"{where}: scenario did not end within 120s")
                except OSError as error:
                    if name not in LENIENT and service.process.alive():
                        self.fail(f"{where}: {error!r}")
                except Exception:  # a bug in the harness itself: show it, count it
                    self.fail(f"{where}: harness error:\n{traceback.format_exc()}")
                if k % 8 == 0 and self.dead_processes():
                    self.crashed = True

        async def held(i, factory):
            try:
                await asyncio.wait_for(factory(self.context, random.Random(f"{self.seed}:{index}:bg{i}"), seconds), seconds + 60)
            except S.Failure as failure:
                if service_alive(self):
                    self.fail(f"round {index} background {i}: {failure}")
            except (OSError, asyncio.TimeoutError) as error:
                if service_alive(self):
                    self.fail(f"round {index} background {i}: {error!r}")

        peaks = {p.name: [0, 0] for p in self.topology.processes}

        async def hangup():
            # SIGHUP once per round, mid-traffic: a reload of the same command line, so every
            # service keeps its listener and its connections.
            await asyncio.sleep(random.Random(f"{self.seed}:{index}:hup").random() * seconds)
            for p in self.topology.processes:
                if p.alive():
                    p.process.send_signal(signal.SIGHUP)

        async def sampler():
            while time.monotonic() < stop_at and not self.crashed:
                for p in self.topology.processes:
                    peaks[p.name][0] = max(peaks[p.name][0], p.fd_count())
                    peaks[p.name][1] = max(peaks[p.name][1], p.rss_bytes())
                await asyncio.sleep(0.5)

        await asyncio.gather(*(worker(w) for w in range(self.workers)),
                             *(held(i, f) for i, f in enumerate(background)), sampler(), hangup())
        self.scenarios += counter["n"]
        for name, n in kinds.items():
            self.kinds[name] = self.kinds.get(name, 0) + n
        elapsed = time.monotonic() - started
        samples = await self.quiet_point(index)
        for name, sample in samples.items():
            sample.peak_fds = max(sample.fds, peaks[name][0])
            sample.peak_rss = max(sample.rss, peaks[name][1])
            sample.scenarios = counter["n"]
        self.history.append(samples)
        parts = [f"{name} fds {s.fds}/{self.baseline[name]} rss {s.rss / MiB:.1f}MiB cpu {s.cpu:.2f}s"
                 for name, s in samples.items()]
        self.log(f"{self.name}: round {index}: {counter['n']} scenarios in {elapsed:.1f}s; " + "; ".join(parts))
        return not self.crashed

    async def quiet_point(self, index):
        """Ends the round's leftovers, then checks every process: descriptors back to the baseline
        (waited for, up to a deadline), no CPU used over a quiet second, RSS within the bound."""
        await self.topology.peers.close_all()
        self.topology.http_b.seen.clear()
        live = [p for p in self.topology.processes if not self.check_dead(p)]
        deadline = time.monotonic() + self.quiet_deadline
        fds = {p.name: p.fd_count() for p in live}
        while time.monotonic() < deadline and any(fds[p.name] > self.baseline[p.name] and p.alive() for p in live):
            await asyncio.sleep(0.05)
            fds = {p.name: p.fd_count() for p in live}
        cpu_before = {p.name: p.cpu_seconds() for p in live}
        await asyncio.sleep(1.0)
        samples = {}
        for process in live:
            if self.check_dead(process):
                continue
            name, baseline = process.name, self.baseline[process.name]
            if fds[name] > baseline:
                now, before = process.fd_targets(), self.baseline_kinds[name]
                extra = {k: now.get(k, 0) - before.get(k, 0) for k in set(now) | set(before) if now.get(k, 0) != before.get(k, 0)}
                self.fail(f"round {index}: process {name}: {fds[name]} descriptors {self.quiet_deadline:.0f}s after the "
                          f"round ended, baseline {baseline}; difference by kind: {extra}")
            cpu = process.cpu_seconds()
            if cpu - cpu_before[name] > self.idle_cpu:
                self.fail(f"round {index}: process {name} used {cpu - cpu_before[name]:.2f}s of CPU in 1s with no "
                          "traffic (spinning?)")
            rss = process.rss_bytes()
            if index == self.warmup_rounds - 1:
                self.rss_reference[name] = rss
            elif index >= self.warmup_rounds and rss > self.rss_reference[name] + self.rss_slack:
                self.fail(f"round {index}: process {name} RSS {rss / MiB:.1f} MiB, more than "
                          f"{self.rss_slack / MiB:.0f} MiB over its post-warm-up {self.rss_reference[name] / MiB:.1f} MiB")
            samples[name] = Sample(name, fds[name], rss, cpu)
        return samples

    def check_dead(self, process):
        """Reports a dead process or an ASan report once; True if the process is gone."""
        reports = process.asan_reports()
        if reports and not getattr(process, "reported", False):
            process.reported = True
            self.crashed = True
            text = open(reports[0], errors="replace").read()
            self.fail(f"process {process.name}: AddressSanitizer report {reports[0]}:\n"
                      + "\n".join(text.splitlines()[:80]))
        if process.alive():
            return False
        if not getattr(process, "reported_exit", False):
            process.reported_exit = True
            self.crashed = True
            self.fail(f"process {process.name} {process.describe_exit()} (pid {process.pid}); "
                      f"command: {process.command_line()}\n--- last log lines ({process.log_path}):\n{process.log_tail(25)}")
        return True

    async def stop(self, under_load=True):
        """Shuts every process down while clients are still in every phase (silent, inside a
        header, relaying, dialling, handshaking): one SIGTERM each (process C gets a second one,
        which closes everything at once). Each must exit 0 within its grace period plus slack,
        without an ASan report."""
        clients = []
        if under_load:
            rng = random.Random(f"{self.seed}:shutdown")
            for service in self.topology.services:
                for _ in range(2):
                    try:
                        client = await S.Client(self.context, service).connect()
                    except S.Failure:
                        continue
                    clients.append(client)
                    try:
                        if service.receive and rng.random() < 0.5:
                            await client.send(header_prefix(rng, service))
                        elif rng.random() < 0.7:
                            await client.send(rng.randbytes(rng.randrange(1, 5000)).replace(b"P", b"p").replace(b"\r", b"r"))
                    except OSError:
                        pass
        for process in self.topology.processes:
            if process.alive():
                process.process.terminate()
        if under_load:
            await asyncio.sleep(0.3)
            second = [p for p in self.topology.processes if p.name == "C" and p.alive()]
            for process in second:
                process.process.terminate()
        deadline = time.monotonic() + GRACE_SECONDS + 8
        while time.monotonic() < deadline and any(p.alive() for p in self.topology.processes):
            await asyncio.sleep(0.05)
        late = [p.name for p in self.topology.processes if p.alive()]
        if late:
            self.fail(f"processes {late} still running {GRACE_SECONDS + 8}s after SIGTERM with open connections")
        for client in clients:
            client.close()
        await self.topology.peers.close_all()
        statuses = self.topology.stop()
        for process in self.topology.processes:
            status = statuses[process.name]
            if status != 0 and not getattr(process, "reported_exit", False):
                self.fail(f"process {process.name}: exit status {status} after SIGTERM; last log lines:\n{process.log_tail(10)}")
            reports = process.asan_reports()
            if reports and not getattr(process, "reported", False):
                text = open(reports[0], errors="replace").read()
                self.fail(f"process {process.name}: AddressSanitizer report at exit {reports[0]}:\n"
                          + "\n".join(text.splitlines()[:60]))
        return statuses

    def log_summary(self):
        """Warning/error messages each process logged (what the faults provoked), one line each. A
        name lookup is a harness bug: DNS would leave loopback, so every destination is a literal."""
        for process in self.topology.processes:
            try:
                levels, messages = process.log_levels()
            except OSError:
                continue
            lookups = [m for m in messages if "lookup" in m]
            if lookups:
                self.fail(f"process {process.name} was asked to resolve names (the harness must send literals): {lookups[:3]}")
            top = sorted(messages.items(), key=lambda kv: -kv[1])[:6]
            self.log(f"{self.name}: log {process.name}: {levels}; top: " + "; ".join(f"{n}x {m}" for m, n in top))

    def kinds_text(self):
        return " ".join(f"{name}={n}" for name, n in sorted(self.kinds.items(), key=lambda kv: -kv[1]))

    def counts_text(self):
        c = self.context.counts
        text = (f"connections={c.get('connections', 0)} scenarios={self.scenarios} strict_ok={c.get('strict_ok', 0)} "
                f"hostile={c.get('hostile', 0)} resets={c.get('resets', 0)}")
        for key in ("unjudged_slow_header", "failed_after_crash"):
            if c.get(key):
                text += f" {key}={c[key]}"
        return text


def add_arguments(parser, name, workers):
    """The flags scripts/chaos and scripts/soak share."""
    parser.add_argument("--seed", type=int)
    parser.add_argument("--binary", help="sluice binary (default: build .build/release/sluice)")
    parser.add_argument("--workdir", default=os.path.join(ROOT, ".build", name), help="sluice logs and ASan reports")
    parser.add_argument("--workers", type=int, default=workers, help="clients running at once")
    parser.add_argument("--only", help="run only these scenario kinds (comma-separated), to narrow a failure down")
    parser.add_argument("--skip", help="leave out these scenario kinds (comma-separated)")
    parser.add_argument("--services", help="use only these services (comma-separated names; -name leaves one out)")


def from_arguments(args, name, rss_slack, weights=None, warmup_rounds=1):
    """Prints the seed, builds the binary unless given, and makes the harness."""
    seed = seed_from(args.seed)
    print(f"{name}: seed {seed} (replay with scripts/{name} {args.seconds:g} --seed {seed})", flush=True)
    binary = os.path.abspath(args.binary) if args.binary else build_release()
    raise_nofile()
    merged = dict(weights or {})
    merged.update(weights_for(args.only, args.skip))
    return Harness(seed, binary, args.workdir, name=name, rss_slack=rss_slack, workers=args.workers, weights=merged,
                   only_services=set(args.services.split(",")) if args.services else None,
                   warmup_rounds=warmup_rounds, log=print_flush)


def weights_for(only, skip):
    """--only a,b: every other scenario kind gets weight 0 (the listed ones keep theirs);
    --skip a,b: these get weight 0."""
    weights = {}
    if only:
        weights["*"] = 0
        for kind in only.split(","):
            weights[kind] = None
    for kind in (skip or "").split(","):
        if kind:
            weights[kind] = 0
    return weights


def replay_hint(harness, args):
    extra = "".join(f" --{flag} {getattr(args, flag)}" for flag in ("binary", "only", "skip") if getattr(args, flag))
    if args.services:
        extra += f" --services={args.services}"
    return f"{harness.name}: replay with scripts/{harness.name} {args.seconds:g} --seed {harness.seed}{extra}"


def service_alive(harness):
    return not harness.dead_processes()


def raise_nofile():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def print_flush(text):
    print(text, flush=True)


def seed_from(value):
    if value is not None:
        return value
    return random.SystemRandom().randrange(1, 1 << 31)

