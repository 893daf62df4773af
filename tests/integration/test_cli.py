"""The command line: options, identity files, passphrases, the terminal UI."""
import json
import os
import pty
import re
import select
import subprocess
import time

from harness import NODE, Cluster, Node, Workdir, deadline, poll_until


def _run(*args, **kw):
    return subprocess.run([NODE] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60, **kw)


def test_help_version_and_bad_options():
    r = _run("--help")
    assert r.returncode == 0 and "Usage:" in r.stdout and "--peer" in r.stdout
    r = _run("--version")
    assert r.returncode == 0 and r.stdout.startswith("securechat-node ")
    for bad in (["--bogus"], ["--port", "70000"], ["--port"], ["extra"], ["--name", "a\x1bb"],
                ["--name", "/slash"], ["--peer", "udp://x:1"], ["--peer", "tcp://h:0"],
                ["--peer", "abc@tcp://h:1"]):
        w = Workdir()
        r = _run("--home", w.sub("h"), "--json", *bad)
        w.close()
        assert r.returncode == 2, (bad, r.returncode, r.stderr)
        assert r.stderr.startswith("securechat-node: ") and len(r.stderr) > 30, r.stderr


def test_whoami_creates_identity_once():
    w = Workdir()
    home = w.sub("h")
    r1 = _run("--home", home, "--name", "zoe", "--whoami")
    r2 = _run("--home", home, "--whoami")
    w.close()
    assert r1.returncode == 0 and "new identity created" in r1.stdout
    assert "new identity" not in r2.stdout
    fp1 = [l for l in r1.stdout.splitlines() if l.startswith("fingerprint")][0]
    fp2 = [l for l in r2.stdout.splitlines() if l.startswith("fingerprint")][0]
    assert fp1 == fp2 and len(fp1.split()[-1]) == 64
    assert "name:          zoe" in r2.stdout, "the name is remembered"


def test_passphrase_protects_identity():
    w = Workdir()
    home = w.sub("h")
    good, bad = w.sub("good"), w.sub("bad")
    with open(good, "w") as f:
        f.write("correct horse battery\n")
    with open(bad, "w") as f:
        f.write("wrong\n")
    r = _run("--home", home, "--passphrase-file", good, "--whoami")
    assert r.returncode == 0, r.stderr
    with open(os.path.join(home, "identity"), "rb") as f:
        before = f.read()
    r = _run("--home", home, "--passphrase-file", bad, "--whoami")
    assert r.returncode == 1 and "wrong passphrase" in r.stderr, r.stderr
    r = _run("--home", home, "--whoami")
    assert r.returncode == 1 and "passphrase" in r.stderr, r.stderr
    with open(os.path.join(home, "identity"), "rb") as f:
        assert f.read() == before, "a wrong passphrase never replaces the identity"
    r = _run("--home", home, "--passphrase-file", good, "--whoami")
    assert r.returncode == 0
    n = Node(home, "p", args=["--passphrase-file", good])
    n.quit()
    w.close()


def test_corrupt_identity_is_an_error_not_a_new_key():
    w = Workdir()
    home = w.sub("h")
    assert _run("--home", home, "--whoami").returncode == 0
    path = os.path.join(home, "identity")
    with open(path, "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x00")
    with open(path, "rb") as f:
        damaged = f.read()
    r = _run("--home", home, "--json")
    assert r.returncode == 1 and "damaged" in r.stderr, r.stderr
    with open(path, "rb") as f:
        assert f.read() == damaged
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert oct(os.stat(home).st_mode & 0o777) == "0o700"
    w.close()


def test_port_in_use_is_a_clear_error():
    with Cluster() as c:
        a = c.start("alice")
        r = _run("--home", c.dir.sub("b"), "--json", "--no-discovery", "--port", str(a.port))
        assert r.returncode == 1 and "cannot" in r.stderr, r.stderr


class _Pty:
    """A node on a real pseudo-terminal, as a person would run it."""

    def __init__(self, home, args):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.environ["TERM"] = "xterm"
            os.environ["NO_COLOR"] = "1"
            os.execv(NODE, [NODE, "--home", home] + args)
        self.out = b""

    def read_until(self, needle, timeout=10):
        end = deadline(timeout)
        while needle.encode() not in self.out:
            left = end - time.monotonic()
            assert left > 0, "terminal never showed %r; screen:\n%s" % (needle, self.out[-1500:])
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    self.out += os.read(self.fd, 4096)
                except OSError:
                    break
        return self.out

    def type(self, text):
        os.write(self.fd, text.encode())

    def close(self):
        self.type("/quit\r")
        end = deadline(10)
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            select.select([self.fd], [], [], 0.1)
            try:
                os.read(self.fd, 4096)
            except OSError:
                pass
        os.kill(self.pid, 9)
        raise AssertionError("terminal node did not quit")


def test_terminal_chat_prints_above_the_prompt():
    with Cluster(discovery=False) as c:
        bob = c.start("bob")
        t = _Pty(c.dir.sub("alice"), ["--name", "alice", "--peer", bob.endpoint, "--no-discovery"])
        try:
            t.read_until("you are alice")
            t.read_until("bob joined")
            # Half a line typed, then a message arrives: both stay readable
            t.type("/msg bob half")
            bob.send("/msg alice \x1b[31mred\x1b[0m line")
            t.read_until("[bob -> you] \\x1b[31mred\\x1b[0m line")
            t.read_until("alice> /msg bob half")     # the typed half is redrawn
            t.type(" and done\r")
            bob.wait("message", text="half and done")
            t.type("/peers\r")
            t.read_until("unverified")
        finally:
            assert t.close() == 0


def test_terminal_screen_stays_clean_in_tmux():
    """What a person sees: command output and incoming messages on their own
    lines, the prompt redrawn once, the half-typed line kept."""
    import shutil
    from harness import Skip
    if not shutil.which("tmux"):
        raise Skip("tmux is not installed")
    with Cluster() as c:
        bob = c.start("bob")
        sock = c.dir.sub("tmux.sock")
        tm = ["tmux", "-S", sock]
        cmd = " ".join([NODE, "--home", c.dir.sub("alice"), "--name", "alice",
                        "--beacon-port", str(c.beacon_port), "--beacon-addr", "127.255.255.255"])
        subprocess.run(tm + ["new-session", "-d", "-x", "120", "-y", "30", "env NO_COLOR=1 " + cmd],
                       check=True)
        try:
            def screen():
                return subprocess.run(tm + ["capture-pane", "-p"], capture_output=True,
                                      text=True).stdout

            def until(needle):
                try:
                    poll_until(lambda: needle in screen(), timeout=10, every=0.05,
                               what="%r on screen" % needle)
                except AssertionError:
                    raise AssertionError("no %r on screen:\n%s" % (needle, screen()))

            until("bob joined")
            subprocess.run(tm + ["send-keys", "/peers", "Enter"], check=True)
            until("unverified\n")
            subprocess.run(tm + ["send-keys", "/verify bo"], check=True)
            bob.send("/msg alice ping from bob")
            until("[bob -> you] ping from bob")
            subprocess.run(tm + ["send-keys", "b", "Enter"], check=True)
            until("their safety number")
            text = screen()
            lines = text.splitlines()
            assert not any("/peersalice>" in l or "alice> /verify boalice>" in l for l in lines), text
            assert sum(l.startswith("alice> /verify bob") for l in lines) == 1, text
            # Each line of what happens starts with its time, HH:MM
            said = [i for i, l in enumerate(lines) if re.fullmatch(
                r"\d\d:\d\d \[bob -> you\] ping from bob", l)]
            assert len(said) == 1 and said[0] < \
                [i for i, l in enumerate(lines) if l.startswith("alice> /verify bob")][0], text
        finally:
            subprocess.run(tm + ["kill-server"], stderr=subprocess.DEVNULL)


def test_terminal_shows_videos_and_a_watch_from_start_to_end():
    with Cluster(discovery=False) as c:
        clip = c.dir.sub("clip.mp4")
        subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                        "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10", "-f", "lavfi", "-i",
                        "sine=sample_rate=48000", "-t", "2", "-c:v", "libx264", "-c:a", "aac", clip],
                       check=True)
        bob = c.start("bob")
        bob.ask("/share " + clip, "shared")
        out = c.dir.sub("got.mkv")
        t = _Pty(c.dir.sub("alice"), ["--name", "alice", "--peer", bob.endpoint, "--no-discovery"])
        try:
            t.read_until("bob joined")
            t.type("/videos bob\r")
            t.read_until("bob shares 1 video:")
            t.read_until("0:02  h264, aac")
            t.type("/watch bob clip.mp4 --out %s\r" % out)
            t.read_until("asking bob for 'clip.mp4'")
            t.read_until("'clip.mp4' from bob ended: saved to " + out)
            t.type("/watch bob nothing.mp4 --out %s\r" % c.dir.sub("no.mkv"))
            t.read_until("! 'nothing.mp4' from bob: bob could not stream")
        finally:
            assert t.close() == 0
        assert os.path.getsize(out) > 0


def test_every_line_of_a_long_script_runs_before_end_of_input():
    """stdin is taken in slices of lines (so the loop keeps turning during a
    paste): a script far longer than one slice, with its end of input,
    still runs every line, in order, and then quits."""
    w = Workdir()
    lines = "".join("/history\n/whoami\n" for _ in range(400)) + "/peers"
    r = subprocess.run([NODE, "--json", "--no-discovery", "--home", w.sub("h"), "--name", "zoe"],
                       input=lines, capture_output=True, text=True, timeout=60)
    w.close()
    assert r.returncode == 0, r.stderr
    events = [json.loads(l)["event"] for l in r.stdout.splitlines()]
    assert events == ["ready"] + ["history", "whoami"] * 400 + ["peers"], events[:5]
