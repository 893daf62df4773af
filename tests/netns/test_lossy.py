"""Flow control on a slow, lossy link: two hosts whose links delay every
packet 10 ms and lose 0.5 % (netem).  TCP's throughput under loss is low,
so the sizes are small."""
import hashlib
import os
import subprocess

from harness import Cluster, Skip, poll_until
from netlab import Lab


def _sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _netem(ns):
    r = subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "eth0", "root",
                        "netem", "delay", "10ms", "loss", "0.5%"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise Skip("netem is not available in this kernel: %s" % r.stdout.strip())


def test_a_transfer_and_a_watch_complete_over_a_lossy_link_while_chatting():
    lab = Lab("lossy")
    try:
        lab.bridge("br0")
        ha = lab.host("a", "br0", "10.204.0.1/24")
        hb = lab.host("b", "br0", "10.204.0.2/24")
        _netem(ha)
        _netem(hb)
        with Cluster() as c:
            a = c.start("ann", netns=ha, discovery="all",
                        args=["--downloads", c.dir.sub("dl-ann")])
            b = c.start("ben", netns=hb, discovery="all",
                        args=["--downloads", c.dir.sub("dl-ben"), "--accept", "known"])
            a.wait_peers(b, timeout=20)
            b.wait_peers(a, timeout=20)
            src = c.dir.sub("lossy.bin")
            with open(src, "wb") as f:
                f.write(os.urandom(8 * 1024 * 1024))
            clip = c.dir.sub("clip.mp4")
            subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                            "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
                            "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a",
                            "aac", clip], check=True)
            a.send("/share " + clip)
            a.wait("shared", name="clip.mp4")
            out = c.dir.sub("got.mkv")
            a.send("/send ben " + src)
            b.send("/watch ann clip.mp4 --out " + out)
            for i in range(20):
                a.send("/msg ben lossy-a-%02d" % i)
                b.send("/msg ann lossy-b-%02d" % i)
            done = b.wait("transfer", state="done", direction="in", timeout=180)
            assert _sha(done["path"]) == _sha(src)
            b.wait("stream", role="viewer", state="ended", timeout=120)
            assert os.path.getsize(out) > 50 * 1024
            for node, other, prefix in ((b, a, "lossy-a-"), (a, b, "lossy-b-")):
                def texts():
                    return [e["text"] for e in node.find("message", **{"from": other.id})
                            if e["text"].startswith(prefix)]
                poll_until(lambda: len(texts()) >= 20, timeout=60, what="20 messages " + prefix)
                assert texts() == ["%s%02d" % (prefix, i) for i in range(20)], texts()
            assert not a.find("transfer", state="failed") and not b.find("transfer", state="failed")
    finally:
        lab.close()
