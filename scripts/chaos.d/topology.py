"""The system under test: the peers and three sluice processes with many services each, and a
table of what every service should do, so the clients know what to send and what to expect.

  A  forwarding and PROXY receive/send: plain, optional/trusted/untrusted/required receive, short
     timeout, maxLength=65535, send v1/v2 (alone and after receive), idle and dial timeouts,
     retries, failover over refusing targets, a target port range, a listen port range, splice,
     targets that reset, stall, close early or read slowly, IPv6.
  B  the chain `-F http://u:p@H?proxyProtocol=2 -F socks5://u:p@S,S_bad`: a recording HTTP node
     that must receive a v2 header, then a hop whose second node fails every handshake (failover).
  C  the chain `-F http://H,H_bad`: the HTTP node answers CONNECTs to some ports with garbage or
     not at all; H_bad rejects everything (failover); SOCKS5 and HTTP proxy handlers through it.
  D  the proxy handlers: auto, http (with and without credentials), socks5 with credentials,
     socks4/4a, auto after a PROXY header; short readTimeouts.

All -F flags of one process form one chain for all its services (docs/gost-behaviour.md), so the
two chains need processes of their own."""
import random
import re
import socket

import peers as P
from sluiceproc import SluiceProcess

AUTH = ("chaos", "s3cret")
FREE_PORT = re.compile(r"(127\.0\.0\.1|\[::1\]):0(?=[/?]|$)")
GRACE_SECONDS = 2


class Service:
    """One -L service and what it does with a connection."""

    def __init__(self, name, url, target, **kw):
        self.name = name
        self.url = url
        self.target = target  # echo, record, stall, reset, close, slow, refused, blackhole, garbage
        self.receive = kw.get("receive", False)  # accepts PROXY headers from 127.0.0.1
        self.required = kw.get("required", False)
        self.untrusted = kw.get("untrusted", False)  # receive on, but 127.0.0.1 is not trusted
        self.trusts_only_loopback1 = kw.get("trusts_only_loopback1", False)  # 127.0.0.2 untrusted
        self.header_timeout = kw.get("header_timeout", 10.0)
        self.max_v2 = kw.get("max_v2", 4096)
        self.send = kw.get("send", 0)  # PROXY version sent to the target
        self.idle = kw.get("idle", 0.0)
        self.dial_timeout = kw.get("dial_timeout", 0.0)
        self.chain = kw.get("chain", "")
        self.hop_header = kw.get("hop_header", False)  # the first chain node records a header
        self.slow = kw.get("slow", False)  # a dial takes a timeout first (black hole, then failover)
        self.family = kw.get("family", socket.AF_INET)
        self.proxy = kw.get("proxy", "")  # a proxy handler: auto, http, socks5 or socks4
        self.proxy_auth = kw.get("proxy_auth")
        self.read_timeout = kw.get("read_timeout", 15.0)
        self.process = None
        self.host = None
        self.port = None

    @property
    def delivers(self):
        """Bytes reach a healthy target and come back (echo or record)."""
        return self.target in ("echo", "record", "slow")

    def __repr__(self):
        return f"{self.name}({self.url})"


def reserve_range(count, rng, holder):
    """`count` consecutive free ports (bound now, released by the caller); a list of sockets. They
    are picked below the kernel's ephemeral range, so no outgoing connection takes one meanwhile."""
    low, high = ephemeral_range()
    top = low - count if low > 12000 else 60000 - count
    for _ in range(200):
        base = rng.randrange(10000, top)
        socks = []
        try:
            for i in range(count):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind((P.LOOPBACK, base + i))
            return base, socks
        except OSError:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


def ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = f.read().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


class Topology:
    """Starts the peers and processes; `services` lists every service with its address."""

    def __init__(self, seed, binary, workdir, attempt=0):
        self.seed = seed
        self.binary = binary
        self.workdir = workdir
        self.rng = random.Random(f"topology-{seed}-{attempt}")
        self.peers = P.Peers(seed)
        self.processes = []
        self.services = []
        self.ipv6 = True

    async def start(self):
        peers = self.peers
        self.echo = await peers.listen(P.echo)
        self.record = await peers.listen(P.record)
        self.stall = await peers.listen(P.stall)
        self.reset = await peers.listen(P.reset)
        self.close = await peers.listen(P.close_early)
        self.slow = await peers.listen(P.slow_echo)
        self.http_origin = await peers.listen(P.http_origin)
        self.refused = peers.refusing_port()
        self.blackhole, hangs = peers.black_hole()
        try:
            self.record6 = await peers.listen(P.record, host="::1")
        except OSError:
            self.ipv6 = False
        # Target port range: refusing, echo, refusing.
        base, socks = reserve_range(3, self.rng, peers)
        socks[1].close()
        await peers.listen(P.echo, port=base + 1)
        peers.held += [socks[0], socks[2]]
        self.target_range = base

        # Chain nodes.
        self.http_b = P.HTTPNode(f"hb-{self.seed}", auth=AUTH, proxy_header=True)
        self.socks_b = P.SOCKS5Node(f"sb-{self.seed}", auth=AUTH)
        self.socks_bad = P.SOCKS5Node(f"sbad-{self.seed}", auth=AUTH, bad=True)
        self.http_c = P.HTTPNode(f"hc-{self.seed}")
        self.http_bad = P.HTTPNode(f"hbad-{self.seed}", bad=True)
        hb = await peers.listen(self.http_b.handle)
        sb = await peers.listen(self.socks_b.handle)
        sbad = await peers.listen(self.socks_bad.handle)
        hc = await peers.listen(self.http_c.handle)
        self.socks_plain = P.SOCKS5Node(f"sp-{self.seed}")
        self.socks_plain_port = await peers.listen(self.socks_plain.handle)
        self.http_c_port = hc
        hbad = await peers.listen(self.http_bad.handle)
        self.garbage_tag = peers.refusing_port()
        self.stall_tag = peers.refusing_port()
        for node in (self.socks_b, self.http_c):
            node.garbage_ports.add(self.garbage_tag)
            node.stall_ports.add(self.stall_tag)

        t = lambda port: f"127.0.0.1:{port}"  # noqa: E731
        # The short 300ms header timeout is on `recv` and `recv-required`; the other receiving
        # services wait 1s, so a loaded machine rarely turns a slow header into a plain stream.
        short = "proxyProtocol=1&proxyProtocol.timeout=300ms"
        recv = "proxyProtocol=1&proxyProtocol.timeout=1s"
        a = [
            Service("plain", f"tcp://127.0.0.1:0/{t(self.echo)}", "echo"),
            Service("recv", f"tcp://127.0.0.1:0/{t(self.echo)}?{short}", "echo", receive=True, header_timeout=0.3),
            Service("recv-trusted", f"tcp://127.0.0.1:0/{t(self.echo)}?{recv}&proxyProtocol.trusted=127.0.0.1/32",
                    "echo", receive=True, header_timeout=1.0, trusts_only_loopback1=True),
            Service("recv-untrusted", f"tcp://127.0.0.1:0/{t(self.echo)}?{recv}&proxyProtocol.trusted=10.0.0.0/8,::1",
                    "echo", untrusted=True, header_timeout=1.0),
            Service("recv-required", f"tcp://127.0.0.1:0/{t(self.echo)}?{short}&proxyProtocol.required=true",
                    "echo", receive=True, required=True, header_timeout=0.3),
            Service("recv-big-send2", f"tcp://127.0.0.1:0/{t(self.record)}?proxyProtocol=1&proxyProtocol.timeout=500ms"
                    "&proxyProtocol.maxLength=65535&handler.proxyProtocol=2", "record", receive=True,
                    header_timeout=0.5, max_v2=65535, send=2),
            Service("recv-send1", f"tcp://127.0.0.1:0/{t(self.record)}?{recv}&handler.proxyProtocol=1", "record",
                    receive=True, header_timeout=1.0, send=1),
            Service("send2", f"tcp://127.0.0.1:0/{t(self.record)}?handler.proxyProtocol=2", "record", send=2),
            Service("send1", f"tcp://127.0.0.1:0/{t(self.record)}?handler.proxyProtocol=1", "record", send=1),
            Service("idle-stall", f"tcp://127.0.0.1:0/{t(self.stall)}?handler.idleTimeout=500ms", "stall", idle=0.5),
            Service("idle-echo", f"tcp://127.0.0.1:0/{t(self.echo)}?handler.idleTimeout=3s", "echo", idle=3.0),
            Service("failover", f"tcp://127.0.0.1:0/{t(self.refused)},{t(self.echo)},{t(self.refused)}"
                    "?strategy=round&maxFails=1&failTimeout=1s", "echo"),
            Service("target-range", f"tcp://127.0.0.1:0/127.0.0.1:{base}-{base + 2}?strategy=random&retries=2", "echo"),
            Service("dial-timeout", f"tcp://127.0.0.1:0/{t(self.blackhole)}?dialTimeout=300ms", "blackhole",
                    dial_timeout=0.3),
            Service("dial-failover", f"tcp://127.0.0.1:0/{t(self.blackhole)},{t(self.echo)}"
                    "?dialTimeout=300ms&retries=1&strategy=fifo&failTimeout=2s", "echo", dial_timeout=0.3, slow=True),
            Service("reset", f"tcp://127.0.0.1:0/{t(self.reset)}", "reset"),
            Service("close-early", f"tcp://127.0.0.1:0/{t(self.close)}", "close"),
            Service("slow-target", f"tcp://127.0.0.1:0/{t(self.slow)}", "slow"),
            Service("splice", f"tcp://127.0.0.1:0/{t(self.echo)}?handler.splice=true", "echo"),
            Service("splice-recv-send2", f"tcp://127.0.0.1:0/{t(self.record)}?{recv}&handler.splice=true"
                    "&handler.proxyProtocol=2", "record", receive=True, header_timeout=1.0, send=2),
            Service("refused", f"tcp://127.0.0.1:0/{t(self.refused)}", "refused"),
        ]
        if not hangs:
            a = [s for s in a if s.target != "blackhole" and not s.slow]
        if self.ipv6:
            a.append(Service("ipv6-send2", f"tcp://[::1]:0/[::1]:{self.record6}?handler.proxyProtocol=2", "record",
                             send=2, family=socket.AF_INET6))
        # Two services from one -L with a listen port range (their ports are chosen here).
        listen_base, listen_socks = reserve_range(2, self.rng, peers)
        ranged = [Service(f"listen-range-{i}", "", "echo") for i in range(2)]
        ranged[0].url = f"tcp://127.0.0.1:{listen_base}-{listen_base + 1}/{t(self.echo)}"

        chain_b = [f"-F", f"http://{AUTH[0]}:{AUTH[1]}@{t(hb)}?proxyProtocol=2&connector.timeout=3s",
                   "-F", f"socks5://{AUTH[0]}:{AUTH[1]}@{t(sb)},{t(sbad)}?failTimeout=200ms"]
        b = [
            Service("b-echo", f"tcp://127.0.0.1:0/{t(self.echo)}", "echo", chain="B", hop_header=True),
            Service("b-send1", f"tcp://127.0.0.1:0/{t(self.record)}?handler.proxyProtocol=1", "record", chain="B",
                    hop_header=True, send=1),
            Service("b-recv-send2", f"tcp://127.0.0.1:0/{t(self.record)}?{recv}&handler.proxyProtocol=2", "record",
                    chain="B", hop_header=True, receive=True, header_timeout=1.0, send=2),
            Service("b-garbage", f"tcp://127.0.0.1:0/{t(self.garbage_tag)}", "garbage", chain="B"),
            Service("b-refused", f"tcp://127.0.0.1:0/{t(self.refused)}", "refused", chain="B"),
            Service("b-stall", f"tcp://127.0.0.1:0/{t(self.stall_tag)}?dialTimeout=500ms", "blackhole", chain="B",
                    dial_timeout=0.5),
        ]
        chain_c = ["-F", f"http://{t(hc)},{t(hbad)}?failTimeout=200ms"]
        c = [
            Service("c-echo", f"tcp://127.0.0.1:0/{t(self.echo)}", "echo", chain="C"),
            Service("c-send2", f"tcp://127.0.0.1:0/{t(self.record)}?handler.proxyProtocol=2", "record", chain="C", send=2),
            Service("c-garbage", f"tcp://127.0.0.1:0/{t(self.garbage_tag)}", "garbage", chain="C"),
            Service("c-stall", f"tcp://127.0.0.1:0/{t(self.stall_tag)}?dialTimeout=500ms", "blackhole", chain="C",
                    dial_timeout=0.5),
        ]
        # The proxy handlers: clients name their destination (the echo target, the HTTP origin).
        creds = f"{AUTH[0]}:{AUTH[1]}@"
        d = [
            Service("proxy-auto", "auto://127.0.0.1:0?handler.readTimeout=2s", "proxy", proxy="auto", read_timeout=2.0),
            Service("proxy-http", "http://127.0.0.1:0?handler.readTimeout=2s", "proxy", proxy="http", read_timeout=2.0),
            Service("proxy-http-auth", f"http://{creds}127.0.0.1:0", "proxy", proxy="http", proxy_auth=AUTH),
            Service("proxy-socks5-auth", f"socks5://{creds}127.0.0.1:0?handler.readTimeout=2s", "proxy", proxy="socks5",
                    proxy_auth=AUTH, read_timeout=2.0),
            Service("proxy-socks4", "socks4://127.0.0.1:0", "proxy", proxy="socks4"),
            Service("proxy-auto-recv", "auto://127.0.0.1:0?proxyProtocol=1&proxyProtocol.timeout=1s", "proxy", proxy="auto",
                    receive=True, header_timeout=1.0),
        ]
        c += [
            Service("c-proxy-socks5", "socks5://127.0.0.1:0", "proxy", chain="C", proxy="socks5"),
            Service("c-proxy-http", "http://127.0.0.1:0", "proxy", chain="C", proxy="http"),
        ]
        for s in listen_socks:
            s.close()
        self._start_process("A", a + ranged, [], threads=2, expected=len(a) + 2)
        self._start_process("B", b, chain_b, threads=1, expected=len(b))
        self._start_process("C", c, chain_c, threads=2, expected=len(c))
        self._start_process("D", d, [], threads=2, expected=len(d))
        self.by_name = {s.name: s for s in self.services}

    def _start_process(self, name, services, extra, threads, expected):
        # Every service gets a fixed port (reserved below the ephemeral range): a SIGHUP reload
        # re-reads the command line, and only a fixed address keeps its listening socket.
        held = []
        arguments = []
        for s in services:
            if s.url:
                s.url = FREE_PORT.sub(lambda m: self._reserve(m.group(1), held), s.url, count=1)
                arguments += ["-L", s.url]
        for sock in held:
            sock.close()
        # A short grace period: the harness ends with a shutdown under load and waits for it.
        arguments += extra + ["-threads", str(threads), "-grace", f"{GRACE_SECONDS}s"]
        process = SluiceProcess(name, self.binary, arguments, self.workdir)
        self.processes.append(process)
        addresses = process.wait_listening(expected)
        for service, address in zip(services, addresses):
            host, _, port = address.rpartition(":")
            service.host, service.port, service.process = host.strip("[]"), int(port), process
            self.services.append(service)

    def _reserve(self, host, held):
        """`host:port` with a free port below the ephemeral range, bound in `held` until the start."""
        low, _ = ephemeral_range()
        family = socket.AF_INET6 if host.startswith("[") else socket.AF_INET
        for _ in range(200):
            port = self.rng.randrange(10000, low if low > 12000 else 60000)
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.bind((host.strip("[]"), port))
            except OSError:
                sock.close()
                continue
            held.append(sock)
            return f"{host}:{port}"
        raise RuntimeError("no free port")

    def stop(self):
        statuses = {p.name: p.stop() for p in self.processes}
        self.peers.close()
        return statuses
