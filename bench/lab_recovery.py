"""Fault → Masakari accepts → guest answers again, on the real lab (root,
Debian), with the monitor's default settings unless told otherwise.

    python -m bench.lab_recovery crash [RUNS]   # kill -9 of QEMU
    python -m bench.lab_recovery hang [RUNS]    # kernel hang, no panic device

Each run uses a fresh guest: Masakari refuses an identical notification for
the same instance within 180 s.
"""
import statistics
import sys
import tempfile
from pathlib import Path

from tools.lab import stack as stack_mod


def main(scenario="crash", runs=5):
    with tempfile.TemporaryDirectory(prefix="instanceha-bench-") as tmp:
        stack = stack_mod.Stack(Path(tmp)).start()
        recover = {"crash": stack.kill_and_recover,
                   "hang": stack.hang_and_recover}[scenario]
        try:
            results = []
            for run in range(runs):
                dom = stack.guest()
                accepted, answering, status = recover(dom)
                print("run %d: accepted %.2f s, answering again %.2f s, "
                      "Masakari %s" % (run + 1, accepted, answering, status),
                      flush=True)
                results.append((accepted, answering))
        finally:
            stack.stop()
    for label, values in (("%s -> accepted" % scenario,
                           [r[0] for r in results]),
                          ("%s -> answering" % scenario,
                           [r[1] for r in results])):
        print("%-20s p50 %.2f s  max %.2f s  (n=%d)" % (
            label, statistics.median(values), max(values), len(values)))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "crash",
         int(sys.argv[2]) if len(sys.argv) > 2 else 5)
