"""Nodes whose tracker is hostile (sc-evil-tracker, tests/integration/
evil_tracker.c): it names peers at addresses that are not numeric, floods
notices of throwaway keys, claims a known name for another key, replays a
mailbox copy under new item ids and sends malformed frames.  The node
drops and counts what it cannot check, keeps the keys it knows, shows a
message once, never answers a replay with new mail, and goes on chatting."""
from harness import EvilTracker, Node, Skip, Workdir, poll_until


def _node(w, name, t, **kw):
    return Node(w.sub(name), name=name, args=["--tracker", t.address], **kw)


def _registered(node, t, name):
    node.wait("tracker_registered", timeout=10)
    t.wait("registered", name=name)


def _stats(node):
    return node.ask("/stats", "stats")


def _pair(w, t):
    """alice and bob registered at t, introduced by it and linked."""
    a = _node(w, "alice", t)
    _registered(a, t, "alice")
    b = _node(w, "bob", t)
    _registered(b, t, "bob")
    t.ask("introduce", "introduced")
    a.wait_peers(b, timeout=15)
    b.wait_peers(a, timeout=15)
    return a, b


def _chat(a, b, text):
    a.send(f"/msg bob {text}")
    m = b.wait("message", text=text, timeout=10)
    a.wait("delivered", msg_id=m["msg_id"], timeout=10)


def test_a_peer_at_an_address_that_is_not_one_numeric_host_is_dropped():
    """An entry naming evil.example would make ZeroMQ ask DNS on a tracker's
    word: it is dropped and counted; a numeric one is met as usual."""
    w = Workdir()
    t = EvilTracker()
    try:
        a = _node(w, "alice", t)
        _registered(a, t, "alice")
        t.ask("notice carol evil.example", "notice")
        poll_until(lambda: _stats(a)["bad_frames"] >= 1, timeout=5, what="the entry counted")
        assert a.ask("/peers", "peers")["peers"] == []
        # nor any address that is not one host: unspecified, broadcast,
        # multicast (loopback is taken here: this tracker is on loopback)
        bad = ("0.0.0.0", "255.255.255.255", "224.0.0.1", "::", "ff02::1",
               "::ffff:0.0.0.0", "::ffff:255.255.255.255", "::ffff:7f00:1")
        for i, addr in enumerate(bad):
            t.ask("notice x%d %s" % (i, addr), "notice")
        poll_until(lambda: _stats(a)["bad_frames"] >= 1 + len(bad), timeout=5,
                   what="the entries counted")
        n = t.ask("notice dave 127.0.0.9", "notice")
        peers = poll_until(lambda: a.ask("/peers", "peers")["peers"], timeout=5, what="dave met")
        assert [(p["name"], p["id"], p["via"]) for p in peers] == [("dave", n["id"], "tracker")]
        assert _stats(a)["bad_frames"] == 1 + len(bad)
        a.quit()
    finally:
        assert t.close() == 0
        w.close()


def _own_address():
    """The machine's first non-loopback IPv4 address, or None."""
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))          # no packet: picks the source address
        addr = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if addr.startswith("127.") else addr


def test_a_tracker_off_loopback_cannot_send_the_node_to_loopback():
    """A tracker reached on the machine's real address naming a peer at
    127.0.0.1 would point the node at its own host's local services."""
    host = _own_address()
    if not host:
        raise Skip("no non-loopback IPv4 address here")
    w = Workdir()
    t = EvilTracker(bind=host)
    try:
        a = _node(w, "alice", t)
        _registered(a, t, "alice")
        t.ask("notice svc 127.0.0.1", "notice")
        t.ask("notice svc6 ::ffff:127.0.0.1", "notice")
        poll_until(lambda: _stats(a)["bad_frames"] >= 2, timeout=5, what="the entries counted")
        n = t.ask("notice dave %s" % host, "notice")
        peers = poll_until(lambda: a.ask("/peers", "peers")["peers"], timeout=5, what="dave met")
        assert [p["id"] for p in peers] == [n["id"]]
        a.quit()
    finally:
        assert t.close() == 0
        w.close()


def test_a_flood_of_notices_at_many_addresses_is_capped():
    """100 throwaway keys, each at an address of its own: the node holds at
    most 64 unproven peers (the oldest go), and a real peer still links."""
    w = Workdir()
    t = EvilTracker()
    try:
        a = _node(w, "alice", t)
        _registered(a, t, "alice")
        t.ask("noticeflood 100", "noticeflood", timeout=20)
        st = poll_until(lambda: (lambda s: s if s["peers_refused"] >= 36 else None)(_stats(a)),
                        timeout=10, what="newcomers past 64 unproven dropped")
        assert st["peers"] <= 64, st
        assert len(a.ask("/peers", "peers")["peers"]) <= 64
        b = _node(w, "bob", t)
        _registered(b, t, "bob")
        t.ask("introduce", "introduced")
        a.wait_peers(b, timeout=15)
        _chat(a, b, "through the flood")
        a.quit()
        b.quit()
    finally:
        assert t.close() == 0
        w.close()


def test_a_claim_of_a_known_name_for_another_key_is_refused():
    w = Workdir()
    t = EvilTracker()
    try:
        a, b = _pair(w, t)
        c = t.ask("claim bob", "claim")
        warn = a.wait("warning", code="key_changed", timeout=10)
        assert "never overrides" in warn["message"] and c["id"][:16] in warn["message"]
        peers = a.ask("/peers", "peers")["peers"]
        assert [p["id"] for p in peers] == [b.id]
        assert a.ask("/trackers", "trackers")["key_changed"] >= 1
        _chat(a, b, "still the real bob")
        a.quit()
        b.quit()
    finally:
        assert t.close() == 0
        w.close()


def test_a_replayed_mailbox_copy_is_shown_once_and_not_answered_by_mail():
    """The tracker hands bob alice's envelope, then the same envelope 5 more
    times under new item ids: bob shows it once, deletes every copy, and
    leaves one receipt (for the real delivery), not one per replay."""
    w = Workdir()
    t = EvilTracker()
    try:
        a, b = _pair(w, t)
        b.quit()
        a.wait("peer_left", name="bob")
        s = a.ask("/msg bob sealed for later", "sent")
        assert s["queued"] == "tracker", s
        a.wait("mail_stored", msg_id=s["msg_id"])
        a.quit()                        # no link: a receipt can only go by mail
        b = _node(w, "bob", t)
        m = b.wait("message", text="sealed for later", timeout=15)
        assert m["mailbox"] is True and m["msg_id"] == s["msg_id"]
        t.wait("put", **{"from": "bob", "to": "alice"}, timeout=10)     # its receipt
        t.wait("ack", **{"from": "bob", "msg_id": s["msg_id"]})
        r = t.ask("replay 5", "replay", to="bob", count=5)
        # Every copy acknowledged (deleted): a put it made would have come
        # before its ack, on the same link
        for mid in r["ids"]:
            t.wait("ack", **{"from": "bob", "msg_id": mid}, timeout=10)
        assert [x["text"] for x in b.find("message")] == ["sealed for later"]
        puts = t.find("put", **{"from": "bob"})
        assert len(puts) == 1, ("receipts left by mail", len(puts), puts)
        b.quit()
    finally:
        assert t.close() == 0
        w.close()


def test_malformed_frames_are_counted_and_chat_goes_on():
    w = Workdir()
    t = EvilTracker()
    try:
        a, b = _pair(w, t)
        g = t.ask("garbage", "garbage")
        assert g["links"] == 2
        per_node = g["expect_bad"] // 2
        # the junk mail after them, from a key nobody knows, is deleted
        # unread: once it is acked every frame before it was handled
        for n in ("alice", "bob"):
            t.wait("ack", pred=lambda e, n=n: e["from"] == n and len(e["sender"]) == 64, timeout=10)
        for node in (a, b):
            st = _stats(node)
            assert st["bad_frames"] == per_node, (node.name, st["bad_frames"], per_node)
            assert [p["name"] for p in node.ask("/peers", "peers")["peers"]] in (["alice"], ["bob"])
            assert not node.find("message")
            tr = node.ask("/trackers", "trackers")["trackers"]
            assert tr[0]["state"] == "registered" and tr[0]["linked"], tr
        _chat(a, b, "after the garbage")
        a.quit()
        b.quit()
    finally:
        assert t.close() == 0
        w.close()


def test_a_mailbox_copy_replayed_after_a_restart_is_not_shown_or_answered():
    """The same replay once bob has restarted: what he showed is kept on
    disk (mail_seen, and the opener's replay state), so the copies are
    neither shown again nor answered with new mail."""
    w = Workdir()
    t = EvilTracker()
    try:
        a, b = _pair(w, t)
        b.quit()
        a.wait("peer_left", name="bob")
        s = a.ask("/msg bob before the restart", "sent")
        a.wait("mail_stored", msg_id=s["msg_id"])
        a.quit()
        b = _node(w, "bob", t)
        b.wait("message", text="before the restart", timeout=15)
        t.wait("ack", **{"from": "bob", "msg_id": s["msg_id"]})
        b.quit()
        b = _node(w, "bob", t)
        _registered(b, t, "bob")
        puts = len(t.find("put", **{"from": "bob"}))
        r = t.ask("replay 5", "replay", to="bob", count=5)
        for mid in r["ids"]:
            t.wait("ack", **{"from": "bob", "msg_id": mid}, timeout=10)
        assert not b.find("message")
        assert len(t.find("put", **{"from": "bob"})) == puts, t.events
        b.quit()
    finally:
        assert t.close() == 0
        w.close()
