"""The terminal as a person sees it (issue #17): a real node (not --json) in
a tmux pane, a --json peer, the screen read with capture-pane.  Every wait
polls the screen with a deadline."""
import os
import re
import shutil
import signal
import subprocess
import time

from harness import NODE, Cluster, Node, Skip, Tracker, Workdir, poll_until

STATUS = re.compile(r"^(?:->|<-|\u2191|\u2193) (\S+) (\d+)% \S+ \S+/s \S+")
STAMPED = re.compile(r"^\d\d:\d\d ")


class _Pane:
    """A terminal node in a tmux pane of its own server (c: a Cluster or a
    Workdir)."""

    def __init__(self, c, name, args, env=""):
        if not shutil.which("tmux"):
            raise Skip("tmux is not installed")
        c = getattr(c, "dir", c)
        self.tm = ["tmux", "-S", c.sub("tmux-%s.sock" % name)]
        cmd = " ".join([NODE, "--home", c.sub(name), "--name", name] + list(args))
        subprocess.run(self.tm + ["-f", "/dev/null", "new-session", "-d", "-x", "110", "-y", "30",
                                  "env %s %s" % (env, cmd)], check=True)
        self.keys("")

    def screen(self, escapes=False, history=False):
        """The pane's text (history: with its scrollback)."""
        args = ["capture-pane", "-p"] + (["-e"] if escapes else []) + \
               (["-S", "-2000"] if history else [])
        return subprocess.run(self.tm + args, capture_output=True, text=True).stdout

    def keys(self, *keys):
        if keys and keys != ("",):
            subprocess.run(self.tm + ["send-keys"] + list(keys), check=True)

    def type(self, text):
        subprocess.run(self.tm + ["send-keys", "-l", text], check=True)

    def until(self, check, what, timeout=10, **kw):
        """Polls the screen until check(screen) is true; returns its value."""
        if isinstance(check, str):
            needle = check
            check = lambda s: needle in s and s      # noqa: E731
        try:
            return poll_until(lambda: check(self.screen(**kw)), timeout=timeout, every=0.05,
                              what=what)
        except AssertionError:
            raise AssertionError("%s: not on screen:\n%s" % (what, self.screen(**kw)))

    def close(self):
        subprocess.run(self.tm + ["kill-server"], stderr=subprocess.DEVNULL)


def _statuses(text):
    return [l for l in text.splitlines() if STATUS.match(l)]


def test_terminal_status_line_updates_in_place_during_a_transfer():
    with Cluster(discovery=False) as c:
        bob = c.start("bob", args=["--downloads", c.dir.sub("dl"), "--accept", "known"])
        src = c.dir.sub("talk.bin")
        with open(src, "wb") as f:
            f.write(os.urandom(10 * 1024 * 1024))
        t = _Pane(c, "alice", ["--peer", bob.endpoint, "--no-discovery", "--max-rate", "2M"],
                  env="NO_COLOR=1")
        try:
            t.until("bob joined", "bob joined")
            t.type("/send bob " + src)
            t.keys("Enter")
            t.until("-> talk.bin to bob: started", "the start line")
            first = t.until(lambda s: _statuses(s), "a status line")
            p1 = int(STATUS.match(first[0]).group(2))
            # Later: still one status line (in the scrollback too), its percent moved
            later = t.until(lambda s: [l for l in _statuses(s)
                                       if int(STATUS.match(l).group(2)) > p1],
                            "the percent moving", history=True)
            # A command typed meanwhile: its answer above, the status line moves down
            t.type("/peers")
            t.keys("Enter")
            t.until(lambda s: re.search(r"\n  bob .*unverified\n", s), "the /peers answer")
            whole = t.screen(history=True)
            assert len(_statuses(whole)) == 1, whole
            assert len(later) == 1
            # It sits right above the prompt, and nothing piles up per second
            lines = whole.rstrip("\n").splitlines()
            assert STATUS.match(lines[-2]) and lines[-1].startswith("alice>"), whole
            assert not any("talk.bin to bob: running" in l for l in lines), whole
            assert sum("talk.bin" in l for l in lines) == 4, whole   # typed, offered, started, status
            bob.wait("transfer", state="done", timeout=30)
            t.until("-> talk.bin to bob: done, 100%", "the end line", timeout=15)
            t.until(lambda s: not _statuses(s), "the status line gone")
            # --json keeps its per-second progress events
            assert len(bob.find("transfer", state="running")) >= 2
        finally:
            t.close()


def test_terminal_peer_line_lands_above_a_half_typed_line():
    with Cluster(discovery=False) as c:
        bob = c.start("bob")
        t = _Pane(c, "alice", ["--peer", bob.endpoint, "--no-discovery"], env="NO_COLOR=1")
        try:
            t.until("bob joined", "bob joined")
            t.type("/msg bob half a thou")
            t.until("alice> /msg bob half a thou", "the typed half")
            bob.send("/msg alice hello from bob")
            text = t.until("[bob -> you] hello from bob", "bob's line")
            lines = text.rstrip("\n").splitlines()
            assert lines[-1] == "alice> /msg bob half a thou", text
            said = [i for i, l in enumerate(lines) if l.endswith("[bob -> you] hello from bob")]
            assert len(said) == 1 and said[0] < len(lines) - 1, text
            assert STAMPED.match(lines[said[0]]), text
            t.type("ght")
            t.keys("Enter")
            bob.wait("message", text="half a thought")
        finally:
            t.close()


def test_terminal_times_and_colours():
    """HH:MM on each line of what happens, a date line before the first;
    colours on a colour terminal, none with NO_COLOR."""
    for env, coloured in (("TERM=xterm-256color", True),
                          ("TERM=xterm-256color NO_COLOR=1", False)):
        with Cluster(discovery=False) as c:
            bob = c.start("bob")
            t = _Pane(c, "alice", ["--peer", bob.endpoint, "--no-discovery"], env=env)
            try:
                t.until("bob joined", "bob joined")
                bob.send("/msg alice in colour?")
                text = t.until("[bob -> you] in colour?", "bob's line")
                lines = text.splitlines()
                joined = [l for l in lines if "* bob joined" in l][0]
                assert STAMPED.match(joined), text
                assert any(re.fullmatch(r"-- \w{3} \d\d \w{3} \d{4} --", l) for l in lines), text
                raw = t.screen(escapes=True)
                said = [l for l in raw.splitlines() if "in colour?" in l][0]
                if coloured:
                    assert "\x1b[" in said, repr(said)
                else:
                    assert "\x1b" not in raw, repr(raw)
            finally:
                t.close()


def test_help_fits_80_columns_and_explains_one_command():
    with Cluster(discovery=False) as c:
        a = c.start("alice")
        text = a.ask("/help", "info")["message"]
        assert "/watch PEER NAME" in text and "/quit" in text
        assert all(len(l) <= 80 for l in text.splitlines()), \
            [l for l in text.splitlines() if len(l) > 80]
        for name in ("watch", "/watch"):
            one = a.ask("/help " + name, "info")["message"]
            lines = one.splitlines()
            assert lines[0] == "usage: /watch PEER NAME [OFFSET] [--out FILE]", one
            assert any(l.startswith("  example: /watch ") for l in lines), one
            assert all(len(l) <= 80 for l in lines), one
        err = a.ask("/help nosuch", "error")
        assert "no command /nosuch" in err["message"] and err["code"] != "", err


def test_terminal_tab_completes_commands_peers_and_shares():
    with Cluster(discovery=False) as c:
        bob = c.start("bob")
        notes = c.dir.sub("notes-2026.pdf")
        with open(notes, "w") as f:
            f.write("notes\n")
        bob.ask("/share " + notes, "shared")
        t = _Pane(c, "alice", ["--peer", bob.endpoint, "--no-discovery"], env="NO_COLOR=1")

        def completes(typed, want):
            t.keys("C-u")
            t.type(typed)
            t.keys("Tab")
            t.type("|")         # shows a space completion appends (none after
                                # the rest of a line: /send's PATH, /get's NAME)
            t.until(lambda s: s.rstrip("\n").splitlines()[-1] == "alice> " + want + "|",
                    "%r completing to %r" % (typed, want))

        try:
            t.until("bob joined", "bob joined")
            completes("/msg b", "/msg bob ")
            completes("/he", "/help ")
            completes("/help wat", "/help watch ")
            completes("/verify " + bob.id[:6], "/verify " + bob.id[:16] + " ")
            completes("/send bob " + c.dir.sub("notes-"), "/send bob " + notes)
            t.keys("C-u")
            t.type("/files bob")
            t.keys("Enter")
            t.until("bob shares 1 file", "bob's list")
            completes("/get bob no", "/get bob notes-2026.pdf")
            completes("/watch bob n", "/watch bob notes-2026.pdf")
            # What completes runs as it reads: no space after a path
            t.keys("C-u")
            t.type("/send bob " + c.dir.sub("notes-"))
            t.keys("Tab", "Enter")
            bob.wait("transfer", name="notes-2026.pdf")
            t.keys("C-u")
            t.type("/msg b")
            t.keys("Tab")
            t.type("hello by tab")
            t.keys("Enter")
            bob.wait("message", text="hello by tab")
        finally:
            t.close()


def test_terminal_mail_shows_when_it_was_written():
    """A message that waited in a tracker's mailbox shows the time it was
    written, under a date line of that day, not the time it came."""
    w = Workdir()
    t = Tracker(w.sub("tracker"))
    pane = None
    try:
        a = Node(w.sub("alice"), name="alice", args=["--tracker", t.address])
        b = Node(w.sub("bob"), name="bob", args=["--tracker", t.address])
        a.wait_peers(b, timeout=15)
        b.quit()
        a.wait("peer_left", name="bob")
        before = time.time()
        s = a.ask("/msg bob written yesterday", "sent")
        after = time.time()
        a.wait("mail_stored", msg_id=s["msg_id"])
        a.quit()
        # bob comes back 26 hours later (his clock moved), in a terminal
        day = 26 * 3600
        pane = _Pane(w, "bob", ["--tracker", t.address],
                     env="NO_COLOR=1 SC_NODE_CLOCK_OFFSET_MS=%d" % (day * 1000))
        text = pane.until("[alice -> you] written yesterday", "the mail", timeout=15)
        lines = text.splitlines()
        i = [k for k, l in enumerate(lines) if l.endswith("[alice -> you] written yesterday")][0]
        written = {time.strftime("%H:%M", time.localtime(x)) for x in (before, after)}
        assert lines[i][:5] in written, (written, text)
        assert lines[i - 1] == time.strftime("-- %a %d %b %Y --", time.localtime(before)), text
    finally:
        if pane:
            pane.close()
        t.stop(signal.SIGTERM)
        w.close()
