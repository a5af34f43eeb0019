"""The nova and libvirt backends on real guests, and the forensics kept
before a real restart wipes the evidence."""
import json
import time
from pathlib import Path

import pytest

from tools.lab import domain as lab_domain
from tools.lab import faults
from tools.lab import monitor_process
from tools.lab.monitor_process import domain_view
from tools.lab.stack import HOSTNAME
from tools.lab.stack import protected_guest


def accepted(state, dom):
    return [e for e in monitor_process.outbox_entries(state, dom)
            if e["state"] == "accepted"]


@pytest.fixture
def backend_monitor(cloud, seed, tmp_path):
    running = []

    def start(backend, extra=""):
        monitor = monitor_process.MonitorProcess(
            tmp_path, cloud, HOSTNAME,
            extra="[recovery]\nbackend = %s\n%s" % (backend, extra))
        running.append(monitor)
        return monitor

    yield start
    for monitor in running:
        monitor.stop()
        assert monitor.proc.returncode == 0


def test_libvirt_backend_restarts_a_killed_guest_itself(lab, backend_monitor):
    dom = lab.boot_guest()  # no server anywhere: a host without OpenStack
    monitor = backend_monitor("libvirt")
    monitor.wait_for(lambda s: domain_view(s, dom).get("state") == "running")

    killed = time.monotonic()
    faults.kill_qemu(dom)
    state = monitor.wait_for(lambda s: accepted(s, dom), timeout=60)
    faults.wait_for_agent(dom, timeout=90)

    assert state["recovery_backend"] == "libvirt"
    entry, = accepted(state, dom)
    assert entry["event"] == "LIFECYCLE/STOPPED_FAILED"
    print("\nlibvirt backend: kill -9 -> restarted and answering in %.1f s"
          % (time.monotonic() - killed))


def test_nova_backend_hard_reboots_a_hung_guest_after_forensics(
        lab, seed, backend_monitor):
    dom = protected_guest(lab, seed, graphics=True,
                          stats_period=monitor_process.FAST_STATS_PERIOD)
    console = lab_domain.console_log(dom)
    monitor = backend_monitor("nova", monitor_process.FAST_HEARTBEATS)
    monitor.wait_for(lambda s: domain_view(s, dom).get("heartbeat") ==
                     "monitored", timeout=60)

    faults.hang_kernel(dom)
    state = monitor.wait_for(lambda s: accepted(s, dom), timeout=60)
    faults.wait_for_agent(dom, timeout=90)

    assert seed.actions(dom.UUIDString()) == ["reboot HARD"]
    kept = Path(domain_view(state, dom)["last_forensics"])
    manifest = json.loads((kept / "incident.json").read_text())
    assert set(manifest["files"]) == {"console", "screenshot"}
    assert b"Kernel panic" in (kept / "console.log").read_bytes()
    assert (kept / manifest["files"]["screenshot"]["file"]).stat().st_size
    signals = manifest["monitor"]["signals"]
    assert signals["agent"]["consecutive_failures"] >= 3
    assert signals["kernel"]["signal"] == "silent"
    assert signals["vcpu_used_last_interval"]  # the panic loop spins
    # the reboot started a new console: the forensics are all that is left
    assert b"Kernel panic" not in console.read_bytes()
    print("\nforensics before the hard reboot took %.3f s"
          % manifest["capture_seconds"])
