"""make install / make uninstall, and what they install: the installed node
runs and finds its helper (also once its tree is moved), the manuals are
clean and list what --help lists, the completion offers the same options,
and systemd accepts the tracker's unit."""
import atexit
import os
import re
import shutil
import stat
import subprocess
import tempfile

from harness import BUILD, NODE, ROOT, SAN, TRACKER, Cluster, Skip, Workdir, poll_until

_TMP = tempfile.mkdtemp(prefix="sc-install-")
atexit.register(shutil.rmtree, _TMP, True)
_CLIP = []

# What make install puts under PREFIX, with its mode
INSTALLED = {
    "bin/securechat-node": 0o755,
    "bin/securechat-tracker": 0o755,
    "libexec/securechat/securechat-media": 0o755,
    "share/man/man1/securechat-node.1": 0o644,
    "share/man/man1/securechat-tracker.1": 0o644,
    "share/bash-completion/completions/securechat-node": 0o644,
    "share/bash-completion/completions/securechat-tracker": 0o644,
    "lib/systemd/system/securechat-tracker.service": 0o644,
}
MANUALS = {"securechat-node": NODE, "securechat-tracker": TRACKER}


def _make(target, ok=True, **variables):
    """Runs make TARGET in the tree with the build the tests use (nothing
    to rebuild: install takes the binaries as they are)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    args = ["make", "-s", "--no-print-directory", "-C", ROOT, target, "BUILD=" + BUILD,
            "SAN=" + ("1" if SAN else "0")] + ["%s=%s" % kv for kv in variables.items()]
    r = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert (r.returncode == 0) == ok, (args, r.stdout, r.stderr)
    return r


def _files(top):
    """Every file (and link) under top, relative to it."""
    found = set()
    for d, _, names in os.walk(top):
        found.update(os.path.relpath(os.path.join(d, n), top) for n in names)
    return found


def _clip():
    """A 2 s H.264 + AAC clip (made once)."""
    if not _CLIP:
        path = os.path.join(_TMP, "clip.mp4")
        subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                        "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25",
                        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "2",
                        "-c:v", "libx264", "-g", "25", "-c:a", "aac", path], check=True)
        _CLIP.append(path)
    return _CLIP[0]


def _packets(path):
    """(stream, size, md5) of every packet, as ffmpeg's framemd5 sees them."""
    out = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-i", path,
                          "-map", "0", "-c", "copy", "-f", "framemd5", "-"],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return sorted((f[0], f[4], f[5]) for f in
                  ([x.strip() for x in line.split(",")] for line in out.splitlines()
                   if line.strip() and not line.startswith("#")))


def _watch_between(exe, c, tag):
    """Two nodes of exe: alice shares the clip (probed by her helper), bob
    watches it into a file (muxed by his); the file holds the clip's packets."""
    a = c.start("alice" + tag, exe=exe)
    b = c.start("bob" + tag, exe=exe)
    a.wait_peers(b)
    b.wait_peers(a)
    shared = a.ask("/share " + _clip(), "shared", name="clip.mp4")
    assert shared["video"] is True and shared["codecs"] == "h264,aac", shared
    out = c.dir.sub("watched%s.mkv" % tag)
    req = b.ask("/watch alice%s clip.mp4 --out %s" % (tag, out), "stream", state="requested")
    end = b.wait("stream", timeout=30, stream_id=req["stream_id"],
                 pred=lambda e: e["state"] in ("ended", "failed"))
    assert end["state"] == "ended", end
    assert _packets(out) == _packets(_clip())
    for n in (a, b):
        assert "no media helper" not in n.stderr(), n.stderr()
        n.quit()


def test_install_puts_each_file_in_place_and_uninstall_removes_exactly_those():
    w = Workdir()
    try:
        stage = w.sub("stage")
        _make("install", DESTDIR=stage, PREFIX="/usr")
        assert _files(stage) == {"usr/" + p for p in INSTALLED}, _files(stage)
        for p, mode in INSTALLED.items():
            assert stat.S_IMODE(os.stat(os.path.join(stage, "usr", p)).st_mode) == mode, p
        with open(os.path.join(stage, "usr/lib/systemd/system/securechat-tracker.service")) as f:
            unit = f.read()
        assert "ExecStart=/usr/bin/securechat-tracker " in unit and "@BINDIR@" not in unit, unit
        # a file of someone else's beside ours stays
        with open(os.path.join(stage, "usr/bin/other"), "w") as f:
            f.write("not ours\n")
        _make("uninstall", DESTDIR=stage, PREFIX="/usr")
        assert _files(stage) == {"usr/bin/other"}, _files(stage)
        assert not os.path.exists(os.path.join(stage, "usr/libexec/securechat"))
    finally:
        w.close()


def test_the_installed_node_runs_and_watches_through_its_helper_also_when_moved():
    with Cluster() as c:
        stage = c.dir.sub("stage")
        _make("install", DESTDIR=stage, PREFIX="/usr")
        exe = os.path.join(stage, "usr/bin/securechat-node")
        r = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and r.stdout.startswith("securechat-node "), r
        r = subprocess.run([exe, "--home", c.dir.sub("who"), "--name", "who", "--whoami"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and "fingerprint" in r.stdout and "name:          who" in r.stdout, r
        _watch_between(exe, c, "")
        # the whole tree moved elsewhere (a DESTDIR copied to its place)
        moved = c.dir.sub("elsewhere/opt/sc")
        os.makedirs(os.path.dirname(moved))
        os.rename(os.path.join(stage, "usr"), moved)
        _watch_between(os.path.join(moved, "bin/securechat-node"), c, "2")


def test_a_node_without_its_helper_says_where_it_looked():
    with Cluster() as c:
        os.makedirs(c.dir.sub("lone/bin"))
        exe = c.dir.sub("lone/bin/securechat-node")
        shutil.copy(NODE, exe)
        a = c.start("alice")
        b = c.start("bob", exe=exe)
        a.wait_peers(b)
        b.wait_peers(a)
        a.ask("/share " + _clip(), "shared", name="clip.mp4")
        err = b.ask("/watch alice clip.mp4 --out " + c.dir.sub("x.mkv"), "error")
        want = c.dir.sub("lone/libexec/securechat/securechat-media")
        assert err["code"] == "no_helper" and want in err["message"], err
        assert "no media helper: " + want in b.stderr(), b.stderr()
        # the empty output is removed right after the error is told
        poll_until(lambda: not os.path.exists(c.dir.sub("x.mkv")), timeout=5, what="x.mkv removed")


def test_mandoc_finds_nothing_wrong_in_the_manuals():
    if not shutil.which("mandoc"):
        raise Skip("mandoc is not installed (contrib/install-deps.sh installs it)")
    for name in MANUALS:
        r = subprocess.run(["mandoc", "-T", "lint", os.path.join(ROOT, "contrib/man", name + ".1")],
                           capture_output=True, text=True)
        # other manuals that are not installed here, and the state of the
        # system's mandoc.db, are no fault of these pages
        bad = [l for l in (r.stdout + r.stderr).splitlines()
               if "referenced manual not found" not in l and "mandoc.db" not in l]
        assert not bad, "\n".join(bad)


def test_systemd_analyze_accepts_the_installed_tracker_unit():
    if not shutil.which("systemd-analyze"):
        raise Skip("systemd-analyze is not installed (no systemd here), the unit is not checked")
    w = Workdir()
    try:
        prefix = w.sub("usr")       # a prefix of its own: ExecStart names a file that is there
        _make("install", PREFIX=prefix)
        unit = os.path.join(prefix, "lib/systemd/system/securechat-tracker.service")
        env = dict(os.environ, MANPATH=os.path.join(prefix, "share/man"))   # Documentation=man:
        r = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True,
                           env=env, timeout=60)
        assert r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(), r
        _make("uninstall", PREFIX=prefix)
        assert not _files(prefix), _files(prefix)
    finally:
        w.close()


def _help_options(exe):
    """The long options on the option lines of exe --help."""
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=30).stdout
    return {m.group(1) for line in out.splitlines()
            for m in [re.match(r"\s+(?:-\w, )?--([a-z][a-z0-9-]*)", line)] if m}


def _man_items(name, macro):
    """The long options (macro Fl) or commands (Cm) of the .It lines of a manual."""
    with open(os.path.join(ROOT, "contrib/man", name + ".1")) as f:
        text = f.read()
    if macro == "Fl":
        return {o for line in re.findall(r"^\.It (Fl .*)$", text, re.M)
                for o in re.findall(r"\bFl -([a-z][a-z0-9-]*)", line)}
    return set(re.findall(r"^\.It Ic /([a-z]+)", text, re.M))


def test_each_manual_lists_exactly_the_options_of_its_help():
    for name, exe in MANUALS.items():
        helped, documented = _help_options(exe), _man_items(name, "Fl")
        assert len(helped) > 10, helped
        assert helped - documented == set(), "%s(1) lacks %s" % (name, sorted(helped - documented))
        assert documented - helped == set(), "%s --help lacks %s" % (name, sorted(documented - helped))


def test_the_node_manual_lists_exactly_the_commands_of_the_command_table():
    with open(os.path.join(ROOT, "node/cmd.h")) as f:
        table = set(re.findall(r"^\s+X \([A-Z_]+, (\w+), \d", f.read(), re.M))
    documented = _man_items("securechat-node", "Cm")
    assert len(table) > 10, table
    assert table - documented == set(), "securechat-node(1) lacks /%s" % sorted(table - documented)
    assert documented - table == set(), "no such commands: %s" % sorted(documented - table)


def test_bash_completion_offers_exactly_the_options_of_each_help():
    script = os.path.join(ROOT, "contrib/completion/securechat.bash")
    for name, exe in MANUALS.items():
        r = subprocess.run(["bash", "-c", 'source "$1"; COMP_WORDS=("$2" --); COMP_CWORD=1; '
                            '_securechat "$2"; printf "%s\\n" "${COMPREPLY[@]}"',
                            "-", script, name], capture_output=True, text=True, timeout=30)
        offered = {o[2:] for o in r.stdout.split()}
        assert r.returncode == 0 and not r.stderr, r
        assert offered == _help_options(exe), (name, offered ^ _help_options(exe))
    r = subprocess.run(["bash", "-c", 'source "$1"; COMP_WORDS=(securechat-node --accept v); '
                        'COMP_CWORD=2; _securechat securechat-node; echo "${COMPREPLY[@]}"',
                        "-", script], capture_output=True, text=True, timeout=30)
    assert r.stdout.split() == ["verified"], r


def test_install_refuses_paths_with_blanks_and_touches_nothing():
    """Unquoted in a recipe, DESTDIR="/tmp/x stage" made uninstall remove
    the unrelated file /tmp/x: such paths are refused before anything runs."""
    w = Workdir()
    try:
        victim = w.sub("x")
        with open(victim, "w") as f:
            f.write("someone's file")
        before = _files(w.path)
        for target in ("install", "uninstall"):
            for sep in (" ", "\t", "*"):
                r = _make(target, ok=False, DESTDIR=victim + sep + "stage")
                assert "may hold only letters" in r.stderr, r.stderr
        r = _make("install", ok=False, DESTDIR=w.sub("s"), PREFIX="/opt/a|b")
        assert _files(w.path) == before and os.path.exists(victim)
        assert not os.path.exists(os.path.join(ROOT, "stage"))
    finally:
        w.close()
