"""The hang policy, every guard and boundary, with an injected clock."""
import pytest

from monitor import policy as p

S = p.Settings(interval=10, timeout=2, threshold=3, reboot_grace=60,
               max_recoveries=3, recovery_window=3600, storm_fraction=0.5,
               storm_min_guests=4)


def ready(pol, uuid="vm", now=0.0):
    pol.started(uuid, now)
    pol.agent_changed(uuid, now, connected=True)
    return pol


def fail(pol, times, uuid="vm", start=10.0, **kwargs):
    decisions = []
    for i in range(times):
        decisions += pol.heartbeat(uuid, start + i * S.interval, False,
                                   "timeout", **kwargs)
    return decisions


def actions(decisions):
    return [d.action for d in decisions]


@pytest.mark.parametrize("failures,expected", [
    (0, []), (1, []), (2, []), (3, [p.NOTIFY]), (4, [p.NOTIFY]),
    (10, [p.NOTIFY]),
])
def test_exactly_threshold_failures_notify_once(failures, expected):
    pol = ready(p.Policy(S))
    assert actions(fail(pol, failures)) == expected


def test_notify_reason_names_the_count_and_the_last_error():
    pol = ready(p.Policy(S))
    decision, = fail(pol, 3)
    assert decision.uuid == "vm"
    assert decision.reason == \
        "3 consecutive heartbeats failed (last: timeout)"


def test_a_success_in_between_restarts_the_count():
    pol = ready(p.Policy(S))
    fail(pol, 2)
    pol.heartbeat("vm", 30, True)
    assert actions(fail(pol, 2, start=40)) == []
    assert actions(fail(pol, 1, start=60)) == [p.NOTIFY]


def test_recovered_guest_is_watched_again_and_can_hang_again():
    pol = ready(p.Policy(S))
    assert actions(fail(pol, 3)) == [p.NOTIFY]
    pol.heartbeat("vm", 100, True)  # answering again (no STARTED needed)
    assert pol.guest("vm").last_decision == "recovered"
    assert actions(fail(pol, 3, start=200)) == [p.NOTIFY]


def test_a_new_boot_resets_and_waits_for_the_agent():
    pol = ready(p.Policy(S))
    fail(pol, 2)
    pol.started("vm", 50)  # Masakari restarted it
    assert pol.guest("vm").monitored(51) == (False, p.NEVER)
    assert actions(fail(pol, 5, start=60)) == []


@pytest.mark.parametrize("setup,why", [
    (lambda pol: None, p.NEVER),  # agent not installed, or still booting
    (lambda pol: pol.agent_changed("vm", 5, connected=False), p.CLOSED),
    (lambda pol: pol.paused("vm", 5), "paused"),
    (lambda pol: pol.shutting_down("vm", 5), "shutting down"),
    (lambda pol: pol.stopped("vm", 5), "not running"),
])
def test_guards_that_stop_counting(setup, why):
    pol = p.Policy(S)
    pol.started("vm", 0)
    if why != p.NEVER:
        pol.agent_changed("vm", 0, connected=True)
    setup(pol)
    assert pol.guest("vm").monitored(10) == (False, why)
    assert fail(pol, 10) == []
    assert pol.guest("vm").failures == 0


@pytest.mark.parametrize("busy", ["paused", "migrating", "job active",
                                  "not running"])
def test_failures_excused_by_what_the_prober_saw(busy):
    pol = ready(p.Policy(S))
    assert fail(pol, 10, busy=busy) == []


def test_resumed_guest_counts_again():
    pol = ready(p.Policy(S))
    pol.paused("vm", 5)
    fail(pol, 5)
    pol.paused("vm", 60, paused=False)
    assert actions(fail(pol, 3, start=70)) == [p.NOTIFY]


@pytest.mark.parametrize("offset,counted", [
    (0, False), (59, False), (59.9, False), (60, True), (61, True)])
def test_reboot_grace_boundary(offset, counted):
    pol = ready(p.Policy(S))
    pol.rebooted("vm", 100)
    pol.heartbeat("vm", 100 + offset, False, "timeout")
    assert pol.guest("vm").failures == (1 if counted else 0)


def test_agent_reconnecting_clears_failures():
    pol = ready(p.Policy(S))
    fail(pol, 2)
    pol.agent_changed("vm", 30, connected=False)
    pol.agent_changed("vm", 31, connected=True)
    assert actions(fail(pol, 2, start=40)) == []


# -- restart budget -------------------------------------------------------

def hang_and_recover(pol, start):
    decisions = fail(pol, 3, start=start)
    pol.started("vm", start + 40, agent_connected=True)
    return decisions


@pytest.mark.parametrize("budget,expected", [
    (1, [p.NOTIFY, p.QUARANTINE, p.QUARANTINE]),
    (2, [p.NOTIFY, p.NOTIFY, p.QUARANTINE]),
    (3, [p.NOTIFY, p.NOTIFY, p.NOTIFY]),
])
def test_restart_budget(budget, expected):
    pol = ready(p.Policy(S.__class__(**{**S.__dict__,
                                        "max_recoveries": budget})))
    got = []
    for k in range(3):
        got += actions(hang_and_recover(pol, 100 + k * 100))
    assert got == expected


def test_quarantine_ends_when_the_window_passes():
    pol = ready(p.Policy(S))
    for k in range(3):
        hang_and_recover(pol, 100 + k * 100)
    assert actions(hang_and_recover(pol, 400)) == [p.QUARANTINE]
    assert "vm" in pol.quarantined
    # the window is counted from the recoveries: the first at t=120
    assert not pol.budget_allows("vm", 120 + 3600 - 1)
    late = 320 + 3600 + 1  # all three recoveries have aged out
    assert actions(hang_and_recover(pol, late)) == [p.NOTIFY]
    assert "vm" not in pol.quarantined


def test_operator_clears_quarantine():
    pol = ready(p.Policy(S))
    for k in range(4):
        hang_and_recover(pol, 100 + k * 100)
    pol.clear_quarantine("vm")
    assert actions(hang_and_recover(pol, 600)) == [p.NOTIFY]


def test_budget_is_shared_with_process_deaths_and_survives_restart():
    pol = ready(p.Policy(S))
    for k in range(3):
        assert pol.process_death("vm", 100 + k, "died").action == p.NOTIFY
    assert pol.process_death("vm", 110, "died").action == p.QUARANTINE
    reborn = p.Policy(S, recoveries=pol.recoveries,
                      quarantined=pol.quarantined)
    assert reborn.process_death("vm", 120, "died").action == p.QUARANTINE


# -- storm ------------------------------------------------------------------

def host_of(count):
    pol = p.Policy(S)
    for i in range(count):
        ready(pol, "vm%d" % i)
    return pol


def test_storm_holds_per_vm_notifications_and_releases_them():
    pol = host_of(4)
    got = []
    for round_ in range(3):
        for i in range(3):  # 3 of 4 = 75 % failing
            got += pol.heartbeat("vm%d" % i, 10 + round_ * 10, False, "t/o")
    assert actions(got) == [p.STORM_BEGIN, p.HOLD, p.HOLD, p.HOLD]
    assert pol.storm
    # one answers again: 2 of 4 failing is not more than half, the storm
    # ends, and the two still hung are recovered after all
    end = pol.heartbeat("vm0", 50, True)
    assert actions(end) == [p.STORM_END, p.NOTIFY, p.NOTIFY]
    assert {d.uuid for d in end[1:]} == {"vm1", "vm2"}
    assert "held during a storm" in end[1].reason


@pytest.mark.parametrize("count,failing,storm", [
    (4, 2, False),  # 50 %: not more than the fraction
    (4, 3, True),
    (3, 3, False),  # too few monitored guests to call it a storm
    (10, 5, False), (10, 6, True),
])
def test_storm_boundaries(count, failing, storm):
    pol = host_of(count)
    for i in range(failing):
        pol.heartbeat("vm%d" % i, 10, False, "t/o")
    assert pol.storm is storm
