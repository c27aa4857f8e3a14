#!/usr/bin/env python3
"""floorfwd_check.py: checks the bench's C floor forwarder (floorfwd.c) forwards correctly before it is
used as a reference: run it by hand after changing floorfwd.c.

  python3 scripts/bench.d/floorfwd_check.py [BINARY]   (default: .build/bench/floorfwd; compiled when missing)

For the plain, --smart and --nodelay modes: 100 MB each way at once (sha256 of each stream compared), a client
that half-closes after its request and still gets the reply, an HTTP request with curl (when installed),
a server that speaks first (plain mode only: --smart waits for the client's bytes by design), and a
refused upstream (the client sees its connection end). Everything on 127.0.0.1, every wait bounded.
"""
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIZE = 100 * 1000 * 1000
TIMEOUT = 60


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    s.settimeout(TIMEOUT)
    return s, s.getsockname()[1]


def stream(seed):
    """SIZE bytes in 64 KiB chunks, each different (a chunk lost, repeated or moved changes the sum),
    and their sha256."""
    h = hashlib.sha256()
    left, out = SIZE, []
    while left:
        c = (hashlib.sha256(seed + b"%d" % len(out)).digest() * 2048)[:min(left, 1 << 16)]
        out.append(c)
        h.update(c)
        left -= len(c)
    return out, h.hexdigest()


def send_all_then_shut(sock, chunks):
    for c in chunks:
        sock.sendall(c)
    sock.shutdown(socket.SHUT_WR)


def read_to_eof(sock):
    h, n = hashlib.sha256(), 0
    while True:
        b = sock.recv(1 << 16)
        if not b:
            return h.hexdigest(), n
        h.update(b)
        n += len(b)


def recv_until_eof(sock):
    """Every byte the peer sends until its EOF."""
    data = b""
    while True:
        b = sock.recv(4096)
        if not b:
            return data
        data += b


def check_bulk(fport, srv):
    """100 MB client -> server and 100 MB server -> client at the same time."""
    up, up_sum = stream(b"up")
    down, down_sum = stream(b"down")
    got = {}

    def server():
        conn, _ = srv.accept()
        conn.settimeout(TIMEOUT)
        t = threading.Thread(target=send_all_then_shut, args=(conn, down))
        t.start()
        got["server"] = read_to_eof(conn)
        t.join(TIMEOUT)
        conn.close()

    st = threading.Thread(target=server)
    st.start()
    c = socket.create_connection(("127.0.0.1", fport), timeout=TIMEOUT)
    t = threading.Thread(target=send_all_then_shut, args=(c, up))
    t.start()
    got["client"] = read_to_eof(c)
    t.join(TIMEOUT)
    st.join(TIMEOUT)
    c.close()
    ok = got.get("server") == (up_sum, SIZE) and got.get("client") == (down_sum, SIZE)
    return ok, "100 MB each way: server got %s, client got %s" % (got.get("server"), got.get("client"))


def check_half_close(fport, srv):
    """The client sends a request and shuts its write side; the server answers after its EOF."""
    def server():
        conn, _ = srv.accept()
        conn.settimeout(TIMEOUT)
        data = recv_until_eof(conn)
        conn.sendall(b"got %d bytes: %s" % (len(data), data))
        conn.close()

    st = threading.Thread(target=server)
    st.start()
    c = socket.create_connection(("127.0.0.1", fport), timeout=TIMEOUT)
    c.sendall(b"hello")
    c.shutdown(socket.SHUT_WR)
    reply = recv_until_eof(c)
    c.close()
    st.join(TIMEOUT)
    return reply == b"got 5 bytes: hello", "half-close: reply %r" % reply


def check_server_first(fport, srv):
    def server():
        conn, _ = srv.accept()
        conn.sendall(b"220 banner\r\n")
        conn.close()

    st = threading.Thread(target=server)
    st.start()
    c = socket.create_connection(("127.0.0.1", fport), timeout=TIMEOUT)
    c.settimeout(10)
    try:
        reply = c.recv(4096)
    except socket.timeout:
        reply = b"(timeout)"
    c.close()
    st.join(TIMEOUT)
    return reply == b"220 banner\r\n", "server speaks first: client got %r" % reply


def check_refused(binary, flags):
    dead = free_port()  # nothing listens there
    fport = free_port()
    p = subprocess.Popen([binary, str(fport), str(dead)] + flags)
    try:
        wait_listening(fport)
        c = socket.create_connection(("127.0.0.1", fport), timeout=TIMEOUT)
        c.settimeout(10)
        c.sendall(b"x")
        try:
            end = c.recv(4096)
        except ConnectionResetError:
            end = b""
        except socket.timeout:
            end = b"(timeout)"
        c.close()
        return end == b"", "refused upstream: client read %r" % end
    finally:
        p.terminate()
        p.wait(5)


def wait_listening(port):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("nothing listens on %d" % port)


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "bench", "floorfwd")
    if not os.path.exists(binary):
        os.makedirs(os.path.dirname(binary), exist_ok=True)
        subprocess.run(["gcc", "-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-o", binary,
                        os.path.join(ROOT, "scripts", "bench.d", "floorfwd.c")], check=True)
    failed = 0
    for flags in ([], ["--smart"], ["--nodelay"]):
        smart = "--smart" in flags
        mode = flags[0] if flags else "plain"
        srv, sport = listener()
        fport = free_port()
        p = subprocess.Popen([binary, str(fport), str(sport)] + flags)
        try:
            wait_listening(fport)
            srv.accept()[0].close()  # the readiness probe's connection: dialled at once, or (--smart) at its EOF
            checks = [check_bulk, check_half_close] + ([] if smart else [check_server_first])
            results = [fn(fport, srv) for fn in checks]
        finally:
            p.terminate()
            p.wait(5)
            srv.close()
        if shutil.which("curl"):
            httpd_port = free_port()
            fport = free_port()
            p = subprocess.Popen([binary, str(fport), str(httpd_port)] + flags)
            try:
                results.append(check_curl_via(fport, httpd_port))
            finally:
                p.terminate()
                p.wait(5)
        results.append(check_refused(binary, flags))
        for ok, text in results:
            print("[%s] %s: %s" % ("ok" if ok else "FAIL", mode, text), flush=True)
            failed += not ok
    return 1 if failed else 0


def check_curl_via(fport, httpd_port):
    root = os.path.join(ROOT, ".build", "bench", "floorfwd-www")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "f"), "wb") as f:
        f.write(b"s" * 127 + b"\n")
    httpd = subprocess.Popen([sys.executable, "-m", "http.server", str(httpd_port), "--bind", "127.0.0.1",
                              "-d", root], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(httpd_port)
        wait_listening(fport)
        p = subprocess.run(["curl", "-sS", "--max-time", "10", "http://127.0.0.1:%d/f" % fport],
                           capture_output=True, timeout=30)
        return p.stdout == b"s" * 127 + b"\n", "curl: rc %d, %d bytes" % (p.returncode, len(p.stdout))
    finally:
        httpd.terminate()
        httpd.wait(5)


if __name__ == "__main__":
    sys.exit(main())
