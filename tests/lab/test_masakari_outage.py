"""Masakari unreachable while a guest hangs and recovers by itself: what
was pending for it is withdrawn, not sent when Masakari is back."""
import time

from tools.lab import faults
from tools.lab.monitor_process import FAST_STATS_PERIOD
from tools.lab.monitor_process import domain_view
from tools.lab.monitor_process import outbox_entries
from tools.lab.stack import protected_guest

FREEZE = 45  # seconds the guest's agent and kernel stay silent
AFTER = 30  # seconds watched once Masakari answers again


def test_a_hang_that_recovers_while_masakari_is_down_is_withdrawn(
        lab, seed, cloud, fast_monitor):
    """A guest-level freeze (qemu-ga stopped, the balloon driver unbound:
    agent and kernel silent, QEMU running) is declared hung while
    Masakari's API refuses connections; the guest answers again by
    itself; Masakari comes back: nothing is sent for that guest, and its
    outbox entry says withdrawn."""
    monitor = fast_monitor
    dom = protected_guest(lab, seed, stats_period=FAST_STATS_PERIOD)
    monitor.wait_for(lambda s: domain_view(s, dom).get("hang_detection") ==
                     "agent and kernel", timeout=60)
    time.sleep(3 * FAST_STATS_PERIOD)

    cloud.stop_service("masakari")
    try:
        frozen = time.monotonic()
        faults.freeze_guest(dom, FREEZE)
        state = monitor.wait_for(lambda s: any(
            e["attempts"] >= 1 for e in outbox_entries(s, dom)),
            timeout=FREEZE - 5)
        declared = time.monotonic() - frozen
        attempt, = outbox_entries(state, dom)
        reason = domain_view(state, dom)["last_notified_reason"]
        print("\nfreeze -> declared and a send refused within %.1f s: %s; "
              "%s" % (declared, reason, attempt["last_error"]))
        assert attempt["state"] == "pending"
        faults.wait_for_agent(dom, timeout=FREEZE + 30)
        answering = time.monotonic() - frozen
        state = monitor.wait_for(lambda s: domain_view(s, dom).get(
            "heartbeat_failures") == 0 and domain_view(s, dom).get(
            "kernel", "").startswith("alive"), timeout=30)
        print("answering again %.1f s after the freeze began; liveness %s"
              % (answering, domain_view(state, dom)["liveness"]))
    finally:
        cloud.start_masakari()
    time.sleep(AFTER)
    state = monitor.status()

    sent = seed.notifications_for(dom.UUIDString())
    print("after Masakari came back: %d notification(s) for the guest, "
          "outbox %s" % (len(sent), [(e["state"], e["attempts"])
                                     for e in outbox_entries(state, dom)]))
    assert sent == []
    entry, = outbox_entries(state, dom)
    assert entry["state"] == "withdrawn", entry
    assert entry["event"] == "QEMU_GUEST_AGENT_ERROR/STOPPED_FAILED"
