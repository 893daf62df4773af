"""Drives real securechat-node processes through their --json interface.

Every wait polls with a deadline; nothing sleeps for a fixed time.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("SC_BUILD", "build")
NODE = os.path.join(ROOT, BUILD, "securechat-node")
SAN = os.environ.get("SC_SAN") == "1"
# Sanitizer builds are slower: deadlines scale, assertions do not change.
SLOW = 3 if SAN else 1


class Skip(Exception):
    """Raised by a test that cannot run here; the reason is printed."""


def deadline(seconds):
    return time.monotonic() + seconds * SLOW


class Workdir:
    """A temporary directory removed at the end of a test."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="sc-test-")

    def sub(self, name):
        return os.path.join(self.path, name)

    def close(self):
        shutil.rmtree(self.path, ignore_errors=True)


class Node:
    """One securechat-node process with --json."""

    def __init__(self, home, name=None, args=(), env=None, wait_ready=True, netns=None,
                 discovery=None, exe=None):
        """discovery: None for --no-discovery, a port number for beacons on
        loopback only (tests never broadcast on the machine's real network),
        or "all" to leave the node's defaults (inside a test namespace).
        exe: another securechat-node than the build's (an installed one)."""
        self.home = home
        self.name = name
        cmd = [exe or NODE, "--json", "--home", home]
        if name:
            cmd += ["--name", name]
        if discovery is None:
            cmd += ["--no-discovery"]
        elif discovery != "all":
            cmd += ["--beacon-port", str(discovery), "--beacon-addr", "127.255.255.255"]
        cmd += list(args)
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        full_env = dict(os.environ)
        full_env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        if env:
            full_env.update(env)
        self.stderr_path = home.rstrip("/") + f".stderr.{time.monotonic_ns()}"
        os.makedirs(os.path.dirname(self.stderr_path), exist_ok=True)
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, env=full_env)
        self.events = []
        self.raw = []
        self._cond = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.id = self.port = self.address = None
        if wait_ready:
            ready = self.wait("ready", timeout=10)
            self.id = ready["id"]
            self.port = ready["port"]
            self.address = ready["address"]
            self.safety = ready["safety"]

    def _read(self):
        for line in self.proc.stdout:
            text = line.decode("utf-8", "replace")
            with self._cond:
                self.raw.append(text)
                try:
                    self.events.append(json.loads(text))
                except ValueError:
                    self.events.append({"event": "_not_json", "line": text})
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    @property
    def endpoint(self):
        return f"tcp://127.0.0.1:{self.port}"

    def send(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def find(self, event=None, **fields):
        """Events so far that match."""
        with self._cond:
            return [e for e in self.events if _matches(e, event, fields)]

    def ask(self, line, event, timeout=10, **fields):
        """Sends a command and waits for the answer that comes after it."""
        with self._cond:
            mark = len(self.events)
        self.send(line)
        return self.wait(event, timeout=timeout, after=mark, **fields)

    def wait(self, event=None, timeout=10, pred=None, after=0, **fields):
        """Waits for an event matching event, fields and pred (among events
        from index `after` on); returns it."""
        end = deadline(timeout)
        with self._cond:
            seen = after
            while True:
                for e in self.events[seen:]:
                    if _matches(e, event, fields) and (pred is None or pred(e)):
                        return e
                seen = len(self.events)
                left = end - time.monotonic()
                if left <= 0 or (self._eof and seen == len(self.events)):
                    break
                self._cond.wait(min(left, 0.5))
        tail = "".join(self.raw[-8:])
        raise AssertionError(f"{self.name}: no {event} {fields} within {timeout}s "
                             f"(exit={self.proc.poll()}); last output:\n{tail}"
                             f"stderr: {self.stderr()[-600:]}")

    def wait_peers(self, *others, timeout=10):
        """Waits until every node in others has joined (by id)."""
        for other in others:
            self.wait("peer_joined", timeout=timeout, id=other.id)

    def stderr(self):
        try:
            with open(self.stderr_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def quit(self, timeout=10):
        """Sends /quit and returns the exit code (asserts a clean exit)."""
        if self.proc.poll() is None:
            try:
                self.send("/quit")
                self.proc.stdin.close()
            except (BrokenPipeError, ValueError):
                pass
        try:
            rc = self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"{self.name} did not exit after /quit")
        self._finish()
        assert rc == 0, f"{self.name} exited with {rc}: {self.stderr()[-2000:]}"
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._finish()

    def _finish(self):
        self._reader.join(5)
        self._stderr.close()


def _matches(e, event, fields):
    if event is not None and e.get("event") != event:
        return False
    return all(e.get(k) == v for k, v in fields.items())


class Cluster:
    """Nodes started by one test, all stopped at the end."""

    def __init__(self, discovery=True):
        self.dir = Workdir()
        self.nodes = []
        # A beacon port of its own, so tests never hear each other
        self.beacon_port = free_udp_port() if discovery else None

    def start(self, name, home=None, **kw):
        kw.setdefault("discovery", self.beacon_port)
        node = Node(self.dir.sub(home or name), name, **kw)
        self.nodes.append(node)
        return node

    def close(self, check_exit=True):
        errors = []
        for n in self.nodes:
            if n.proc.poll() is None:
                try:
                    n.quit()
                except AssertionError as e:
                    errors.append(str(e))
        self.dir.close()
        if check_exit and errors:
            raise AssertionError("; ".join(errors))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(check_exit=exc_type is None)
        return False


def poll_until(check, timeout=10, every=0.1, what="condition"):
    """Calls check() until it returns something true or the deadline passes;
    returns that value.  For states no event announces (counters)."""
    end = deadline(timeout)
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError("%s not reached within %ss" % (what, timeout))
        time.sleep(every)


def free_udp_port():
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def is_root():
    return os.geteuid() == 0


TRACKER = os.path.join(ROOT, BUILD, "securechat-tracker")
TRACKER_CLIENT = os.path.join(ROOT, BUILD, "sc-tracker-client")


class JsonProc:
    """A process that writes one JSON object a line on stdout; wait() finds
    one by its fields (key "event" for the tracker, "answer" for the client)."""

    def __init__(self, cmd, key, label, env=None, stderr_path=None):
        self.key = key
        self.label = label
        full_env = dict(os.environ)
        full_env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        full_env.update(env or {})
        self.stderr_path = stderr_path or tempfile.mktemp(prefix="sc-proc-", suffix=".stderr")
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, env=full_env)
        self.events = []
        self._cond = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                e = json.loads(line.decode("utf-8", "replace"))
            except ValueError:
                e = {self.key: "_not_json", "line": line.decode("utf-8", "replace")}
            with self._cond:
                self.events.append(e)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def mark(self):
        with self._cond:
            return len(self.events)

    def wait(self, what=None, timeout=10, pred=None, after=0, **fields):
        end = deadline(timeout)
        with self._cond:
            seen = after
            while True:
                for e in self.events[seen:]:
                    if (what is None or e.get(self.key) == what) \
                       and all(e.get(k) == v for k, v in fields.items()) \
                       and (pred is None or pred(e)):
                        return e
                seen = len(self.events)
                left = end - time.monotonic()
                if left <= 0 or self._eof:
                    break
                self._cond.wait(min(left, 0.5))
        raise AssertionError(f"{self.label}: no {what} {fields} within {timeout}s "
                             f"(exit={self.proc.poll()}); last: {self.events[-5:]}; "
                             f"stderr: {self.stderr()[-600:]}")

    def find(self, what=None, **fields):
        with self._cond:
            return [e for e in self.events if (what is None or e.get(self.key) == what)
                    and all(e.get(k) == v for k, v in fields.items())]

    def stderr(self):
        try:
            with open(self.stderr_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def send(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def ask(self, line, what, timeout=10, **fields):
        mark = self.mark()
        self.send(line)
        return self.wait(what, timeout=timeout, after=mark, **fields)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stops the process with sig; returns its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._reader.join(5)
        self._stderr.close()
        return rc


class Tracker(JsonProc):
    """One securechat-tracker with --json on loopback (an ephemeral port unless given)."""

    def __init__(self, home, port=0, args=(), env=None):
        cmd = [TRACKER, "--json", "--home", home, "--bind", "127.0.0.1", "--port", str(port)]
        super().__init__(cmd + list(args), "event", "tracker", env=env,
                         stderr_path=home.rstrip("/") + f".stderr.{time.monotonic_ns()}")
        ready = self.wait("ready", timeout=10)
        self.id = ready["id"]
        self.port = ready["port"]
        self.address = ready["address"]

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


class TrackerClient(JsonProc):
    """sc-tracker-client linked to a tracker (see tests/integration/tracker_client.c)."""

    def __init__(self, tracker, home=None, name="client", source=None):
        cmd = [TRACKER_CLIENT, "--name", name]
        if home:
            cmd += ["--home", home]
        if source:
            cmd += ["--source", source]
        super().__init__(cmd + [tracker.address], "answer", f"client {name}")
        ready = self.wait("ready", timeout=15)
        self.id = ready["id"]
        self.box = ready["key"]
        self.sign = ready["sign"]

    def close(self):
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.stdin.close()
            except (BrokenPipeError, ValueError):
                pass
        return self.stop(signal.SIGTERM)


EVIL_TRACKER = os.path.join(ROOT, BUILD, "sc-evil-tracker")


class EvilTracker(JsonProc):
    """sc-evil-tracker: a hostile tracker on loopback (see
    tests/integration/evil_tracker.c); nodes take its address with --tracker."""

    def __init__(self, home=None, bind=None):
        cmd = [EVIL_TRACKER] + (["--home", home] if home else []) + (["--bind", bind] if bind else [])
        super().__init__(cmd, "event", "evil tracker")
        ready = self.wait("ready", timeout=10)
        self.id = ready["id"]
        self.port = ready["port"]
        self.address = ready["address"]

    def close(self):
        """quit; returns the exit code (SIGTERM only if it does not exit)."""
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.stdin.close()
                self.proc.wait(10 * SLOW)
            except (BrokenPipeError, ValueError, subprocess.TimeoutExpired):
                pass
        rc = self.stop(signal.SIGTERM)
        if rc == 0:
            os.unlink(self.stderr_path)
        return rc
