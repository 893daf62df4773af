"""Test hosts in network namespaces: several hosts on bridges, made and
removed by the test itself.  Needs root; the bridges live in a namespace of
their own, so the machine's own network is never touched."""
import os
import subprocess

from harness import Skip, is_root


def _ip(*args):
    subprocess.run(["ip"] + list(args), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


class Lab:
    def __init__(self, tag):
        if not is_root():
            raise Skip("network namespace tests need root (run make test as root)")
        self.tag = "%s%d" % (tag, os.getpid() % 100000)
        self.switch = "sc-sw-" + self.tag
        self.hosts = []
        try:
            _ip("netns", "add", self.switch)
        except (subprocess.CalledProcessError, FileNotFoundError) as e:
            raise Skip("cannot create network namespaces here: %s" % getattr(e, "stderr", e))
        _ip("-n", self.switch, "link", "set", "lo", "up")

    def bridge(self, name):
        _ip("-n", self.switch, "link", "add", name, "type", "bridge")
        _ip("-n", self.switch, "link", "set", name, "up")

    def host(self, name, bridge, cidr):
        """A namespace with eth0 on the given bridge; returns its name."""
        ns = "sc-%s-%s" % (name, self.tag)
        _ip("netns", "add", ns)
        self.hosts.append(ns)
        port = "v%s%s" % (name, self.tag)[:14]
        _ip("link", "add", port[:15], "netns", self.switch, "type", "veth", "peer", "name", "eth0",
            "netns", ns)
        _ip("-n", self.switch, "link", "set", port[:15], "master", bridge, "up")
        # No "brd" on purpose: the node must work out the broadcast address
        _ip("-n", ns, "addr", "add", cidr, "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        return ns

    def router(self, name, out_bridge, out_cidr, in_bridge, in_cidr, nat=False):
        """A host with eth0 on out_bridge and eth1 on in_bridge that forwards
        between them; with nat, what leaves eth0 is masqueraded (nftables),
        so hosts behind it reach out but nothing outside reaches in."""
        ns = self.host(name, out_bridge, out_cidr)
        port = ("w%s%s" % (name, self.tag))[:15]
        _ip("link", "add", port, "netns", self.switch, "type", "veth", "peer", "name", "eth1",
            "netns", ns)
        _ip("-n", self.switch, "link", "set", port, "master", in_bridge, "up")
        _ip("-n", ns, "addr", "add", in_cidr, "dev", "eth1")
        _ip("-n", ns, "link", "set", "eth1", "up")
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"],
                       check=True)
        if nat:
            nft = ["ip", "netns", "exec", ns, "nft"]
            try:
                for rule in (["add", "table", "ip", "nat"],
                             ["add", "chain", "ip", "nat", "post",
                              "{ type nat hook postrouting priority 100 ; }"],
                             ["add", "rule", "ip", "nat", "post", "oifname", "eth0", "masquerade"]):
                    subprocess.run(nft + rule, check=True, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
            except (subprocess.CalledProcessError, FileNotFoundError) as e:
                raise Skip("cannot set up NAT here (nftables): %s" % getattr(e, "stderr", e))
        return ns

    @staticmethod
    def route(ns, gateway):
        _ip("-n", ns, "route", "add", "default", "via", gateway)

    def close(self):
        for ns in self.hosts + [self.switch]:
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
