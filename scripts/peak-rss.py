#!/usr/bin/env python3
"""Runs a command and reports its wall time and the peak of the summed resident memory (VmRSS) of
the command and all its descendants (e.g. Python + the JVM it starts), sampled every 0.2 s from
/proc. Usage: scripts/peak-rss.py COMMAND [ARGS…]; prints `peak_rss_mib=… wall_s=…` to stderr."""

import os
import subprocess
import sys
import time


def tree(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    started = time.time()
    proc = subprocess.Popen(sys.argv[1:])
    peak = 0
    while proc.poll() is None:
        peak = max(peak, sum(rss_kib(p) for p in tree(proc.pid)))
        time.sleep(0.2)
    wall = time.time() - started
    print(f"peak_rss_mib={peak / 1024:.0f} wall_s={wall:.1f} exit={proc.returncode}", file=sys.stderr)
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
