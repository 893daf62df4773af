#!/usr/bin/env python3
"""The test runner: unit tests (C), then integration and network tests.

Usage: tests/run.py [FILTER]   (FILTER selects tests whose name contains it)
Ends with the line "N passed, N failed, N skipped".
"""
import importlib.util
import os
import re
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "lib"))
import harness  # noqa: E402

counts = {"passed": 0, "failed": 0, "skipped": 0}
filt = sys.argv[1] if len(sys.argv) > 1 else None


def unit():
    exe = os.path.join(ROOT, harness.BUILD, "unit-tests")
    proc = subprocess.run([exe] + ([filt] if filt else []), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    lines = proc.stdout.splitlines()
    for line in lines[:-1]:
        print(line)
    m = re.match(r"(\d+) passed, (\d+) failed, (\d+) skipped", lines[-1] if lines else "")
    if not m:
        print(proc.stdout)
        print("FAIL  unit tests did not finish (exit %d)" % proc.returncode)
        counts["failed"] += 1
        return
    counts["passed"] += int(m.group(1))
    counts["failed"] += int(m.group(2))
    counts["skipped"] += int(m.group(3))
    if proc.returncode != 0 and int(m.group(2)) == 0:
        print("FAIL  unit tests exited with %d" % proc.returncode)
        counts["failed"] += 1


def modules(folder):
    path = os.path.join(HERE, folder)
    for name in sorted(os.listdir(path)):
        if name.startswith("test_") and name.endswith(".py"):
            spec = importlib.util.spec_from_file_location(name[:-3], os.path.join(path, name))
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            yield folder, mod


def run_module(folder, mod):
    for name in sorted(n for n in dir(mod) if n.startswith("test_")):
        label = "%s/%s: %s" % (folder, mod.__name__[5:], name[5:].replace("_", " "))
        if filt and filt not in label:
            continue
        start = time.monotonic()
        try:
            getattr(mod, name)()
        except harness.Skip as e:
            counts["skipped"] += 1
            print("skip  %s: %s" % (label, e))
            continue
        except Exception:
            counts["failed"] += 1
            print("FAIL  %s (%.1fs)" % (label, time.monotonic() - start))
            print("    " + traceback.format_exc().replace("\n", "\n    "))
            continue
        counts["passed"] += 1
        print("ok    %s (%.1fs)" % (label, time.monotonic() - start))
        sys.stdout.flush()


def main():
    started = time.monotonic()
    unit()
    for folder in ("source", "integration", "netns"):
        for f, mod in modules(folder):
            run_module(f, mod)
    print("(%.0f s%s)" % (time.monotonic() - started, ", sanitizers" if harness.SAN else ""))
    print("%d passed, %d failed, %d skipped" % (counts["passed"], counts["failed"], counts["skipped"]))
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
