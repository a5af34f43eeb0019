"""kill -9 of a guest's QEMU → Masakari accepts → guest answers again, on
the real lab (root, Debian).  Each run uses a fresh guest: Masakari refuses
an identical notification for the same instance within 180 s.

    python -m bench.lab_crash [RUNS]
"""
import statistics
import sys
import tempfile
from pathlib import Path

from tools.lab import stack as stack_mod


def main(runs=5):
    with tempfile.TemporaryDirectory(prefix="instanceha-bench-") as tmp:
        stack = stack_mod.Stack(Path(tmp)).start()
        try:
            results = []
            for run in range(runs):
                dom = stack.guest()
                accepted, answering, status = stack.kill_and_recover(dom)
                print("run %d: accepted %.2f s, answering again %.2f s, "
                      "Masakari %s" % (run + 1, accepted, answering, status),
                      flush=True)
                results.append((accepted, answering))
        finally:
            stack.stop()
    for label, values in (("kill -> accepted", [r[0] for r in results]),
                          ("kill -> answering", [r[1] for r in results])):
        print("%-18s p50 %.2f s  max %.2f s  (n=%d)" % (
            label, statistics.median(values), max(values), len(values)))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
