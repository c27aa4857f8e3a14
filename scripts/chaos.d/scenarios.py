"""Client scenarios for the chaos harness: each is one connection (or a few) with seeded random
behaviour against one service, and an oracle. Strict scenarios must come back byte-exact (or end
within their deadline); the others only have to end. A scenario reports a broken oracle by raising
Failure; anything the faults make legitimately fail is swallowed by the scenario itself."""
import asyncio
import json
import socket
import time

import peers as P
import proxyproto as PP


class Failure(Exception):
    """An oracle did not hold."""


SLACK = 5.0  # how late a deadline may fire on a busy 2-core machine before it counts as a bug


def describe_difference(got, want):
    n = min(len(got), len(want))
    first = next((i for i in range(n) if got[i] != want[i]), n)
    return (f"got {len(got)} bytes, expected {len(want)}; first difference at {first} "
            f"(got {got[first:first + 12]!r}, expected {want[first:first + 12]!r})")


class Client:
    """One client socket with the helpers every scenario needs."""

    def __init__(self, ctx, service, source=None):
        self.ctx = ctx
        self.service = service
        self.source = source
        self.sock = None
        self.received = bytearray()
        self.end = None  # "eof", "reset" once the read side ended
        self.connect_started = None  # Sluice's per-connection deadlines start no earlier than this
        self.marked = None
        self.first_byte_at = None

    async def connect(self):
        loop = asyncio.get_running_loop()
        self.connect_started = time.monotonic()
        self.sock = socket.socket(self.service.family, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        if self.source:
            self.sock.bind((self.source, 0))
        self.ctx.count("connections")
        try:
            await asyncio.wait_for(loop.sock_connect(self.sock, (self.service.host, self.service.port)), 10)
        except (OSError, asyncio.TimeoutError) as error:
            raise Failure(f"connect to {self.service.name} failed: {error!r}") from None
        return self

    @property
    def local(self):
        host, port = self.sock.getsockname()[:2]
        return host, port

    async def send(self, data, rng=None, pieces=1, max_delay=0.0, mark=None):
        """Sends `data`, split at random points into up to `pieces` writes with random pauses.
        With `mark`, `self.marked` is set to the time the first `mark` bytes were handed over."""
        loop = asyncio.get_running_loop()
        cuts = [0, len(data)]
        if rng and pieces > 1 and len(data) > 1:
            cuts = sorted(set([0, len(data)] + [rng.randrange(1, len(data)) for _ in range(pieces - 1)]))
        for a, b in zip(cuts, cuts[1:]):
            await loop.sock_sendall(self.sock, data[a:b])
            if mark is not None and a < mark <= b:
                self.marked = time.monotonic()
            if max_delay and rng:
                await asyncio.sleep(rng.random() * max_delay)

    def shutdown_write(self):
        self.sock.shutdown(socket.SHUT_WR)

    async def read_until(self, predicate, timeout, chunk=65536, pause=0.0):
        """Reads until `predicate(received)` holds or the stream ends; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + timeout
        while not predicate(self.received) and self.end is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                data = await asyncio.wait_for(loop.sock_recv(self.sock, chunk), left)
            except asyncio.TimeoutError:
                return False
            except ConnectionResetError:
                self.end = "reset"
                break
            if not data:
                self.end = "eof"
                break
            if self.first_byte_at is None:
                self.first_byte_at = time.monotonic()
            self.received += data
            if pause:
                await asyncio.sleep(pause)
        return True

    async def read_to_end(self, timeout, chunk=65536, pause=0.0):
        return await self.read_until(lambda _: False, timeout, chunk, pause)

    def reset(self):
        if self.sock:
            P.linger_reset(self.sock)
            self.close()

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None


def payload_bytes(rng, size, avoid_header_start=False):
    data = rng.randbytes(size)
    if avoid_header_start and data[:1] in (b"P", b"\r"):
        data = b"x" + data[1:]
    return data


def pick_size(rng, bulk=False):
    r = rng.random()
    if bulk:
        return rng.randrange(1 << 20, 4 << 20)
    if r < 0.1:
        return 0
    if r < 0.6:
        return rng.randrange(1, 2048)
    if r < 0.9:
        return rng.randrange(2048, 200_000)
    return rng.randrange(200_000, 1 << 20)


def header_for(rng, service, big=False):
    """A valid header this service's parser accepts (v2 within its maxLength)."""
    if big and service.max_v2 > 4096:
        return PP.v2(rng, service.max_v2, big_tlv=rng.randrange(4096, service.max_v2 - 300))
    return PP.valid(rng, min(service.max_v2, 4096))


def check_record(client, service, header):
    """Checks the `@{json}` line a recording target sent back: the PROXY header Sluice sent names
    the original client and destination. Returns the bytes after the line."""
    data = bytes(client.received)
    line, sep, rest = data.partition(b"\n")
    if not sep or not line.startswith(b"@"):
        raise Failure(f"{service.name}: no header report from the target: {data[:80]!r}")
    report = json.loads(line[1:])
    if "error" in report:
        raise Failure(f"{service.name}: target got no valid PROXY header: {report['error']}")
    source, destination = original_endpoints(client, service, header)
    family, want_src, want_dst = PP.expected_sent(source, destination)
    got_src = (canonical(report["source"][0]), report["source"][1])
    got_dst = (canonical(report["destination"][0]), report["destination"][1])
    if report["version"] != service.send or report["family"] != family or got_src != want_src or got_dst != want_dst:
        raise Failure(f"{service.name}: sent header {report} for header {header}; expected v{service.send} "
                      f"{family} {want_src} -> {want_dst}")
    return rest


def canonical(ip):
    return PP.ipaddress.ip_address(ip).compressed


def original_endpoints(client, service, header):
    """The client and destination Sluice must report: a honoured header's TCP addresses, else the
    real ones."""
    honoured = header is not None and header.source is not None and service.receive and client.source != "127.0.0.2"
    if honoured:
        return header.source, header.destination
    return client.local, (service.host, service.port)


def check_hop_header(ctx, client, service, header):
    """The first chain node (B's HTTP node) must have received a PROXY v2 header for this client."""
    source, destination = original_endpoints(client, service, header)
    key = (PP.normalize(source[0]), source[1], PP.normalize(destination[0]), destination[1])
    seen = ctx.topology.http_b.seen.pop(key, None)
    if seen is None:
        raise Failure(f"{service.name}: the first chain node got no PROXY header {source} -> {destination}")
    family, _, _ = PP.expected_sent(source, destination)
    if seen["version"] != 2 or seen["family"] != family:
        raise Failure(f"{service.name}: chain node header {seen}, expected v2 {family} {source} -> {destination}")


# ---------------------------------------------------------------------------------------------
# Strict: exchanges that must come back byte-exact


async def exchange(ctx, rng, service, bulk=False, slow_reader=False, pauses=False, small=False):
    """Optional PROXY header, then a payload written in random pieces; half-close and read to EOF,
    or read exactly the expected bytes and close. The echo (or the target's report + echo) must be
    exact, and the headers Sluice sent must name the right endpoints."""
    source = "127.0.0.2" if service.trusts_only_loopback1 and rng.random() < 0.3 else None
    header = None
    sniffs = service.receive or service.untrusted
    if service.required or (sniffs and rng.random() < 0.6) or (not sniffs and service.target == "echo" and rng.random() < 0.05):
        header = header_for(rng, service, big=rng.random() < 0.2)
    size = rng.randrange(0, 2048) if small else pick_size(rng, bulk)
    payload = payload_bytes(rng, size, avoid_header_start=header is None and sniffs)
    if header is None and size == 0 and sniffs:
        payload = b"x"
    stripped = header is not None and service.receive and source is None
    sent = (header.data if header else b"") + payload
    echoed = sent[len(header.data):] if stripped else sent
    client = await Client(ctx, service, source).connect()
    try:
        half_close = rng.random() < 0.6
        budget = 30 + len(sent) / 2e6 * (10 if slow_reader or service.target == "slow" else 1)

        head = len(header.data) if header else 0

        async def writer():
            if pauses:
                # The pauses fall in the payload only: a header must arrive within its timeout.
                await client.send(sent[:head], rng, pieces=3, max_delay=0.02, mark=head)
                for piece in (payload[: len(payload) // 2], payload[len(payload) // 2:]):
                    await client.send(piece, rng, pieces=3, max_delay=0.02)
                    await asyncio.sleep(rng.random() * 0.4)
            else:
                await client.send(sent, rng, pieces=rng.randrange(1, 9), max_delay=0.02 if len(sent) < 100_000 else 0.0,
                                  mark=head)
            if half_close:
                client.shutdown_write()

        write_task = asyncio.get_running_loop().create_task(writer())
        pause = 0.004 if slow_reader else 0.0
        chunk = 16384 if slow_reader else 65536
        if service.target == "record":
            ok = await client.read_until(lambda r: b"\n" in r, budget)
            if not ok or b"\n" not in client.received:
                await cancel(write_task)
                raise Failure(f"{service.name}: no target report within {budget:.0f}s (end={client.end}, "
                              f"{len(client.received)} bytes) after {header}")
            want_len = client.received.index(b"\n") + 1 + len(echoed)
        else:
            want_len = len(echoed)
        if half_close:
            ok = await client.read_to_end(budget, chunk, pause)
        else:
            ok = await client.read_until(lambda r: len(r) >= want_len, budget, chunk, pause)
        try:
            await asyncio.wait_for(write_task, 5)
        except (OSError, asyncio.TimeoutError) as error:
            raise Failure(f"{service.name}: writing {len(sent)} bytes failed: {error!r} (read {len(client.received)})")
        if not ok:
            raise Failure(f"{service.name}: stalled: {len(client.received)} of {want_len} bytes after {budget:.0f}s "
                          f"(header {header}, half_close={half_close})")
        if header and (service.receive or service.untrusted) and client.marked is not None \
                and client.marked - client.connect_started > service.header_timeout * 0.7:
            # This machine was too slow to get the header out well inside its timeout: Sluice may
            # rightly have served it as plain, so the outcome is not judged.
            ctx.count("unjudged_slow_header")
            return
        try:
            rest = check_record(client, service, header) if service.target == "record" else bytes(client.received)
            if half_close and client.end != "eof":
                raise Failure(f"{service.name}: ended with {client.end} instead of EOF after half-close ({header})")
            if rest != echoed:
                raise Failure(f"{service.name}: echo mismatch ({header}, half_close={half_close}): "
                              + describe_difference(rest, echoed))
            if service.hop_header:
                check_hop_header(ctx, client, service, header if stripped else None)
        except Failure:
            # Sluice may serve a complete header as plain only once its timeout passed since the
            # accept (which follows our connect): if the answer came later than that, a reactor that
            # was itself too busy to read in time is not a bug this oracle can see.
            first = client.first_byte_at or time.monotonic()
            if stripped and first - client.connect_started >= service.header_timeout * 0.9:
                ctx.count("unjudged_slow_header")
                return
            raise
        ctx.count("strict_ok")
    finally:
        client.close()


async def cancel(task):
    task.cancel()
    try:
        await task
    except BaseException:
        pass


async def truncated_then_plain(ctx, rng, service):
    """Optional receive: part of a header, then silence past the header timeout: the part is served
    as plain payload (it comes back from the echo), not sooner than the timeout; then more bytes
    follow and come back exactly. Required receive: the connection is closed at the timeout."""
    header = header_for(rng, service)
    prefix = PP.undecided_prefix(rng, header)
    client = await Client(ctx, service).connect()
    try:
        await client.send(prefix, rng, pieces=rng.randrange(1, 4), max_delay=0.01)
        started = client.connect_started
        bound = service.header_timeout + SLACK
        if service.required:
            await client.read_to_end(bound)
            elapsed = time.monotonic() - started
            if client.end is None:
                raise Failure(f"{service.name}: required header: a {len(prefix)}-byte prefix not closed within {bound}s")
            if client.received:
                raise Failure(f"{service.name}: required header: got {bytes(client.received[:40])!r} after a prefix")
            if elapsed < service.header_timeout * 0.9:
                raise Failure(f"{service.name}: closed after {elapsed:.3f}s, before the {service.header_timeout}s timeout")
            ctx.count("strict_ok")
            return
        want = (lambda r: b"\n" in r and len(r) - r.index(b"\n") - 1 >= len(prefix)) if service.target == "record" \
            else (lambda r: len(r) >= len(prefix))
        ok = await client.read_until(want, bound)
        elapsed = time.monotonic() - started
        if not ok or client.end is not None:
            raise Failure(f"{service.name}: {len(prefix)}-byte header prefix ({header.kind}) not served as plain within "
                          f"{bound}s (end={client.end}, got {len(client.received)})")
        if elapsed < service.header_timeout * 0.9:
            raise Failure(f"{service.name}: prefix served after {elapsed:.3f}s, before the {service.header_timeout}s timeout")
        more = payload_bytes(rng, rng.randrange(0, 5000))
        await client.send(more, rng, pieces=2)
        client.shutdown_write()
        await client.read_to_end(10)
        rest = check_record(client, service, None) if service.target == "record" else bytes(client.received)
        if rest != prefix + more or client.end != "eof":
            raise Failure(f"{service.name}: after the header timeout ({header.kind} prefix {len(prefix)}B): end={client.end} "
                          + describe_difference(rest, prefix + more))
        ctx.count("strict_ok")
    finally:
        client.close()


async def truncated_then_close(ctx, rng, service):
    """Part of a header, then half-close: closed without a byte reaching the client."""
    header = header_for(rng, service)
    prefix = PP.undecided_prefix(rng, header)
    client = await Client(ctx, service).connect()
    try:
        await client.send(prefix, rng, pieces=rng.randrange(1, 4), max_delay=0.01)
        client.shutdown_write()
        await client.read_to_end(SLACK + 5)
        if client.end is None:
            raise Failure(f"{service.name}: truncated header ({header.kind}, {len(prefix)}B) then EOF: not closed in time")
        if client.received:
            raise Failure(f"{service.name}: truncated header then EOF: got {bytes(client.received[:60])!r}")
        ctx.count("strict_ok")
    finally:
        client.close()


async def silent(ctx, rng, service):
    """Connects and sends nothing. Required receive: closed at the header timeout, not before.
    Optional: after the timeout, bytes that cannot start a header are echoed exactly."""
    client = await Client(ctx, service).connect()
    try:
        started = client.connect_started
        if service.required:
            await client.read_to_end(service.header_timeout + SLACK)
            elapsed = time.monotonic() - started
            if client.end is None or client.received:
                raise Failure(f"{service.name}: silent client with a required header: end={client.end}, "
                              f"got {len(client.received)} bytes")
            if elapsed < service.header_timeout * 0.9:
                raise Failure(f"{service.name}: silent client closed after {elapsed:.3f}s < {service.header_timeout}s")
            ctx.count("strict_ok")
            return
        await asyncio.sleep(service.header_timeout + rng.random() * 0.3)
        payload = payload_bytes(rng, rng.randrange(1, 3000), avoid_header_start=True)
        await client.send(payload, rng, pieces=2)
        client.shutdown_write()
        await client.read_to_end(15)
        rest = check_record(client, service, None) if service.target == "record" else bytes(client.received)
        if rest != payload or client.end != "eof":
            raise Failure(f"{service.name}: silent then talking: end={client.end} " + describe_difference(rest, payload))
        ctx.count("strict_ok")
    finally:
        client.close()


async def idle_closed(ctx, rng, service):
    """idleTimeout towards a target that never answers: closed once idle that long, not before."""
    client = await Client(ctx, service).connect()
    try:
        await client.send(payload_bytes(rng, rng.randrange(1, 200)))
        started = time.monotonic()
        await client.read_to_end(service.idle + SLACK)
        elapsed = time.monotonic() - started
        if client.end is None:
            raise Failure(f"{service.name}: idle connection still open after {elapsed:.2f}s (idleTimeout {service.idle}s)")
        if elapsed < service.idle * 0.9:
            raise Failure(f"{service.name}: closed after {elapsed:.3f}s, before idleTimeout {service.idle}s")
        ctx.count("strict_ok")
    finally:
        client.close()


async def dial_fails(ctx, rng, service):
    """A target that refuses, never answers the SYN, or a chain hop that stalls: the client is
    closed without data, within the dial deadline (and not before it for a black hole)."""
    client = await Client(ctx, service).connect()
    try:
        try:
            await client.send(payload_bytes(rng, rng.randrange(0, 300)))
            if rng.random() < 0.5:
                client.shutdown_write()
        except OSError:
            pass
        # Sluice starts dialling when it accepts, which may be before our bytes went out.
        started = client.connect_started
        bound = (service.dial_timeout or 1.0) * (2 if service.chain else 1) + (6 if service.chain == "B" else 0) + SLACK
        await client.read_to_end(bound)
        elapsed = time.monotonic() - started
        if client.end is None:
            raise Failure(f"{service.name}: not closed within {bound:.1f}s")
        if client.received:
            raise Failure(f"{service.name}: a failed dial delivered {bytes(client.received[:40])!r}")
        if service.target == "blackhole" and not service.chain and elapsed < service.dial_timeout * 0.9:
            raise Failure(f"{service.name}: closed after {elapsed:.3f}s, before dialTimeout {service.dial_timeout}s")
        ctx.count("strict_ok")
    finally:
        client.close()


async def target_resets(ctx, rng, service):
    """A target that resets at a point the payload chooses: the client gets a prefix of its own
    bytes, then an end."""
    payload = payload_bytes(rng, rng.randrange(1, 600_000))
    client = await Client(ctx, service).connect()
    try:
        async def writer():
            try:
                await client.send(payload, rng, pieces=rng.randrange(1, 5))
                client.shutdown_write()
            except OSError:
                pass
        task = asyncio.get_running_loop().create_task(writer())
        await client.read_to_end(30)
        await cancel(task)
        if client.end is None:
            raise Failure(f"{service.name}: no end within 30s after the target reset ({len(client.received)} bytes)")
        if not payload.startswith(bytes(client.received)):
            raise Failure(f"{service.name}: not a prefix of the payload: " + describe_difference(bytes(client.received), payload))
        ctx.count("strict_ok")
    finally:
        client.close()


async def target_closes(ctx, rng, service):
    """A target that says goodbye and closes: the client gets a prefix of it, then an end."""
    client = await Client(ctx, service).connect()
    try:
        try:
            await client.send(payload_bytes(rng, rng.randrange(0, 3000)))
        except OSError:
            pass
        await client.read_to_end(15)
        if client.end is None:
            raise Failure(f"{service.name}: not closed within 15s after the target closed")
        if not P.GREETING.startswith(bytes(client.received)):
            raise Failure(f"{service.name}: got {bytes(client.received[:40])!r}, not a prefix of {P.GREETING!r}")
        ctx.count("strict_ok")
    finally:
        client.close()


# ---------------------------------------------------------------------------------------------
# Hostile bytes: the stream must end (or echo) consistently; whatever Sluice decides, the bytes that
# reach the echo are a suffix of what was sent


async def hostile(ctx, rng, service, kind):
    """Mutated headers, header-like garbage, or an oversized v2 header (len 0xFFFF, then 65520
    bytes, then waiting past the header timeout, then a few more bytes)."""
    source = "127.0.0.2" if service.trusts_only_loopback1 and rng.random() < 0.3 else None
    client = await Client(ctx, service, source).connect()
    try:
        tail = payload_bytes(rng, rng.randrange(0, 2000))
        if kind == "mutated":
            first = PP.mutate(rng, header_for(rng, service).data) + tail
            tail = b""
        elif kind == "garbage":
            first = PP.garbage(rng) + tail
            tail = b""
        else:
            declared = rng.choice([0xFFFF, service.max_v2, min(0xFFFF, service.max_v2 + 1)])
            first = PP.oversized_v2(rng, declared, rng.choice([65520, declared - 1, declared - 16, 65536 - 16]))
        half_close = rng.random() < 0.8
        try:
            await client.send(first, rng, pieces=rng.randrange(1, 6), max_delay=0.01)
            if tail:
                await asyncio.sleep(service.header_timeout + rng.random() * 0.3)
                await client.send(tail)
            if half_close:
                client.shutdown_write()
        except OSError:
            pass
        sent = first + tail
        if not half_close:
            # Bytes served as plain keep the echo open: read what comes, then leave.
            await client.read_to_end(service.header_timeout + 1)
            ctx.count("hostile")
            return
        await client.read_to_end(service.header_timeout + 20)
        if client.end is None:
            raise Failure(f"{service.name}: {kind} input ({len(sent)}B): no end within {service.header_timeout + 20}s")
        data = bytes(client.received)
        if service.target == "record" and data.startswith(b"@") and b"\n" in data:
            data = data.partition(b"\n")[2]
        if data and not sent.endswith(data) and client.end == "eof":
            raise Failure(f"{service.name}: {kind} input: what came back ({len(data)}B, {data[:24]!r}) is not a suffix "
                          f"of what was sent ({len(sent)}B, {sent[:24]!r})")
        ctx.count("hostile")
    finally:
        client.close()


async def garbage_chain(ctx, rng, service):
    """Through a chain node that answers with garbage: anything may come back, but the connection
    must end within the handshake deadlines."""
    client = await Client(ctx, service).connect()
    try:
        try:
            await client.send(payload_bytes(rng, rng.randrange(0, 5000)))
            if rng.random() < 0.7:
                client.shutdown_write()
        except OSError:
            pass
        await client.read_to_end(25)
        if client.end is None:
            raise Failure(f"{service.name}: garbage from the chain node: connection not ended within 25s")
        ctx.count("hostile")
    finally:
        client.close()


async def reset_midway(ctx, rng, service):
    """Sends part of a stream (maybe a header first), reads a little, then resets."""
    client = await Client(ctx, service).connect()
    try:
        data = (header_for(rng, service).data if service.receive and rng.random() < 0.5 else b"")
        if service.proxy:
            # A proxy handler reads a destination from the first bytes: name the echo target by
            # address, so no random bytes become a name to resolve.
            data += b"CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n" % ctx.topology.echo if service.proxy in ("http", "auto") \
                else bytes([4, 1]) + ctx.topology.echo.to_bytes(2, "big") + bytes([127, 0, 0, 1, 0]) \
                if service.proxy == "socks4" else bytes([5, 1, 0])
        data += payload_bytes(rng, rng.randrange(0, 300_000))
        try:
            await asyncio.wait_for(client.send(data, rng, pieces=rng.randrange(1, 6)), rng.random() * 0.5)
        except (OSError, asyncio.TimeoutError):
            pass
        if rng.random() < 0.5:
            want = rng.randrange(1, 100_000)
            await client.read_until(lambda r: len(r) >= want, rng.random() * 0.2)
        await asyncio.sleep(rng.random() * 0.05)
        ctx.count("resets")
    finally:
        client.reset()


async def hold_idle(ctx, rng, service, count, seconds):
    """Holds `count` connections open and silent for `seconds`, then checks each still echoes."""
    clients = []
    try:
        for _ in range(count):
            clients.append(await Client(ctx, service).connect())
        await asyncio.sleep(seconds)
        for i, client in enumerate(clients):
            ping = b"ping-%d-" % i + payload_bytes(rng, 16)
            await client.send(ping)
            ok = await client.read_until(lambda r, n=len(ping): len(r) >= n, 10)
            if not ok or bytes(client.received) != ping:
                raise Failure(f"{service.name}: held connection {i} after {seconds:.1f}s: end={client.end} "
                              + describe_difference(bytes(client.received), ping))
        ctx.count("strict_ok")
    finally:
        for client in clients:
            client.close()


async def race_close(ctx, rng, service):
    """Connects and closes at once (sometimes with a reset): a health-check probe."""
    client = await Client(ctx, service).connect()
    if rng.random() < 0.5:
        client.reset()
    else:
        client.close()


# ---------------------------------------------------------------------------------------------
# The mix: which scenario runs against which services, and how often


def _services(topology, predicate):
    return [s for s in topology.services if predicate(s)]


def catalogue(topology):
    """(name, weight, services, coroutine factory) for every scenario kind."""
    # The PROXY-header scenarios expect a forwarder behind the header (a proxy handler answers
    # the bytes after it itself): they run against forwarding services only.
    sniffing = lambda s: (s.receive or s.untrusted) and not s.proxy  # noqa: E731
    receiving = lambda s: s.receive and not s.proxy  # noqa: E731
    return [
        ("exchange", 40, _services(topology, lambda s: s.delivers and not s.slow), lambda c, r, s: exchange(c, r, s)),
        ("churn", 10, _services(topology, lambda s: s.delivers and not s.slow),
         lambda c, r, s: exchange(c, r, s, small=True)),
        ("exchange-slow-dial", 2, _services(topology, lambda s: s.slow), lambda c, r, s: exchange(c, r, s)),
        ("bulk", 3, _services(topology, lambda s: s.target == "echo" and not s.slow),
         lambda c, r, s: exchange(c, r, s, bulk=True)),
        ("slow-reader", 2, _services(topology, lambda s: s.target == "echo" and not s.slow),
         lambda c, r, s: exchange(c, r, s, slow_reader=True)),
        ("pauses", 3, _services(topology, lambda s: s.name in ("idle-echo", "plain", "recv", "b-echo")),
         lambda c, r, s: exchange(c, r, s, pauses=True)),
        ("truncated-then-plain", 4, _services(topology, lambda s: receiving(s) and s.header_timeout <= 1),
         truncated_then_plain),
        ("truncated-then-close", 3, _services(topology, receiving), truncated_then_close),
        ("silent", 3, _services(topology, lambda s: receiving(s) and s.header_timeout <= 1), silent),
        ("idle-closed", 2, _services(topology, lambda s: s.target == "stall"), idle_closed),
        ("dial-fails", 4, _services(topology, lambda s: s.target in ("refused", "blackhole")), dial_fails),
        ("target-resets", 3, _services(topology, lambda s: s.target == "reset"), target_resets),
        ("target-closes", 2, _services(topology, lambda s: s.target == "close"), target_closes),
        ("mutated", 8, _services(topology, sniffing), lambda c, r, s: hostile(c, r, s, "mutated")),
        ("garbage", 4, _services(topology, sniffing), lambda c, r, s: hostile(c, r, s, "garbage")),
        ("oversized", 3, _services(topology, sniffing), lambda c, r, s: hostile(c, r, s, "oversized")),
        ("garbage-chain", 4, _services(topology, lambda s: s.target == "garbage"), garbage_chain),
        ("reset-midway", 6, _services(topology, lambda s: True), reset_midway),
        ("probe", 3, _services(topology, lambda s: True), race_close),
        ("hold-idle", 1, _services(topology, lambda s: s.name in ("plain", "recv", "splice", "c-echo")),
         lambda c, r, s: hold_idle(c, r, s, r.randrange(5, 20), r.random() * 1.5)),
    ]
