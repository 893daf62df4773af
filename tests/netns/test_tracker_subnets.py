"""Two subnets joined by a router (broadcast does not cross) and a tracker
both reach: with --tracker the nodes find each other and link directly
(chat, and a 10 MiB file that never passes the tracker's host); without
it they never see each other.  Needs root (network namespaces)."""
import hashlib
import os
import subprocess
import time

from harness import TRACKER, Cluster, JsonProc, poll_until
from netlab import Lab


def _subnets(tag):
    """br0 (10.211.1.0/24) and br1 (10.211.2.0/24) joined by router r;
    host a on br0, b on br1, the tracker's host t on br0.  Returns (lab, a, b, t)."""
    lab = Lab(tag)
    lab.bridge("br0")
    lab.bridge("br1")
    lab.router("r", "br0", "10.211.1.1/24", "br1", "10.211.2.1/24")
    a = lab.host("a", "br0", "10.211.1.2/24")
    t = lab.host("t", "br0", "10.211.1.3/24")
    b = lab.host("b", "br1", "10.211.2.2/24")
    for ns, gw in ((a, "10.211.1.1"), (t, "10.211.1.1"), (b, "10.211.2.1")):
        lab.route(ns, gw)
    return lab, a, b, t


def _bytes(ns):
    out = subprocess.run(["ip", "netns", "exec", ns, "cat", "/sys/class/net/eth0/statistics/rx_bytes",
                          "/sys/class/net/eth0/statistics/tx_bytes"],
                         stdout=subprocess.PIPE, text=True, check=True).stdout.split()
    return int(out[0]) + int(out[1])


def test_across_subnets_only_with_a_tracker_and_files_go_direct():
    lab, a, b, t = _subnets("trk")
    tracker = None
    try:
        with Cluster() as c:
            # Without a tracker: beacons stay on their own subnet
            na = c.start("ann", netns=a, discovery="all")
            nb = c.start("ben", netns=b, discovery="all")
            time.sleep(3)
            assert na.ask("/peers", "peers")["peers"] == []
            assert nb.ask("/peers", "peers")["peers"] == []
            na.quit()
            nb.quit()
            home = c.dir.sub("tracker")
            tracker = JsonProc(["ip", "netns", "exec", t, TRACKER, "--json", "--home", home,
                                "--bind", "10.211.1.3", "--port", "0"], "event", "tracker",
                               stderr_path=home + ".stderr")
            addr = tracker.wait("ready", timeout=10)["address"]
            assert "@tcp://10.211.1.3:" in addr
            dl = c.dir.sub("dl-ben")
            start = time.monotonic()
            na = c.start("ann", netns=a, discovery="all", args=["--tracker", addr])
            nb = c.start("ben", netns=b, discovery="all",
                         args=["--tracker", addr, "--accept", "known", "--downloads", dl])
            na.wait_peers(nb, timeout=20)
            nb.wait_peers(na, timeout=20)
            print("    linked across subnets via the tracker in %.2f s" % (time.monotonic() - start))
            p = na.ask("/peers", "peers")["peers"]
            assert [(x["name"], x["via"]) for x in p] == [("ben", "tracker")]
            assert p[0]["addr"].startswith("tcp://10.211.2.2:")     # direct, not the tracker
            na.send("/msg ben across the router")
            nb.wait("message", text="across the router")
            src = c.dir.sub("ten.bin")
            with open(src, "wb") as f:
                f.write(os.urandom(10 * 1024 * 1024))
            before = _bytes(t)
            na.send("/send ben " + src)
            got = nb.wait("transfer", state="done", timeout=60)
            with open(src, "rb") as f1, open(got["path"], "rb") as f2:
                assert hashlib.sha256(f1.read()).digest() == hashlib.sha256(f2.read()).digest()
            # the tracker's host saw next to nothing of the 10 MiB
            moved = _bytes(t) - before
            assert moved < 512 * 1024, moved
            tr = na.ask("/trackers", "trackers")["trackers"][0]
            assert tr["registered"] and tr["seen_as"] == "10.211.1.2"
    finally:
        if tracker:
            tracker.stop()
        lab.close()
