"""Nodes behind NAT (nftables masquerade in a router namespace) with a
tracker on the public side.  One side behind NAT: the public node cannot
reach the hidden one, asks the tracker for a dial-back, and the hidden one
connects out to it.  Both behind NAT: neither can reach the other, each
says there is no direct path, and chat goes by the tracker's mailbox.
Needs root (network namespaces) and nft."""
from harness import TRACKER, Cluster, JsonProc
from netlab import Lab

PUBLIC = "br0"      # 10.212.1.0/24: the tracker, public nodes, the routers' outsides


def _tracker(c, ns):
    home = c.dir.sub("tracker")
    t = JsonProc(["ip", "netns", "exec", ns, TRACKER, "--json", "--home", home,
                  "--bind", "10.212.1.3", "--port", "0"], "event", "tracker",
                 stderr_path=home + ".stderr")
    return t, t.wait("ready", timeout=10)["address"]


def _behind_nat(lab, n, name):
    """A private subnet 10.212.N.0/24 behind router rN (10.212.1.N0 outside,
    masquerading); returns the namespace of host `name` on it."""
    lab.bridge("br%d" % n)
    lab.router("r%d" % n, PUBLIC, "10.212.1.%d0/24" % n, "br%d" % n, "10.212.%d.1/24" % n, nat=True)
    ns = lab.host(name, "br%d" % n, "10.212.%d.2/24" % n)
    lab.route(ns, "10.212.%d.1" % n)
    return ns


def test_one_side_behind_nat_links_by_dial_back():
    lab = Lab("nat1")
    tracker = None
    try:
        lab.bridge(PUBLIC)
        t = lab.host("t", PUBLIC, "10.212.1.3/24")
        pub = lab.host("p", PUBLIC, "10.212.1.4/24")
        hid = _behind_nat(lab, 2, "h")
        with Cluster() as c:
            tracker, addr = _tracker(c, t)
            nb = c.start("ben", netns=pub, discovery="all", args=["--tracker", addr])
            nb.wait("tracker_registered", timeout=15)
            na = c.start("ann", netns=hid, discovery="all", args=["--tracker", addr])
            reg = na.wait("tracker_registered", timeout=15)
            assert reg["addr"] == "10.212.1.20"      # the tracker sees the router's address
            # ben hears of ann from the tracker, cannot reach her, and asks
            # the tracker to have her connect; she does, and they link
            nb.wait("dial_back", name="ann", timeout=20)
            na.wait_peers(nb, timeout=20)
            nb.wait_peers(na, timeout=20)
            p = na.ask("/peers", "peers")["peers"]
            assert [(x["name"], x["via"]) for x in p] == [("ben", "tracker")]
            assert p[0]["addr"].startswith("tcp://10.212.1.4:")
            na.send("/msg ben from behind the NAT")
            nb.wait("message", text="from behind the NAT")
            s = nb.ask("/msg ann and back", "sent")
            assert s["queued"] is False, s                # a direct link, not the mailbox
            na.wait("message", text="and back")
            assert nb.ask("/trackers", "trackers")["dial_backs"] == 1
            assert not na.find("warning", code="no_direct_path")
            assert not nb.find("warning", code="no_direct_path")
    finally:
        if tracker:
            tracker.stop()
        lab.close()


def test_both_behind_nat_say_so_and_chat_by_mailbox():
    lab = Lab("nat2")
    tracker = None
    try:
        lab.bridge(PUBLIC)
        t = lab.host("t", PUBLIC, "10.212.1.3/24")
        ha = _behind_nat(lab, 2, "a")
        hb = _behind_nat(lab, 3, "b")
        with Cluster() as c:
            tracker, addr = _tracker(c, t)
            na = c.start("ann", netns=ha, discovery="all", args=["--tracker", addr])
            na.wait("tracker_registered", timeout=15)
            nb = c.start("ben", netns=hb, discovery="all", args=["--tracker", addr])
            nb.wait("tracker_registered", timeout=15)
            # ann hears of ben, cannot reach him, asks for a dial-back; ben
            # cannot reach her either: both say there is no direct path
            na.wait("dial_back", name="ben", timeout=20)
            wa = na.wait("warning", code="no_direct_path", timeout=30)
            wb = nb.wait("warning", code="no_direct_path", timeout=30)
            assert "ben" in wa["message"] and "ann" in wb["message"]
            assert [x["online"] for x in na.ask("/peers", "peers")["peers"]] == [False]
            # chat falls back to the mailbox, both ways, receipts included
            s = na.ask("/msg ben through the post", "sent")
            assert s["queued"] == "tracker", s
            m = nb.wait("message", text="through the post", timeout=20)
            assert m["mailbox"] is True and m["msg_id"] == s["msg_id"]
            na.wait("delivered", msg_id=s["msg_id"], timeout=20)
            s = nb.ask("/msg ann and back", "sent")
            assert s["queued"] == "tracker", s
            na.wait("message", text="and back", timeout=20)
            nb.wait("delivered", msg_id=s["msg_id"], timeout=20)
            assert na.ask("/trackers", "trackers")["no_path"] == 1
    finally:
        if tracker:
            tracker.stop()
        lab.close()
