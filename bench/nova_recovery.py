"""kill -9 (or a kernel hang) → Masakari accepts → ACTIVE → the agent
answers again, through real Nova 34 and through the Nova emulator, on the
same lab, the same guest image and our monitor with its defaults
(heartbeats 10/2/3, Nova's balloon statistics every 10 s).  Root on
Debian.

    python -m bench.nova_recovery [crash|hang] [RUNS]    # crash 5
    python -m bench.nova_recovery fence [RUNS]           # 3

``fence``: a kernel hang through real Nova only, at Nova's defaults (no
``os_shutdown_timeout`` on the images): a server with the agent and one
without, the monitor fencing a hang Masakari accepted, side by side with
the same hang and ``[recovery] fence_hung = False`` (what Nova's stop
costs on a guest that cannot shut down).

Through real Nova, Masakari's engine stops and starts the server with
Nova's API; nova-compute sees the same libvirt events and acts on its own
(its lifecycle handling and power-state sync), which the results list per
run from its log.  Through the emulator, the same API calls act on the
domain directly.  Each run uses a fresh server (Masakari refuses an
identical notification for one instance within 180 s).
"""
import collections
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


def _settle(stack, dom, detection=None):
    """Watched (by ``detection``'s signals, when given), and every signal
    settled (as in compare)."""
    stack.monitor.wait_for(lambda s: (
        monitor_process.domain_view(s, dom).get("hang_detection") ==
        detection) if detection else monitor_process.domain_view(
            s, dom).get("heartbeat") == "monitored", timeout=120)
    time.sleep(25)


def real_runs(workdir, fault, runs):
    stack = nova_lab.NovaLab(workdir).start()
    out = []
    try:
        for run in range(runs):
            server, dom = stack.server()
            _settle(stack, dom)
            figures = stack.timed_recovery(server, dom, fault, QUIET)
            out.append(figures)
            print("real Nova run %d: %s" % (run + 1, _line(figures)),
                  flush=True)
            stack.seed.admin.compute.delete_server(server.id)
    finally:
        stack.stop()
    return out


def emulator_runs(workdir, fault, runs):
    """The emulator acts at once: ACTIVE when Masakari is done."""
    stack = stack_mod.Stack(workdir).start()
    out = []
    try:
        for run in range(runs):
            dom = stack.guest()
            _settle(stack, dom)
            started, accepted, _, masakari = stack_mod.fault_until_finished(
                stack.monitor, stack.seed, dom, fault)
            active = time.monotonic() - started
            faults.wait_for_agent(dom, timeout=120)
            figures = {"accepted": accepted, "active": active,
                       "answering": time.monotonic() - started,
                       "masakari": masakari}
            out.append(figures)
            print("emulator run %d: %s" % (run + 1, _line(figures)),
                  flush=True)
    finally:
        stack.stop()
    return out


def _line(figures):
    return "accepted %.2f s, ACTIVE %.2f s, answering %.2f s, Masakari %s%s" \
        % (figures["accepted"], figures["active"], figures["answering"],
           figures["masakari"], ", then %s" % figures["final"][0]
           if "final" in figures else "")


FENCE_CASES = (  # (name, the server has the agent, fence_hung)
    ("fenced, agent", True, True),
    ("fenced, no agent", False, True),
    ("not fenced, agent", True, False),
)


def fence_runs(workdir, runs):
    """{case: [figures]}: one real Nova, the monitor restarted per case."""
    stack = nova_lab.NovaLab(workdir).start(monitor=False)
    out = {}
    try:
        for name, agent, fence in FENCE_CASES:
            monitor = stack.start_monitor(
                "" if fence else "\n[recovery]\nfence_hung = False\n")
            out[name] = []
            try:
                for run in range(runs):
                    server, dom = stack.server(agent=agent)
                    _settle(stack, dom, "agent and kernel" if agent
                            else "kernel")
                    # without an agent, nothing in the guest runs a
                    # command: the host's NMI panics it (no panic device)
                    figures = stack.timed_recovery(
                        server, dom, faults.hang_kernel if agent else
                        faults.hang_kernel_from_host, QUIET, agent=agent)
                    figures["stops_starts"] = [
                        a for a in figures["actions"]
                        if a in ("stop", "start")]
                    out[name].append(figures)
                    print("%s, run %d: %s, %s" % (
                        name, run + 1, _line(figures),
                        figures["stops_starts"]), flush=True)
                    stack.seed.admin.compute.delete_server(server.id)
            finally:
                monitor.stop()
    finally:
        stack.stop()
    return out


def fence_main(runs=3):
    with tempfile.TemporaryDirectory(prefix="instanceha-fence-") as tmp:
        raw = fence_runs(Path(tmp), runs)
    sections = []
    for key in ("accepted", "active", "answering"):
        for fenced in ("fenced, agent", "fenced, no agent"):
            table, _ = results_mod.comparison_table(
                "kernel hang → %s" % key, "s",
                {name: [run[key] for run in raw[name]]
                 for name in (fenced, "not fenced, agent")},
                ratio="fenced/not fenced")
            sections.append(table)
    sections.append("Nova's stops and starts per run: " + "; ".join(
        "%s %s" % (name, [run["stops_starts"] for run in runs])
        for name, runs in raw.items()))
    markdown = "\n\n".join(sections)
    print(markdown)
    results_mod.write("nova-fence", markdown, raw)
    return markdown


def main(scenario="crash", runs=5):
    if scenario == "fence":
        return fence_main(runs)
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
    return markdown


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "crash",
         int(sys.argv[2]) if len(sys.argv) > 2 else 5)
