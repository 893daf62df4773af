"""Hostile viewers against a real owner: anyone who can reach a node's port
can link with a throwaway key and send WATCHes.  The slots they take are
bounded per viewer and in all, apart from the node's own /watches; a
stream never granted credit starts no job and ends within seconds; one
paused for longer than --pause-max ends; an offset past any video is
refused with a sentence; the media jobs run with limits."""
import os
import subprocess
import tempfile
import threading

from harness import BUILD, ROOT, SAN, Cluster, poll_until

EVIL = os.path.join(ROOT, BUILD, "sc-evil-owner")
_TMP = tempfile.mkdtemp(prefix="sc-hostile-")
_CLIPS = {}


def clip(kind):
    """A test clip (made once): "mp4" 12 s of H.264 + AAC; "frag" a
    fragmented MP4 as written to a pipe, whose header says no duration (the
    helper sees none without reading on)."""
    if kind in _CLIPS:
        return _CLIPS[kind]
    path = os.path.join(_TMP, "long.mp4" if kind == "mp4" else "frag.mp4")
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
           "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
           "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
           "-t", "12" if kind == "mp4" else "3", "-c:v", "libx264", "-g", "25", "-c:a", "aac"]
    if kind == "mp4":
        subprocess.run(cmd + [path], check=True)
    else:
        with open(path, "wb") as f:
            subprocess.run(cmd + ["-movflags", "frag_keyframe+empty_moov", "-f", "mp4", "-"],
                           check=True, stdout=f)
    _CLIPS[kind] = path
    return path


class Viewer:
    """sc-evil-owner viewer: KEYS throwaway keys, WATCHES each, that grant
    CREDIT (and repeat it, never more).  Its lines are collected."""

    def __init__(self, node, keys, watches, name, credit, offset=None):
        cmd = [EVIL, "viewer", str(node.port), str(keys), str(watches), name, str(credit)]
        if offset is not None:
            cmd.append(str(offset))
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        self.lines = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n").split(" ", 4))

    def seen(self, kind):
        with self._lock:
            return [w for w in self.lines if w[0] == kind]

    def ends(self, text=None):
        return [w for w in self.seen("end") if text is None or text in w[4]]

    def close(self):
        self.proc.kill()
        self.proc.wait()
        self._reader.join(5)


def _children(pid):
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(d))
    return kids


def _jobs(node):
    """The pids of a node's media jobs (children of its helper)."""
    jobs = []
    for pid in _children(node.proc.pid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if b"securechat-media\0serve" in f.read():
                    jobs += _children(pid)
        except OSError:
            pass
    return jobs


def _served(node):
    return [s for s in node.ask("/streams", "streams")["streams"] if s["role"] == "owner"]


def _pair(c, *args):
    a = c.start("alice", args=list(args))
    b = c.start("bob", args=["--peer", a.endpoint])
    a.wait_peers(b)
    b.wait_peers(a)
    a.ask("/share " + clip("mp4"), "shared")
    b.ask("/share " + clip("mp4"), "shared")
    return a, b


def _watch_ok(viewer, owner, out):
    """viewer's own /watch of owner's clip to out ends well."""
    req = viewer.ask("/watch %s long.mp4 --out %s" % (owner, out), "stream", state="requested")
    end = viewer.wait("stream", timeout=30, stream_id=req["stream_id"],
                      pred=lambda e: e["state"] in ("ended", "failed"))
    assert end["state"] == "ended", end


def test_watches_without_credit_are_bounded_per_viewer_start_no_job_and_end_within_seconds():
    with Cluster(discovery=False) as c:
        a, b = _pair(c)
        evil = Viewer(a, 4, 8, "long.mp4", 0)
        try:
            poll_until(lambda: len(evil.seen("linked")) == 4, timeout=15, what="4 hostile links")
            # every WATCH is answered at once: refused, or held waiting for credit
            poll_until(lambda: len(evil.ends()) + len(_served(a)) >= 32, timeout=15,
                       what="all 32 WATCHes taken or refused (held: %d, refused: %d)"
                       % (len(_served(a)), len(evil.ends())))
            served = _served(a)
            per_peer = {}
            for s in served:
                per_peer[s["peer"]] = per_peer.get(s["peer"], 0) + 1
            assert len(served) == 8 and set(per_peer.values()) == {2}, per_peer
            assert len(evil.ends("too many streams to you at once")) == 24, evil.ends()
            assert all(s["state"] == "requested" for s in served), served
            # no credit, no demuxer: nothing sent, no job running
            assert not evil.seen("header") and _jobs(a) == [], (evil.seen("header"), _jobs(a))
            # the node's own /watch goes on meanwhile
            _watch_ok(a, "bob", c.dir.sub("own.mkv"))
            # and the held ones end within seconds, saying why, on both sides
            poll_until(lambda: not _served(a) and len(evil.ends("no credit came")) == 8
                       and len(a.find("stream", role="owner", state="failed")) == 8,
                       timeout=20, what="the held WATCHes to end on both sides")
            failed = a.find("stream", role="owner", state="failed")
            assert all("granted no credit within 5 s" in e["message"] for e in failed), failed
            assert len(evil.ends()) == 32 and not evil.seen("header")
        finally:
            evil.close()


def test_paused_viewers_hold_at_most_the_served_cap_and_end_after_pause_max():
    with Cluster(discovery=False) as c:
        a, b = _pair(c, "--serve-max", "3", "--pause-max", "4")
        # one batch granted, then the same grant every second: a paused player
        evil = Viewer(a, 2, 2, "long.mp4", 1)
        try:
            poll_until(lambda: len(evil.seen("header")) == 3 and len(evil.ends()) == 1,
                       timeout=20, what="3 streams started and 1 refused (headers %d, ends %s)"
                       % (len(evil.seen("header")), evil.ends()))
            assert "too many streams at once" in evil.ends()[0][4], evil.ends()
            assert len(_served(a)) == 3
            # the node's own /watch is not held up by them
            _watch_ok(a, "bob", c.dir.sub("own.mkv"))
            # paused past --pause-max: they end, and their jobs with them
            poll_until(lambda: len(evil.ends()) == 4
                       and len(a.find("stream", role="owner", state="failed")) == 3,
                       timeout=30, what="the paused streams to end on both sides")
            assert len(evil.ends("paused for longer than 4 s")) == 3, evil.ends()
            failed = a.find("stream", role="owner", state="failed")
            assert all("for longer than 4 s (--pause-max)" in e["message"] for e in failed), failed
            assert not _served(a)
            poll_until(lambda: _jobs(a) == [], timeout=10, what="the owner's jobs to exit")
        finally:
            evil.close()


def test_an_offset_past_any_video_is_refused_with_a_sentence():
    with Cluster(discovery=False) as c:
        a = c.start("alice")
        a.ask("/share " + clip("frag"), "shared", video=True)
        for offset in (2 ** 63 - 1, 2 ** 63, 2 ** 64 - 1, 10 ** 13):
            evil = Viewer(a, 1, 1, "frag.mp4", 32, offset)
            try:
                poll_until(lambda: evil.ends(), timeout=15, what="an answer to offset %d" % offset)
                end = evil.ends()[0]
                assert end[3] == "failed" and "offset" in end[4] and "at most" in end[4], end
                assert not evil.seen("header")
            finally:
                evil.close()
        # from an offset within the video it plays
        evil = Viewer(a, 1, 1, "frag.mp4", 32, 1000)
        try:
            poll_until(lambda: evil.ends(), timeout=15, what="the stream from 1 s")
            assert evil.ends()[0][3] == "ok" and evil.seen("header"), evil.lines
        finally:
            evil.close()
        assert a.ask("/whoami", "whoami")["name"] == "alice"


def _status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)


def _limits(pid):
    """{name: soft limit} from /proc/PID/limits."""
    out = {}
    with open("/proc/%d/limits" % pid) as f:
        for line in f.read().splitlines()[1:]:
            out[line[:26].strip()] = line[26:47].strip()
    return out


def test_media_jobs_run_with_limits_without_new_privileges():
    seccomp = subprocess.run(["pkg-config", "--exists", "libseccomp"]).returncode == 0
    with Cluster(discovery=False) as c:
        a, b = _pair(c, "--player", "cat >/dev/null")
        # a demux job for a paused viewer, and a mux job for alice's player
        evil = Viewer(a, 1, 1, "long.mp4", 1)
        try:
            poll_until(lambda: evil.seen("header"), timeout=15, what="the paused stream's header")
            req = a.ask("/watch bob long.mp4", "stream", state="requested")
            a.wait("stream", timeout=20, stream_id=req["stream_id"], state="started")
            jobs = _jobs(a)
            assert len(jobs) == 2, jobs
            for pid in jobs:
                status, limits = _status(pid), _limits(pid)
                assert status["NoNewPrivs"].strip() == "1", status["NoNewPrivs"]
                assert limits["Max cpu time"] != "unlimited", limits
                assert int(limits["Max open files"]) <= 64, limits
                if not SAN:         # ASan needs both: they stay off in SAN=1 builds
                    assert limits["Max address space"] != "unlimited", limits
                    if seccomp:
                        assert status["Seccomp"].strip() == "2", status["Seccomp"]
            a.ask("/stop", "stream", state="ended")
        finally:
            evil.close()
