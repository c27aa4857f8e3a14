#!/usr/bin/env python3
"""Loopback load helpers for scripts/bench (stdlib only), each run as its own process:

  netload.py echo-server --port P         epoll echo server (thousands of connections)
  netload.py hold --port P --count N      opens N connections, checks each echoes, holds them
  netload.py pingpong --port P --rounds R one connection, R round trips of 64 bytes, p50/p99

Every mode refuses a non-loopback address and bounds its loops in time. Results are one JSON
object per line on stdout; `hold` is driven by commands on stdin (check / close).
"""
import argparse
import errno
import gc
import json
import os
import resource
import select
import socket
import struct
import sys
import time

HOST = "127.0.0.1"


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------------------------------------
# echo server


def echo_server(port, max_seconds):
    raise_nofile()
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((HOST, port))
    ls.listen(4096)
    ls.setblocking(False)
    ep = select.epoll()
    ep.register(ls.fileno(), select.EPOLLIN)
    conns = {}
    pending = {}  # fd -> bytes not yet written back
    deadline = time.monotonic() + max_seconds
    emit({"ready": True, "port": port})
    while time.monotonic() < deadline:
        for fd, ev in ep.poll(1.0, 1024):
            if fd == ls.fileno():
                for _ in range(256):
                    try:
                        c, _ = ls.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as e:
                        if e.errno in (errno.EMFILE, errno.ENFILE):
                            break
                        raise
                    c.setblocking(False)
                    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    conns[c.fileno()] = c
                    ep.register(c.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
                continue
            c = conns.get(fd)
            if c is None:
                continue
            closed = False
            if ev & select.EPOLLOUT and fd in pending:
                data = pending.pop(fd)
                try:
                    n = c.send(data)
                    if n < len(data):
                        pending[fd] = data[n:]
                except BlockingIOError:
                    pending[fd] = data
                except OSError:
                    closed = True
                if fd not in pending and not closed:
                    ep.modify(fd, select.EPOLLIN | select.EPOLLRDHUP)
            if not closed and ev & (select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR):
                while fd not in pending:
                    try:
                        data = c.recv(65536)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        closed = True
                        break
                    if not data:
                        closed = True
                        break
                    try:
                        n = c.send(data)
                    except BlockingIOError:
                        n = 0
                    except OSError:
                        closed = True
                        break
                    if n < len(data):
                        pending[fd] = data[n:]
                        ep.modify(fd, select.EPOLLIN | select.EPOLLOUT | select.EPOLLRDHUP)
            if closed:
                ep.unregister(fd)
                pending.pop(fd, None)
                conns.pop(fd).close()


# ---------------------------------------------------------------------------------------------
# hold N idle connections


class Holder:
    def __init__(self, port, count, connect_timeout):
        self.port = port
        self.count = count
        self.connect_timeout = connect_timeout
        self.socks = []

    def open_all(self):
        """Non-blocking connects, at most 256 in flight. Returns how many connected."""
        ep = select.epoll()
        inflight = {}
        started = 0
        failed = 0
        deadline = time.monotonic() + self.connect_timeout
        while (started < self.count or inflight) and time.monotonic() < deadline:
            while started < self.count and len(inflight) < 256:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                rc = s.connect_ex((HOST, self.port))
                started += 1
                if rc in (0, errno.EINPROGRESS):
                    inflight[s.fileno()] = s
                    ep.register(s.fileno(), select.EPOLLOUT)
                else:
                    failed += 1
                    s.close()
            for fd, _ in ep.poll(0.5, 512):
                s = inflight.pop(fd)
                ep.unregister(fd)
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    self.socks.append(s)
                else:
                    failed += 1
                    s.close()
        for s in inflight.values():
            s.close()
        ep.close()
        return len(self.socks)

    def check(self, timeout):
        """Sends 16 distinct bytes on every held socket; counts those that echo them back."""
        ep = select.epoll()
        want = {}
        bad = 0
        for i, s in enumerate(self.socks):
            msg = b"%015d\n" % i
            try:
                s.send(msg)
            except OSError:
                bad += 1
                continue
            want[s.fileno()] = (s, msg, bytearray())
            ep.register(s.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
        ok = 0
        deadline = time.monotonic() + timeout
        while want and time.monotonic() < deadline:
            for fd, _ in ep.poll(0.5, 1024):
                s, msg, got = want[fd]
                try:
                    data = s.recv(64)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    bad += 1
                    ep.unregister(fd)
                    del want[fd]
                    continue
                got += data
                if len(got) >= len(msg):
                    if bytes(got) == msg:
                        ok += 1
                    else:
                        bad += 1
                    ep.unregister(fd)
                    del want[fd]
        ep.close()
        return ok, bad + len(want)

    def close_all(self):
        # Reset rather than FIN: no TIME_WAIT is left behind (thousands of them would skew the next
        # measurement: a forwarder that reads /proc/net/tcp at start-up grows with them).
        linger = struct.pack("ii", 1, 0)
        for s in self.socks:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            except OSError:
                pass
            s.close()
        self.socks = []


def hold(port, count, timeout):
    limit = raise_nofile()
    h = Holder(port, count, timeout)
    t0 = time.monotonic()
    opened = h.open_all()
    t1 = time.monotonic()
    ok, bad = h.check(timeout)
    emit({"opened": opened, "echo_ok": ok, "echo_bad": bad, "open_s": round(t1 - t0, 3),
          "check_s": round(time.monotonic() - t1, 3), "nofile": limit})
    # Commands from the harness: "check" re-checks every connection, "close" ends. EOF ends too.
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        r, _, _ = select.select([sys.stdin], [], [], 5.0)
        if not r:
            continue
        line = sys.stdin.readline()
        if not line or line.strip() == "close":
            break
        if line.strip() == "check":
            ok, bad = h.check(timeout)
            emit({"echo_ok": ok, "echo_bad": bad})
    h.close_all()
    emit({"closed": True})


# ---------------------------------------------------------------------------------------------
# ping-pong latency


def pingpong(port, rounds, warmup, size):
    s = socket.create_connection((HOST, port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg = b"x" * size
    send = s.send
    recv_into = s.recv_into
    buf = bytearray(size)
    view = memoryview(buf)
    clock = time.perf_counter_ns
    samples = [0] * rounds
    gc.disable()
    t_end = time.monotonic() + 60  # bound: a stuck forwarder cannot hang the harness
    done = 0
    for i in range(warmup + rounds):
        t0 = clock()
        send(msg)
        got = 0
        while got < size:
            n = recv_into(view[got:], size - got)
            if n == 0:
                raise SystemExit("connection closed after %d rounds" % i)
            got += n
        t1 = clock()
        if i >= warmup:
            samples[i - warmup] = t1 - t0
            done += 1
        if (i & 1023) == 0 and time.monotonic() > t_end:
            break
    gc.enable()
    s.close()
    samples = sorted(samples[:done])

    def pct(p):
        return samples[min(len(samples) - 1, int(p / 100.0 * len(samples)))] / 1000.0

    emit({"rounds": done, "p50_us": round(pct(50), 2), "p99_us": round(pct(99), 2),
          "p999_us": round(pct(99.9), 2), "min_us": round(samples[0] / 1000.0, 2),
          "mean_us": round(sum(samples) / len(samples) / 1000.0, 2)})


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    e = sub.add_parser("echo-server")
    e.add_argument("--port", type=int, required=True)
    e.add_argument("--max-seconds", type=float, default=7200)
    h = sub.add_parser("hold")
    h.add_argument("--port", type=int, required=True)
    h.add_argument("--count", type=int, required=True)
    h.add_argument("--timeout", type=float, default=60)
    p = sub.add_parser("pingpong")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--rounds", type=int, default=20000)
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--size", type=int, default=64)
    a = ap.parse_args()
    if a.mode == "echo-server":
        echo_server(a.port, a.max_seconds)
    elif a.mode == "hold":
        hold(a.port, a.count, a.timeout)
    else:
        pingpong(a.port, a.rounds, a.warmup, a.size)


if __name__ == "__main__":
    main()
