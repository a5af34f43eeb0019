"""A host full of guests, both monitors in turn (A B A B), default settings:

    python -m bench.fleet [GUESTS] [RUNS] [IDLE_SECONDS]   # 40 2 300

Each run starts one monitor with every guest running, lets it settle 25 s
and measures:

- overhead: CPU seconds and peak RSS over IDLE_SECONDS with every guest
  monitored (the peer is its two processes, instancemonitor and the
  introspective one, because ours does both jobs in one);
- then 10 % of the guests hang at once (kernel crash, no panic device):
  seconds from each fault to its notification in Masakari;
- heartbeat punctuality of the healthy guests, idle and while the others
  hang: the gaps between consecutive guest-pings as the guest's own agent
  logged them on its serial console, so both monitors are timed alike.

The hung guests are replaced after each run.  Guests are not HA-enabled:
Masakari records the notifications and recovers nothing.
"""
import os
import random
import re
import socket
import sys
import tempfile
import time
from pathlib import Path

from bench import compare
from bench import peer
from bench import results as results_mod
from tools.lab import domain as lab_domain
from tools.lab import faults
from tools.lab import monitor_process
from tools.lab import stack as stack_mod

MISSED_AFTER = 300.0
BOOT_BATCH = 8
# Before the idle window: start-up (imports, first connections) is not
# idle cost, and the peer's introspective monitor must have seen every
# guest answer before it watches it.
SETTLE = 25.0
_TICKS = os.sysconf("SC_CLK_TCK")
PING_READ = re.compile(r'^(\d+\.\d+): debug: read data, count: \d+, '
                       r'data: \{"execute":"guest-ping"\}', re.MULTILINE)


def ping_gaps(logs, since):
    """Gaps (s) between consecutive guest-pings logged after the byte
    offsets in ``since`` ({path: offset})."""
    gaps = []
    for path, offset in since.items():
        with open(path, "rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
        times = [float(t) for t in PING_READ.findall(text)]
        gaps.extend(b - a for a, b in zip(times, times[1:], strict=False))
    return gaps


def offsets(paths):
    return {path: path.stat().st_size for path in paths}


def cpu_seconds(pid):
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1]
    utime, stime = fields.split()[11:13]
    return (int(utime) + int(stime)) / _TICKS


def peak_rss_mib(pid):
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return 0.0


class Ours:
    name = "ours"

    def __init__(self, workdir, stack):
        self.proc = monitor_process.MonitorProcess(
            workdir, stack.cloud, stack_mod.HOSTNAME)
        self.pids = [self.proc.proc.pid]

    def stop(self):
        self.proc.stop()


class Peer:
    name = "masakari-monitors (2 processes)"

    def __init__(self, workdir, stack):
        self.procs = [peer.PeerMonitor(workdir, stack.cloud,
                                       stack_mod.HOSTNAME, program=p)
                      for p in ("instancemonitor",
                                "introspectiveinstancemonitor")]
        self.pids = [p.pid() for p in self.procs]

    def stop(self):
        for proc in self.procs:
            proc.stop()


class Fleet:
    """The guests of the run, booted in batches (TCG boots are CPU-bound)
    with the agent logging to the serial console."""

    def __init__(self, stack):
        self.stack = stack
        self.image = stack.seed.image().id
        self.guests = []

    def add(self, count, log=print):
        for start in range(0, count, BOOT_BATCH):
            batch = [self.stack.lab.boot_guest(wait=False, agent_log=True)
                     for _ in range(min(BOOT_BATCH, count - start))]
            for dom in batch:
                faults.wait_for_agent(dom, timeout=600)
                self.stack.seed.server(self.image, id=dom.UUIDString(),
                                       host=stack_mod.HOSTNAME)
            self.guests.extend(batch)
            log("%d guests up" % len(self.guests))

    def replace(self, doms):
        for dom in doms:
            self.guests.remove(dom)
            lab_domain.remove(dom)
        self.add(len(doms), log=lambda _: None)


def run_once(fleet, monitor, idle):
    """One monitor on the fleet; returns this run's figures."""
    time.sleep(SETTLE)
    logs = {dom.UUIDString(): lab_domain.console_log(dom)
            for dom in fleet.guests}
    idle_from = offsets(logs.values())
    cpu_from = {pid: cpu_seconds(pid) for pid in monitor.pids}
    time.sleep(idle)
    figures = {
        "cpu_seconds": sum(cpu_seconds(pid) - cpu_from[pid]
                           for pid in monitor.pids),
        "peak_rss_mib": sum(peak_rss_mib(pid) for pid in monitor.pids),
        "idle_gaps": ping_gaps(logs, idle_from)}
    victims = random.sample(fleet.guests, max(1, len(fleet.guests) // 10))
    healthy = [p for u, p in logs.items()
               if u not in {d.UUIDString() for d in victims}]
    hang_from = offsets(healthy)
    faulted = {}
    for dom in victims:
        faulted[dom.UUIDString()] = time.monotonic()
        faults.hang_kernel(dom)
    detected = {}
    while (len(detected) < len(victims) and
           time.monotonic() - min(faulted.values()) < MISSED_AFTER):
        now = time.monotonic()
        for uuid in compare.notified(fleet.stack.seed,
                                     set(faulted) - set(detected)):
            detected[uuid] = now - faulted[uuid]
        time.sleep(0.25)
    figures["detection"] = [detected.get(uuid) for uuid in faulted]
    figures["hang_gaps"] = ping_gaps(logs, hang_from)
    return figures, victims


def main(guests=40, runs=2, idle=300):
    peer.ensure_venv()
    monitors = (Ours, Peer)
    raw = {m.name: [] for m in monitors}
    with tempfile.TemporaryDirectory(prefix="instanceha-fleet-") as tmp:
        tmp = Path(tmp)
        stack = stack_mod.Stack(tmp).start(monitor=False)
        # the introspective peer sends gethostname(), not [DEFAULT] hostname
        stack.seed.segment_with_host(socket.gethostname())
        try:
            fleet = Fleet(stack)
            fleet.add(guests)
            for run in range(runs):
                for kind in monitors:
                    monitor = kind(tmp / ("%s-%d" % (kind.__name__, run)),
                                   stack)
                    try:
                        figures, victims = run_once(fleet, monitor, idle)
                    finally:
                        monitor.stop()
                    fleet.replace(victims)
                    raw[kind.name].append(figures)
                    print("run %d %s: detection %s, cpu %.1f s, peak rss "
                          "%.0f MiB" % (
                              run + 1, kind.name,
                              ["%.1f" % d if d is not None else "missed"
                               for d in figures["detection"]],
                              figures["cpu_seconds"],
                              figures["peak_rss_mib"]), flush=True)
        finally:
            stack.stop()
    return report(guests, idle, raw)


def _pooled(runs, key):
    return [value for run in runs for value in run[key]]


def report(guests, idle, raw):
    sections, data = [], {"guests": guests, "idle_seconds": idle,
                          "raw": raw}
    for key, title, unit in (
            ("detection", "hang → in Masakari, %d guests, 10 %% hung"
             % guests, "s"),
            ("hang_gaps", "healthy guests' ping gap while 10 % hang", "s"),
            ("idle_gaps", "healthy guests' ping gap, idle", "s"),
            ("cpu_seconds", "CPU over %d s idle" % idle, "s"),
            ("peak_rss_mib", "peak RSS", "MiB")):
        pooled = {name: (_pooled(runs, key) if isinstance(
            runs[0][key], list) else [run[key] for run in runs])
            for name, runs in raw.items()}
        table, stats = results_mod.comparison_table(title, unit, pooled)
        sections.append(table)
        data[key] = stats
    markdown = "\n\n".join(sections)
    print(markdown)
    results_mod.write("fleet", markdown, data)
    return markdown


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
