"""The layering of DESIGN section 2, checked over the #include lines.

Arrows point down only: node -> discovery -> crypto, node -> media,
node -> crypto, and every module may use the base helpers (crypto/base/:
error table, log, careful file writes, UTF-8, bytes, the bounded msgpack
walk).  crypto/ and media/ never include node/ or discovery/.
"""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The base helpers, wherever they live now (crypto/base/ once moved there)
BASE_NAMES = {"err", "log", "fileio", "utf8", "bytes", "walk"}
ALLOWED = {
    "base": {"base"},
    "crypto": {"crypto", "base"},
    "discovery": {"discovery", "crypto", "base"},
    "media": {"media", "base"},
    "node": {"node", "discovery", "crypto", "media", "base"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer(path):
    """The layer of a source path relative to ROOT, or None (tests, build)."""
    parts = path.split("/")
    if parts[0] == "crypto":
        if parts[1] == "base" or os.path.splitext(parts[-1])[0] in BASE_NAMES:
            return "base"
        return "crypto"
    return parts[0] if parts[0] in ALLOWED else None


def sources():
    for top in ("crypto", "discovery", "media", "node"):
        for folder, _, names in os.walk(os.path.join(ROOT, top)):
            for name in names:
                if name.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(folder, name), ROOT)


def violations():
    bad = []
    for src in sources():
        mine = layer(src)
        with open(os.path.join(ROOT, src), encoding="utf-8") as f:
            text = f.read()
        for inc in INCLUDE.findall(text):
            target = os.path.normpath(os.path.join(os.path.dirname(src), inc))
            theirs = layer(target)
            if theirs is None:
                bad.append("%s includes %s, outside the layers" % (src, inc))
            elif theirs not in ALLOWED[mine]:
                bad.append("%s (%s) includes %s (%s)" % (src, mine, inc, theirs))
    return bad


def test_includes_point_down():
    bad = violations()
    assert not bad, "includes against DESIGN section 2's arrows:\n  " + "\n  ".join(bad)


def test_the_check_sees_an_upward_include():
    # The rule itself: what it would refuse
    assert layer("crypto/envelope.c") == "crypto"
    assert layer("crypto/base/err.h") == "base" and layer("crypto/base/log.h") == "base"
    assert layer("discovery/tracker/mailbox.c") == "discovery"
    assert "node" not in ALLOWED["media"] and "discovery" not in ALLOWED["crypto"]
    assert "crypto" not in ALLOWED["media"] and "crypto" not in ALLOWED["base"]


LINES_MAX = 720         # "no source file over about 700 lines" (issue 15)


def test_no_source_file_is_over_about_700_lines():
    long = []
    for src in sources():
        with open(os.path.join(ROOT, src), encoding="utf-8") as f:
            n = sum(1 for _ in f)
        if n > LINES_MAX:
            long.append("%s: %d lines" % (src, n))
    assert not long, "split these by role:\n  " + "\n  ".join(long)
