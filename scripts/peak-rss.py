#!/usr/bin/env python3
"""Runs a command and reports its wall time and the peak of the summed memory of the command and
all its descendants (e.g. Python + the JVM it starts + PySpark's forked workers), sampled every
0.2 s from /proc: proportional set size (Pss, from smaps_rollup: pages shared between processes
counted once in total) and, for comparison, the plain sum of resident sizes (VmRSS, which counts
shared pages once per process). Usage: scripts/peak-rss.py COMMAND [ARGS…]; prints
`peak_pss_mib=… peak_rss_sum_mib=… wall_s=…` to stderr."""

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


def field_kib(path, key):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    started = time.time()
    proc = subprocess.Popen(sys.argv[1:])
    peak_pss = peak_rss = 0
    while proc.poll() is None:
        pids = tree(proc.pid)
        peak_pss = max(peak_pss, sum(field_kib(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids))
        peak_rss = max(peak_rss, sum(field_kib(f"/proc/{p}/status", "VmRSS:") for p in pids))
        time.sleep(0.2)
    wall = time.time() - started
    print(f"peak_pss_mib={peak_pss / 1024:.0f} peak_rss_sum_mib={peak_rss / 1024:.0f} "
          f"wall_s={wall:.1f} exit={proc.returncode}", file=sys.stderr)
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
