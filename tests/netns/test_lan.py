"""Discovery by real broadcast between hosts in network namespaces."""
from harness import Cluster, poll_until
from netlab import Lab


def test_hosts_on_a_bridge_discover_each_other_and_chat():
    lab = Lab("lan")
    try:
        lab.bridge("br0")
        lab.bridge("br1")
        a = lab.host("a", "br0", "10.201.0.1/24")
        b = lab.host("b", "br0", "10.201.0.2/24")
        c = lab.host("c", "br0", "10.201.0.3/24")
        # Same subnet, other bridge: its broadcasts reach nobody
        d = lab.host("d", "br1", "10.201.0.4/24")
        with Cluster() as cl:
            # Node defaults: beacons to every interface's broadcast address
            nd = cl.start("dan", netns=d, discovery="all")
            na = cl.start("ann", netns=a, discovery="all")
            nb = cl.start("ben", netns=b, discovery="all")
            nc = cl.start("cid", netns=c, discovery="all")
            for n in (na, nb, nc):
                n.wait_peers(*[o for o in (na, nb, nc) if o is not n])
            j = na.find("peer_joined", id=nb.id)[0]
            assert j["addr"].startswith("tcp://10.201.0.2:"), j
            na.send("/msg ben over-the-bridge")
            nb.wait("message", text="over-the-bridge")
            nc.send("hello lan")
            na.wait("message", text="hello lan")
            nb.wait("message", text="hello lan")
            # dan has sent several beacons by now (it hears its own), yet
            # nobody heard dan and dan heard nobody
            poll_until(lambda: nd.ask("/stats", "stats")["beacons"]["own"] >= 6, timeout=15,
                       what="dan sending three rounds of beacons")
            assert nd.find("peer_joined") == []
            for n in (na, nb, nc):
                assert n.find("peer_joined", id=nd.id) == []
    finally:
        lab.close()
