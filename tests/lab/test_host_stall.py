"""A host-wide stall, with the defaults an operator runs (heartbeats
10/2/3, Nova's balloon statistics every 10 s, the storm guard as shipped):
every QEMU of the host stopped for a minute, as a swap storm or CPU
starvation stops every guest at once, is no guest's failure."""
import datetime
import time

from tools.lab import faults
from tools.lab.monitor_process import domain_view
from tools.lab.monitor_process import outbox_entries
from tools.lab.stack import protected_guest

INTERVAL, THRESHOLD = 10, 3  # the shipped defaults the monitor runs here
STALL = 60  # seconds every QEMU of the host stays stopped
WATCH = 90  # seconds watched after the stall


def generated_at(entry):
    """The wall-clock time a notification was decided."""
    return datetime.datetime.strptime(
        entry["generated_time"], "%Y-%m-%dT%H:%M:%S.%f").replace(
            tzinfo=datetime.timezone.utc).timestamp()


def test_a_host_stall_is_no_guests_failure(lab, seed, monitor,
                                          record_property):
    """Every QEMU of the host stopped for 60 s (SIGSTOP) and continued,
    guests with and without the agent: nothing is sent to Masakari during
    the stall or in the 90 s after it, and those guests answer.  One guest
    whose kernel really hung just before the stall is declared once,
    after the stall, on heartbeats missed after it (no sooner than
    threshold heartbeats at the interval take)."""
    lab.remove_guests()  # every QEMU of the host is stopped: ours only
    with_agent = [protected_guest(lab, seed) for _ in range(4)]
    without_agent = [protected_guest(lab, seed, agent_channel=False,
                                     wait=False) for _ in range(2)]
    hung = protected_guest(lab, seed)
    monitor.wait_for(lambda s: all(
        domain_view(s, d).get("hang_detection") == "agent and kernel"
        for d in with_agent + [hung]) and all(
        domain_view(s, d).get("hang_detection") == "kernel"
        for d in without_agent), timeout=120)
    time.sleep(2 * INTERVAL + 5)  # settled, every signal known

    # right after one of its heartbeats: no other falls before the stall
    last_ok = domain_view(monitor.status(), hung)["last_heartbeat_ok"]
    monitor.wait_for(lambda s: domain_view(s, hung)[
        "last_heartbeat_ok"] != last_ok, timeout=2 * INTERVAL)
    faults.hang_kernel(hung)
    faults.console_shows(hung, "Kernel panic")
    with faults.host_stall() as stopped:
        stalled_at = time.time()
        time.sleep(STALL)
    resumed_at, resumed = time.time(), time.monotonic()
    print("\n%d QEMU processes stopped for %.1f s" % (
        len(stopped), resumed_at - stalled_at))
    declared = None
    while time.monotonic() < resumed + WATCH:
        state = monitor.status()
        assert state is not None, "the monitor exited (%s) after the " \
            "stall:\n%s" % (monitor.proc.poll(), monitor.log_text()[-2000:])
        if declared is None and outbox_entries(state, hung):
            declared = generated_at(outbox_entries(state, hung)[0]) - \
                resumed_at
            print("the guest hung before the stall: declared %.1f s after "
                  "the stall ended (negative: during it)" % declared)
            record_property("hung_guest_declared_after_stall_s",
                            round(declared, 1))
        time.sleep(1)
    state = monitor.status()

    healthy = with_agent + without_agent
    sent = {d.name(): [e["event"] for e in outbox_entries(state, d)]
            for d in healthy if outbox_entries(state, d)}
    in_masakari = sum(len(seed.notifications_for(d.UUIDString()))
                      for d in healthy)
    print("notifications for the %d healthy guests: %d in the outbox, %d "
          "in Masakari; for the hung guest: %d" % (
              len(healthy), sum(map(len, sent.values())), in_masakari,
              len(outbox_entries(state, hung))))
    assert sent == {}, {d.name(): domain_view(state, d) for d in healthy}
    assert in_masakari == 0
    for dom in with_agent:
        assert faults.ping(dom), dom.name()
    for dom in healthy:
        view = domain_view(state, dom)
        assert view["liveness"] == "healthy", view
        assert view["kernel"].startswith("alive"), view
    assert declared is not None, domain_view(state, hung)
    entry, = outbox_entries(state, hung)
    assert entry["event"] == "QEMU_GUEST_AGENT_ERROR/STOPPED_FAILED"
    assert generated_at(entry) > resumed_at
    assert declared >= (THRESHOLD - 1) * INTERVAL, \
        domain_view(state, hung)["last_notified_reason"]
    assert len(seed.notifications_for(hung.UUIDString())) == 1
