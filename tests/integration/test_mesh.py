"""The mesh: real nodes on loopback, driven with --json."""
import os
import signal
import socket
import subprocess
import time

from harness import Cluster, Node, Skip, deadline, is_root, poll_until


def _trio(c):
    a = c.start("alice")
    b = c.start("bob", args=["--peer", a.endpoint])
    d = c.start("carol", args=["--peer", a.endpoint, "--peer", b.endpoint])
    a.wait_peers(b, d)
    b.wait_peers(a, d)
    d.wait_peers(a, b)
    return a, b, d


def test_private_message_reaches_only_its_peer_once():
    with Cluster() as c:
        a, b, d = _trio(c)
        a.send("/msg bob private-marker-1")
        sent = a.wait("sent", name="bob")
        assert sent["private"] is True and sent["queued"] is False
        got = b.wait("message", text="private-marker-1")
        assert got["from"] == a.id and got["name"] == "alice"
        assert got["private"] is True and got["msg_id"] == sent["msg_id"]
        a.wait("delivered", msg_id=sent["msg_id"], to=b.id)
        # A later broadcast from alice reaches carol: by then the private one
        # would have too, had it been sent to her
        a.send("after-marker")
        d.wait("message", text="after-marker")
        b.wait("message", text="after-marker")
        assert d.find("message", text="private-marker-1") == []
        assert len(b.find("message", text="private-marker-1")) == 1


def test_plain_line_reaches_every_peer_with_receipts():
    with Cluster() as c:
        a, b, d = _trio(c)
        b.send("hello everyone, from bob")
        for n in (a, d):
            m = n.wait("message", text="hello everyone, from bob")
            assert m["private"] is False and m["from"] == b.id
        # bob's own lines may come after the peers already have the message
        b.wait("sent", pred=lambda e: len(b.find("sent")) >= 2)
        sent = b.find("sent")
        assert sorted(s["to"] for s in sent) == sorted([a.id, d.id]), sent
        for s in sent:
            b.wait("delivered", msg_id=s["msg_id"])
        assert len(a.find("message", text="hello everyone, from bob")) == 1


def test_killed_peer_is_shown_left_and_rejoins():
    with Cluster() as c:
        a = c.start("alice")
        b = c.start("bob", args=["--peer", a.endpoint])
        a.wait_peers(b)
        b.wait_peers(a)
        b.kill()
        left = a.wait("peer_left", id=b.id, timeout=15)
        assert left["name"] == "bob"
        # Typed while bob is away: queued, never dropped
        a.send("/msg bob while-you-were-away")
        assert a.wait("sent", name="bob")["queued"] is True
        b2 = c.start("bob", args=["--peer", a.endpoint])
        assert b2.id == b.id, "same home, same identity"
        a.wait("peer_joined", id=b.id, pred=lambda e: e is not a.find("peer_joined")[0])
        b2.wait("message", text="while-you-were-away", timeout=15)
        a.send("/msg bob welcome-back")
        b2.wait("message", text="welcome-back")
        b2.send("/msg alice thanks")
        a.wait("message", text="thanks", **{"from": b.id})


def test_bye_is_shown_at_once():
    with Cluster() as c:
        a = c.start("alice")
        b = c.start("bob", args=["--peer", a.endpoint])
        a.wait_peers(b)
        b.quit()
        assert a.wait("peer_left", id=b.id, timeout=3)["reason"] == "quit"


def test_garbage_and_plain_zmq_clients_are_refused():
    try:
        import zmq
    except ImportError:
        raise Skip("python3-zmq is not installed")
    with Cluster() as c:
        a = c.start("alice")
        b = c.start("bob", args=["--peer", a.endpoint])
        a.wait_peers(b)
        # Raw garbage on the TCP port
        for payload in (os.urandom(4096), b"\xff" + b"\x00" * 8 + b"\x7f\x03\x00NULL" + b"\x00" * 48,
                        b"GET / HTTP/1.0\r\n\r\n"):
            s = socket.create_connection(("127.0.0.1", a.port))
            s.sendall(payload)
            s.settimeout(2)
            try:
                while s.recv(4096):
                    pass
            except (socket.timeout, ConnectionResetError):
                pass
            s.close()
        # UDP garbage and a truncated request on the record port
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for payload in (os.urandom(512), b"SCRQ\x01", b"SCPR" + os.urandom(173)):
            u.sendto(payload, ("127.0.0.1", a.port))
        # A plain ZeroMQ client (NULL security) gets nothing through
        ctx = zmq.Context()
        plain = ctx.socket(zmq.DEALER)
        plain.setsockopt(zmq.LINGER, 0)
        plain.connect(a.endpoint)
        plain.send(b"\x93\x01\x03\xc4\x01x")
        # A CURVE client with a key alice never met: non-HELLO frames dropped
        pub, sec = zmq.curve_keypair()
        import zmq.utils.z85
        srv = bytes.fromhex(_box_key(a))
        curve = ctx.socket(zmq.DEALER)
        curve.setsockopt(zmq.LINGER, 0)
        curve.curve_publickey, curve.curve_secretkey = pub, sec
        curve.curve_serverkey = zmq.utils.z85.encode(srv)
        curve.connect(a.endpoint)
        curve.send(b"\x93\x01\x03\xc4\x01x")
        # ... and a HELLO carrying bob's record on another key
        curve.send(b"\x93\x01\x01\xc4\xb1" + _record_of(b))
        assert plain.poll(500) == 0
        plain.close()
        curve.close()
        ctx.term()
        # alice still serves bob
        b.send("/msg alice still-working")
        a.wait("message", text="still-working")
        peers = a.ask("/peers", "peers")["peers"]
        assert [p["id"] for p in peers] == [b.id], peers


def _box_key(node):
    """The X25519 key from the node's identity file (bytes 38..70)."""
    with open(os.path.join(node.home, "identity"), "rb") as f:
        return f.read()[38:70].hex()


def _record_of(node):
    """Asks the node's record port for its signed record."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(5)
    u.sendto(b"SCRQ\x01" + b"\x00" * 175, ("127.0.0.1", node.port))
    data, _ = u.recvfrom(1024)
    assert len(data) == 177 and data[:4] == b"SCPR"
    return data


def test_record_request_never_amplifies():
    with Cluster() as c:
        a = c.start("alice")
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(1)
        # Short requests get no answer at all
        u.sendto(b"SCRQ\x01", ("127.0.0.1", a.port))
        try:
            data = u.recv(1024)
            raise AssertionError("answered a short request with %d bytes" % len(data))
        except socket.timeout:
            pass
        data = _record_of(a)
        assert len(data) <= 180


def test_capture_holds_no_plaintext():
    if not is_root():
        raise Skip("needs root to capture on lo")
    if not os.path.exists("/usr/bin/tcpdump"):
        raise Skip("tcpdump is not installed")
    with Cluster() as c:
        a = c.start("alice")
        b = c.start("bob", args=["--peer", a.endpoint])
        a.wait_peers(b)
        pcap = c.dir.sub("lo.pcap")
        cap = subprocess.Popen(["tcpdump", "-Z", "root", "--immediate-mode", "-i", "lo", "-U", "-w", pcap, "-s", "0",
                                "tcp port %d or tcp port %d" % (a.port, b.port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # tcpdump says "listening on" once the capture runs
        line = cap.stderr.readline().decode()
        assert "listening" in line, line
        a.send("/msg bob PLAINTEXT-MARKER-private")
        b.wait("message", text="PLAINTEXT-MARKER-private")
        b.send("PLAINTEXT-MARKER-broadcast")
        a.wait("message", text="PLAINTEXT-MARKER-broadcast")
        a.wait("delivered")
        b.wait("delivered")
        # the file grows as packets are written (-U)
        poll_until(lambda: cap.poll() is not None or os.path.getsize(pcap) >= 2000,
                   timeout=10, every=0.05, what="the capture's packets on disk")
        cap.terminate()
        cap.wait(10)
        with open(pcap, "rb") as f:
            data = f.read()
        assert len(data) > 2000, "the capture saw the traffic (%d bytes)" % len(data)
        assert b"PLAINTEXT-MARKER" not in data
        assert b"alice" not in data and b"bob" not in data, "names travel only inside CURVE"


def test_changed_key_for_known_name_is_refused_by_name():
    with Cluster() as c:
        a = c.start("alice")
        b = c.start("bob", args=["--peer", a.endpoint])
        a.wait_peers(b)
        b.quit()
        a.wait("peer_left", id=b.id)
        # Another identity, same name
        evil = c.start("bob", home="evil", args=["--peer", a.endpoint])
        assert evil.id != b.id
        a.wait("peer_joined", id=evil.id)
        w = a.wait("warning", code="key_changed")
        assert evil.id[:16] in w["message"]
        a.send("/msg bob are-you-bob")
        err = a.wait("error", pred=lambda e: e["code"] in ("key_changed", "ambiguous"))
        assert "fingerprint" in err["message"]
        assert evil.find("message", text="are-you-bob") == []
        # By fingerprint prefix it works
        a.send("/msg %s hello-by-prefix" % evil.id[:12])
        evil.wait("message", text="hello-by-prefix")


def test_verify_shows_safety_numbers_and_persists():
    with Cluster() as c:
        a = c.start("alice")
        b = c.start("bob", args=["--peer", a.endpoint])
        a.wait_peers(b)
        a.send("/verify bob")
        v = a.wait("verify")
        assert v["safety"] == b.safety and v["own_safety"] == a.safety
        assert v["verified"] is False
        a.send("/verify bob yes")
        assert a.wait("verify", verified=True)["id"] == b.id
        assert a.ask("/peers", "peers")["peers"][0]["verified"] is True
        a.quit()
        a2 = c.start("alice", args=["--peer", b.endpoint])
        j = a2.wait("peer_joined", id=b.id)
        assert j["verified"] is True


def test_pinned_peer_key():
    with Cluster() as c:
        a = c.start("alice")
        wrong = "ab" * 32
        b = c.start("bob", args=["--peer", "%s@%s" % (wrong, a.endpoint)])
        e = b.wait("error", code="pin_mismatch")
        assert a.id[:16] in e["message"]
        assert b.find("peer_joined") == []
        d = c.start("carol", args=["--peer", "%s@%s" % (a.id, a.endpoint)])
        j = d.wait("peer_joined", id=a.id)
        assert j["verified"] is True


def test_history_is_kept_encrypted():
    with Cluster() as c:
        a = c.start("alice")
        b = c.start("bob", args=["--peer", a.endpoint])
        a.wait_peers(b)
        a.send("/msg bob HISTORY-MARKER-one")
        b.wait("message", text="HISTORY-MARKER-one")
        b.send("/msg alice HISTORY-MARKER-two")
        a.wait("message", text="HISTORY-MARKER-two")
        entries = a.ask("/history bob", "history")["entries"]
        assert [(e["dir"], e["text"]) for e in entries] == [
            ("out", "HISTORY-MARKER-one"), ("in", "HISTORY-MARKER-two")]
        with open(os.path.join(a.home, "history"), "rb") as f:
            raw = f.read()
        assert len(raw) > 100 and b"HISTORY-MARKER" not in raw
        assert os.stat(os.path.join(a.home, "history")).st_mode & 0o077 == 0


def test_bad_commands_get_clear_errors():
    with Cluster() as c:
        a = c.start("alice")
        a.send("/frobnicate")
        assert "unknown command" in a.wait("error", code="invalid")["message"]
        a.send("/msg nobody hi")
        assert "nobody" in a.wait("error", code="no_peer")["message"]
        a.send("/msg")
        assert "usage" in a.wait("error", pred=lambda e: "/msg PEER TEXT" in e["message"])["message"]
        a.send("hello?")
        a.wait("warning", code="no_peers")
        a.send("/help")
        assert "/msg PEER TEXT" in a.wait("info")["message"]
        a.send("/whoami")
        w = a.wait("whoami")
        assert w["id"] == a.id and w["address"].startswith(a.id + "@tcp://")


def test_invalid_utf8_and_control_bytes_are_carried_safely():
    with Cluster() as c:
        a = c.start("alice")
        b = c.start("bob", args=["--peer", a.endpoint])
        a.wait_peers(b)
        a.proc.stdin.write(b"/msg bob bad\xff\xfeutf8 \x1b[2J end\n")
        a.proc.stdin.flush()
        m = b.wait("message", pred=lambda e: e["text"].startswith("bad"))
        assert m["text"] == "bad\ufffd\ufffdutf8 \x1b[2J end"
        assert all(e["event"] != "_not_json" for e in b.events)


def test_outbox_is_bounded_by_bytes_and_delivers_exactly_once_on_return():
    """The outbox to a peer that is away holds 8 MiB (each message counts
    its text and 64 bytes), refuses what would go past that with a true
    sentence, and delivers what it held once, in order, on return."""
    with Cluster() as c:
        a = c.start("alice")
        b = c.start("bob", args=["--peer", a.endpoint])
        a.wait_peers(b)
        b.kill()
        a.wait("peer_left", id=b.id, timeout=15)
        fit = (8 << 20) // (4000 + 64)
        texts = ["queued-%04d %s" % (i, "q" * 3988) for i in range(fit)]
        _burst(a, ["/msg bob " + t for t in texts] + ["/msg bob one-too-many " + "z" * 3987])
        err = a.wait("error", code="queue_full")
        assert "outbox to bob is full" in err["message"], err
        assert "%d messages" % fit in err["message"] and "bob is away" in err["message"], err
        _wait_count(a, "sent", fit, 10)
        assert all(s["queued"] is True for s in a.find("sent"))
        assert len(a.find("error")) == 1
        b2 = c.start("bob", args=["--peer", a.endpoint])
        _wait_count(b2, "message", fit, 60)
        _wait_count(a, "delivered", fit, 60)
        got = [e["text"] for e in b2.find("message")]
        assert got == texts, [(i, t[:11]) for i, t in enumerate(got) if t != texts[i]][:10]


def test_outbox_to_a_stalled_peer_fills_then_delivers_once_in_order():
    """bob stops (SIGSTOP) with the link up: alice's window fills, then her
    outbox; the refusal says whether bob was still online or had been
    given up by then, and once bob runs again every message arrives once,
    in order."""
    with Cluster(discovery=False) as c:
        a = c.start("alice")
        b = c.start("bob", args=["--peer", a.endpoint])
        a.wait_peers(b)
        b.wait_peers(a)
        fit = (8 << 20) // (4000 + 64)
        texts = ["stalled-%04d %s" % (i, "s" * 3987) for i in range(fit)]
        b.proc.send_signal(signal.SIGSTOP)
        try:
            _burst(a, ["/msg bob " + t for t in texts] + ["/msg bob one-too-many " + "z" * 3987])
            err = a.wait("error", code="queue_full")
        finally:
            b.proc.send_signal(signal.SIGCONT)
        before = a.events[:a.events.index(err)]
        away = [e["event"] for e in before if e["event"] in ("peer_left", "peer_joined")][-1:] \
            == ["peer_left"]
        assert "outbox to bob is full" in err["message"], err
        assert ("bob is away" if away else "bob is online") in err["message"], err
        assert len(a.find("error")) == 1
        _wait_count(b, "message", fit, 60)
        _wait_count(a, "delivered", fit, 60)
        got = [e["text"] for e in b.find("message")]
        assert got == texts, [(i, t[:12]) for i, t in enumerate(got) if t != texts[i]][:10]


def test_a_slow_reader_does_not_stall_the_node():
    """alice's script reads nothing while bob sends 600 messages (far more
    than a pipe holds): alice keeps serving the mesh, bob gets every receipt
    and never sees her leave, and no event is lost when the script reads."""
    import json
    from harness import NODE
    with Cluster(discovery=False) as c:
        alice = subprocess.Popen([NODE, "--json", "--no-discovery", "--home", c.dir.sub("alice"),
                                  "--name", "alice"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            ready = json.loads(alice.stdout.readline())
            b = c.start("bob", args=["--peer", "tcp://127.0.0.1:%d" % ready["port"]])
            b.wait("peer_joined", id=ready["id"])
            # In batches, each waiting for its receipts
            for batch in range(6):
                for i in range(batch * 100, batch * 100 + 100):
                    b.send("/msg alice filler-%04d %s" % (i, "x" * 300))
                b.wait("delivered", timeout=30,
                       pred=lambda e, n=batch * 100 + 100: len(b.find("delivered")) >= n)
            assert b.find("peer_left") == []
            alice.stdin.close()
            events = [json.loads(l) for l in alice.stdout.read().splitlines()]
            texts = [e["text"][:11] for e in events if e["event"] == "message"]
            assert texts == ["filler-%04d" % i for i in range(600)], len(texts)
            assert alice.wait(10) == 0
        finally:
            if alice.poll() is None:
                alice.kill()


BURST = 5000


def _wait_count(node, event, n, timeout, **fields):
    """Waits until n events match (each event is looked at once)."""
    seen = [0]

    def counted(e):
        seen[0] += 1
        return seen[0] >= n
    return node.wait(event, timeout=timeout, pred=counted, **fields)


def _burst(node, lines):
    """Writes every line to the node's stdin in one go, as a paste or a
    script would."""
    node.proc.stdin.write("".join(l + "\n" for l in lines).encode())
    node.proc.stdin.flush()


def _check_burst(sender, receivers, texts):
    """Every text reached every receiver exactly once and in order, and
    the sender has a receipt for each copy it sent."""
    total = len(texts) * len(receivers)
    count = [0]

    def sent_or_refused(e):
        count[0] += e["event"] == "sent"
        return e["event"] == "error" or count[0] >= total
    sender.wait(None, timeout=60, pred=sent_or_refused)
    assert sender.find("error") == [], sender.find("error")[:3]
    sent = sender.find("sent")
    for r in receivers:
        _wait_count(r, "message", len(texts), 120, **{"from": sender.id})
    _wait_count(sender, "delivered", total, 120)
    for r in receivers:
        mine = [s for s in sent if s["to"] == r.id]
        got = r.find("message", **{"from": sender.id})
        assert [m["text"] for m in got] == texts, ("out of order or duplicated at %s: %s" % (
            r.name, [(i, m["text"][:9]) for i, m in enumerate(got) if m["text"] != texts[i]][:10]))
        assert [m["msg_id"] for m in got] == [s["msg_id"] for s in mine]
        assert all(s["queued"] is False for s in mine)
        delivered = sender.find("delivered", to=r.id)
        assert sorted(d["msg_id"] for d in delivered) == sorted(s["msg_id"] for s in mine)


def test_a_burst_of_5000_private_messages_arrives_once_in_order():
    with Cluster(discovery=False) as c:
        a = c.start("alice")
        b = c.start("bob", args=["--peer", a.endpoint])
        a.wait_peers(b)
        b.wait_peers(a)
        texts = ["burst-%04d %s" % (i, "y" * (i % 97)) for i in range(BURST)]
        _burst(a, ["/msg bob " + t for t in texts])
        _check_burst(a, [b], texts)
        assert a.find("peer_left") == [] and b.find("peer_left") == []


def test_5000_lines_to_everyone_in_a_mesh_of_three_arrive_once_in_order():
    with Cluster() as c:
        a, b, d = _trio(c)
        texts = ["line-%04d to all" % i for i in range(BURST)]
        _burst(a, texts)
        _check_burst(a, [b, d], texts)


def test_a_flood_of_record_requests_cannot_starve_a_peer_address():
    """One source floods alice's record port; bob's --peer still gets
    alice's record, within the flood."""
    import threading
    with Cluster(discovery=False) as c:
        a = c.start("alice")
        stop = threading.Event()
        sent = [0]

        def flood():
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind(("127.0.0.2", 0))
            u.setblocking(False)
            req = b"SCRQ\x01" + bytes(175)
            while not stop.is_set():
                for _ in range(100):
                    try:
                        u.sendto(req, ("127.0.0.1", a.port))
                        sent[0] += 1
                    except BlockingIOError:
                        pass
                    try:
                        while u.recv(512):
                            pass
                    except BlockingIOError:
                        pass
        t = threading.Thread(target=flood, daemon=True)
        t.start()
        try:
            poll_until(lambda: a.ask("/stats", "stats")["udp_dropped"] > 300,
                       what="the flood under way")
            b = c.start("bob", args=["--peer", a.endpoint])
            b.wait("peer_joined", id=a.id, timeout=10)
            assert not stop.is_set()
        finally:
            stop.set()
            t.join(5)
        print("    flood: %d requests from one source meanwhile" % sent[0])


def _hello_flood(target, count, source="127.0.0.2", server_key=None):
    """count throwaway identities, each completing a CURVE handshake with
    target from `source` and saying HELLO, as anyone can.  Returns their
    sockets (close them with the context)."""
    import zmq
    from harness import BUILD, ROOT
    out = subprocess.run([os.path.join(ROOT, BUILD, "sc-forge"), str(count), "9", "0", "-", "secret"],
                         check=True, stdout=subprocess.PIPE).stdout
    server_key = server_key or _record_of(target)[40:72]
    ctx = zmq.Context()
    socks = []
    for i in range(count):
        rec, secret = out[i * 209:i * 209 + 177], out[i * 209 + 177:(i + 1) * 209]
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.CURVE_SERVERKEY, server_key)
        s.setsockopt(zmq.CURVE_PUBLICKEY, rec[40:72])
        s.setsockopt(zmq.CURVE_SECRETKEY, secret)
        s.connect("tcp://%s:0;127.0.0.1:%d" % (source, target.port))
        # [1, HELLO, record, session, seen] in msgpack
        s.send(b"\x95\x01\x01\xc4\xb1" + rec + b"\xcf" + os.urandom(8) + b"\x00")
        socks.append(s)
    return ctx, socks


def test_throwaway_keys_by_hello_cannot_fill_the_peer_table():
    with Cluster(discovery=False) as c:
        a = c.start("alice")
        ctx, socks = _hello_flood(a, 200)
        try:
            # At most PEERS_PER_ADDR (64) of them from that one address
            poll_until(lambda: a.ask("/stats", "stats")["peers_refused"] >= 100,
                       what="the flood refused")
            stats = a.ask("/stats", "stats")
            assert stats["peers"] <= 64, stats
            # A real newcomer (from another address) still links and chats
            b = c.start("bob", args=["--peer", a.endpoint])
            b.wait("peer_joined", id=a.id)
            b.send("/msg alice through-the-flood")
            a.wait("message", text="through-the-flood")
        finally:
            ctx.destroy(linger=0)
        # Refused keys are not pinned for good: known_peers holds the admitted
        import json
        path = os.path.join(a.home, "known_peers.json")
        poll_until(lambda: os.path.exists(path), what="known_peers.json saved")
        with open(path) as f:
            assert len(json.load(f)["peers"]) <= 64 + 1


def test_a_full_table_of_throwaway_keys_makes_room_for_a_verified_friend():
    """16 addresses x 64 throwaway keys fill alice's 1,024 peers; ben, whom
    alice verified in an earlier run, still gets in (one of them goes)."""
    with Cluster(discovery=False) as c:
        a = c.start("alice")
        b = c.start("ben", args=["--peer", a.endpoint])
        a.wait_peers(b)
        a.ask("/verify ben yes", "verify")
        b.quit()
        a.quit()
        a = c.start("alice", home="alice")
        ctxs = []
        key = _record_of(a)[40:72]
        try:
            for k in range(16):       # (the sockets must stay referenced)
                ctxs.append(_hello_flood(a, 64, source="127.0.1.%d" % (k + 1), server_key=key))
            poll_until(lambda: a.ask("/stats", "stats")["peers"] >= 1024, timeout=30,
                       what="alice's table full")
            b = c.start("ben", home="ben", args=["--peer", a.endpoint])
            b.wait("peer_joined", id=a.id, timeout=10)
            a.wait("peer_joined", id=b.id, timeout=10)
            left = a.find("peer_left", reason="evicted")
            assert len(left) == 1, left
        finally:
            for ctx, _ in ctxs:
                ctx.destroy(linger=0)
