"""The decision table on real guests, with the defaults an operator runs
(heartbeats 10/2/3, Nova's balloon statistics period of 10 s, the storm
guard as shipped): a frozen agent is not a hung guest, a hung kernel is
found with or without an agent, and what a guest or an operator does on
purpose is left alone."""
import datetime
import time

from tools.lab import faults
from tools.lab.monitor_process import domain_view
from tools.lab.monitor_process import outbox_entries
from tools.lab.stack import protected_guest

WATCH = 120  # seconds every guest is watched after its fault
# threshold x interval + timeout + a few s; (stale periods + 1) x period +
# a few s; the agent alone, as before the kernel heartbeat
PANIC_BOUND, KERNEL_BOUND, AGENT_BOUND = 36, 35, 36


def detections(faulted_at, state, guests):
    """{name: seconds from the fault to the decision}, from the
    generated_time of each guest's first notification."""
    found = {}
    for name, dom in guests.items():
        entries = outbox_entries(state, dom)
        if entries:
            decided = datetime.datetime.strptime(
                entries[0]["generated_time"], "%Y-%m-%dT%H:%M:%S.%f").replace(
                    tzinfo=datetime.timezone.utc).timestamp()
            found[name] = decided - faulted_at[name]
    return found


def test_the_decision_table_on_real_guests(lab, seed, monitor):
    """Four guests that hang at once, each on its own, are found one by
    one with the storm guard as shipped: independent guest hangs are no
    host-wide storm."""
    guests = {
        "frozen agent": protected_guest(lab, seed),
        "panic": protected_guest(lab, seed),
        "no agent, kernel hang": protected_guest(lab, seed,
                                                 agent_channel=False,
                                                 wait=False),
        "agent stopped, kernel hang": protected_guest(lab, seed),
        "no balloon stats, panic": protected_guest(lab, seed,
                                                   stats_period=0),
        "paused 60 s": protected_guest(lab, seed),
        "rebooted": protected_guest(lab, seed),
        "shut down": protected_guest(lab, seed),
        "healthy": protected_guest(lab, seed),
    }
    agentful = {n: d for n, d in guests.items()
                if n != "no agent, kernel hang"}
    monitor.wait_for(lambda s: all(
        domain_view(s, d).get("heartbeat") == "monitored"
        for d in agentful.values()), timeout=120)
    monitor.wait_for(lambda s: domain_view(
        s, guests["no agent, kernel hang"]).get("hang_detection") ==
        "kernel", timeout=60)
    faults.stop_agent(guests["agent stopped, kernel hang"])
    monitor.wait_for(lambda s: domain_view(
        s, guests["agent stopped, kernel hang"]).get("heartbeat") ==
        "not monitored: agent port closed by the guest")
    time.sleep(25)  # one settled interval with every signal known

    faulted_at = {}  # wall clock, as the notifications' generated_time
    for name, fault in (
            ("frozen agent", faults.freeze_agent),
            ("panic", faults.hang_kernel),
            ("no agent, kernel hang", faults.hang_kernel_from_host),
            ("agent stopped, kernel hang", faults.hang_kernel_from_host),
            ("no balloon stats, panic", faults.hang_kernel),
            ("paused 60 s", lambda d: d.suspend()),
            ("rebooted", faults.reboot_inside),
            ("shut down", faults.shutdown_inside)):
        faulted_at[name] = time.time()
        fault(guests[name])
    faulted_at["healthy"] = time.time()
    time.sleep(60)
    guests["paused 60 s"].resume()
    time.sleep(max(0.0, faulted_at["healthy"] + WATCH - time.time()))
    state = monitor.status()
    found = detections(faulted_at, state, guests)
    print("\nfault -> notification: %s" % ", ".join(
        "%s %.1f s" % item for item in sorted(found.items())))

    frozen = domain_view(state, guests["frozen agent"])
    assert "frozen agent" not in found, frozen
    assert frozen["liveness"] == "agent unresponsive, kernel alive"
    assert frozen["heartbeat_failures"] >= 3
    assert frozen["kernel"].startswith("alive")
    for name, bound in (("panic", PANIC_BOUND),
                        ("no agent, kernel hang", KERNEL_BOUND),
                        ("agent stopped, kernel hang", KERNEL_BOUND),
                        ("no balloon stats, panic", AGENT_BOUND)):
        assert found.get(name, float("inf")) <= bound, (
            name, domain_view(state, guests[name]))
    for name in ("paused 60 s", "rebooted", "shut down", "healthy"):
        assert name not in found, domain_view(state, guests[name])
    for name in ("panic", "no agent, kernel hang",
                 "agent stopped, kernel hang", "no balloon stats, panic"):
        entry, = outbox_entries(state, guests[name])
        assert entry["event"] == "QEMU_GUEST_AGENT_ERROR/STOPPED_FAILED"
    log = monitor.log_text()
    assert log.count("the agent is unresponsive, the guest is not "
                     "recovered") == 1
