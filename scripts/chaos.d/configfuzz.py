"""Configuration chaos: short-lived sluice processes started with seeded random -L/-F URLs, keys and
flags (extreme durations and counts, bad CIDRs, port ranges, unknown keys). Each must either refuse
the configuration (exit 2, or 1 for a start-up failure) or start, carry a few connections through
the durations it was given, and exit 0 on SIGTERM; never die of a signal or trap."""
import asyncio
import json
import os
import random
import socket
import time

import peers
import proxyproto as PP
from sluiceproc import SluiceProcess

class Values:
    """Values for one kind of setting: ordinary ones, extreme but valid ones (where arithmetic
    overflows hide), and invalid ones (which must be refused with exit 2)."""

    def __init__(self, ordinary, extreme, invalid):
        self.ordinary, self.extreme, self.invalid = ordinary, extreme, invalid

    def pick(self, rng, hostility=0.5):
        """An ordinary value, else (with probability `hostility`) mostly extreme, rarely invalid."""
        r = rng.random()
        return rng.choice(self.ordinary if r >= hostility else self.extreme if r >= hostility * 0.1 else self.invalid)


DURATIONS = Values(
    ["50ms", "300ms", "1s", "2s", "0", "1.5s"],
    ["1ns", "1us", "1ms", "2562047h", "9223372036854775807ns", "9223372036s", "-1s", "-9223372036854775808ns",
     "-2562047h", "0.0000001s", "1h2m3.5s", "+2s", ".5s", "2562047h47m16.854775807s", "3µs", "100000h"],
    ["2562048h", "9223372036854775808ns", "9223372037s", "1e9s", "abc", "", "5", "99999999999999999999ns", "106751d",
     "1.s", "1..5s", "µs", "2m-1s"])
INTS = Values(
    ["0", "1", "2", "3"],
    ["36", "35", "4096", "65535", "65536", "2147483647", "2147483648", "4294967296", "9223372036854775807", "-1",
     "-9223372036854775808", "+1", "64", "63"],
    ["9223372036854775808", "99999999999999999999", "1e3", "", "x", "0x10", " 1"])
CIDRS = Values(
    ["127.0.0.1/32", "10.0.0.0/8,::1", "127.0.0.1"],
    ["0.0.0.0/0", "::/0", "::ffff:127.0.0.1/128", "127.0.0.0/8,127.0.0.1/32,::1/128,fe80::/10", "127.0.0.1/0",
     "255.255.255.255/32"],
    ["1.2.3.4/33", "::1/129", "/8", "1.2.3.4/-1", "x", "", "127.0.0.1/32,,", "[::1]/128", "127.0.0.1/99999999999999999999"])
BOOLS = Values(["true", "false"], ["1", "0", "TRUE", "True"], ["yes", "", "2"])
PROXY_VERSIONS = Values(["1", "2"], ["0", "3", "-1", "9223372036854775807", "true"], ["x", ""])
STRATEGIES = Values(["round", "random", "fifo", "hash"], ["rr", "rand"], ["bogus", ""])
OTHER = Values(["1"], ["", "%zz"], ["%"])

SERVICE_KEYS = [
    ("proxyProtocol", PROXY_VERSIONS), ("proxyProtocol.timeout", DURATIONS), ("proxyProtocol.maxLength", INTS),
    ("proxyProtocol.trusted", CIDRS), ("proxyProtocol.required", BOOLS), ("handler.proxyProtocol", PROXY_VERSIONS),
    ("handler.idleTimeout", DURATIONS), ("idleTimeout", DURATIONS), ("dialTimeout", DURATIONS), ("retries", INTS),
    ("maxFails", INTS), ("failTimeout", DURATIONS), ("strategy", STRATEGIES), ("handler.splice", BOOLS),
    ("service.proxyProtocol", PROXY_VERSIONS), ("listener.proxyProtocol", INTS), ("unknown.key", OTHER),
    ("max_fails", INTS), ("fail_timeout", DURATIONS), ("handler.retries", INTS),
]
PROXY_KEYS = [("handler.readTimeout", DURATIONS), ("readTimeout", DURATIONS)]
NODE_KEYS = [("connector.timeout", DURATIONS), ("proxyProtocol", PROXY_VERSIONS), ("failTimeout", DURATIONS),
             ("maxFails", INTS), ("strategy", STRATEGIES), ("node.proxyProtocol", PROXY_VERSIONS),
             ("dialTimeout", DURATIONS)]


def random_query(rng, keys, hostility):
    pairs = []
    for _ in range(rng.randrange(0, 6)):
        key, values = rng.choice(keys)
        pairs.append(f"{key}={values.pick(rng, hostility)}")
    return ("?" + "&".join(pairs)) if pairs else ""


def random_target(rng, topo):
    t = lambda p: f"127.0.0.1:{p}"  # noqa: E731
    choice = rng.randrange(10)
    if choice < 4:
        return t(topo.echo)
    if choice == 4:
        return t(topo.refused)
    if choice == 5:
        return f"127.0.0.1:{topo.target_range}-{topo.target_range + 2}"
    if choice == 6:
        return f"localhost:{topo.echo}"
    if choice == 7 and rng.random() < 0.3:
        return rng.choice([f"127.0.0.1:{topo.echo + 5}-{topo.echo}", "127.0.0.1:65536", "127.0.0.1:0", ":0",
                           "127.0.0.1:-1", "[::1]:99999", "127.0.0.1:", "127.0.0.1:1-1000", "[::1]", "1.2.3.4.5:80"])
    return ",".join(t(rng.choice([topo.echo, topo.refused])) for _ in range(rng.randrange(2, 5)))


def random_service(rng, topo, hostility):
    listen = rng.choice(["127.0.0.1:0"] * 24 + ["[::1]:0", ":0", "127.0.0.1:0-0", "127.0.0.1:99999", "127.0.0.1"])
    if rng.random() < 0.2:
        # A proxy handler (no target: clients name their destination).
        scheme = rng.choice(["http://", "socks5://", "socks4://", "socks4a://", "auto://", "", "http+tcp://"])
        auth = rng.choice(["", "", "u:p@", "u:@"])
        return f"{scheme}{auth}{listen}{random_query(rng, SERVICE_KEYS + PROXY_KEYS, hostility)}"
    scheme = rng.choice(["tcp://"] * 40 + ["", "rtcp://", "http://", "socks5://", "tcp+tcp://", "relay://", "udp://"])
    auth = "u:p@" if rng.random() < 0.05 else ""
    target = "" if rng.random() < 0.03 else "/" + random_target(rng, topo)
    return f"{scheme}{auth}{listen}{target}{random_query(rng, SERVICE_KEYS, hostility)}"


def random_node(rng, topo, hostility):
    kind = rng.choice(["http", "socks5"] * 4 + ["socks", "", "relay"])
    port = topo.http_c_port if kind in ("http", "", "relay") else topo.socks_plain_port
    auth = rng.choice(["", "", "", "u:p@", ":@", "u@"])
    address = rng.choice([f"127.0.0.1:{port}", f"127.0.0.1:{port},127.0.0.1:{topo.refused}", f"127.0.0.1:{topo.refused}"])
    prefix = f"{kind}://" if kind else ""
    return f"{prefix}{auth}{address}{random_query(rng, NODE_KEYS, hostility)}"


def random_arguments(rng, topo):
    # Some trials are mostly ordinary with an odd value here and there, others hostile throughout.
    hostility = rng.choice([0.15, 0.3, 0.6])
    args = []
    for _ in range(rng.randrange(1, 4)):
        args += ["-L", random_service(rng, topo, hostility)]
    if rng.random() < 0.3:
        for _ in range(rng.randrange(1, 3)):
            args += ["-F", random_node(rng, topo, hostility)]
    if rng.random() < 0.3:
        args += ["-threads", rng.choice(["0", "1", "2", "3"] * 5 + ["1025", "-1", "x"])]
    if rng.random() < 0.2:
        args += ["-grace", DURATIONS.pick(rng, hostility)]
    if rng.random() < 0.1:
        args += ["-log-level", rng.choice(["debug", "trace", "warning", "error"] * 3 + ["bogus"])]
    return args


async def poke(address, rng, family, echo):
    """One connection: sometimes a valid PROXY header, then bytes, half-close or reset; read briefly.
    The bytes start with a CONNECT to the echo target or with "x": a proxy handler then either
    tunnels to an address literal or refuses, and no random bytes become a name to resolve."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(loop.sock_connect(sock, address), 2)
        start = b"CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n" % echo if rng.random() < 0.5 else b"x"
        data = (PP.valid(rng).data if rng.random() < 0.4 else b"") + start + rng.randbytes(rng.randrange(0, 3000))
        await loop.sock_sendall(sock, data)
        if rng.random() < 0.7:
            sock.shutdown(socket.SHUT_WR)
        end = time.monotonic() + rng.choice([0.1, 0.5, 1.2])
        while time.monotonic() < end:
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), max(0.01, end - time.monotonic()))
            if not chunk:
                break
    except (OSError, asyncio.TimeoutError):
        pass
    finally:
        if rng.random() < 0.3:
            peers.linger_reset(sock)
        sock.close()


def typed(rng, text):
    """A setting's value as JSON: usually its text, sometimes the number, bool, null, list or
    object a confused config writer might put there."""
    r = rng.random()
    if r < 0.6:
        return text
    if r < 0.8:
        try:
            number = float(text.rstrip("sm").rstrip("n")) if text else 0.0
            return int(number) if number.is_integer() and rng.random() < 0.7 else number
        except ValueError:
            return text
    return rng.choice([True, False, None, [text], {"v": text}, 1e308, -0.0, 2 ** 64, ""])


def random_metadata(rng, keys, hostility):
    return {key.split(".", 1)[1] if key.startswith(("handler.", "service.", "listener.")) else key:
            typed(rng, values.pick(rng, hostility)) for key, values in rng.sample(keys, rng.randrange(0, 4))}


def random_config_file(rng, topo, hostility, path):
    """A GOST-schema JSON config (services, chains, log) with odd values, sometimes mutated as text;
    written to `path`."""
    t = lambda p: f"127.0.0.1:{p}"  # noqa: E731
    services = []
    for i in range(rng.randrange(1, 4)):
        kind = rng.choice(["tcp"] * 3 + ["http", "socks5", "socks4", "auto", "rtcp", "bogus"])
        service = {"name": f"service-{i}", "addr": rng.choice(["127.0.0.1:0"] * 8 + [":0", "[::1]:0", "127.0.0.1", "x"]),
                   "handler": {"type": kind, "metadata": random_metadata(rng, SERVICE_KEYS + PROXY_KEYS, hostility)},
                   "listener": {"type": rng.choice(["tcp"] * 6 + ["rtcp", "udp", ""])},
                   "metadata": random_metadata(rng, SERVICE_KEYS, hostility)}
        if kind in ("tcp", "rtcp") or rng.random() < 0.1:
            nodes = [{"name": f"target-{j}", "addr": t(rng.choice([topo.echo, topo.echo, topo.refused]))}
                     for j in range(rng.randrange(0 if rng.random() < 0.05 else 1, 4))]
            service["forwarder"] = {"nodes": nodes, "selector": {
                "strategy": STRATEGIES.pick(rng, hostility), "maxFails": typed(rng, INTS.pick(rng, hostility)),
                "failTimeout": typed(rng, DURATIONS.pick(rng, hostility))}}
        if rng.random() < 0.2:
            service["handler"]["auth"] = {"username": "u", "password": rng.choice(["p", "", "x" * 300])}
        if rng.random() < 0.25:
            service["handler"]["chain"] = rng.choice(["chain-0", "chain-0", "missing"])
        services.append(service)
    config = {"services": services}
    if rng.random() < 0.4:
        connector = rng.choice(["http", "socks5"])
        port = topo.http_c_port if connector == "http" else topo.socks_plain_port
        config["chains"] = [{"name": "chain-0", "hops": [{"name": "hop-0", "nodes": [
            {"name": "node-0", "addr": t(port), "connector": {"type": connector, "metadata": random_metadata(rng, NODE_KEYS, hostility)},
             "dialer": {"type": "tcp"}}]}]}]
    if rng.random() < 0.3:
        config["log"] = {"level": rng.choice(["info", "debug", "error", "bogus"]), "format": rng.choice(["json", "text", "x"]),
                         "output": "stderr"}
    text = json.dumps(config)
    if rng.random() < hostility * 0.4:
        text = PP.mutate(rng, text.encode()).decode("utf-8", "replace")
    with open(path, "w") as f:
        f.write(text)


async def trial(harness, rng, index):
    """One configuration; returns a failure message or None."""
    topo = harness.topology
    if rng.random() < 0.3:
        path = os.path.join(harness.workdir, f"config-{index}.json")
        random_config_file(rng, topo, rng.choice([0.15, 0.3, 0.6]), path)
        args = ["-C", path] + (["-L", random_service(rng, topo, 0.15)] if rng.random() < 0.2 else [])
        shown = f"{' '.join(repr(a) for a in args)} with {open(path).read()[:1500]}"
    else:
        args = random_arguments(rng, topo)
        shown = " ".join(repr(a) for a in args)
    process = SluiceProcess(f"config-{index}", harness.binary, args, harness.workdir)
    where = f"config trial {index}: sluice {shown}"
    try:
        deadline = time.monotonic() + 5
        listeners = []
        while time.monotonic() < deadline and process.alive():
            listeners = [line for line in read_listeners(process)]
            if listeners:
                await asyncio.sleep(0.1)
                listeners = read_listeners(process)
                break
            await asyncio.sleep(0.03)
        if not process.alive():
            status = process.exit_status()
            if status not in (1, 2):
                return f"{where}: {process.describe_exit()} at start-up; log:\n{process.log_tail(8)}"
            harness.context.count("config_refused")
            reason = process.log_tail(1)[-80:]
            harness.config_reasons[reason] = harness.config_reasons.get(reason, 0) + 1
            return None
        pokes = []
        for address in listeners[:4]:
            host, _, port = address.rpartition(":")
            family = socket.AF_INET6 if host.startswith("[") else socket.AF_INET
            for _ in range(rng.randrange(1, 3)):
                pokes.append(poke((host.strip("[]"), int(port)), random.Random(rng.getrandbits(64)), family, topo.echo))
        await asyncio.gather(*pokes)
        harness.context.count("connections", len(pokes))
        await asyncio.sleep(0.2)
        if not process.alive():
            return f"{where}: {process.describe_exit()} while serving; log:\n{process.log_tail(8)}"
        status = await terminate(process)
        if status != 0:
            return f"{where}: {process.describe_exit() if status is not None else 'no exit'} after SIGTERM; " \
                   f"log:\n{process.log_tail(8)}"
        harness.context.count("config_started")
        if "lookup" in open(process.log_path, errors="replace").read():
            return f"{where}: sluice was asked to resolve a name (the harness must send literals)"
        return None
    finally:
        if process.alive():
            process.process.kill()
            process.process.wait()
        process.log.close()
        reports = process.asan_reports()
        if reports:
            text = open(reports[0], errors="replace").read()
            harness.fail(f"{where}: AddressSanitizer report {reports[0]}:\n" + "\n".join(text.splitlines()[:60]))


def read_listeners(process):
    found = []
    with open(process.log_path, "rb") as f:
        for line in f:
            match = process.LISTENING.search(line.decode("utf-8", "replace"))
            if match:
                found.append(match.group(1))
    return found


async def terminate(process):
    """SIGTERM; a second one after 8 s (closes everything at once); None if still running after 12 s."""
    process.process.terminate()
    for step in range(120):
        if not process.alive():
            return process.exit_status()
        if step == 80:
            process.process.terminate()
        await asyncio.sleep(0.1)
    return None


async def run_trials(harness, count, concurrency=4):
    """Runs `count` trials, `concurrency` at a time; failures go to the harness."""
    harness.config_reasons = {}
    semaphore = asyncio.Semaphore(concurrency)

    async def one(i):
        async with semaphore:
            rng = random.Random(f"{harness.seed}:config:{i}")
            try:
                failure = await trial(harness, rng, i)
            except Exception as error:  # a harness bug: show it
                failure = f"config trial {i}: harness error {error!r}"
            if failure:
                harness.fail(failure)

    started = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(count)))
    c = harness.context.counts
    harness.log(f"{harness.name}: {count} configuration trials in {time.monotonic() - started:.1f}s: "
                f"{c.get('config_started', 0)} started and stopped cleanly, {c.get('config_refused', 0)} refused")
    top = sorted(harness.config_reasons.items(), key=lambda kv: -kv[1])[:12]
    if top:
        harness.log(f"{harness.name}: refusals, most frequent: " + "; ".join(f"{n}x {r}" for r, n in top))
