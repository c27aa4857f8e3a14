"""In-process peers for the chaos harness, on asyncio and raw loopback sockets: the targets Sluice
forwards to (echo, recording, reset, stall, close-early, slow reader, refusing, black hole) and the
chain nodes it dials through (HTTP CONNECT and SOCKS5, good, keyed by target port, or bad). Every
connection they hold is tracked, so a round can end by dropping them all."""
import asyncio
import base64
import json
import random
import socket
import struct

import proxyproto

LOOPBACK = "127.0.0.1"


def linger_reset(sock):
    """Makes the next close send RST instead of FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass


class Peers:
    """Owns every listening socket and connection task; `close_all` ends a round."""

    def __init__(self, seed):
        self.rng = random.Random(f"peers-{seed}")
        self.listeners = []
        self.tasks = set()
        self.held = []  # sockets kept open on purpose (refusing ports, black-hole fillers)
        self.stats = {"accepted": 0}

    def _spawn(self, coro):
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def listen(self, handler, host=LOOPBACK, port=0, backlog=1024):
        """Starts an accept loop calling `handler(conn)` for each connection; returns the port."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
        self.listeners.append(sock)
        loop = asyncio.get_running_loop()

        async def accept_loop():
            while True:
                try:
                    conn, _ = await loop.sock_accept(sock)
                except OSError:
                    await asyncio.sleep(0.01)
                    continue
                conn.setblocking(False)
                self.stats["accepted"] += 1
                self._spawn(self._run(handler, conn))

        task = loop.create_task(accept_loop())
        self.listeners.append(task)
        return sock.getsockname()[1]

    async def _run(self, handler, conn):
        try:
            await handler(conn)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            conn.close()

    async def close_all(self):
        """Drops every connection the peers hold (the listeners stay)."""
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    def refusing_port(self, port=0, host=LOOPBACK):
        """A port bound but not listening: connects are refused, and nobody else can take it."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((host, port))
        self.held.append(sock)
        return sock.getsockname()[1]

    def black_hole(self):
        """A listener (backlog 0, never accepting) whose queue two fillers fill, so every further
        SYN is dropped and connects hang until the dialer's own timeout."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((LOOPBACK, 0))
        sock.listen(0)
        self.held.append(sock)
        port = sock.getsockname()[1]
        for _ in range(2):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex((LOOPBACK, port))
            self.held.append(filler)
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.settimeout(0.5)
        try:
            probe.connect((LOOPBACK, port))
            hangs = False
        except (socket.timeout, OSError):
            hangs = True
        finally:
            probe.close()
        return port, hangs

    def close(self):
        for item in self.listeners:
            if isinstance(item, asyncio.Task):
                item.cancel()
            else:
                item.close()
        for sock in self.held:
            sock.close()


async def recv_some(conn, n=65536):
    return await asyncio.get_running_loop().sock_recv(conn, n)


async def send_all(conn, data):
    await asyncio.get_running_loop().sock_sendall(conn, data)


async def pipe(a, b):
    """Copies a→b until EOF, then half-closes b."""
    try:
        while True:
            data = await recv_some(a)
            if not data:
                break
            await send_all(b, data)
        b.shutdown(socket.SHUT_WR)
    except OSError:
        linger_reset(b)
        try:
            b.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


async def tunnel(client, upstream):
    """Relays both ways with half-close, until both directions end."""
    try:
        await asyncio.gather(pipe(client, upstream), pipe(upstream, client))
    finally:
        upstream.close()


async def open_upstream(host, port):
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(loop.sock_connect(sock, (host, port)), 5)
    except BaseException:
        sock.close()
        raise
    return sock


# ---------------------------------------------------------------------------------------------
# Targets


async def echo(conn, early=b""):
    """Echoes every byte; on EOF half-closes back (so a half-closing client gets the rest)."""
    if early:
        await send_all(conn, early)
    while True:
        data = await recv_some(conn)
        if not data:
            break
        await send_all(conn, data)
    conn.shutdown(socket.SHUT_WR)


async def slow_echo(conn):
    """Echoes, reading 4 KiB at a time with a pause: Sluice has to hold back the client."""
    while True:
        data = await recv_some(conn, 4096)
        if not data:
            break
        await send_all(conn, data)
        await asyncio.sleep(0.002)
    conn.shutdown(socket.SHUT_WR)


async def record(conn):
    """Reads the PROXY header Sluice sends, answers `@{json}\\n` describing it, then echoes the rest.
    A missing or broken header is answered `@{"error": ...}\\n` and the connection closed."""
    data = b""
    while True:
        try:
            header, consumed = proxyproto.parse(data)
        except ValueError as error:
            await send_all(conn, b"@" + json.dumps({"error": str(error)}).encode() + b"\n")
            return
        if header is not None:
            break
        more = await recv_some(conn)
        if not more:
            await send_all(conn, b"@" + json.dumps({"error": f"eof after {len(data)} bytes"}).encode() + b"\n")
            return
        data += more
    await echo(conn, b"@" + json.dumps(header).encode() + b"\n" + data[consumed:])


async def reset(conn):
    """Resets the connection at a point chosen by the first payload bytes (so a replayed client
    meets the same fault): right away, after echoing N bytes, or after reading N bytes silently."""
    data = await recv_some(conn)
    if not data:
        return
    mode = data[0] % 3
    limit = ((data[1] if len(data) > 1 else 0) << 8 | (data[2] if len(data) > 2 else 0)) * 8
    seen = 0
    while data and mode != 0:
        if mode == 1:
            await send_all(conn, data[: max(0, limit - seen)])
        seen += len(data)
        if seen >= limit:
            break
        data = await recv_some(conn)
    linger_reset(conn)


async def stall(conn):
    """Accepts and never reads or writes, until the round ends."""
    await asyncio.Event().wait()


GREETING = b"BYE\n"


async def close_early(conn):
    """Says goodbye and closes before reading anything."""
    await send_all(conn, GREETING)


async def http_origin(conn):
    """An HTTP/1.1 origin for the forwarding scenarios: answers each request with its body, and
    `X-Seen: METHOD target` and `X-Seen-Proxy-Fields: N` (Proxy-* fields that reached it); chunked
    when the request carries `X-Chunked: 1`; keep-alive until `Connection: close` or EOF."""
    data = b""
    while True:
        while b"\r\n\r\n" not in data:
            more = await recv_some(conn)
            if not more:
                return
            data += more
            if len(data) > 1 << 20:
                return
        head, _, data = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target = (lines[0].split(" ") + ["", ""])[:2]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        proxy_fields = sum(1 for name in headers if name.startswith("proxy-"))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                while b"\r\n" not in data:
                    more = await recv_some(conn)
                    if not more:
                        return
                    data += more
                line, _, data = data.partition(b"\r\n")
                size = int(line.split(b";")[0], 16)
                while len(data) < size + 2:
                    more = await recv_some(conn)
                    if not more:
                        return
                    data += more
                if size == 0:
                    data = data[2:]
                    break
                body += data[:size]
                data = data[size + 2:]
        else:
            n = int(headers.get("content-length", "0") or 0)
            while len(data) < n:
                more = await recv_some(conn)
                if not more:
                    return
                data += more
            body, data = data[:n], data[n:]
        reply = ["HTTP/1.1 200 OK", f"X-Seen: {method} {target}", f"X-Seen-Proxy-Fields: {proxy_fields}"]
        close = headers.get("connection", "").lower() == "close"
        if close:
            reply.append("Connection: close")
        if headers.get("x-chunked") == "1" and body:
            reply.append("Transfer-Encoding: chunked")
            payload = b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
        else:
            reply.append(f"Content-Length: {len(body)}")
            payload = body
        await send_all(conn, ("\r\n".join(reply) + "\r\n\r\n").encode() + payload)
        if close:
            conn.shutdown(socket.SHUT_WR)
            return


# ---------------------------------------------------------------------------------------------
# Chain nodes


async def read_until(conn, marker, limit):
    data = b""
    while marker not in data:
        if len(data) > limit:
            raise ValueError("request too long")
        more = await recv_some(conn, 4096)
        if not more:
            raise ValueError("eof in request")
        data += more
    return data


async def read_exact(conn, n, data=b""):
    while len(data) < n:
        more = await recv_some(conn, n - len(data))
        if not more:
            raise ValueError("eof")
        data += more
    return data


async def send_split(rng, conn, data):
    """Sends `data` in 1-3 pieces with tiny pauses (replies split across segments)."""
    cuts = sorted(rng.randrange(1, len(data)) for _ in range(rng.randrange(0, 3))) if len(data) > 1 else []
    last = 0
    for cut in cuts + [len(data)]:
        if cut > last:
            await send_all(conn, data[last:cut])
            await asyncio.sleep(rng.random() * 0.003)
        last = cut


class HTTPNode:
    """An HTTP CONNECT proxy. `proxy_header`: a PROXY header is expected first (recorded in `seen`
    by source and destination). `auth`: (user, password) required. `garbage_ports`/`stall_ports`: CONNECTs to
    these ports get a broken reply (possibly one a client accepts) or none. `bad`: every reply is
    one a client must reject (for failover tests)."""

    def __init__(self, seed, auth=None, proxy_header=False, bad=False):
        self.rng = random.Random(seed)
        self.auth = auth
        self.proxy_header = proxy_header
        self.bad = bad
        self.garbage_ports = set()
        self.stall_ports = set()
        self.seen = {}
        self.stats = {"connects": 0, "tunnels": 0, "errors": 0, "bad": 0}

    async def handle(self, conn):
        rng = random.Random(self.rng.getrandbits(64))
        data = b""
        if self.proxy_header:
            header = None
            while header is None:
                more = await recv_some(conn)
                if not more:
                    return
                data += more
                try:
                    header, consumed = proxyproto.parse(data)
                except ValueError:
                    self.stats["errors"] += 1
                    return
            data = data[consumed:]
            # Keyed by both ends: one client port can serve two connections to different services.
            self.seen[(proxyproto.normalize(header["source"][0]), header["source"][1],
                       proxyproto.normalize(header["destination"][0]), header["destination"][1])] = header
        if self.bad:
            self.stats["bad"] += 1
            return await self.reject(rng, conn)
        while b"\r\n\r\n" not in data:
            if len(data) > 16384:
                raise ValueError("request head too long")
            more = await recv_some(conn, 4096)
            if not more:
                return
            data += more
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, authority, _ = (lines[0].split(" ") + ["", "", ""])[:3]
        self.stats["connects"] += 1
        if method != "CONNECT":
            await send_all(conn, b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
            return
        if self.auth:
            want = "Basic " + base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
            got = [line.split(":", 1)[1].strip() for line in lines[1:] if line.lower().startswith("proxy-authorization:")]
            if got != [want]:
                self.stats["errors"] += 1
                await send_all(conn, b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
                return
        host, _, port = authority.rpartition(":")
        host, port = host.strip("[]"), int(port)
        if port in self.stall_ports:
            await asyncio.Event().wait()
        if port in self.garbage_ports:
            return await self.garbage(rng, conn)
        try:
            upstream = await open_upstream(host, port)
        except (OSError, asyncio.TimeoutError):
            await send_all(conn, b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
            return
        self.stats["tunnels"] += 1
        reply = rng.choice([b"HTTP/1.1 200 Connection established\r\n\r\n", b"HTTP/1.0 200 OK\r\nVia: chaos\r\n\r\n",
                            b"HTTP/1.1 200\r\n\r\n"])
        try:
            await send_split(rng, conn, reply)
            if rest:
                await send_all(upstream, rest)
        except OSError:
            upstream.close()
            raise
        await tunnel(conn, upstream)

    async def reject(self, rng, conn):
        """A reply no client may take for a tunnel."""
        choice = rng.randrange(9)
        if choice == 0:
            linger_reset(conn)
        elif choice == 1:
            await send_all(conn, rng.randbytes(rng.randrange(1, 64)).replace(b"H", b"h"))
        elif choice == 2:
            await send_all(conn, b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
        elif choice == 3:
            await send_all(conn, b"HTTP/1.1 200 OK\r\nX: " + b"a" * 9000)
        elif choice == 4:
            await send_all(conn, b"HTTP/1.1 200 OK\r\n")
        elif choice == 5:
            await send_all(conn, rng.choice([b"HTTP/2 200\r\n\r\n", b"HTTP/1.1 200OK\r\n\r\n", b"HTTP/1.1 20\r\n\r\n",
                                             b"HTTP/1.1 2000 OK\r\n\r\n", b"\r\n\r\n", b"HTTP/1.1 \xff\xfe\r\n\r\n"]))
        elif choice == 6:
            await send_all(conn, b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        elif choice == 7:
            for byte in b"HTTP/1.1 503 Busy\r\n":
                await send_all(conn, bytes([byte]))
                await asyncio.sleep(0.001)
        # 8: close without a word

    async def garbage(self, rng, conn):
        """Any broken reply, including ones that look like success followed by nonsense."""
        choice = rng.randrange(6)
        if choice == 0:
            await self.reject(rng, conn)
        elif choice == 1:
            await send_all(conn, b"HTTP/1.1 200 OK\r\n\r\n" + rng.randbytes(rng.randrange(0, 3000)))
        elif choice == 2:
            await send_all(conn, b"HTTP/1.1 200 OK\n\r\n\r\n")
        elif choice == 3:
            await send_all(conn, b"HTTP/1.1 " + rng.randbytes(rng.randrange(0, 40)) + b"\r\n\r\n")
        elif choice == 4:
            await send_all(conn, b"HTTP/1.1 200 OK\r\n" + b"X-Pad: y\r\n" * rng.randrange(0, 900) + b"\r\n")
            await recv_some(conn)
        else:
            await send_all(conn, b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n")
            await recv_some(conn)


class SOCKS5Node:
    """A SOCKS5 proxy (RFC 1928/1929). `auth`: (user, password) required. `garbage_ports`/
    `stall_ports` as for HTTPNode; `bad`: fails every handshake at a random stage in a way a client
    must reject."""

    def __init__(self, seed, auth=None, bad=False):
        self.rng = random.Random(seed)
        self.auth = auth
        self.bad = bad
        self.garbage_ports = set()
        self.stall_ports = set()
        self.stats = {"connects": 0, "tunnels": 0, "errors": 0, "bad": 0}

    async def handle(self, conn):
        rng = random.Random(self.rng.getrandbits(64))
        fail_at = rng.randrange(3) if self.bad else -1
        if self.bad:
            self.stats["bad"] += 1
        head = await read_exact(conn, 2)
        methods = await read_exact(conn, head[1])
        if fail_at == 0:
            return await self.reject(rng, conn, [b"\x04\x00", b"\x05\xff", b"\x05\x03", b"\x05", b"", b"\x05\x01"])
        if head[0] != 5:
            self.stats["errors"] += 1
            return
        if self.auth:
            if 2 not in methods:
                self.stats["errors"] += 1
                await send_all(conn, b"\x05\xff")
                return
            await send_all(conn, b"\x05\x02")
            ver_ulen = await read_exact(conn, 2)
            user = await read_exact(conn, ver_ulen[1])
            plen = (await read_exact(conn, 1))[0]
            password = await read_exact(conn, plen)
            if fail_at == 1:
                return await self.reject(rng, conn, [b"\x01\x01", b"\x01", b"", b"\x01\xff"])
            if (user.decode("latin-1"), password.decode("latin-1")) != tuple(self.auth):
                self.stats["errors"] += 1
                await send_all(conn, b"\x01\x01")
                return
            await send_all(conn, b"\x01\x00")
        else:
            await send_all(conn, b"\x05\x00")
        request = await read_exact(conn, 4)
        if request[3] == 1:
            raw = await read_exact(conn, 4)
            host = socket.inet_ntop(socket.AF_INET, raw)
        elif request[3] == 4:
            raw = await read_exact(conn, 16)
            host = socket.inet_ntop(socket.AF_INET6, raw)
        elif request[3] == 3:
            n = (await read_exact(conn, 1))[0]
            host = (await read_exact(conn, n)).decode("latin-1")
        else:
            self.stats["errors"] += 1
            return
        port = struct.unpack("!H", await read_exact(conn, 2))[0]
        self.stats["connects"] += 1
        if fail_at >= 0:
            return await self.reject(rng, conn, [
                b"\x05\x01\x00\x01" + bytes(6), b"\x05\x05\x00\x01" + bytes(6), b"\x04\x00\x00\x01" + bytes(6),
                b"\x05\x00\x00\x09" + bytes(6), b"\x05\x00\x00\x01\x7f", b"\x05\x00\x00\x03\xff" + b"x" * 10, b"",
                b"\x05\x00\x00\x04" + bytes(8)])
        if port in self.stall_ports:
            await asyncio.Event().wait()
        if port in self.garbage_ports:
            choice = rng.randrange(4)
            if choice == 0:
                await send_all(conn, rng.randbytes(rng.randrange(0, 30)))
            elif choice == 1:
                await send_all(conn, b"\x05\x00\x00\x01" + bytes(6) + rng.randbytes(rng.randrange(0, 2000)))
            elif choice == 2:
                await send_all(conn, b"\x05\x00\x00\x03" + bytes([rng.randrange(256)]) + rng.randbytes(rng.randrange(0, 300)))
                await recv_some(conn)
            else:
                await send_all(conn, bytes([5, rng.randrange(1, 256), 0, 1]) + bytes(6))
            return
        try:
            upstream = await open_upstream(host, port)
        except (OSError, asyncio.TimeoutError):
            await send_all(conn, b"\x05\x05\x00\x01" + bytes(6))
            return
        self.stats["tunnels"] += 1
        bound = upstream.getsockname()
        if rng.random() < 0.5:
            reply = b"\x05\x00\x00\x01" + socket.inet_aton(bound[0]) + struct.pack("!H", bound[1])
        else:
            reply = b"\x05\x00\x00\x03\x09localhost" + struct.pack("!H", bound[1])
        try:
            await send_split(rng, conn, reply)
        except OSError:
            upstream.close()
            raise
        await tunnel(conn, upstream)

    async def reject(self, rng, conn, choices):
        reply = rng.choice(choices)
        if not reply and rng.random() < 0.5:
            linger_reset(conn)
            return
        await send_all(conn, reply)
