"""Links that stay up on machines with several addresses, and liveness:
hosts in network namespaces with real broadcast, as users run nodes."""
import subprocess

from harness import Cluster, poll_until
from netlab import Lab


def _links(ns, ports):
    """Established TCP connections in namespace ns between the given ports,
    as (local port, remote port) pairs."""
    out = subprocess.run(["ip", "netns", "exec", ns, "cat", "/proc/net/tcp"],
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    links = set()
    for line in out.splitlines()[1:]:
        f = line.split()
        local, remote = int(f[1].split(":")[1], 16), int(f[2].split(":")[1], 16)
        if f[3] == "01" and (local in ports or remote in ports):
            links.add((f[1], f[2]))
    return links


def _stay_idle(nodes, spaces, seconds):
    """Watches idle nodes for `seconds`: no peer leaves, and the set of TCP
    connections between them never changes (no relink, no new handshake)."""
    ports = {n.port for n in nodes}
    before = {ns: _links(ns, ports) for ns in spaces}
    marks = [len(n.events) for n in nodes]
    # The window passes as a wait for the event that must not come; any
    # relink in it leaves a connection with a new port behind
    try:
        e = nodes[0].wait("peer_left", timeout=seconds, after=marks[0])
    except AssertionError:
        e = None
    assert e is None, "%s: %s" % (nodes[0].name, e)
    for n, m in zip(nodes, marks):
        left = [e for e in n.events[m:] if e["event"] == "peer_left"]
        assert not left, "%s: %s" % (n.name, left)
    for ns in spaces:
        now = _links(ns, ports)
        assert now == before[ns], "links changed in %s: %s -> %s" % (ns, before[ns], now)


def test_five_idle_nodes_on_a_machine_with_a_lan_address_keep_their_links():
    """Each node hears every other from the LAN address and from loopback."""
    lab = Lab("idle")
    try:
        lab.bridge("br0")
        m = lab.host("m", "br0", "10.206.0.1/24")
        with Cluster() as c:
            nodes = [c.start(n, netns=m, discovery="all") for n in ("ann", "ben", "cid", "dee", "eve")]
            for n in nodes:
                n.wait_peers(*[o for o in nodes if o is not n], timeout=15)
            poll_until(lambda: len(_links(m, {n.port for n in nodes})) == 20,
                       what="one link per pair (each seen from both ends)")
            # The other address was heard, and ignored while the links are up
            poll_until(lambda: nodes[0].ask("/stats", "stats")["beacons"]["elsewhere"] >= 4,
                       what="beacons from the other address")
            _stay_idle(nodes, [m], 20)
            nodes[0].send("idle and still here")
            for n in nodes[1:]:
                n.wait("message", text="idle and still here")
    finally:
        lab.close()


def test_a_host_beaconing_from_two_addresses_keeps_one_link():
    lab = Lab("two")
    try:
        lab.bridge("br0")
        a = lab.host("a", "br0", "10.207.0.1/24")
        b = lab.host("b", "br0", "10.207.0.2/24")
        # A second subnet on the same wire: each beacons from both addresses
        subprocess.run(["ip", "-n", a, "addr", "add", "10.208.0.1/24", "dev", "eth0"], check=True)
        subprocess.run(["ip", "-n", b, "addr", "add", "10.208.0.2/24", "dev", "eth0"], check=True)
        with Cluster() as c:
            na = c.start("ann", netns=a, discovery="all")
            nb = c.start("ben", netns=b, discovery="all")
            na.wait_peers(nb, timeout=15)
            nb.wait_peers(na, timeout=15)
            poll_until(lambda: len(_links(a, {na.port, nb.port})) == 1, what="one link")
            poll_until(lambda: nb.ask("/stats", "stats")["beacons"]["elsewhere"] >= 2,
                       what="ann heard from its second address")
            _stay_idle([na, nb], [a, b], 20)
            na.send("/msg ben still one link")
            nb.wait("message", text="still one link")
    finally:
        lab.close()


def test_a_peer_whose_machine_vanishes_is_shown_left_within_seconds():
    lab = Lab("gone")
    try:
        lab.bridge("br0")
        a = lab.host("a", "br0", "10.209.0.1/24")
        b = lab.host("b", "br0", "10.209.0.2/24")
        with Cluster() as c:
            na = c.start("ann", netns=a, discovery="all")
            nb = c.start("ben", netns=b, discovery="all")
            na.wait_peers(nb, timeout=15)
            # The cable is pulled: nothing closes, nothing more arrives
            subprocess.run(["ip", "-n", b, "link", "set", "eth0", "down"], check=True)
            left = na.wait("peer_left", id=nb.id, timeout=15)
            assert left["reason"] == "lost"
            nb.kill()
    finally:
        lab.close()
