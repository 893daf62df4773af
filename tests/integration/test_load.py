"""Flow control under load: transfers at full speed into one node while
chat goes on, never stalling, never losing or doubling a message.

`make soak` runs the same load with larger files and more rounds
(SC_LOAD_MIB, SC_LOAD_ROUNDS)."""
import hashlib
import os

from harness import Cluster, is_root, poll_until
from netlab import Lab

MIB = 1024 * 1024
SIZE = int(os.environ.get("SC_LOAD_MIB", "64")) * MIB
ROUNDS = int(os.environ.get("SC_LOAD_ROUNDS", "3"))
CHATS = 50


def _sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _random_file(path, size):
    # Random blocks, each distinct, without paying for size bytes of urandom
    seed = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for i in range(size // (1 << 20)):
            f.write(hashlib.sha256(seed + i.to_bytes(8, "little")).digest() * 32768)
        f.write(os.urandom(size % (1 << 20)))
    return path


def _texts(node, sender_id, prefix):
    return [e["text"] for e in node.find("message", **{"from": sender_id})
            if e["text"].startswith(prefix)]


def test_three_unthrottled_transfers_into_one_node_while_chatting():
    """Three nodes met by discovery: /send from alice, /get from bob, /send
    from bob, all into carol at once, with 50 private messages each way
    between carol and each sender; three rounds.  Every transfer completes
    with the right hash, every message arrives exactly once, in order."""
    # As users run it: one machine with a LAN address besides loopback and
    # discovery on its defaults (a host of our own in a namespace); without
    # root, beacons on loopback only
    lab = Lab("load") if is_root() else None
    try:
        where = {}
        if lab:
            lab.bridge("br0")
            where = {"netns": lab.host("m", "br0", "10.203.0.1/24"), "discovery": "all"}
        else:
            print("    (not root: discovery on loopback only, not on a LAN address)")
        _load(where)
    finally:
        if lab:
            lab.close()


def _load(where):
    with Cluster() as c:
        dl = {n: c.dir.sub("dl-" + n) for n in ("alice", "bob", "carol")}
        nodes = [c.start(n, args=["--downloads", dl[n], "--accept", "known"], **where)
                 for n in ("alice", "bob", "carol")]
        alice, bob, carol = nodes
        for n in nodes:
            n.wait_peers(*[o for o in nodes if o is not n], timeout=15)
        for r in range(ROUNDS):
            src = {k: _random_file(c.dir.sub("r%d-%s.bin" % (r, k)), SIZE + 1000 * r + i)
                   for i, k in enumerate(("a", "bget", "bsend"))}
            bob.send("/share " + src["bget"])
            bob.wait("shared", name=os.path.basename(src["bget"]))
            alice.send("/send carol " + src["a"])
            carol.send("/get bob " + os.path.basename(src["bget"]))
            bob.send("/send carol " + src["bsend"])
            tag = "r%d-" % r
            for i in range(CHATS):
                alice.send("/msg carol %sa2c-%03d" % (tag, i))
                bob.send("/msg carol %sb2c-%03d" % (tag, i))
                carol.send("/msg alice %sc2a-%03d" % (tag, i))
                carol.send("/msg bob %sc2b-%03d" % (tag, i))
            for k, path in src.items():
                done = carol.wait("transfer", state="done", direction="in",
                                  name=os.path.basename(path), timeout=120)
                assert _sha(done["path"]) == _sha(path), "%s arrived damaged" % k
                os.unlink(done["path"])
            for node, sender, prefix in ((carol, alice, tag + "a2c-"), (carol, bob, tag + "b2c-"),
                                         (alice, carol, tag + "c2a-"), (bob, carol, tag + "c2b-")):
                want = ["%s%03d" % (prefix, i) for i in range(CHATS)]
                got = poll_until(lambda: len(_texts(node, sender.id, prefix)) >= CHATS and
                                 _texts(node, sender.id, prefix), timeout=60,
                                 what="%d messages %s" % (CHATS, prefix))
                assert got == want, "%s: lost, doubled or out of order" % prefix
            for k, path in src.items():
                os.unlink(path)
        for n in nodes:
            assert not n.find("transfer", state="failed"), n.find("transfer", state="failed")
