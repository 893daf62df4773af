"""Video between real nodes: /share, /videos, /watch (to a file, to a player
pipe, from an offset), /stop, and what happens when things go wrong."""
import atexit
import os
import shutil
import subprocess
import tempfile

from harness import BUILD, ROOT, Cluster, Skip, is_root, poll_until

_CLIPS = {}
_TMP = tempfile.mkdtemp(prefix="sc-video-")
atexit.register(shutil.rmtree, _TMP, True)


def clip(kind):
    """A short test clip made with ffmpeg's lavfi sources (made once)."""
    if kind in _CLIPS:
        return _CLIPS[kind]
    video = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"]
    audio = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    if kind == "h264":          # H.264 + AAC in MP4, a keyframe every second
        path, codecs, secs = "clip.mp4", ["-c:v", "libx264", "-g", "25", "-c:a", "aac"], 4
    elif kind == "vp9":         # VP9 + Opus in WebM
        path, codecs, secs = "clip.webm", ["-c:v", "libvpx-vp9", "-deadline", "realtime",
                                           "-cpu-used", "8", "-g", "25", "-c:a", "libopus"], 3
    elif kind == "huge":        # lossless noise: every frame about 1.4 MB, sent in parts
        path, secs = "huge.mp4", 1
        video = ["-f", "lavfi", "-i", "nullsrc=s=1280x720:r=5,geq=lum='random(1)*255':cb=128:cr=128"]
        codecs = ["-c:v", "libx264", "-qp", "0", "-preset", "ultrafast", "-g", "5", "-c:a", "aac"]
    else:                       # a longer H.264 clip, for streams cut short
        path, codecs, secs = "long.mp4", ["-c:v", "libx264", "-g", "25", "-c:a", "aac"], 12
    path = os.path.join(_TMP, path)
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"] + video + audio
                   + ["-t", str(secs)] + codecs + [path], check=True)
    _CLIPS[kind] = path
    return path


def packets(path):
    """Per stream, the (size, md5) of every packet, in order, as framemd5
    sees them (the container may rescale timestamps and interleave the
    streams its own way, so only sizes and contents are compared)."""
    out = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-i", path,
                          "-map", "0", "-c", "copy", "-f", "framemd5", "-"],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    streams = {}
    for line in out.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        f = [x.strip() for x in line.split(",")]
        streams.setdefault(int(f[0]), []).append((int(f[4]), f[5]))
    return streams


def keyframe_times(path):
    """Video keyframe times in seconds (ffprobe), in order."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "packet=pts_time,flags", "-of", "csv=p=0", path],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    times = []
    for line in out.splitlines():
        t, flags = line.split(",")[:2]
        if "K" in flags:
            times.append(float(t))
    return times


def _pair(c):
    a = c.start("alice")
    b = c.start("bob")
    a.wait_peers(b)
    b.wait_peers(a)
    return a, b


def _share(node, path):
    return node.ask("/share " + path, "shared", name=os.path.basename(path))


def _watch(viewer, line, timeout=30):
    """Sends a /watch; returns its final stream event (ended or failed)."""
    req = viewer.ask(line, "stream", state="requested")
    return viewer.wait("stream", timeout=timeout, stream_id=req["stream_id"],
                       pred=lambda e: e["state"] in ("ended", "failed"))


def test_videos_lists_what_a_peer_shares_with_duration_and_codecs():
    with Cluster() as c:
        a, b = _pair(c)
        shared = _share(a, clip("h264"))
        assert shared["video"] is True and shared["codecs"] == "h264,aac"
        _share(a, clip("vp9"))
        notes = c.dir.sub("notes.txt")
        with open(notes, "w") as f:
            f.write("not a video\n" * 100)
        assert _share(a, notes)["video"] is False
        ev = b.ask("/videos alice", "videos")
        got = {v["name"]: v for v in ev["videos"]}
        assert set(got) == {"clip.mp4", "clip.webm"}, got      # the text file is no video
        assert abs(got["clip.mp4"]["duration"] - 4.0) < 0.1
        assert got["clip.mp4"]["streams"] == ["h264", "aac"]
        assert got["clip.webm"]["streams"] == ["vp9", "opus"]
        # /files still lists everything
        assert len(b.ask("/files alice", "files")["files"]) == 3


def test_two_viewers_get_exactly_the_sources_packets_for_two_codec_pairs():
    with Cluster() as c:
        a, b = _pair(c)
        carol = c.start("carol")
        carol.wait_peers(a)
        a.wait_peers(carol)
        _share(a, clip("h264"))
        _share(a, clip("vp9"))
        outs = {name: c.dir.sub(name) for name in ("b1.mkv", "b2.mkv", "c1.mkv")}
        # three streams at once: bob watches both clips, carol the first
        reqs = [(b, b.ask("/watch alice clip.mp4 --out " + outs["b1.mkv"], "stream", state="requested"),
                 clip("h264"), outs["b1.mkv"]),
                (b, b.ask("/watch alice clip.webm --out " + outs["b2.mkv"], "stream", state="requested"),
                 clip("vp9"), outs["b2.mkv"]),
                (carol, carol.ask("/watch alice clip.mp4 --out " + outs["c1.mkv"], "stream",
                                  state="requested"), clip("h264"), outs["c1.mkv"])]
        for viewer, req, src, out in reqs:
            started = viewer.wait("stream", timeout=20, stream_id=req["stream_id"], state="started")
            assert started["latency_ms"] >= 0
            end = viewer.wait("stream", timeout=30, stream_id=req["stream_id"],
                              pred=lambda e: e["state"] in ("ended", "failed"))
            assert end["state"] == "ended", end
            assert end["out"] == out
            want, got = packets(src), packets(out)
            assert sorted(got) == sorted(want) == [0, 1]
            for stream in want:
                assert got[stream] == want[stream], "stream %d differs" % stream
        # the owner saw three streams start and end
        poll_until(lambda: len(a.find("stream", role="owner", state="ended")) == 3, timeout=10,
                   what="the owner's three ended events")


def test_mpegts_output_carries_every_packet():
    with Cluster() as c:
        a, b = _pair(c)
        _share(a, clip("h264"))
        out = c.dir.sub("out.ts")
        end = _watch(b, "/watch alice clip.mp4 --out " + out)
        assert end["state"] == "ended", end
        # MPEG-TS rewrites H.264 and AAC packets (start codes, ADTS): count them
        want, got = packets(clip("h264")), packets(out)
        assert {s: len(p) for s, p in got.items()} == {s: len(p) for s, p in want.items()}


def test_watching_from_an_offset_starts_at_the_keyframe_before_it():
    with Cluster() as c:
        a, b = _pair(c)
        src = clip("h264")
        _share(a, src)
        keys = keyframe_times(src)
        assert keys[:4] == [0.0, 1.0, 2.0, 3.0], keys
        out = c.dir.sub("from-2.5.mkv")
        end = _watch(b, "/watch alice clip.mp4 2.5 --out " + out)
        assert end["state"] == "ended" and end["offset"] == 2.5, end
        want, got = packets(src), packets(out)
        # video: exactly the source's packets from the keyframe at 2.0 s on
        assert got[0] == want[0][50:], (len(got[0]), len(want[0]))
        # audio: an unbroken run of the source's packets up to its end
        start = want[1].index(got[1][0])
        assert got[1] == want[1][start:]
        assert 0 < start < len(want[1]) // 2
        # MM:SS works the same way; past the end is a clear error
        out2 = c.dir.sub("from-0-03.mkv")
        end = _watch(b, "/watch alice clip.mp4 00:03 --out " + out2)
        assert end["state"] == "ended" and packets(out2)[0] == want[0][75:]
        end = _watch(b, "/watch alice clip.mp4 0:09 --out " + c.dir.sub("past.mkv"))
        assert end["state"] == "failed" and "past the end" in end["message"], end
        assert not os.path.exists(c.dir.sub("past.mkv"))


def test_a_player_gets_the_stream_on_its_stdin_paced():
    with Cluster() as c:
        got = c.dir.sub("piped.mkv")
        a = c.start("alice")
        b = c.start("bob", args=["--player", "cat > '%s'" % got])
        a.wait_peers(b)
        b.wait_peers(a)
        _share(a, clip("vp9"))
        end = _watch(b, "/watch alice clip.webm")
        assert end["state"] == "ended" and end["out"] == "player", end
        want = packets(clip("vp9"))
        assert packets(got) == want


def test_errors_are_clear_and_leave_both_nodes_working():
    with Cluster() as c:
        a, b = _pair(c)
        notes = c.dir.sub("notes.txt")
        with open(notes, "w") as f:
            f.write("hello\n")
        _share(a, notes)
        out = c.dir.sub("x.mkv")
        end = _watch(b, "/watch alice notes.txt --out " + out)
        assert end["state"] == "failed" and "not a video" in end["message"], end
        assert not os.path.exists(out)          # nothing half-made is left
        end = _watch(b, "/watch alice never-shared.mp4 --out " + out)
        assert end["state"] == "failed" and "nothing called 'never-shared.mp4'" in end["message"], end
        # a path is never a share name
        end = _watch(b, "/watch alice " + clip("h264") + " --out " + out)
        assert end["state"] == "failed" and "nothing called" in end["message"], end
        # an existing file is never overwritten
        with open(out, "w") as f:
            f.write("mine")
        err = b.ask("/watch alice notes.txt --out " + out, "error")
        assert err["code"] == "exists"
        assert open(out).read() == "mine"
        err = b.ask("/watch nobody clip.mp4 --out " + c.dir.sub("y.mkv"), "error")
        assert err["code"] == "no_peer"
        assert b.ask("/stop", "error")["code"] == "no_stream"
        # both still chat
        b.send("/msg alice still here")
        a.wait("message", text="still here")
        a.send("/msg bob me too")
        b.wait("message", text="me too")


def test_stop_ends_a_paced_stream_on_both_sides_and_keeps_what_came():
    with Cluster() as c:
        got = c.dir.sub("stopped.mkv")
        a = c.start("alice")
        b = c.start("bob", args=["--player", "cat > '%s'" % got])
        a.wait_peers(b)
        b.wait_peers(a)
        _share(a, clip("long"))
        req = b.ask("/watch alice long.mp4", "stream", state="requested")
        b.wait("stream", stream_id=req["stream_id"], state="started", timeout=20)
        b.send("/stop " + req["stream_id"][:6])
        end = b.wait("stream", stream_id=req["stream_id"], timeout=20,
                     pred=lambda e: e["state"] in ("ended", "failed"))
        assert end["state"] == "ended" and end["message"] == "stopped", end
        owner = a.wait("stream", role="owner", state="ended", timeout=10)
        assert "bob stopped watching" in owner["message"]
        # what came is a readable file: the first packets of the source
        want, part = packets(clip("long")), packets(got)
        assert 0 < len(part[0]) < len(want[0])
        assert part[0] == want[0][:len(part[0])]


def test_an_owner_killed_mid_stream_ends_the_watch_with_a_clear_message():
    with Cluster() as c:
        got = c.dir.sub("cut.mkv")
        a = c.start("alice")
        b = c.start("bob", args=["--player", "cat > '%s'" % got])
        a.wait_peers(b)
        b.wait_peers(a)
        _share(a, clip("long"))
        req = b.ask("/watch alice long.mp4", "stream", state="requested")
        b.wait("stream", stream_id=req["stream_id"], state="started", timeout=20)
        a.kill()
        end = b.wait("stream", stream_id=req["stream_id"], timeout=20,
                     pred=lambda e: e["state"] in ("ended", "failed"))
        assert end["state"] == "failed" and "alice left" in end["message"], end
        want, part = packets(clip("long")), packets(got)
        assert 0 < len(part[0]) < len(want[0])
        assert part[0] == want[0][:len(part[0])]
        # bob still works: alice comes back and they chat
        a2 = c.start("alice", home="alice")
        b.wait("peer_joined", id=a2.id, after=len(b.events) - 1, timeout=15)
        a2.wait_peers(b)
        b.send("/msg alice back?")
        a2.wait("message", text="back?")


def test_a_viewer_leaving_or_killed_ends_the_owners_stream_and_the_owner_goes_on():
    with Cluster() as c:
        a = c.start("alice")
        b = c.start("bob", args=["--player", "cat > /dev/null"])
        carol = c.start("carol", args=["--player", "cat > /dev/null"])
        for x, y in ((a, b), (a, carol), (b, a), (carol, a)):
            x.wait_peers(y)
        _share(a, clip("long"))
        # bob quits: alice is told at once
        req = b.ask("/watch alice long.mp4", "stream", state="requested")
        b.wait("stream", stream_id=req["stream_id"], state="started", timeout=20)
        b.quit()
        end = a.wait("stream", role="owner", stream_id=req["stream_id"], timeout=10,
                     pred=lambda e: e["state"] in ("ended", "failed"))
        assert "bob stopped watching" in end["message"], end
        # carol is killed: alice notices when the link times out
        req = carol.ask("/watch alice long.mp4", "stream", state="requested")
        carol.wait("stream", stream_id=req["stream_id"], state="started", timeout=20)
        carol.kill()
        end = a.wait("stream", role="owner", stream_id=req["stream_id"], timeout=20,
                     pred=lambda e: e["state"] in ("ended", "failed"))
        assert end["state"] == "failed" and "carol left" in end["message"], end
        assert a.ask("/streams", "streams")["streams"] == []
        # alice still serves: a new viewer gets the whole clip
        dave = c.start("dave")
        dave.wait_peers(a)
        out = c.dir.sub("dave.mkv")
        end = _watch(dave, "/watch alice long.mp4 --out " + out)
        assert end["state"] == "ended", end
        assert packets(out) == packets(clip("long"))


def test_a_hostile_owner_is_refused_with_a_clear_error_and_the_viewer_goes_on():
    evil = os.path.join(ROOT, BUILD, "sc-evil-owner")
    cases = {
        "codec": "codec 'rawvideo' is not one we play",
        "garbage": "stream header was refused",
        "stream": "names stream 5 of 1",
        "order": "packets out of order",
    }
    for mode, text in cases.items():
        with Cluster(discovery=False) as c:
            owner = subprocess.Popen([evil, mode], stdout=subprocess.PIPE, text=True)
            try:
                port = int(owner.stdout.readline())
                b = c.start("bob", args=["--peer", "tcp://127.0.0.1:%d" % port])
                b.wait("peer_joined", name="evil")
                out = c.dir.sub("evil.mkv")
                end = _watch(b, "/watch evil clip.mp4 --out " + out, timeout=15)
                assert end["state"] == "failed" and text in end["message"], (mode, end)
                # nothing is left running, and the node still answers
                assert b.ask("/streams", "streams")["streams"] == []
                assert b.ask("/whoami", "whoami")["name"] == "bob"
                if mode in ("codec", "garbage"):
                    assert not os.path.exists(out)      # never had a header
            finally:
                owner.kill()
                owner.wait()


def test_shares_keep_what_was_probed_until_the_file_changes():
    with Cluster() as c:
        src = c.dir.sub("talk.mp4")
        shutil.copy(clip("h264"), src)
        a, b = _pair(c)
        _share(a, src)
        a.quit()
        mark = len(b.events)
        a = c.start("alice", home="alice")
        b.wait("peer_joined", id=a.id, after=mark)
        got = b.ask("/videos alice", "videos", name="alice")["videos"]
        assert [(v["name"], v["streams"]) for v in got] == [("talk.mp4", ["h264", "aac"])]
        assert abs(got[0]["duration"] - 4.0) < 0.1
        # the same name, now not a video: probed again at the next start
        a.quit()
        with open(src, "w") as f:
            f.write("no longer a video\n")
        os.utime(src, (1, 1))
        mark = len(b.events)
        a = c.start("alice", home="alice")
        b.wait("peer_joined", id=a.id, after=mark)
        assert b.ask("/videos alice", "videos", name="alice")["videos"] == []
        end = _watch(b, "/watch alice talk.mp4 --out " + c.dir.sub("x.mkv"))
        assert end["state"] == "failed" and "not a video" in end["message"]


def test_packets_larger_than_a_frame_travel_in_parts_and_arrive_whole():
    with Cluster() as c:
        a, b = _pair(c)
        _share(a, clip("huge"))
        want = packets(clip("huge"))
        assert max(size for size, _ in want[0]) > 1024 * 1024      # over one wire frame
        out = c.dir.sub("huge.mkv")
        end = _watch(b, "/watch alice huge.mp4 --out " + out)
        assert end["state"] == "ended", end
        assert packets(out) == want


def test_a_full_disk_fails_the_watch_clearly_and_both_nodes_go_on():
    if not is_root():
        raise Skip("needs root to mount a small tmpfs")
    with Cluster() as c:
        small = c.dir.sub("small")
        os.makedirs(small)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", small],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise Skip("cannot mount tmpfs here: " + r.stderr.strip())
        try:
            a, b = _pair(c)
            _share(a, clip("huge"))             # 7 MB of packets into 2 MB
            end = _watch(b, "/watch alice huge.mp4 --out " + os.path.join(small, "x.mkv"))
            assert end["state"] == "failed" and "No space left" in end["message"], end
            # the owner's side is over too (it may have sent everything already)
            a.wait("stream", role="owner", stream_id=end["stream_id"], timeout=10,
                   pred=lambda e: e["state"] in ("ended", "failed"))
            assert a.ask("/streams", "streams")["streams"] == []
            # both go on: a watch to a roomy disk gets everything
            out = c.dir.sub("ok.mkv")
            assert _watch(b, "/watch alice huge.mp4 --out " + out)["state"] == "ended"
            assert packets(out) == packets(clip("huge"))
        finally:
            for n in list(c.nodes):
                if n.proc.poll() is None:
                    n.quit()
            subprocess.run(["umount", "-l", small], capture_output=True)


def test_share_probes_without_holding_up_the_node():
    with Cluster(discovery=False) as c:
        a = c.start("alice")
        mark = len(a.events)
        # one write: the probe (a child loading FFmpeg) answers after /whoami
        a.send("/share %s\n/whoami" % clip("h264"))
        shared = a.wait("shared", after=mark, timeout=10)
        assert shared["video"] is True and shared["codecs"] == "h264,aac"
        kinds = [e["event"] for e in a.events[mark:]]
        assert kinds.index("whoami") < kinds.index("shared"), kinds
        # withdrawn while its probe runs: it never shows up as shared, not
        # even once a probe started after it has answered
        mark = len(a.events)
        a.send("/share %s\n/unshare clip.webm\n/share %s" % (clip("vp9"), clip("long")))
        a.wait("unshared", name="clip.webm", after=mark)
        a.wait("shared", name="long.mp4", after=mark)
        assert not a.find("shared", name="clip.webm")


def _children(pid):
    """The pids of a process's children, from /proc."""
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            kids.append(int(d))
    return kids


def _helper(node):
    """The pid of a node's media helper (securechat-media serve)."""
    for pid in _children(node.proc.pid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if b"securechat-media" in f.read():
                    return pid
        except OSError:
            pass
    return None


def test_a_stream_that_fails_ends_alone_and_two_others_play_to_the_end():
    evil = os.path.join(ROOT, BUILD, "sc-evil-owner")
    with Cluster(discovery=False) as c:
        owner = subprocess.Popen([evil, "backwards"], stdout=subprocess.PIPE, text=True)
        try:
            port = int(owner.stdout.readline())
            a = c.start("alice")
            # alice serves bob two streams at once (no more); carol the others
            carol = c.start("carol")
            plays = c.dir.sub("plays")
            os.makedirs(plays)
            b = c.start("bob", args=["--peer", a.endpoint, "--peer", carol.endpoint,
                                     "--peer", "tcp://127.0.0.1:%d" % port,
                                     "--player", 'cat > "$(mktemp %s/play-XXXXXX)"' % plays])
            b.wait("peer_joined", name="evil")
            b.wait_peers(a, carol)
            a.wait_peers(b)
            carol.wait_peers(b)
            _share(a, clip("long"))
            _share(carol, clip("long"))
            running = [b.ask("/watch alice long.mp4", "stream", state="requested")["stream_id"]
                       for _ in range(2)]
            for sid in running:
                b.wait("stream", stream_id=sid, state="started", timeout=20)

            def still_running():
                ids = {s["stream_id"] for s in b.ask("/streams", "streams")["streams"]}
                return all(sid in ids for sid in running)
            # a muxer error ends that stream with the muxer's reason
            end = _watch(b, "/watch evil clip.mp4 --out " + c.dir.sub("evil.mkv"), timeout=15)
            assert end["state"] == "failed" and "muxing a packet failed" in end["message"], end
            assert still_running()
            # a job killed: its stream ends, on both sides, saying so
            helper = _helper(b)
            jobs = set(_children(helper))
            sid = b.ask("/watch carol long.mp4", "stream", state="requested")["stream_id"]
            b.wait("stream", stream_id=sid, state="started", timeout=20)
            job = set(_children(helper)) - jobs
            assert len(job) == 1, job
            os.kill(job.pop(), 9)
            end = b.wait("stream", stream_id=sid, timeout=10,
                         pred=lambda e: e["state"] in ("ended", "failed"))
            assert end["state"] == "failed" and "job for this stream stopped" in end["message"], end
            gone = carol.wait("stream", role="owner", stream_id=sid, timeout=10,
                          pred=lambda e: e["state"] in ("ended", "failed"))
            assert "job for this stream stopped" in gone["message"], gone
            assert still_running()
            # the owner's job killed: the viewer hears why from the owner
            helper_c = _helper(carol)
            jobs = set(_children(helper_c))
            sid = b.ask("/watch carol long.mp4", "stream", state="requested")["stream_id"]
            b.wait("stream", stream_id=sid, state="started", timeout=20)
            job = set(_children(helper_c)) - jobs
            assert len(job) == 1, job
            os.kill(job.pop(), 9)
            end = b.wait("stream", stream_id=sid, timeout=10,
                         pred=lambda e: e["state"] in ("ended", "failed"))
            assert end["state"] == "failed" and "carol could not stream 'long.mp4'" in end["message"] \
                and "job for this stream stopped" in end["message"], end
            assert still_running()
            # the helper itself killed: the streams' jobs go on, and the next
            # /watch starts a new helper
            os.kill(helper, 9)
            poll_until(lambda: not os.path.exists("/proc/%d" % helper), timeout=10,
                       what="bob to notice its helper is gone")
            out = c.dir.sub("after.mkv")
            end = _watch(b, "/watch carol long.mp4 --out " + out)
            assert end["state"] == "ended", end
            assert _helper(b) not in (None, helper)
            assert still_running()
            for sid in running:
                end = b.wait("stream", stream_id=sid, timeout=30,
                             pred=lambda e: e["state"] in ("ended", "failed"))
                assert end["state"] == "ended", end
            want = packets(clip("long"))
            assert packets(out) == want
            #  (four players ran: two cut short by the killed jobs)
            def whole_file(name):
                try:
                    return packets(os.path.join(plays, name)) == want
                except subprocess.CalledProcessError:
                    return False                # cut short before anything ffmpeg reads
            whole = [f for f in os.listdir(plays) if whole_file(f)]
            assert len(whole) == 2, os.listdir(plays)
        finally:
            owner.kill()
            owner.wait()
