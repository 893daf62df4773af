"""Nodes that use a tracker (--tracker): with no LAN discovery they find
each other through it and link directly, mail waits at the tracker for a
peer that is away (also across a SIGKILL of the tracker), and a tracker's
word never overrides a key the node knows."""
import signal

from harness import EvilTracker, Node, Tracker, TrackerClient, Workdir, poll_until


def _node(w, name, t, **kw):
    return Node(w.sub(name), name=name, args=["--tracker", t.address], **kw)


def _registered(node, timeout=10):
    return node.wait("tracker_registered", timeout=timeout)


def test_no_tracker_option_no_tracker_state():
    w = Workdir()
    try:
        a = Node(w.sub("a"), name="alice")
        t = a.ask("/trackers", "trackers")
        assert t["trackers"] == []
        p = a.ask("/peers", "peers")
        assert p["peers"] == []
        a.quit()
    finally:
        w.close()


def test_tracker_option_needs_fingerprint():
    import subprocess
    from harness import NODE
    w = Workdir()
    try:
        r = subprocess.run([NODE, "--home", w.sub("x"), "--tracker", "tcp://127.0.0.1:1"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=10)
        assert r.returncode == 2 and "fingerprint" in r.stderr, r.stderr
    finally:
        w.close()


def test_two_nodes_link_through_tracker_and_chat():
    w = Workdir()
    t = Tracker(w.sub("tracker"))
    try:
        a = _node(w, "alice", t)
        _registered(a)
        b = _node(w, "bob", t)
        _registered(b)
        a.wait_peers(b, timeout=15)
        b.wait_peers(a, timeout=15)
        peers = a.ask("/peers", "peers")["peers"]
        assert [(p["name"], p["via"], p["online"]) for p in peers] == [("bob", "tracker", True)]
        a.send("/msg bob hello over the tracker")
        m = b.wait("message", text="hello over the tracker")
        assert "mailbox" not in m
        a.wait("delivered", msg_id=m["msg_id"])
        tr = a.ask("/trackers", "trackers")["trackers"]
        assert len(tr) == 1 and tr[0]["state"] == "registered" and tr[0]["linked"]
        assert 0 < tr[0]["ttl_left_ms"] <= 600000 and tr[0]["refusals"] == 0
        assert tr[0]["seen_as"] == "127.0.0.1"
        a.quit()
        b.quit()
    finally:
        assert t.stop(signal.SIGTERM) == 0
        w.close()


def test_refresh_before_ttl_and_register_again_after_restart():
    w = Workdir()
    t = Tracker(w.sub("tracker"), args=["--ttl-ms", "2000"])
    port = t.port
    try:
        a = _node(w, "alice", t)
        _registered(a)
        # refreshed between 1/2 and 3/4 of 2 s: the record never ends
        poll_until(lambda: a.ask("/trackers", "trackers")["trackers"][0]["registrations"] >= 3,
                   timeout=10, what="refreshes")
        assert not t.find("left")
        t.stop(signal.SIGKILL)
        a.wait("tracker_lost")
        t = Tracker(w.sub("tracker"), port=port, args=["--ttl-ms", "2000"])
        mark = len(a.events)
        a.wait("tracker_registered", after=mark, timeout=15)
        a.quit()
    finally:
        t.stop(signal.SIGTERM)
        w.close()


def test_mail_while_away_survives_tracker_sigkill_exactly_once_in_order():
    w = Workdir()
    t = Tracker(w.sub("tracker"))
    port = t.port
    try:
        a = _node(w, "alice", t)
        _registered(a)
        b = _node(w, "bob", t)
        _registered(b)
        a.wait_peers(b, timeout=15)
        b.quit()
        a.wait("peer_left", name="bob")
        sent = []
        for i in range(5):
            s = a.ask(f"/msg bob away {i}", "sent")
            assert s["queued"] == "tracker", s
            sent.append(s["msg_id"])
        for mid in sent:
            a.wait("mail_stored", msg_id=mid)
        t.wait("mail_stored")
        t.stop(signal.SIGKILL)
        t = Tracker(w.sub("tracker"), port=port)
        assert t.find("ready")[0]["mail"] == 5
        import time
        started = int(time.time() * 1000)
        b = _node(w, "bob", t)
        got = []
        poll_until(lambda: len(b.find("message")) >= 5, timeout=20, what="5 messages")
        for mid in sent:
            a.wait("delivered", msg_id=mid, timeout=20)
        # Every item acknowledged (deleted at the tracker): no copy can come
        # again after this, so what was shown is final
        poll_until(lambda: {e["msg_id"] for e in t.find("mail_delivered")} >= set(sent),
                   timeout=10, what="acks")
        msgs = b.find("message")
        assert [m["text"] for m in msgs] == [f"away {i}" for i in range(5)], msgs
        assert [m["msg_id"] for m in msgs] == sent
        assert all(m["ts"] < started for m in msgs)       # their original times
        assert len(a.find("delivered")) == 5
        a.quit()
        b.quit()
    finally:
        t.stop(signal.SIGTERM)
        w.close()


def test_mail_opens_when_sender_is_gone():
    """Only the mailbox can deliver: alice leaves before bob comes back."""
    w = Workdir()
    t = Tracker(w.sub("tracker"))
    try:
        a = _node(w, "alice", t)
        _registered(a)
        b = _node(w, "bob", t)
        _registered(b)
        a.wait_peers(b, timeout=15)
        b.quit()
        a.wait("peer_left", name="bob")
        s = a.ask("/msg bob while you were out", "sent")
        assert s["queued"] == "tracker"
        a.wait("mail_stored", msg_id=s["msg_id"])
        a.quit()
        # bob comes back 20 minutes later (his clock moved): past the
        # ordinary 10-minute window, the mailbox's still opens it
        later = {"SC_NODE_CLOCK_OFFSET_MS": str(20 * 60 * 1000)}
        b = _node(w, "bob", t, env=later)
        m = b.wait("message", text="while you were out", timeout=15)
        assert m["mailbox"] is True and m["msg_id"] == s["msg_id"]
        assert not b.find("warning")
        # the receipt goes back by the mailbox; alice gets it when she returns
        a = _node(w, "alice", t, env=later)
        b.quit()
        # a new run of alice has no outbox: the receipt is opened and acked
        poll_until(lambda: len(t.find("mail_delivered")) >= 2, timeout=15, what="both acked")
        assert s["msg_id"] in {e["msg_id"] for e in t.find("mail_delivered")}
        a.quit()
        # and after a restart bob does not show it again
        b = _node(w, "bob", t, env=later)
        _registered(b)
        import time
        time.sleep(1.0)
        assert not b.find("message")
        b.quit()
    finally:
        t.stop(signal.SIGTERM)
        w.close()


def test_tracker_naming_known_name_with_other_key_is_refused():
    w = Workdir()
    t = Tracker(w.sub("tracker"))
    try:
        a = _node(w, "alice", t)
        _registered(a)
        b = _node(w, "bob", t)
        a.wait_peers(b, timeout=15)
        # another key registers as "bob": the tracker names it to alice
        evil = TrackerClient(t, name="bob", source="127.0.0.3")
        evil.ask("register", "registered")
        warn = a.wait("warning", code="key_changed", timeout=10)
        assert "never overrides" in warn["message"]
        peers = a.ask("/peers", "peers")["peers"]
        assert [p["id"] for p in peers] == [b.id]
        assert a.ask("/trackers", "trackers")["key_changed"] >= 1
        # and bob by name still means bob
        a.send("/msg bob still you")
        b.wait("message", text="still you")
        evil.close()
        a.quit()
        b.quit()
    finally:
        t.stop(signal.SIGTERM)
        w.close()


def test_dial_back_when_the_named_peer_cannot_be_reached():
    """bob listens on 127.0.0.5 only but reaches the tracker from 127.0.0.1,
    so the address the tracker gives for him does not answer (as behind
    NAT): alice asks the tracker to have bob dial her, and they link."""
    w = Workdir()
    t = Tracker(w.sub("tracker"))
    try:
        a = _node(w, "alice", t)
        _registered(a)
        b = Node(w.sub("bob"), name="bob", args=["--tracker", t.address, "--bind", "127.0.0.5"])
        assert b.wait("tracker_registered")["addr"] == "127.0.0.1"
        d = a.wait("dial_back", name="bob", timeout=15)
        assert d["id"] == b.id
        a.wait_peers(b, timeout=15)
        b.wait_peers(a, timeout=15)
        a.send("/msg bob dialled back")
        b.wait("message", text="dialled back")
        a.quit()
        b.quit()
    finally:
        t.stop(signal.SIGTERM)
        w.close()


def test_two_trackers_that_disagree_about_a_name_warn():
    w = Workdir()
    t1 = Tracker(w.sub("t1"))
    t2 = Tracker(w.sub("t2"))
    try:
        a = Node(w.sub("alice"), name="alice", args=["--tracker", t1.address, "--tracker", t2.address])
        a.wait("tracker_registered", tracker=t1.address)
        a.wait("tracker_registered", tracker=t2.address)
        c1 = TrackerClient(t1, name="carol", source="127.0.0.6")
        c1.ask("register", "registered")
        c2 = TrackerClient(t2, name="carol", source="127.0.0.7")
        c2.ask("register", "registered")
        warn = a.wait("warning", code="trackers_disagree", timeout=10)
        assert "carol" in warn["message"]
        # Neither claim proved its key over a link, so neither holds the
        # name (the first one used to, and then locked out a real owner
        # who came second): by name 'carol' is ambiguous until one proves
        # itself or the user picks a fingerprint
        e = a.ask("/msg carol which of you", "error")
        assert e["code"] == "ambiguous", e
        assert c1.id[:16] in e["message"] and c2.id[:16] in e["message"], e
        tr = a.ask("/trackers", "trackers")
        assert tr["disagree"] == 1 and tr["key_changed"] == 0
        assert len(tr["trackers"]) == 2 and all(x["registered"] for x in tr["trackers"])
        c1.close()
        c2.close()
        a.quit()
    finally:
        t1.stop(signal.SIGTERM)
        t2.stop(signal.SIGTERM)
        w.close()


def test_junk_mail_from_strangers_cannot_hold_back_real_mail():
    """A throwaway key fills a node's mailbox first: the node cannot check
    it (it does not know the key) and deletes it, so the real mail behind
    it arrives and fetches do not come back full for ever (review finding:
    16 stranger items made every fetch return them again, in a tight loop,
    and nothing behind them ever came)."""
    w = Workdir()
    t = Tracker(w.sub("tracker"))
    evil = None
    try:
        a = _node(w, "alice", t)
        _registered(a)
        b = _node(w, "bob", t)
        _registered(b)
        a.wait_peers(b, timeout=15)
        # A key alice never meets (it registers only once she is away, so no
        # notice reaches her), putting junk before the real mail
        evil = TrackerClient(t, name="mallory", source="127.0.0.3")
        evil.ask("lookup name alice", "found")
        a.quit()
        b.wait("peer_left", name="alice")
        evil.ask("register", "registered")
        for i in range(16):
            evil.ask(f"put {a.id[:8]} junk {i}", "stored")
        s = b.ask("/msg alice the real one", "sent")
        assert s["queued"] == "tracker", s
        b.wait("mail_stored", msg_id=s["msg_id"])
        b.quit()
        a = _node(w, "alice", t)         # the same home: the same identity
        m = a.wait("message", text="the real one", timeout=20)
        assert m["msg_id"] == s["msg_id"]
        assert not [x for x in a.find("message") if x["text"].startswith("junk")]
        # All 17 of alice's items were deleted (only alice's receipt to bob,
        # who is away, waits), and fetches stopped: before, every fetch came
        # back full of the same junk, tens of thousands a second
        st = poll_until(lambda: (lambda x: x if x["mail_acked"] >= 17 else None)
                        (evil.ask("status", "stats")), timeout=10, what="17 items deleted")
        assert st["mail_items"] == 1 and st["mail_fetched"] < 100, st
        a.quit()
    finally:
        if evil:
            evil.close()
        t.stop(signal.SIGTERM)
        w.close()


def test_throwaway_keys_a_tracker_names_at_one_address_are_capped():
    """A flood of registrations from one address reaches the node as notices:
    it dials at most 16 unproven newcomers there, without pushing out an
    unproven newcomer from elsewhere, and a real peer still links."""
    w = Workdir()
    t = Tracker(w.sub("tracker"), args=["--keys-per-address", "200", "--register-rate", "1000"])
    evil = other = None
    try:
        a = _node(w, "alice", t)
        _registered(a)
        other = TrackerClient(t, name="other", source="127.0.0.5")     # never links: unproven
        other.ask("register", "registered")
        poll_until(lambda: any(p["id"] == other.id for p in a.ask("/peers", "peers")["peers"]),
                   timeout=10, what="the other newcomer met")
        evil = TrackerClient(t, name="evil", source="127.0.0.3")
        flood = evil.ask("flood 100", "flood", timeout=60)
        assert flood["registered"] == 100, flood
        poll_until(lambda: a.ask("/stats", "stats")["peers_refused"] >= 84, timeout=15,
                   what="newcomers past 16 at one address refused")
        peers = a.ask("/peers", "peers")["peers"]
        assert len(peers) <= 17, len(peers)
        assert any(p["id"] == other.id for p in peers)
        b = _node(w, "bob", t)
        a.wait_peers(b, timeout=15)
        a.quit()
        b.quit()
    finally:
        for c in (evil, other):
            if c:
                c.close()
        t.stop(signal.SIGTERM)
        w.close()


def test_msg_to_a_peer_only_a_tracker_knows_waits_for_its_answer():
    """erin and fay registered (sc-tracker-client: they never link to alice)
    before alice, so no notice told her of them: /msg by name, or by a
    16-digit fingerprint prefix, asks the tracker and the line goes once it
    answers (here to the mailbox: they are not reachable).  A shorter
    prefix is asked but nothing waits on it; a name nobody has gives the
    line back in an error."""
    w = Workdir()
    t = Tracker(w.sub("tracker"))
    erin = fay = None
    try:
        erin = TrackerClient(t, name="erin", source="127.0.0.3")
        erin.ask("register", "registered")
        fay = TrackerClient(t, name="fay", source="127.0.0.4")
        fay.ask("register", "registered")
        a = _node(w, "alice", t)
        _registered(a)
        assert a.ask("/peers", "peers")["peers"] == []
        info = a.ask("/msg erin found you", "info")
        assert "trackers are asked" in info["message"]
        s = a.wait("sent", name="erin", timeout=10)
        assert s["private"] is True and s["queued"] == "tracker", s
        a.wait("mail_stored", msg_id=s["msg_id"])
        got = erin.ask("fetch", "mail")
        assert got["open"] == "ok" and got["text"] == "found you", got
        # a prefix too short to wait on: asked, refused with the reason
        e = a.ask("/msg %s too short" % fay.id[:10].upper(), "error")
        assert "16 hex digits" in e["message"], e
        poll_until(lambda: any(p["id"] == fay.id for p in a.ask("/peers", "peers")["peers"]),
                   timeout=10, what="fay met by the short prefix's lookup")
        a.send("/msg %s now listed" % fay.id[:10])
        s = a.wait("sent", name="fay", timeout=10)
        a.wait("mail_stored", msg_id=s["msg_id"])
        assert fay.ask("fetch", "mail")["text"] == "now listed"
        e = a.ask("/msg nobody are you there", "error", timeout=10)
        assert e["code"] == "no_peer" and "are you there" in e["message"], e
        a.quit()
    finally:
        for c in (erin, fay):
            if c:
                c.close()
        t.stop(signal.SIGTERM)
        w.close()


def test_a_held_prefix_never_goes_to_a_peer_named_like_it():
    """mallory registers with the name that is the prefix of gus's key;
    gus is not there.  A line to that prefix must not go to mallory."""
    w = Workdir()
    t = Tracker(w.sub("tracker"))
    gus = mallory = None
    try:
        gus = TrackerClient(t, name="gus", source="127.0.0.3")
        prefix = gus.id[:16]
        gus.close()
        gus = None
        mallory = TrackerClient(t, name=prefix, source="127.0.0.4")
        mallory.ask("register", "registered")
        a = _node(w, "alice", t)
        _registered(a)
        a.send("/msg %s for gus only" % prefix)
        e = a.wait("error", code="no_peer", timeout=10)
        assert "for gus only" in e["message"], e
        assert not a.find("sent")
        a.quit()
    finally:
        for c in (gus, mallory):
            if c:
                c.close()
        t.stop(signal.SIGTERM)
        w.close()


def test_a_name_claimed_at_a_tracker_does_not_lock_out_its_real_owner():
    """A throwaway key registers 'carol' first (unreachable: it never proves
    its key to alice).  The real carol comes later: alice links to her (the
    claim held no name), and by name carol is ambiguous, not the squatter."""
    w = Workdir()
    t = Tracker(w.sub("tracker"))
    squat = None
    try:
        a = _node(w, "alice", t)
        _registered(a)
        squat = TrackerClient(t, name="carol", source="127.0.0.3")
        squat.ask("register", "registered")
        poll_until(lambda: any(p["id"] == squat.id for p in a.ask("/peers", "peers")["peers"]),
                   timeout=10, what="the claim met")
        c = _node(w, "carol", t)
        a.wait_peers(c, timeout=15)
        assert not [e for e in a.find("warning", code="key_changed") if c.id[:16] in e["message"]]
        e = a.ask("/msg carol which one", "error")
        assert e["code"] == "ambiguous" and c.id[:16] in e["message"], e
        a.send("/msg %s the real one" % c.id[:16])
        c.wait("message", text="the real one")
        a.quit()
        c.quit()
    finally:
        if squat:
            squat.close()
        t.stop(signal.SIGTERM)
        w.close()


def test_a_held_line_waits_for_every_tracker_so_disagreement_refuses_it():
    """carol is at the honest tracker (never linking to alice); a hostile
    tracker answers the same lookup with its own 'carol', a real node that
    links.  The held line waits for both answers, sees two carols, and is
    given back instead of going to whichever answered first."""
    w = Workdir()
    t = Tracker(w.sub("tracker"))
    evil = EvilTracker()
    carol = None
    try:
        carol = TrackerClient(t, name="carol", source="127.0.0.3")
        carol.ask("register", "registered")
        m = Node(w.sub("mallory"), name="carol", args=["--tracker", evil.address])
        evil.wait("registered", timeout=10)
        a = Node(w.sub("alice"), name="alice", args=["--tracker", t.address, "--tracker", evil.address])
        a.wait("tracker_registered", tracker=t.address)
        a.wait("tracker_registered", tracker=evil.address)
        a.send("/msg carol for the real carol")
        e = a.wait("error", code="ambiguous", timeout=15)
        assert "for the real carol" in e["message"] and carol.id[:16] in e["message"], e
        assert not a.find("sent")
        assert not m.find("message")
        m.quit()
        a.quit()
    finally:
        if carol:
            carol.close()
        evil.close()
        t.stop(signal.SIGTERM)
        w.close()
