"""Files between real nodes: /send, /share + /files + /get, resume, safety."""
import hashlib
import os
import subprocess
import time

from harness import Cluster, Skip, deadline, is_root, poll_until


def _sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _random_file(path, size):
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 1 << 20)
            f.write(os.urandom(n))
            left -= n
    return path


def _pair(c, a_args=(), b_args=()):
    # Files offered are taken at once (the default asks unless verified);
    # a test's own --accept comes later and wins
    known = ["--accept", "known"]
    a = c.start("alice", args=["--downloads", c.dir.sub("dl-alice")] + known + list(a_args))
    b = c.start("bob", args=["--downloads", c.dir.sub("dl-bob")] + known + list(b_args))
    a.wait_peers(b)
    b.wait_peers(a)
    return a, b


def test_a_50_mib_file_arrives_with_the_same_sha256():
    with Cluster() as c:
        a, b = _pair(c)
        src = _random_file(c.dir.sub("big.bin"), 50 * 1024 * 1024)
        a.send("/send bob " + src)
        got = b.wait("transfer", state="done", timeout=60)
        sent = a.wait("transfer", state="done", direction="out", timeout=30)
        assert got["path"] == os.path.join(c.dir.sub("dl-bob"), "big.bin")
        assert _sha(got["path"]) == _sha(src)
        assert got["size"] == got["bytes"] == 50 * 1024 * 1024
        assert sent["chunks_sent"] == 200
        # nothing else is left in the download folder
        assert os.listdir(c.dir.sub("dl-bob")) == ["big.bin"]
        assert os.stat(got["path"]).st_mode & 0o077 == 0


def test_three_transfers_at_once_in_both_directions_while_chatting():
    with Cluster() as c:
        a, b = _pair(c)
        files = [_random_file(c.dir.sub("f%d.bin" % i), (7 + i) * 1024 * 1024 + i) for i in range(3)]
        a.send("/send bob " + files[0])
        a.send("/send bob " + files[1])
        b.send("/send alice " + files[2])
        a.send("/msg bob chat-during-transfers")
        b.wait("message", text="chat-during-transfers")
        for node, name in ((b, "f0.bin"), (b, "f1.bin"), (a, "f2.bin")):
            done = node.wait("transfer", state="done", name=name, direction="in", timeout=60)
            assert _sha(done["path"]) == _sha(c.dir.sub(name))


def test_share_list_and_get_by_name_only():
    with Cluster() as c:
        a, b = _pair(c)
        src = _random_file(c.dir.sub("talk notes.pdf"), 3 * 1024 * 1024 + 5)
        a.send("/share " + src)
        a.wait("shared", name="talk notes.pdf")
        files = b.ask("/files alice", "files")["files"]
        assert files == [{"name": "talk notes.pdf", "size": 3 * 1024 * 1024 + 5, "video": False,
                          "duration": 0.0, "streams": []}]
        b.send("/get alice talk notes.pdf")
        done = b.wait("transfer", state="done", direction="in", timeout=30)
        assert _sha(done["path"]) == _sha(src)
        # never by path, never what was not shared: each request is refused
        for name in ("secret.txt", "../../etc/passwd", src, "/etc/passwd"):
            err = b.ask("/get alice " + name, "error")
            assert err["code"] == "refused" and "is shared" in err["message"], (name, err)
            assert "alice" in err["message"]
        assert os.listdir(c.dir.sub("dl-bob")) == ["talk notes.pdf"]
        a.send("/unshare talk notes.pdf")
        a.wait("unshared")
        assert b.ask("/files alice", "files")["files"] == []
        a.send("/share /nonexistent/file")
        a.wait("error", code="not_a_file")


def test_sender_killed_half_way_resumes_after_restart():
    with Cluster() as c:
        size = 48 * 1024 * 1024
        count = size // (256 * 1024)
        a, b = _pair(c, a_args=["--max-rate", "12M"])
        src = _random_file(c.dir.sub("resume.bin"), size)
        a.send("/send bob " + src)
        b.wait("transfer", direction="in", pred=lambda e: e["bytes"] >= size * 0.4, timeout=30)
        a.kill()
        paused = b.wait("transfer", state="paused", timeout=15)
        held = paused["bytes"] // (256 * 1024)
        assert 0 < held < count
        a2 = c.start("alice", args=["--downloads", c.dir.sub("dl-alice"), "--accept", "known"])
        done = b.wait("transfer", state="done", direction="in", timeout=60)
        assert _sha(done["path"]) == _sha(src)
        sent = a2.wait("transfer", state="done", direction="out", timeout=30)
        # Only what bob lacked was sent again
        assert sent["chunks_sent"] <= count - held, (sent["chunks_sent"], count, held)


def test_receiver_killed_resumes_from_what_it_saved():
    with Cluster() as c:
        size = 40 * 1024 * 1024
        count = size // (256 * 1024)
        a, b = _pair(c, a_args=["--max-rate", "12M"])
        src = _random_file(c.dir.sub("resume2.bin"), size)
        a.send("/send bob " + src)
        b.wait("transfer", direction="in", pred=lambda e: e["bytes"] >= size * 0.5, timeout=30)
        b.kill()
        paused = a.wait("transfer", state="paused", direction="out", timeout=15)
        before = paused["chunks_sent"]
        b2 = c.start("bob", args=["--downloads", c.dir.sub("dl-bob"), "--accept", "known"])
        # What bob's saved state claims (never more than his file holds)
        held = b2.wait("transfer", direction="in", state="running")["bytes"] // (256 * 1024)
        done = b2.wait("transfer", state="done", direction="in", timeout=60)
        assert _sha(done["path"]) == _sha(src)
        sent = a.wait("transfer", state="done", direction="out", timeout=30)
        # bob kept what he had: alice sent again exactly what he lacked
        after = sent["chunks_sent"] - before
        print("    chunks: %d before the kill, %d held after it, %d sent again, of %d"
              % (before, held, after, count))
        assert 0 < held < count and after == count - held, (before, held, after, count)


def test_a_file_changed_between_kill_and_restart_fails_cleanly():
    with Cluster() as c:
        size = 24 * 1024 * 1024
        a, b = _pair(c, a_args=["--max-rate", "8M"])
        src = _random_file(c.dir.sub("changing.bin"), size)
        a.send("/send bob " + src)
        b.wait("transfer", direction="in", pred=lambda e: e["bytes"] >= size * 0.25, timeout=30)
        a.kill()
        b.wait("transfer", state="paused", direction="in", timeout=15)
        # The same size, other bytes in the middle, a later time
        with open(src, "r+b") as f:
            f.seek(size // 2)
            f.write(b"changed!" * 1024)
        st = os.stat(src)
        os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
        a2 = c.start("alice", args=["--downloads", c.dir.sub("dl-alice"), "--accept", "known"])
        failed = a2.wait("transfer", state="failed", direction="out", timeout=20)
        assert "changed since it was offered" in failed["error"], failed
        assert "modification time" in failed["error"], failed
        # bob is told, and keeps nothing of it
        gone = b.wait("transfer", state="failed", direction="in", timeout=20)
        assert "cancelled" in gone["error"], gone
        assert os.listdir(c.dir.sub("dl-bob")) == []


def _evil_sender(c, mode, size=1024 * 1024 + 1000, chunk=64 * 1024):
    """sc-evil-files as a hostile sender (MODE) of one file to a fresh bob."""
    b = c.start("bob", args=["--downloads", c.dir.sub("dl-bob"), "--accept", "known"])
    evil = subprocess.Popen([EVIL_FILES, str(b.port), "1", "1", str(size), str(chunk), mode],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert evil.stdout.readline().strip() == "linked 1"
        # At bob's ACCEPT: the whole hostile transfer, then the answer's line
        assert evil.stdout.readline().strip() == "sent " + mode
        assert evil.stdout.readline().strip().startswith("answers accept 1")
        failed = b.wait("transfer", state="failed", direction="in", timeout=20)
        stats = b.ask("/stats", "stats")["files"]
    finally:
        evil.stdin.close()
        evil.wait(10)
    # No final file, no temporary file
    assert os.listdir(c.dir.sub("dl-bob")) == []
    return failed, stats


def test_a_sender_whose_checksum_does_not_match_leaves_no_file():
    with Cluster() as c:
        failed, stats = _evil_sender(c, "sum")
        assert "checksum does not match" in failed["error"], failed
        assert stats["sums_wrong"] == 1 and stats["bad_chunks"] == 0, stats


def test_hostile_chunks_out_of_range_wrong_size_or_after_done_fail_with_a_reason():
    for mode, reason in (("range", "past the end of the file"), ("size", "of 1001 bytes where 1000 belong"),
                         ("after", "after its DONE")):
        with Cluster() as c:
            failed, stats = _evil_sender(c, mode)
            assert reason in failed["error"], (mode, failed)
            assert stats["bad_chunks"] == 1 and stats["sums_wrong"] == 0, (mode, stats)


def test_existing_names_symlinks_and_hostile_names_are_safe():
    with Cluster() as c:
        a, b = _pair(c)
        dl = c.dir.sub("dl-bob")
        # bob already has a report.txt, and a planted link where a.txt would go
        with open(os.path.join(dl, "report.txt"), "w") as f:
            f.write("bob's own")
        target = c.dir.sub("victim")
        with open(target, "w") as f:
            f.write("untouched")
        os.symlink(target, os.path.join(dl, "a.txt"))
        names = ["report.txt", "a.txt", "\x1b[2J", "\u202etxt.exe", "...", ".hidden", "x" * 250]
        srcdir = c.dir.sub("src")
        os.makedirs(srcdir)
        for n in names:
            with open(os.path.join(srcdir, n), "w") as f:
                f.write("content of %r" % n)
        for n in names:
            a.send("/send bob " + os.path.join(srcdir, n).replace("\x1b", "\x1b"))
        saved = {}
        end = deadline(30)
        while len(b.find("transfer", state="done")) < len(names):
            assert time.monotonic() < end, b.find("transfer")
            b.wait("transfer", state="done", timeout=30,
                   pred=lambda e, k=len(b.find("transfer", state="done")): len(b.find("transfer", state="done")) > k)
        for e in b.find("transfer", state="done"):
            saved[os.path.basename(e["path"])] = open(e["path"]).read()
        with open(os.path.join(dl, "report.txt")) as f:
            assert f.read() == "bob's own"
        assert "report (1).txt" in saved
        with open(target) as f:
            assert f.read() == "untouched"
        assert os.path.islink(os.path.join(dl, "a.txt"))
        assert "a (1).txt" in saved
        for name in saved:
            assert "/" not in name and "\x1b" not in name and "\u202e" not in name
            assert not name.startswith(".")
            assert len(name.encode()) <= 200 + 8
        # everything landed inside the download folder
        for e in b.find("transfer", state="done"):
            assert os.path.dirname(e["path"]) == dl


def test_full_disk_pauses_keeps_data_and_resumes():
    if not is_root():
        raise Skip("needs root to mount a small tmpfs")
    with Cluster() as c:
        dl = c.dir.sub("dl-bob")
        os.makedirs(dl)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", dl],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise Skip("cannot mount tmpfs here: " + r.stderr.strip())
        try:
            a = c.start("alice", args=["--downloads", c.dir.sub("dl-alice"), "--max-rate", "8M",
                                       "--accept", "known"])
            b = c.start("bob", args=["--downloads", dl, "--accept", "known"])
            a.wait_peers(b)
            # Too big for the disk at all: refused before anything is written
            huge = c.dir.sub("huge.bin")
            with open(huge, "wb") as f:
                f.truncate(64 * 1024 * 1024)
            a.send("/send bob " + huge)
            assert "space" in a.wait("transfer", state="failed", timeout=15)["error"]
            # Fits when offered, then the disk fills up meanwhile
            src = _random_file(c.dir.sub("fill.bin"), 24 * 1024 * 1024)
            a.send("/send bob " + src)
            b.wait("transfer", state="running", direction="in", name="fill.bin")
            filler = os.path.join(dl, "filler")
            subprocess.run(["dd", "if=/dev/zero", "of=" + filler, "bs=1M", "count=40"],
                           capture_output=True)
            paused = b.wait("transfer", state="paused", name="fill.bin", timeout=30)
            assert "full" in paused["error"] and paused["bytes"] > 0
            # chat still works
            a.send("/msg bob still-talking")
            b.wait("message", text="still-talking")
            os.unlink(filler)
            b.send("/accept " + paused["transfer_id"][:8])
            done = b.wait("transfer", state="done", name="fill.bin", timeout=60)
            assert _sha(done["path"]) == _sha(src)
        finally:
            for n in list(c.nodes):
                if n.proc.poll() is None:
                    n.quit()
            subprocess.run(["umount", "-l", dl], capture_output=True)


def test_ask_policy_offers_and_reject():
    with Cluster() as c:
        a, b = _pair(c, b_args=["--accept", "ask"])
        src = _random_file(c.dir.sub("ask.bin"), 1000)
        a.send("/send bob " + src)
        offered = b.wait("transfer", state="offered", direction="in")
        assert "/accept" in b.wait("info")["message"]
        b.send("/reject " + offered["transfer_id"][:8])
        assert "declined" in a.wait("transfer", state="failed", direction="out")["error"]
        a.send("/send bob " + src)
        offered = b.wait("transfer", state="offered", direction="in",
                         pred=lambda e: e["transfer_id"] != offered["transfer_id"])
        b.send("/accept " + offered["transfer_id"][:8])
        done = b.wait("transfer", state="done", direction="in")
        assert _sha(done["path"]) == _sha(src)
        b.send("/transfers")
        ts = b.wait("transfers")["transfers"]
        assert sorted(t["state"] for t in ts) == ["done", "failed"]


def test_cancel_stops_both_sides_and_removes_the_partial_file():
    with Cluster() as c:
        a, b = _pair(c, a_args=["--max-rate", "4M"])
        src = _random_file(c.dir.sub("slow.bin"), 20 * 1024 * 1024)
        a.send("/send bob " + src)
        running = b.wait("transfer", direction="in", pred=lambda e: e["bytes"] > 0, timeout=20)
        assert any(n.startswith(".securechat-") for n in os.listdir(c.dir.sub("dl-bob")))
        b.send("/cancel " + running["transfer_id"][:8])
        assert b.wait("transfer", state="failed", direction="in")["error"] == "cancelled"
        assert "cancelled" in a.wait("transfer", state="failed", direction="out")["error"]
        assert os.listdir(c.dir.sub("dl-bob")) == []
        b.send("/cancel " + running["transfer_id"][:8])
        b.wait("error", code="invalid")
        b.send("/cancel ffff0000")
        b.wait("error", code="no_transfer")


def test_files_tells_videos_from_other_files():
    with Cluster() as c:
        a, b = _pair(c)
        clip = c.dir.sub("clip.mp4")
        r = subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10",
                            "-f", "lavfi", "-i", "sine", "-t", "1", "-c:v", "libx264", "-c:a", "aac",
                            "-y", clip], capture_output=True, text=True)
        if r.returncode != 0:
            raise Skip("ffmpeg cannot make an H.264 clip here: " + r.stderr[-200:])
        fake = c.dir.sub("fake.mp4")
        with open(fake, "w") as f:
            f.write("not a video at all\n" * 100)
        text = c.dir.sub("notes.txt")
        with open(text, "w") as f:
            f.write("hello\n")
        for p in (clip, fake, text):
            a.send("/share " + p)
        assert a.wait("shared", name="clip.mp4")["video"] is True
        a.wait("shared", name="notes.txt")
        files = {f["name"]: f["video"] for f in b.ask("/files alice", "files")["files"]}
        assert files == {"clip.mp4": True, "fake.mp4": False, "notes.txt": False}, files


def test_an_offer_waiting_for_accept_stays_waiting_after_a_restart():
    with Cluster() as c:
        a, b = _pair(c, b_args=["--accept", "ask"])
        src = _random_file(c.dir.sub("wait.bin"), 5000)
        a.send("/send bob " + src)
        offered = b.wait("transfer", state="offered", direction="in")
        b.quit()
        a.wait("peer_left", id=b.id)
        b2 = c.start("bob", args=["--downloads", c.dir.sub("dl-bob"), "--accept", "ask"])
        b2.wait_peers(a)
        # alice offers again when bob is back; a message on the same link
        # after it proves bob has handled the offer.  Still bob's choice
        tid = offered["transfer_id"]
        a.wait("transfer", state="offered", transfer_id=tid,
               pred=lambda e: len(a.find("transfer", state="offered", transfer_id=tid)) >= 2)
        a.send("/msg bob after-the-offer")
        b2.wait("message", text="after-the-offer")
        b2.send("/transfers")
        ts = b2.wait("transfers")["transfers"]
        assert [t["state"] for t in ts] == ["offered"], ts
        assert b2.find("transfer", state="running") == []
        assert not os.path.exists(os.path.join(c.dir.sub("dl-bob"), "wait.bin"))
        b2.send("/accept " + offered["transfer_id"][:8])
        done = b2.wait("transfer", state="done", direction="in")
        assert _sha(done["path"]) == _sha(src)


EVIL_FILES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                          os.environ.get("SC_BUILD", "build"), "sc-evil-files")


class _Evil:
    """sc-evil-files: KEYS throwaway keys linked to node, each making OFFERS
    offers (SIZE bytes in CHUNK byte chunks, no data ever) and then saying
    "evil-done"; waits until the node has handled them all."""

    def __init__(self, node, keys, offers, size, chunk):
        self.proc = subprocess.Popen([EVIL_FILES, str(node.port), str(keys), str(offers), str(size),
                                      str(chunk)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        assert self.proc.stdout.readline().strip() == "linked %d" % keys
        mark = len(node.find("message", text="evil-done"))
        node.wait("message", text="evil-done", timeout=30,
                  pred=lambda e: len(node.find("message", text="evil-done")) >= mark + keys)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(10)


def _dir_bytes(path):
    return sum(os.path.getsize(os.path.join(path, n)) for n in os.listdir(path))


def _states(node):
    ts = node.ask("/transfers", "transfers")["transfers"]
    return sorted(t["state"] for t in ts)


def test_hostile_offers_leave_next_to_nothing_and_a_restart_is_quick():
    """100 offers of 1 TiB from 4 throwaway keys, above --accept-max: 8 per
    key wait for /accept, the rest are refused; what waits holds no bitmap
    and saves a few hundred bytes; chunks too small for the size are
    refused outright."""
    with Cluster() as c:
        b = c.start("bob", args=["--downloads", c.dir.sub("dl-bob")])
        evil = _Evil(b, 4, 25, 1 << 40, 256 * 1024)
        evil.close()
        assert _states(b) == ["offered"] * 32
        state = os.path.join(b.home, "transfers")
        size = _dir_bytes(state)
        print("    HOME/transfers after 100 hostile offers: %d bytes in %d files"
              % (size, len(os.listdir(state))))
        assert size < 64 * 1024, size
        assert os.listdir(c.dir.sub("dl-bob")) == []
        tiny = _Evil(b, 1, 3, 1 << 40, 4096)
        tiny.close()
        assert _states(b) == ["offered"] * 32
        assert b.ask("/stats", "stats")["files"]["offers_refused"] == 68 + 3
        b.quit()
        start = time.monotonic()
        b2 = c.start("bob", args=["--downloads", c.dir.sub("dl-bob")])
        print("    restart to ready with them: %.2f s" % (time.monotonic() - start))
        assert _states(b2) == ["offered"] * 32


def test_automatic_acceptance_is_bounded_and_opens_no_file_before_data():
    """Under --accept known, two throwaway keys offer 150 files each and never
    send a byte: 16 per key are taken, no temporary file is made and no
    descriptor held; a real transfer still goes through."""
    with Cluster() as c:
        a, b = _pair(c)
        fds = lambda: len(os.listdir("/proc/%d/fd" % b.proc.pid))
        before = fds()
        evil = _Evil(b, 2, 150, 1 << 20, 256 * 1024)
        assert os.listdir(c.dir.sub("dl-bob")) == []
        grew = fds() - before
        print("    descriptors after 300 offers: %d more" % grew)
        assert grew < 32, grew
        assert _states(b) == ["running"] * 32
        src = _random_file(c.dir.sub("real.bin"), 3 * 1024 * 1024)
        a.send("/send bob " + src)
        done = b.wait("transfer", state="done", direction="in", name="real.bin", timeout=30)
        assert _sha(done["path"]) == _sha(src)
        evil.close()


def test_by_default_only_verified_peers_are_taken_at_once():
    with Cluster() as c:
        a = c.start("alice", args=["--downloads", c.dir.sub("dl-alice")])
        b = c.start("bob", args=["--downloads", c.dir.sub("dl-bob")])
        a.wait_peers(b)
        b.wait_peers(a)
        src = _random_file(c.dir.sub("unasked.bin"), 5000)
        a.send("/send bob " + src)
        offered = b.wait("transfer", state="offered", direction="in")
        assert "/accept" in b.wait("info")["message"]
        assert os.listdir(c.dir.sub("dl-bob")) == []
        b.send("/accept " + offered["transfer_id"][:8])
        done = b.wait("transfer", state="done", direction="in")
        assert _sha(done["path"]) == _sha(src)
