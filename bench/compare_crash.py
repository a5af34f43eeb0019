"""Crash detection side by side: our monitor and masakari-instancemonitor
(masakari-monitors 22.0.0), on the same lab guests and the same real
Masakari, alternating A B A B.  Root on Debian.

    python -m bench.compare_crash [RUNS]

Measured for both alike: kill -9 of a guest's QEMU → the notification is in
Masakari's database (polled through its API every 50 ms).  The guests are
not HA-enabled, so Masakari records and ignores them: no recovery load
disturbs the next run.  Results: stdout, and bench-results/ as markdown and
JSON.
"""
import datetime
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import peer
from tools.lab import faults
from tools.lab import monitor_process
from tools.lab import stack as stack_mod

SETTLE = 3.0  # seconds after a monitor starts, before the fault
MISSED = 60.0


def reached_masakari(seed, uuid):
    return any((n.payload or {}).get("instance_uuid") == uuid
               for n in seed.admin.instance_ha.notifications(type="VM"))


def kill_and_time(stack, dom):
    killed = time.monotonic()
    faults.kill_qemu(dom)
    while time.monotonic() - killed < MISSED:
        if reached_masakari(stack.seed, dom.UUIDString()):
            return time.monotonic() - killed
        time.sleep(0.05)
    return None


def summary(values):
    got = sorted(v for v in values if v is not None)
    if not got:
        return {"n": 0, "missed": len(values)}
    return {"n": len(got), "missed": len(values) - len(got),
            "median": statistics.median(got),
            "p90": got[min(len(got) - 1, int(round(0.9 * len(got))) - 1)],
            "max": got[-1]}


def main(runs=10):
    results = {"ours": [], "masakari-instancemonitor": []}
    peer.ensure_venv()
    with tempfile.TemporaryDirectory(prefix="instanceha-cmp-") as tmp:
        tmp = Path(tmp)
        stack = stack_mod.Stack(tmp).start(monitor=False)
        try:
            image = stack.seed.image().id
            guests = [stack.lab.boot_guest(wait=False)
                      for _ in range(2 * runs)]
            for dom in guests:
                faults.wait_for_agent(dom, timeout=180)
                stack.seed.server(image, id=dom.UUIDString(),
                                  host=stack_mod.HOSTNAME)
            for run in range(runs):
                for name in results:
                    workdir = tmp / ("%s-%d" % (name, run))
                    monitor = (monitor_process.MonitorProcess(
                        workdir, stack.cloud, stack_mod.HOSTNAME)
                        if name == "ours" else peer.PeerMonitor(
                            workdir, stack.cloud, stack_mod.HOSTNAME))
                    time.sleep(SETTLE)
                    try:
                        took = kill_and_time(stack, guests.pop())
                    finally:
                        monitor.stop()
                    results[name].append(took)
                    print("run %d %-25s %s" % (
                        run + 1, name, "missed" if took is None
                        else "%.3f s" % took), flush=True)
        finally:
            stack.stop()
    report(results)


def report(results):
    stats = {name: summary(values) for name, values in results.items()}
    ours, theirs = stats["ours"], stats["masakari-instancemonitor"]
    lines = ["| kill -9 → in Masakari | n | missed | median s | p90 s | "
             "max s |", "|---|---|---|---|---|---|"]
    for name, s in stats.items():
        lines.append("| %s | %d | %d | %s | %s | %s |" % (
            name, s["n"], s["missed"], *("%.3f" % s[k] if k in s else "-"
                                         for k in ("median", "p90", "max"))))
    if "median" in ours and "median" in theirs:
        lines.append("| ratio ours/peer | | | %.2f | %.2f | %.2f |" % tuple(
            ours[k] / theirs[k] for k in ("median", "p90", "max")))
    table = "\n".join(lines)
    print(table)
    out = Path("bench-results")
    out.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    (out / ("crash-%s.md" % stamp)).write_text(table + "\n")
    (out / ("crash-%s.json" % stamp)).write_text(json.dumps(
        {"raw": results, "summary": stats}, indent=2))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
