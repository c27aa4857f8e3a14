"""Clients of Sluice's proxy handlers (http, socks5, socks4/4a, auto) for the chaos harness: valid
handshakes split at random points, then a byte-exact echo; HTTP absolute-URI requests (bodies with
Content-Length or chunked, keep-alive, pipelining) checked against what the origin saw; refused
destinations and wrong credentials answered with the right failure; slow requests closed at
readTimeout; mutated and oversized handshakes that must only end the connection."""
import asyncio
import base64
import socket
import struct
import time

import peers as P
import proxyproto as PP
from scenarios import SLACK, Client, Failure, describe_difference, payload_bytes, pick_size
from topology import AUTH

# ---------------------------------------------------------------------------------------------
# Handshakes: each returns the bytes to send, and the replies are read with `read_reply`


def http_connect(host, port, auth, rng):
    lines = [f"CONNECT {host}:{port} HTTP/1.1", f"Host: {host}:{port}"]
    if auth:
        lines.append("Proxy-Authorization: Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    for i in range(rng.randrange(0, 4)):
        lines.append(f"X-Chaos-{i}: {'v' * rng.randrange(0, 200)}")
    if rng.random() < 0.3:
        lines.append("Proxy-Connection: keep-alive")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def socks5_greeting(auth, rng):
    if auth:
        return bytes([5, 2, 0, 2]) if rng.random() < 0.5 else bytes([5, 1, 2])
    return bytes([5, 1, 0]) if rng.random() < 0.7 else bytes([5, 2, 0, 2])


def socks5_auth(auth):
    user, password = auth[0].encode(), auth[1].encode()
    return bytes([1, len(user)]) + user + bytes([len(password)]) + password


def socks5_request(host, port, rng, command=1):
    """CONNECT to an IPv4 literal, or to the same address written as a domain name (the resolver
    path; a numeric name needs no DNS)."""
    if rng.random() < 0.6:
        return bytes([5, command, 0, 1]) + socket.inet_aton(host) + struct.pack("!H", port)
    name = host.encode()
    return bytes([5, command, 0, 3, len(name)]) + name + struct.pack("!H", port)


def socks4_request(host, port, rng, user=b""):
    if rng.random() < 0.5:
        return bytes([4, 1]) + struct.pack("!H", port) + socket.inet_aton(host) + user + b"\x00"
    # SOCKS4a: 0.0.0.x and the name after the user id.
    return bytes([4, 1]) + struct.pack("!H", port) + bytes([0, 0, 0, 1]) + user + b"\x00" + host.encode() + b"\x00"


async def read_http_head(client, timeout):
    ok = await client.read_until(lambda r: b"\r\n\r\n" in r, timeout)
    data = bytes(client.received)
    if b"\r\n\r\n" not in data:
        return None, data
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def socks5_reply_length(data):
    """The length of a complete SOCKS5 reply at the start of `data`, or None."""
    if len(data) < 5:
        return None
    atyp = data[3]
    n = {1: 10, 4: 22}.get(atyp, 7 + data[4] if atyp == 3 else 10)
    return n if len(data) >= n else None


def pick_kind(service, rng):
    if service.proxy == "auto":
        return rng.choice(["http", "socks5", "socks4"])
    return service.proxy


async def handshake(client, rng, service, host, port, kind, pieces=3):
    """Runs one handshake towards host:port; returns (granted, what) and leaves in `client.received`
    only the bytes after the reply."""
    auth = service.proxy_auth
    send = lambda data: client.send(data, rng, pieces=rng.randrange(1, pieces + 1), max_delay=0.01)  # noqa: E731
    if kind == "http":
        await send(http_connect(host, port, auth, rng))
        head, rest = await read_http_head(client, 15)
        if head is None:
            return False, f"no reply head (end={client.end}, got {bytes(client.received[:60])!r})"
        client.received = bytearray(rest)
        status = head.split(b"\r\n", 1)[0]
        return status.startswith(b"HTTP/1.1 200"), status.decode("latin-1")
    if kind == "socks5":
        greeting = socks5_greeting(auth, rng)
        request = socks5_request(host, port, rng)
        if not auth and rng.random() < 0.3:
            # Optimistic client: the request right behind the greeting, before the method reply.
            await send(greeting + request)
            ok = await client.read_until(lambda r: len(r) >= 2 and socks5_reply_length(bytes(r[2:])), 15)
            data = bytes(client.received)
            if not ok or data[:2] != b"\x05\x00" or socks5_reply_length(data[2:]) is None:
                return False, f"pipelined greeting+request: got {data[:24]!r} (end={client.end})"
            n = socks5_reply_length(data[2:])
            client.received = bytearray(data[2 + n:])
            return data[3] == 0, f"reply {data[2:2 + n]!r}"
        await send(greeting)
        await client.read_until(lambda r: len(r) >= 2, 15)
        method = bytes(client.received[:2])
        del client.received[:2]
        if auth:
            if method != b"\x05\x02":
                return False, f"method reply {method!r}"
            await send(socks5_auth(auth))
            await client.read_until(lambda r: len(r) >= 2, 15)
            status = bytes(client.received[:2])
            del client.received[:2]
            if status != b"\x01\x00":
                return False, f"auth reply {status!r}"
        elif method != b"\x05\x00":
            return False, f"method reply {method!r}"
        await send(request)
        await client.read_until(lambda r: socks5_reply_length(bytes(r)) is not None, 15)
        data = bytes(client.received)
        n = socks5_reply_length(data)
        if n is None:
            return False, f"short reply {data!r} (end={client.end})"
        client.received = bytearray(data[n:])
        return data[1] == 0, f"reply {data[:n]!r}"
    # socks4
    user = auth[0].encode() if auth else b"chaos-user"
    await send(socks4_request(host, port, rng, user))
    await client.read_until(lambda r: len(r) >= 8, 15)
    data = bytes(client.received)
    if len(data) < 8:
        return False, f"short reply {data!r} (end={client.end})"
    client.received = bytearray(data[8:])
    return data[1] == 90, f"reply {data[:8]!r}"


def proxy_source(service, rng):
    """A PROXY header in front of the handshake, on services that receive one."""
    return PP.valid(rng).data if service.receive and rng.random() < 0.5 else b""


# ---------------------------------------------------------------------------------------------
# Scenarios


async def proxy_tunnel(ctx, rng, service):
    """A valid handshake to the echo target, then a payload: byte-exact echo (half-close or read
    exactly)."""
    kind = pick_kind(service, rng)
    client = await Client(ctx, service).connect()
    try:
        header = proxy_source(service, rng)
        if header:
            await client.send(header)
        granted, what = await handshake(client, rng, service, "127.0.0.1", ctx.topology.echo, kind)
        if not granted:
            raise Failure(f"{service.name}: {kind} CONNECT to the echo target not granted: {what}")
        payload = payload_bytes(rng, pick_size(rng))
        half_close = rng.random() < 0.6

        async def writer():
            await client.send(payload, rng, pieces=rng.randrange(1, 6), max_delay=0.01 if len(payload) < 100_000 else 0)
            if half_close:
                client.shutdown_write()

        task = asyncio.get_running_loop().create_task(writer())
        budget = 30 + len(payload) / 2e6
        if half_close:
            ok = await client.read_to_end(budget)
        else:
            ok = await client.read_until(lambda r: len(r) >= len(payload), budget)
        await asyncio.wait_for(task, 5)
        if not ok:
            raise Failure(f"{service.name}: {kind} tunnel stalled at {len(client.received)} of {len(payload)} bytes")
        if bytes(client.received) != payload or (half_close and client.end != "eof"):
            raise Failure(f"{service.name}: {kind} tunnel echo (end={client.end}): "
                          + describe_difference(bytes(client.received), payload))
        ctx.count("strict_ok")
    finally:
        client.close()


async def proxy_refused(ctx, rng, service):
    """A destination that refuses: the failure reply (not success), then the end."""
    kind = pick_kind(service, rng)
    client = await Client(ctx, service).connect()
    try:
        header = proxy_source(service, rng)
        if header:
            await client.send(header)
        granted, what = await handshake(client, rng, service, "127.0.0.1", ctx.topology.refused, kind)
        if granted:
            raise Failure(f"{service.name}: {kind} CONNECT to a refusing port granted: {what}")
        await client.read_to_end(SLACK + 5)
        if client.end is None:
            raise Failure(f"{service.name}: {kind} refused CONNECT ({what}) not closed within {SLACK + 5}s")
        ctx.count("strict_ok")
    finally:
        client.close()


async def proxy_wrong_password(ctx, rng, service):
    """Credentials configured, wrong ones sent: 407 (http) or a failed RFC 1929 status, then the end."""
    kind = rng.choice(["http", "socks5"]) if service.proxy == "auto" else service.proxy
    client = await Client(ctx, service).connect()
    try:
        wrong = (AUTH[0], AUTH[1] + "x")
        if kind == "http":
            await client.send(http_connect("127.0.0.1", ctx.topology.echo, wrong if rng.random() < 0.7 else None, rng))
            head, _ = await read_http_head(client, 15)
            if head is None or not head.startswith(b"HTTP/1.1 407"):
                raise Failure(f"{service.name}: wrong credentials over http: {head!r} (end={client.end})")
        else:
            await client.send(bytes([5, 1, 2]))
            await client.read_until(lambda r: len(r) >= 2, 15)
            await client.send(socks5_auth(wrong))
            await client.read_until(lambda r: len(r) >= 4, 15)
            data = bytes(client.received)
            if data[:2] != b"\x05\x02" or len(data) < 4 or data[2:4] == b"\x01\x00":
                raise Failure(f"{service.name}: wrong credentials over socks5 answered {data[:8]!r}")
        await client.read_to_end(SLACK + 5)
        if client.end is None:
            raise Failure(f"{service.name}: connection with wrong credentials not closed within {SLACK + 5}s")
        ctx.count("strict_ok")
    finally:
        client.close()


async def proxy_slow_request(ctx, rng, service):
    """Part of a request, then silence: closed at readTimeout (not sooner), without a tunnel."""
    kind = pick_kind(service, rng)
    auth = service.proxy_auth
    full = {"http": lambda: http_connect("127.0.0.1", ctx.topology.echo, auth, rng),
            "socks5": lambda: socks5_greeting(None, rng)[:2],
            "socks4": lambda: socks4_request("127.0.0.1", ctx.topology.echo, rng, b"u")}[kind]()
    prefix = full[: rng.randrange(1, len(full))] if kind != "socks5" else full[:1]
    client = await Client(ctx, service).connect()
    try:
        await client.send(prefix)
        bound = service.read_timeout + SLACK
        await client.read_to_end(bound)
        elapsed = time.monotonic() - client.connect_started
        if client.end is None:
            raise Failure(f"{service.name}: {kind} request prefix {prefix[:30]!r}: open after {bound}s "
                          f"(readTimeout {service.read_timeout}s)")
        if elapsed < service.read_timeout * 0.9:
            raise Failure(f"{service.name}: {kind} request prefix closed after {elapsed:.2f}s, before readTimeout "
                          f"{service.read_timeout}s (got {bytes(client.received[:40])!r})")
        ctx.count("strict_ok")
    finally:
        client.close()


def mutate_after(rng, data, keep):
    """`data` mutated only after its first `keep` bytes."""
    return data[:keep] + PP.mutate(rng, data[keep:]) if len(data) > keep else data


# A host name no resolver may be asked about: it cannot be a DNS name (DNS would leave loopback).
BAD_NAME = b"no!such%name"


def nasty_handshake(rng, service, topo):
    """A handshake a client may not send: mutated, truncated, oversized, or with odd fields. Every
    destination stays an address literal or a name Sluice must reject without a lookup."""
    echo, auth = topo.echo, service.proxy_auth
    choice = rng.randrange(13)
    if choice == 0:
        request = http_connect("127.0.0.1", echo, auth, rng)
        return mutate_after(rng, request, request.index(b"\r\n") + 2)
    if choice == 1:
        # The greeting and the credentials mutated; the CONNECT request (an IPv4 literal) intact.
        front = socks5_greeting(auth, rng) + (socks5_auth(AUTH) if auth else b"")
        return PP.mutate(rng, front) + bytes([5, 1, 0, 1]) + socket.inet_aton("127.0.0.1") + struct.pack("!H", echo)
    if choice == 2:
        request = bytes([4, 1]) + struct.pack("!H", echo) + socket.inet_aton("127.0.0.1") + b"u\x00"
        return PP.mutate(rng, request[:4]) + request[4:]
    if choice == 3:
        return b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nX: " % echo + b"a" * rng.choice([16000, 17000, 70000]) + b"\r\n\r\n"
    if choice == 4:
        return b"GET http://127.0.0.1:%d/ HTTP/1.1\r\n" % echo + b"X-Many: y\r\n" * rng.randrange(100, 3000) + b"\r\n"
    if choice == 5:
        return bytes([5, 0]) if rng.random() < 0.5 else bytes([5, 255]) + bytes(range(255))
    if choice == 6:
        # BIND, UDP ASSOCIATE, an unknown command.
        return bytes([5, 1, 0]) + bytes([5, rng.choice([2, 3, 9]), 0, 1]) + socket.inet_aton("127.0.0.1") + struct.pack("!H", echo)
    if choice == 7:
        name = rng.choice([b"", BAD_NAME, b"!" * 255])
        return bytes([5, 1, 0, 5, 1, 0, 3, len(name)]) + name + b"\x00\x50"
    if choice == 8:
        # A SOCKS4 user id that never ends.
        return bytes([4, 1, 0, 80]) + socket.inet_aton("127.0.0.1") + b"u" * rng.choice([300, 5000, 70000])
    if choice == 9:
        return rng.choice([b"CONNECT 127.0.0.1:99999 HTTP/1.1\r\n\r\n", b"CONNECT [::1 HTTP/1.1\r\n\r\n",
                           b"CONNECT :80 HTTP/1.1\r\n\r\n", b"CONNECT " + BAD_NAME * 30 + b":80 HTTP/1.1\r\n\r\n",
                           b"GET / HTTP/1.1\r\n\r\n", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"\r\n\r\n\r\n",
                           b"GET http://127.0.0.1:%d/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" % echo,
                           b"POST http://127.0.0.1:%d/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n" % echo,
                           b"POST http://127.0.0.1:%d/ HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n" % echo,
                           b"GET http://127.0.0.1:%d/ HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello" % echo])
    if choice == 10:
        # An absolute-URI request to the echo target: its "response" is our own request.
        return b"GET http://127.0.0.1:%d/x HTTP/1.1\r\nHost: a\r\n\r\n" % echo
    if choice == 11:
        return http_connect("127.0.0.1", echo, auth, rng)[: rng.randrange(1, 40)]
    # SOCKS4a with an empty, invalid or overlong name.
    name = rng.choice([b"", BAD_NAME, b"!" * 300, b"!" * 5000])
    return bytes([4, 1]) + struct.pack("!H", echo) + bytes([0, 0, 0, 1]) + b"u\x00" + name + b"\x00"


async def proxy_hostile(ctx, rng, service):
    """A nasty handshake, then half-close: the connection must end in time."""
    client = await Client(ctx, service).connect()
    try:
        data = proxy_source(service, rng) + nasty_handshake(rng, service, ctx.topology)
        try:
            # No payload after it: random bytes could complete a SOCKS4a name and cause a lookup.
            await client.send(data, rng, pieces=rng.randrange(1, 5), max_delay=0.01)
            client.shutdown_write()
        except OSError:
            pass
        bound = max(service.read_timeout, 1) + 15
        await client.read_to_end(bound)
        if client.end is None:
            raise Failure(f"{service.name}: nasty handshake {data[:40]!r}… then EOF: open after {bound}s")
        ctx.count("hostile")
    finally:
        client.close()


# HTTP forwarding (absolute-URI requests) through the http and auto handlers


def http_request(rng, port, index, auth, close):
    """(bytes, method, path, body): GET or POST with a Content-Length or chunked body."""
    method = rng.choice(["GET", "POST", "PUT"])
    path = f"/chaos/{index}/{rng.randrange(10**6)}"
    body = payload_bytes(rng, rng.choice([0, 1, 100, 5000, 70000])) if method != "GET" else b""
    headers = [f"{method} http://127.0.0.1:{port}{path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Proxy-Connection: keep-alive"]
    if auth:
        headers.append("Proxy-Authorization: Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    if close:
        headers.append("Connection: close")
    if rng.random() < 0.3:
        headers.append("X-Chunked: 1")  # asks the origin for a chunked response
    if method != "GET" and rng.random() < 0.4:
        headers.append("Transfer-Encoding: chunked")
        chunks, rest = b"", body
        while rest:
            n = rng.randrange(1, len(rest) + 1)
            chunks += b"%x\r\n" % n + rest[:n] + b"\r\n"
            rest = rest[n:]
        encoded = chunks + b"0\r\n\r\n"
    else:
        if method != "GET":
            headers.append(f"Content-Length: {len(body)}")
        encoded = body
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + encoded, method, path, body


def parse_response(data):
    """(status, headers dict, body, consumed) for one complete response at the start of `data`,
    or None when incomplete."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = data[:end].decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    pos = end + 4
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            eol = data.find(b"\r\n", pos)
            if eol < 0:
                return None
            size = int(data[pos:eol].split(b";")[0], 16)
            pos = eol + 2
            if size == 0:
                trailer = data.find(b"\r\n", pos)
                if trailer < 0:
                    return None
                pos = trailer + 2
                break
            if len(data) < pos + size + 2:
                return None
            body += data[pos:pos + size]
            pos += size + 2
    else:
        n = int(headers.get("content-length", "0"))
        if len(data) < pos + n:
            return None
        body = data[pos:pos + n]
        pos += n
    return lines[0], headers, body, pos


async def http_forward(ctx, rng, service):
    """1-4 absolute-URI requests on one connection (sometimes pipelined): each response is the
    origin's, which must have seen the origin-form target, no Proxy-* fields, and the exact body;
    after a last request with `Connection: close` the connection ends."""
    port = ctx.topology.http_origin
    count = rng.randrange(1, 5)
    pipelined = rng.random() < 0.3
    closing = rng.random() < 0.5
    requests = [http_request(rng, port, i, service.proxy_auth, close=(closing and i == count - 1)) for i in range(count)]
    client = await Client(ctx, service).connect()
    try:
        header = proxy_source(service, rng)
        if header:
            await client.send(header)
        if pipelined:
            await client.send(b"".join(r[0] for r in requests), rng, pieces=rng.randrange(1, 6), max_delay=0.01)
        for i, (data, method, path, body) in enumerate(requests):
            if not pipelined:
                await client.send(data, rng, pieces=rng.randrange(1, 4), max_delay=0.01)
            ok = await client.read_until(lambda r: parse_response(bytes(r)) is not None, 20)
            parsed = parse_response(bytes(client.received))
            if not ok or parsed is None:
                raise Failure(f"{service.name}: request {i} of {count} ({method} {path}, pipelined={pipelined}): no "
                              f"complete response (end={client.end}, got {bytes(client.received[:80])!r})")
            status, headers, got, consumed = parsed
            del client.received[:consumed]
            seen = headers.get("x-seen", "")
            if not status.startswith("HTTP/1.1 200") or seen != f"{method} {path}" \
                    or headers.get("x-seen-proxy-fields") != "0" or got != body:
                raise Failure(f"{service.name}: request {i} ({method} {path}, {len(body)}B, pipelined={pipelined}): "
                              f"{status!r}, x-seen {seen!r}, proxy fields {headers.get('x-seen-proxy-fields')!r}, "
                              + describe_difference(got, body))
        if closing:
            # The last request said `Connection: close`: the connection ends after its response.
            await client.read_to_end(SLACK + 5)
            if client.end is None or client.received:
                raise Failure(f"{service.name}: after a `Connection: close` request and its response: end={client.end}, "
                              f"{len(client.received)} more bytes")
        ctx.count("strict_ok")
    finally:
        client.close()


def catalogue(topology):
    """(name, weight, services, factory) for the proxy-handler scenarios."""
    proxies = [s for s in topology.services if s.proxy]
    return [
        ("proxy-tunnel", 12, proxies, proxy_tunnel),
        ("proxy-refused", 3, proxies, proxy_refused),
        ("proxy-wrong-password", 2, [s for s in proxies if s.proxy_auth and s.proxy != "socks4"], proxy_wrong_password),
        ("proxy-slow-request", 2, [s for s in proxies if s.read_timeout <= 3], proxy_slow_request),
        ("proxy-hostile", 8, proxies, proxy_hostile),
        ("http-forward", 6, [s for s in proxies if s.proxy in ("http", "auto")], http_forward),
    ]
