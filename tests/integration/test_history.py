"""The chat history at its limits: a log far larger than a node would keep now
(written before the bound existed) is shown from its end, at once."""
import ctypes
import ctypes.util
import hashlib
import os
import struct
import subprocess

from harness import NODE, Node, Skip, Workdir

# Far past the 256 MiB that /history could once load (it then showed nothing),
# as a sparse start: the node must not need to read it
OLD_BYTES = 300 * 1024 * 1024


def _sodium():
    name = ctypes.util.find_library("sodium")
    if not name:
        raise Skip("libsodium not found for ctypes")
    lib = ctypes.CDLL(name)
    if lib.sodium_init() < 0:
        raise Skip("sodium_init failed")
    return lib


def _history_key(home):
    """identity_derive_key (id, "history_"): crypto_kdf (BLAKE2b) from the
    Ed25519 seed of a plain identity file (offset 134, see identity.h)."""
    with open(os.path.join(home, "identity"), "rb") as f:
        data = f.read()
    assert data[:4] == b"SCID" and data[5] == 0, "a plain identity"
    seed = data[134:166]
    return hashlib.blake2b(b"", digest_size=32, key=seed, salt=struct.pack("<Q", 1) + bytes(8),
                           person=b"history_" + bytes(8)).digest()


def _record(lib, key, text):
    """length (4, big-endian) || nonce (24) || secretbox (text)."""
    nonce = os.urandom(24)
    plain = text.encode()
    box = ctypes.create_string_buffer(len(plain) + 16)
    assert lib.crypto_secretbox_easy(box, plain, ctypes.c_ulonglong(len(plain)), nonce, key) == 0
    body = nonce + box.raw
    return struct.pack(">I", len(body)) + body


def _entry(n, peer):
    return ('{"ts":%d,"time":"2026-01-01 10:00","dir":"in","peer":"%s","name":"old",'
            '"text":"OLD-%05d","private":true,"msg_id":"%032x"}' % (1700000000000 + n, peer, n, n))


def test_a_huge_old_history_is_shown_from_its_end():
    lib = _sodium()
    w = Workdir()
    try:
        home = w.sub("h")
        r = subprocess.run([NODE, "--home", home, "--name", "zoe", "--whoami"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        key = _history_key(home)
        peer = "ab" * 32
        path = os.path.join(home, "history")
        with open(path, "wb") as f:
            f.truncate(OLD_BYTES)
            f.seek(OLD_BYTES)
            # Some MiB of real records, then the newest 60
            filler = _record(lib, key, _entry(0, "cd" * 32))
            f.write(filler * (3 * 1024 * 1024 // len(filler)))
            for n in range(1, 61):
                f.write(_record(lib, key, _entry(n, peer)))
        os.chmod(path, 0o600)
        n = Node(home, "zoe")
        try:
            entries = n.ask("/history", "history")["entries"]
            assert [e["text"] for e in entries] == ["OLD-%05d" % i for i in range(11, 61)], \
                [e["text"] for e in entries][:3]
            # And the node goes on answering
            assert n.ask("/whoami", "whoami")
        finally:
            n.quit()
        assert os.path.getsize(path) > OLD_BYTES, "reading changes nothing"
    finally:
        w.close()


def test_a_history_or_known_peers_that_cannot_be_saved_is_told_once():
    """A save that fails (here: a directory where the file goes, as a full
    disk or a read-only home would) is told as a warning, once, and the
    node goes on; the known peers are tried again each second."""
    from harness import Cluster, poll_until
    with Cluster() as c:
        a = c.start("alice")
        b = c.start("bob")
        a.wait_peers(b)
        hist = os.path.join(a.home, "history")
        if os.path.exists(hist):
            os.remove(hist)
        os.mkdir(hist)
        for i in range(3):
            b.send("/msg alice line %d" % i)
        a.wait("message", text="line 2")
        warned = [e for e in a.events if e["event"] == "warning" and e.get("code") == "save_failed"]
        assert len(warned) == 1 and "history" in warned[0]["message"], warned
        known = os.path.join(a.home, "known_peers.json")
        if os.path.exists(known):
            os.remove(known)
        os.mkdir(known)
        carol = c.start("carol")
        a.wait_peers(carol)
        e = a.wait("warning", code="save_failed", pred=lambda e: "known peers" in e["message"])
        # Told once though it fails each second; then it works again
        os.rmdir(known)
        poll_until(lambda: os.path.isfile(known), what="the known peers saved again")
        n = len([x for x in a.events if x["event"] == "warning" and "known peers" in x.get("message", "")])
        assert n == 1, n
        assert a.home in e["message"]
