"""A sluice process under test: building the binary, starting it with a set of -L/-F flags, reading
its `listening on` lines, and what /proc says about it (alive, descriptors, RSS, CPU), plus any
AddressSanitizer report it wrote."""
import atexit
import glob
import json
import os
import re
import signal
import subprocess
import sys
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
RELEASE_BINARY = os.path.join(ROOT, ".build", "release", "sluice")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def build_release():
    """`swift build -c release` (quietly unless it fails); returns the binary's path."""
    print("chaos: building release binary (swift build -c release)", file=sys.stderr, flush=True)
    result = subprocess.run(["swift", "build", "-c", "release", "--product", "sluice"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout)
        raise SystemExit("chaos: release build failed")
    return RELEASE_BINARY


_RUNNING = []


@atexit.register
def _kill_leftovers():
    """Whatever way the harness ends (Ctrl-C, a bug), no sluice it started outlives it."""
    for process in _RUNNING:
        if process.poll() is None:
            process.kill()
            process.wait()


class SluiceProcess:
    """One running sluice. Its stderr (JSON lines) goes to `log_path`."""

    LISTENING = re.compile(r"listening on (\S+)/tcp")

    def __init__(self, name, binary, arguments, workdir, env=None):
        self.name = name
        self.binary = binary
        self.arguments = arguments
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.asan_prefix = os.path.join(workdir, f"asan-{name}")
        environment = dict(os.environ)
        # Swift's backtracer can take many seconds after a crash; the exit status is what counts.
        environment["SWIFT_BACKTRACE"] = "enable=no"
        if "ASAN_OPTIONS" in environment:
            environment["ASAN_OPTIONS"] += f":log_path={self.asan_prefix}"
        environment.update(env or {})
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen([binary] + arguments, stdin=subprocess.DEVNULL, stdout=self.log,
                                        stderr=self.log, env=environment)
        self.pid = self.process.pid
        _RUNNING.append(self.process)
        self.listeners = []

    def command_line(self):
        return " ".join([os.path.relpath(self.binary, ROOT)] + [f"'{a}'" if "&" in a or "?" in a else a for a in self.arguments])

    def wait_listening(self, count, timeout=20):
        """Waits until `count` `listening on` lines appeared; returns their addresses in order."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = []
            with open(self.log_path, "rb") as f:
                for line in f:
                    match = self.LISTENING.search(line.decode("utf-8", "replace"))
                    if match:
                        found.append(match.group(1))
            if len(found) >= count:
                self.listeners = found
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError(f"{self.name}: {len(found)} of {count} listeners (exit {self.process.poll()}); "
                           f"log:\n{self.log_tail(20)}")

    def exit_status(self):
        """None while running; else the exit code (negative: killed by that signal)."""
        return self.process.poll()

    def alive(self):
        return self.process.poll() is None

    def describe_exit(self):
        status = self.process.poll()
        if status is None:
            return "running"
        if status < 0:
            return f"killed by signal {-status} ({signal.Signals(-status).name})"
        return f"exited with status {status}"

    def fd_count(self):
        try:
            return len(os.listdir(f"/proc/{self.pid}/fd"))
        except OSError:
            return -1

    def fd_targets(self):
        """What each descriptor points at, for a leak report."""
        kinds = {}
        try:
            for fd in os.listdir(f"/proc/{self.pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{self.pid}/fd/{fd}")
                except OSError:
                    continue
                kind = re.sub(r"\[\d+\]", "", target)
                kinds[kind] = kinds.get(kind, 0) + 1
        except OSError:
            pass
        return kinds

    def rss_bytes(self):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return -1

    def cpu_seconds(self):
        """utime + stime (all threads) in seconds."""
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        except (OSError, IndexError, ValueError):
            return -1.0

    def asan_reports(self):
        """Paths of AddressSanitizer reports this process wrote (log_path=<prefix>.<pid>)."""
        return sorted(glob.glob(self.asan_prefix + ".*"))

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - 65536))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def log_levels(self):
        """Counts of log lines per level, and the distinct messages of warning/error lines."""
        levels, messages = {}, {}
        with open(self.log_path, "rb") as f:
            for raw in f:
                try:
                    entry = json.loads(raw)
                except ValueError:
                    levels["unparsed"] = levels.get("unparsed", 0) + 1
                    continue
                level = entry.get("level", "?")
                levels[level] = levels.get(level, 0) + 1
                if level in ("warning", "error", "fatal"):
                    key = re.sub(r"\d+", "N", entry.get("msg", ""))[:100]
                    messages[key] = messages.get(key, 0) + 1
        return levels, messages

    def stop(self, timeout=10):
        """SIGTERM, then SIGKILL; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode
