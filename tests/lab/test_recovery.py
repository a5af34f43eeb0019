"""End to end on real guests: each fault, what the monitor does, what
Masakari's engine does, and whether the guest answers again."""
import json
import time
from pathlib import Path

from tools.lab import faults
from tools.lab.monitor_process import FAST_STATS_PERIOD
from tools.lab.monitor_process import notification_accepted
from tools.lab.monitor_process import domain_view
from tools.lab.monitor_process import outbox_entries
from tools.lab.stack import protected_guest
from tools.lab.stack import wait_finished

# With the fast monitor (2/1/3, stats every 2 s) a false hang would come
# within ~6 s and a false kernel hang within ~9 s: watch three times that.
QUIET_WINDOW = 27


def test_killed_qemu_is_recovered(lab, seed, monitor):
    dom = protected_guest(lab, seed)
    monitor.wait_for(lambda s: domain_view(s, dom).get("state") == "running")

    killed = time.monotonic()
    faults.kill_qemu(dom)
    state = monitor.wait_for(notification_accepted(dom))
    accepted = time.monotonic() - killed
    entry, = outbox_entries(state, dom)
    assert entry["event"] == "LIFECYCLE/STOPPED_FAILED"
    assert domain_view(state, dom)["last_notified_reason"] == \
        "the QEMU process died without being asked to stop"
    kept = json.loads((Path(domain_view(state, dom)["last_forensics"]) /
                       "incident.json").read_text())
    assert kept["files"]["console"]["kept_bytes"] > 0
    assert kept["not_kept"]["screenshot"] == "no graphics device"

    assert wait_finished(seed, entry["notification_uuid"]) == "finished"
    faults.wait_for_agent(dom, timeout=90)
    answering = time.monotonic() - killed
    print("\nkill -9 -> accepted by Masakari %.2f s (forensics %.3f s), -> "
          "guest answering again %.2f s" % (
              accepted, kept["capture_seconds"], answering))


def test_guest_panic_with_panic_device_is_recovered_once(lab, seed,
                                                          monitor):
    dom = protected_guest(lab, seed, panic_device=True)
    monitor.wait_for(lambda s: domain_view(s, dom).get("state") == "running")

    faults.hang_kernel(dom)  # sysrq crash: the panic device reports it
    state = monitor.wait_for(notification_accepted(dom))
    time.sleep(2)  # the STOPPED/CRASHED after PANICKED must not add one
    state = monitor.status()

    assert len(outbox_entries(state, dom)) == 1
    entry = outbox_entries(state, dom)[0]
    assert wait_finished(seed, entry["notification_uuid"]) == "finished"
    faults.wait_for_agent(dom, timeout=90)


def test_death_while_libvirtd_is_down_is_found_on_reconnect(lab, seed,
                                                            monitor):
    dom = protected_guest(lab, seed)
    monitor.wait_for(lambda s: domain_view(s, dom).get("state") == "running")

    lab.libvirtd.stop(kill=True)
    monitor.wait_for(lambda s: not s["libvirt"]["connected"], timeout=30)
    faults.kill_qemu(dom)
    time.sleep(1)
    lab.libvirtd.start()
    lab.reconnect()
    dom = lab.conn.lookupByUUIDString(dom.UUIDString())

    state = monitor.wait_for(lambda s: s["libvirt"]["connected"] and any(
        e["state"] == "accepted" for e in outbox_entries(s, dom)), timeout=60)
    assert "while the monitor was not listening" in \
        domain_view(state, dom)["last_notified_reason"]
    entry, = outbox_entries(state, dom)
    assert wait_finished(seed, entry["notification_uuid"]) == "finished"
    faults.wait_for_agent(dom, timeout=90)


def test_operations_that_are_not_failures_are_never_sent(lab, seed,
                                                         fast_monitor):
    """What an operator, Nova or the guest itself does on purpose: never
    a recovery, watched for well past a false hang's detection time."""
    monitor = fast_monitor
    paused, halted, stopped, silent, rebooted = (
        protected_guest(lab, seed, stats_period=FAST_STATS_PERIOD)
        for _ in range(5))
    everyone = (paused, halted, stopped, silent, rebooted)
    monitor.wait_for(lambda s: all(
        domain_view(s, d).get("heartbeat") == "monitored" for d in everyone))

    paused.suspend()
    faults.shutdown_inside(halted)
    seed.admin.compute.stop_server(stopped.UUIDString())  # Nova's own stop
    faults.stop_agent(silent)
    faults.reboot_inside(rebooted)

    state = monitor.wait_for(lambda s: (
        domain_view(s, paused).get("last_event") == "SUSPENDED_PAUSED" and
        domain_view(s, halted).get("last_event") == "STOPPED_SHUTDOWN" and
        domain_view(s, stopped).get("last_event") == "STOPPED_DESTROYED" and
        domain_view(s, rebooted).get("last_event") == "REBOOT"))
    time.sleep(QUIET_WINDOW)
    paused.resume()
    state = monitor.wait_for(lambda s: domain_view(s, paused).get(
        "last_event") == "RESUMED_UNPAUSED")

    for dom in everyone:
        assert outbox_entries(state, dom) == [], dom.name()
    assert domain_view(state, silent)["heartbeat"] == \
        "not monitored: agent port closed by the guest"
    assert domain_view(state, silent)["hang_detection"] == "kernel"
    for dom in (halted, stopped):
        assert domain_view(state, dom)["last_decision"] == "record only"
    assert faults.ping(paused)
