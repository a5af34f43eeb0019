"""kill -9 (or a kernel hang) → Masakari accepts → ACTIVE → the agent
answers again, through real Nova 34 and through the Nova emulator, on the
same lab, the same guest image and our monitor with its defaults
(heartbeats 10/2/3, Nova's balloon statistics every 10 s).  Root on
Debian.

    python -m bench.nova_recovery [crash|hang] [RUNS]    # crash 5

Through real Nova, Masakari's engine stops and starts the server with
Nova's API; nova-compute sees the same libvirt events and acts on its own
(its lifecycle handling and power-state sync), which the results list per
run from its log.  Through the emulator, the same API calls act on the
domain directly.  Each run uses a fresh server (Masakari refuses an
identical notification for one instance within 180 s).
"""
import collections
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import results as results_mod
from tools.lab import faults
from tools.lab import monitor_process
from tools.lab import nova_lab
from tools.lab import stack as stack_mod

FAULTS = {"crash": faults.kill_qemu, "hang": faults.hang_kernel}
QUIET = 20  # after each recovery: what nova-compute still does


def _settle(stack, dom):
    """Watched, and every signal settled (as in compare)."""
    stack.monitor.wait_for(lambda s: monitor_process.domain_view(
        s, dom).get("heartbeat") == "monitored", timeout=120)
    time.sleep(25)


def _timed(stack, dom, fault, active, fresh):
    started = time.monotonic()
    fault(dom)
    state = stack.monitor.wait_for(lambda s: any(
        e["state"] == "accepted"
        for e in monitor_process.outbox_entries(s, dom)), timeout=120)
    accepted = time.monotonic() - started
    entry = monitor_process.outbox_entries(state, dom)[0]
    status = stack_mod.wait_finished(stack.seed, entry["notification_uuid"],
                                     timeout=180)
    active()
    became_active = time.monotonic() - started
    faults.wait_for_agent(fresh(), timeout=180)
    return {"accepted": accepted, "active": became_active,
            "answering": time.monotonic() - started, "masakari": status}


def real_runs(workdir, fault, runs):
    stack = nova_lab.NovaLab(workdir).start()
    out = []
    try:
        for run in range(runs):
            server, dom = stack.server()
            _settle(stack, dom)
            since = stack.nova_compute_log_size()
            figures = _timed(stack, dom, fault,
                             lambda s=server: stack.wait_active(s.id),
                             lambda s=server: stack.domain(s.id))
            time.sleep(QUIET)
            final = stack.seed.admin.compute.get_server(server.id)
            figures["final"] = final.status
            figures["nova_compute"] = stack.nova_compute_log(since)
            out.append(figures)
            print("real Nova run %d: %s" % (run + 1, _line(figures)),
                  flush=True)
            stack.seed.admin.compute.delete_server(server.id)
    finally:
        stack.stop()
    return out


def emulator_runs(workdir, fault, runs):
    stack = stack_mod.Stack(workdir).start()
    out = []
    try:
        for run in range(runs):
            dom = stack.guest()
            _settle(stack, dom)
            figures = _timed(stack, dom, fault, lambda: None,
                             lambda d=dom: d)
            out.append(figures)
            print("emulator run %d: %s" % (run + 1, _line(figures)),
                  flush=True)
    finally:
        stack.stop()
    return out


def _line(figures):
    return "accepted %.2f s, ACTIVE %.2f s, answering %.2f s, Masakari %s%s" \
        % (figures["accepted"], figures["active"], figures["answering"],
           figures["masakari"], ", then %s" % figures["final"]
           if "final" in figures else "")


def main(scenario="crash", runs=5):
    fault = FAULTS[scenario]
    with tempfile.TemporaryDirectory(prefix="instanceha-nova-") as tmp:
        raw = {"real Nova 34": real_runs(Path(tmp) / "real", fault, runs),
               "Nova emulator": emulator_runs(Path(tmp) / "emu", fault,
                                              runs)}
    sections = []
    for key in ("accepted", "active", "answering"):
        table, _ = results_mod.comparison_table(
            "%s → %s" % (scenario, key), "s",
            {name: [run[key] for run in runs] for name, runs in raw.items()},
            ratio="real/emulator")
        sections.append(table)
    counts = collections.Counter(
        line.rsplit("] ", 1)[-1] for run in raw["real Nova 34"]
        for line in run["nova_compute"])
    sections.append(
        "nova-compute's own lines during and %d s after the %d recoveries:"
        "\n\n" % (QUIET, len(raw["real Nova 34"])) + "\n".join(
            "- %s (%d)" % item for item in sorted(counts.items())))
    markdown = "\n\n".join(sections)
    print(markdown)
    results_mod.write("nova-" + scenario, markdown, raw)
    for name, runs in raw.items():
        for key in ("accepted", "active", "answering"):
            values = [run[key] for run in runs]
            print("%-14s %-9s p50 %.2f s  max %.2f s  (n=%d)" % (
                name, key, statistics.median(values), max(values),
                len(values)))
    return markdown


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "crash",
         int(sys.argv[2]) if len(sys.argv) > 2 else 5)
