"""The engine: every transition, guard and key rule, as tables, with the
time given.  Regression tests name the defect they guard."""
import dataclasses
import itertools

import libvirt
import pytest

from monitor import effects as fx
from monitor import engine as engine_mod
from monitor import guest as gm
from monitor import notification
from monitor import observations as obs

LV = libvirt
S = engine_mod.Settings(
    hostname="cmp-1", interval=10, timeout=2, threshold=3, reboot_grace=60,
    max_recoveries=3, recovery_window=3600, storm_fraction=0.5,
    storm_min_guests=4, forensics=False, kernel_stale_periods=2,
    kernel_slack=5, kernel_poll_interval=10)
RUNNING, SHUTOFF = LV.VIR_DOMAIN_RUNNING, LV.VIR_DOMAIN_SHUTOFF
STARTED, STOPPED = LV.VIR_DOMAIN_EVENT_STARTED, LV.VIR_DOMAIN_EVENT_STOPPED
FAILED = LV.VIR_DOMAIN_EVENT_STOPPED_FAILED
DESTROYED = LV.VIR_DOMAIN_EVENT_STOPPED_DESTROYED
BOOTED = LV.VIR_DOMAIN_EVENT_STARTED_BOOTED
DEATH = notification.PROCESS_DIED


def listed(uuid="vm", dom_id=1, state=RUNNING, reason=1, channel=True,
           agent=True, period=None):
    return obs.Domain(uuid, "i-" + uuid, dom_id, state, reason, channel,
                      agent, period)


class Host:
    """An engine with a clock, fed one observation at a time."""

    def __init__(self, settings=S, restored=None):
        self.engine = engine_mod.Engine(settings, restored)
        self.now = 0.0
        self.effects = []

    def __call__(self, observation, at=None):
        if at is not None:
            self.now = at
        out = self.engine.observe(observation, self.now)
        self.effects += out
        return out

    def connect(self, *domains, host_boot="boot-A", at=None):
        return self(obs.Connected(tuple(domains), host_boot), at)

    def event(self, event, detail, uuid="vm", dom_id=1, at=None):
        return self(obs.Lifecycle(uuid, "i-" + uuid, event, detail, dom_id),
                    at)

    def beats(self, count, ok=False, uuid="vm", excuse=None, every=10.0):
        out = []
        for _ in range(count):
            out += self(obs.Heartbeat(uuid, ok, "timeout", excuse),
                        self.now + every)
        return out

    def guest(self, uuid="vm"):
        return self.engine.guests[uuid]


def enqueued(effects):
    return [e for e in effects if isinstance(e, fx.Enqueue)]


def keys(effects):
    return [e.key for e in enqueued(effects)]


def of(kind, effects):
    return [e for e in effects if isinstance(e, kind)]


def running_host(settings=S, **domain):
    host = Host(settings)
    host.connect(listed(**domain))
    return host


# -- incident identity --------------------------------------------------------

def test_defect_crash_after_host_reboot_with_same_domain_id_is_sent():
    """Domain IDs restart at 1 after a host reboot; the key used to be
    uuid/domain-id/event, so the second crash was 'already recorded'."""
    host = running_host(dom_id=3)
    first = keys(host.event(STOPPED, FAILED, dom_id=3, at=100))
    host.event(STARTED, BOOTED, dom_id=4, at=110)  # recovered
    # the host reboots; the monitor comes back with what the store kept
    restored = engine_mod.Restored(
        boots={u: (g.name, g.boot) for u, g in host.engine.guests.items()
               if g.boot}, next_boot=host.engine.next_boot)
    rebooted = Host(restored=restored)
    rebooted.connect(listed(dom_id=3), host_boot="boot-B", at=200)
    second = keys(rebooted.event(STOPPED, FAILED, dom_id=3, at=300))
    assert len(first) == len(second) == 1
    assert first != second


def test_defect_libvirtd_restart_with_nothing_running_reuses_ids():
    host = running_host(dom_id=3)
    first = keys(host.event(STOPPED, FAILED, dom_id=3, at=100))
    host(obs.Disconnected("end of file"), at=110)
    host.connect(listed(state=SHUTOFF, reason=LV.VIR_DOMAIN_SHUTOFF_CRASHED,
                        dom_id=-1), at=120)  # libvirtd back, nothing runs
    host.event(STARTED, BOOTED, dom_id=1, at=130)
    host.event(STOPPED, FAILED, dom_id=1, at=140)
    host.event(STARTED, BOOTED, dom_id=3, at=150)  # id 3 once more
    third = keys(host.event(STOPPED, FAILED, dom_id=3, at=160))
    assert len(set(first + third)) == 2
    assert len(keys(host.effects)) == 3


def test_the_same_death_by_event_and_by_reconcile_is_one_incident():
    host = running_host()
    host.event(STOPPED, FAILED, at=10)
    host(obs.Disconnected("eof"), at=11)
    host.connect(listed(state=SHUTOFF, reason=LV.VIR_DOMAIN_SHUTOFF_CRASHED,
                        dom_id=-1), at=12)
    assert len(keys(host.effects)) == 1


def test_a_death_found_by_reconcile_is_sent_with_the_boot_it_ended():
    host = running_host(dom_id=7)
    boot = host.guest().boot.seq
    host(obs.Disconnected("eof"), at=10)
    out = host.connect(listed(state=SHUTOFF, dom_id=-1,
                              reason=LV.VIR_DOMAIN_SHUTOFF_CRASHED), at=12)
    assert keys(out) == [notification.death_key("vm", boot, DEATH)]
    assert "while the monitor was not listening" in \
        host.guest().view["reason"]
    assert of(fx.DropBoot, out) and of(fx.Unwatch, out)
    assert fx.Count("events", "STOPPED_FAILED") in out  # counted as a death


@pytest.mark.parametrize("state,reason,reported", [
    (SHUTOFF, LV.VIR_DOMAIN_SHUTOFF_CRASHED, True),
    (LV.VIR_DOMAIN_CRASHED, LV.VIR_DOMAIN_CRASHED_PANICKED, True),
    (SHUTOFF, LV.VIR_DOMAIN_SHUTOFF_DESTROYED, False),  # Nova's stop
    (SHUTOFF, LV.VIR_DOMAIN_SHUTOFF_SHUTDOWN, False),  # in-guest poweroff
    (SHUTOFF, LV.VIR_DOMAIN_SHUTOFF_MIGRATED, False),
    (SHUTOFF, LV.VIR_DOMAIN_SHUTOFF_SAVED, False),
    (RUNNING, 1, False),  # running again: nothing to recover
])
def test_reconcile_reports_only_unseen_deaths(state, reason, reported):
    host = running_host()
    host(obs.Disconnected("eof"), at=10)
    out = host.connect(listed(state=state, reason=reason, dom_id=2), at=20)
    assert len(keys(out)) == (1 if reported else 0)


def test_reconcile_ignores_domains_never_seen_running():
    host = Host()
    out = host.connect(listed(state=SHUTOFF, dom_id=-1,
                              reason=LV.VIR_DOMAIN_SHUTOFF_CRASHED))
    assert keys(out) == [] and host.guest().boot is None


def test_panic_then_stop_make_one_notification():
    host = running_host()
    host.event(LV.VIR_DOMAIN_EVENT_CRASHED,
               LV.VIR_DOMAIN_EVENT_CRASHED_PANICKED, at=10)
    host.event(STOPPED, LV.VIR_DOMAIN_EVENT_STOPPED_CRASHED, at=11)
    assert len(keys(host.effects)) == 1
    assert host.guest().view["last_decision"] == \
        "notify LIFECYCLE/STOPPED_FAILED (already recorded)"


def test_a_death_without_a_running_boot_is_not_sent_again():
    host = running_host()
    host.event(STOPPED, FAILED, at=10)
    assert keys(host.event(STOPPED, FAILED, at=11)) == []


def test_events_newer_than_the_listing_win():
    """A domain whose STOPPED/FAILED arrived while the listing ran is left
    to its events: the listing saw it before it died."""
    host = running_host()
    host.event(STOPPED, FAILED, at=10)
    out = host(obs.Connected((listed(),), "boot-A", frozenset({"vm"})), 11)
    assert host.guest().boot is None and not of(fx.PutBoot, out)


def test_started_event_of_a_listed_process_keeps_its_boot():
    host = running_host(dom_id=5)
    boot = host.guest().boot.seq
    host.event(STARTED, BOOTED, dom_id=5, at=1)
    assert host.guest().boot.seq == boot


@pytest.mark.parametrize("boot,ordinal,expected", [
    (1, 1, "vm/b1/QEMU_GUEST_AGENT_ERROR/STOPPED_FAILED/h1"),
    (12, 3, "vm/b12/QEMU_GUEST_AGENT_ERROR/STOPPED_FAILED/h3"),
])
def test_hang_keys(boot, ordinal, expected):
    assert notification.hang_key("vm", boot, ordinal) == expected


def test_boot_numbers_are_never_reused_after_a_restart():
    host = running_host()
    restored = engine_mod.Restored(next_boot=host.engine.next_boot)
    again = Host(restored=restored)
    again.connect(listed(uuid="other"))
    assert again.guest("other").boot.seq >= host.guest().boot.seq + 1


# -- lifecycle table ----------------------------------------------------------

@pytest.mark.parametrize("event,power,boot", [
    (LV.VIR_DOMAIN_EVENT_STARTED, gm.RUNNING, "new"),
    (LV.VIR_DOMAIN_EVENT_SUSPENDED, gm.PAUSED, "same"),
    (LV.VIR_DOMAIN_EVENT_RESUMED, gm.RUNNING, "same"),
    (LV.VIR_DOMAIN_EVENT_PMSUSPENDED, gm.PAUSED, "same"),
    (LV.VIR_DOMAIN_EVENT_SHUTDOWN, gm.SHUTTING_DOWN, "same"),
    (LV.VIR_DOMAIN_EVENT_CRASHED, gm.CRASHED, "same"),
    (LV.VIR_DOMAIN_EVENT_STOPPED, gm.OFF, "none"),
    (LV.VIR_DOMAIN_EVENT_DEFINED, gm.RUNNING, "same"),
    # a running domain undefined (Nova's live snapshot, volume swap) is
    # the same QEMU: watched on the same boot
    (LV.VIR_DOMAIN_EVENT_UNDEFINED, gm.RUNNING, "same"),
])
def test_lifecycle_events(event, power, boot):
    host = running_host(dom_id=5)
    before = host.guest().boot.seq
    host.event(event, 0, dom_id=9 if boot == "new" else 5, at=1)
    guest = host.guest()
    assert guest.power == power
    assert {"new": lambda: guest.boot.seq > before,
            "same": lambda: guest.boot.seq == before,
            "none": lambda: guest.boot is None}[boot]()


def test_every_libvirt_lifecycle_event_has_a_row():
    names = {a[len("VIR_DOMAIN_EVENT_"):] for a in dir(libvirt)
             if a.startswith("VIR_DOMAIN_EVENT_") and "_" not in
             a[len("VIR_DOMAIN_EVENT_"):] and a != "VIR_DOMAIN_EVENT_ID"}
    values = {getattr(libvirt, "VIR_DOMAIN_EVENT_" + n) for n in names}
    assert values == set(gm.LIFECYCLE)


def test_defect_undefined_domains_leave_nothing_behind():
    """Every STARTED started a prober task and UNDEFINED was never
    handled: tasks and status rows grew with VM churn."""
    host = Host()
    host.connect()
    for n in range(50):
        uuid = "vm%d" % n
        host.event(LV.VIR_DOMAIN_EVENT_DEFINED, 0, uuid, -1)
        host.event(STARTED, BOOTED, uuid, n + 1)
        host(obs.Described(uuid, True, 10))
        host.event(STOPPED, DESTROYED, uuid, n + 1)
        host.event(LV.VIR_DOMAIN_EVENT_UNDEFINED, 0, uuid, -1)
    assert host.engine.guests == {}
    assert len(of(fx.Watch, host.effects)) == 50
    assert len(of(fx.Unwatch, host.effects)) == 50
    assert host.engine.view(host.now)["domains"] == []


def test_a_domain_missing_from_a_listing_is_forgotten():
    host = running_host()
    host(obs.Disconnected("eof"))
    out = host.connect(listed(uuid="other"))
    assert set(host.engine.guests) == {"other"}
    assert fx.DropBoot("vm") in out and fx.Unwatch("vm") in out


# -- heartbeats ---------------------------------------------------------------

@pytest.mark.parametrize("failures,notified", [
    (0, 0), (1, 0), (2, 0), (3, 1), (4, 1), (10, 1)])
def test_exactly_threshold_failures_notify_once(failures, notified):
    host = running_host()
    assert len(keys(host.beats(failures))) == notified


def test_hang_notification_names_the_count_and_the_last_error():
    host = running_host()
    enqueue, = enqueued(host.beats(3))
    assert enqueue.body["payload"] == {
        "event": "QEMU_GUEST_AGENT_ERROR", "instance_uuid": "vm",
        "vir_domain_event": "STOPPED_FAILED"}
    assert host.guest().view["reason"] == \
        "3 consecutive heartbeats failed (last: timeout)"


def test_a_success_in_between_restarts_the_count():
    host = running_host()
    host.beats(2)
    host.beats(1, ok=True)
    assert keys(host.beats(2)) == []
    assert len(keys(host.beats(1))) == 1


def test_a_guest_answering_again_can_hang_again_in_the_same_boot():
    host = running_host()
    first = keys(host.beats(3))
    host.beats(1, ok=True)
    assert host.guest().view["reason"] == "answering again"
    second = keys(host.beats(3))
    assert len(first) == len(second) == 1 and first != second
    assert second[0].endswith("/h2")


def test_a_new_boot_resets_and_waits_for_the_agent():
    host = running_host()
    host.beats(2)
    host.event(STOPPED, DESTROYED, at=50)
    host.event(STARTED, BOOTED, dom_id=2, at=51)
    host(obs.Described("vm", True))
    assert host.guest().agent == gm.NEVER
    assert keys(host.beats(5)) == []


GUARDS = [  # (what happens, why status says it is not monitored)
    (lambda h: None, None),
    (lambda h: h(obs.AgentLifecycle("vm", "i-vm", False, True)), gm.CLOSED),
    (lambda h: h(obs.AgentLifecycle("vm", "i-vm", False, False)), gm.NEVER),
    (lambda h: h(obs.Described("vm", False)), gm.ABSENT),
    (lambda h: h.event(LV.VIR_DOMAIN_EVENT_SUSPENDED, 0), "paused"),
    (lambda h: h.event(LV.VIR_DOMAIN_EVENT_PMSUSPENDED, 0), "paused"),
    (lambda h: h.event(LV.VIR_DOMAIN_EVENT_SHUTDOWN, 0), "shutting down"),
    (lambda h: h(obs.Disconnected("eof")), "libvirt connection down"),
    (lambda h: h(nova_reading(("other", True, "active", None))),
     "HA_Enabled is not set on the server"),
]


def nova_reading(*servers, error=None, read_at=None):
    """NovaServers from (uuid, HA_Enabled, vm_state, task_state) rows;
    ``read_at``: when its request was sent."""
    if error:
        return obs.NovaServers(None, error, read_at)
    return obs.NovaServers(tuple(obs.Server(*row) for row in servers), None,
                           read_at)


ONLY_HA = dataclasses.replace(S, ha_enabled_only=True)


@pytest.mark.parametrize("setup,why", GUARDS)
def test_guards_that_stop_counting(setup, why):
    host = running_host(ONLY_HA)
    setup(host)
    view = host.engine.view(host.now)["domains"][0]
    if why is None:  # the control row: the same host does notify
        assert view["heartbeat"] == "monitored"
        assert len(keys(host.beats(3))) == 1
        return
    assert view["heartbeat"] == "not monitored: " + why
    assert keys(host.beats(10)) == []
    assert host.guest().failures == 0


@pytest.mark.parametrize("excuse", ["paused", "not running",
                                    "migrating or another libvirt job",
                                    "no free heartbeat worker"])
def test_failures_excused_by_what_the_prober_saw(excuse):
    host = running_host()
    assert keys(host.beats(10, excuse=excuse)) == []
    assert fx.Count("heartbeat_failures", "excused") in host.effects


def test_resumed_guest_counts_again():
    host = running_host()
    host.event(LV.VIR_DOMAIN_EVENT_SUSPENDED, 0)
    host.beats(5)
    host.event(LV.VIR_DOMAIN_EVENT_RESUMED, 0)
    assert len(keys(host.beats(3))) == 1


@pytest.mark.parametrize("offset,counted", [
    (0, False), (59, False), (59.9, False), (60, True), (61, True)])
def test_reboot_grace_boundary(offset, counted):
    host = running_host()
    host(obs.Rebooted("vm", "i-vm"), at=100)
    host(obs.Heartbeat("vm", False, "timeout"), at=100 + offset)
    assert host.guest().failures == (1 if counted else 0)


def test_agent_reconnecting_clears_failures():
    host = running_host()
    host.beats(2)
    host(obs.AgentLifecycle("vm", "i-vm", False, True))
    host(obs.AgentLifecycle("vm", "i-vm", True))
    assert keys(host.beats(2)) == []


def test_defect_libvirtds_agent_event_at_reconnect_keeps_the_count():
    """libvirtd, restarted during a hang, sends AGENT_CONNECTED for the
    port the guest opened long before: it reset the count (seen in the
    lab), so a hang was counted from zero after every restart."""
    host = running_host()
    host.beats(2)
    host(obs.Disconnected("eof"))
    host.connect(listed())
    host(obs.AgentLifecycle("vm", "i-vm", True))
    assert host.guest().failures == 2
    assert len(keys(host.beats(1))) == 1


def test_a_ping_answer_proves_the_agent_connected():
    """An AGENT connected event missed while libvirt was away."""
    host = running_host(agent=False)
    assert host.guest().agent == gm.NEVER
    host.beats(1, ok=True)
    assert host.guest().agent == gm.CONNECTED
    assert len(keys(host.beats(3))) == 1


def test_described_channel_starts_heartbeats():
    host = running_host()
    host.event(STOPPED, DESTROYED, at=10)
    assert fx.Unwatch("vm") in host.effects
    out = host.event(STARTED, BOOTED, dom_id=2, at=11)
    assert not of(fx.Watch, out)  # the channel is not known yet
    assert of(fx.Watch, host(obs.Described("vm", True, 10)))


# -- reconnect keeps state (issue 11, item 3) ---------------------------------

def test_defect_reconnect_does_not_reset_hang_counters():
    host = running_host()
    host.beats(2)
    host(obs.Disconnected("keepalive timeout"))
    host.connect(listed())
    assert len(keys(host.beats(1))) == 1


def test_defect_flapping_connection_does_not_hide_a_hang():
    """A connection that dropped more often than threshold x interval
    used to reset every count to zero."""
    host = running_host()
    out = []
    for _ in range(3):
        out += host.beats(1)
        host(obs.Disconnected("eof"))
        host.beats(2)  # failed pings while away: not counted
        host.connect(listed())
    assert len(keys(out)) == 1


def test_defect_declared_hang_is_not_declared_again_after_reconnect():
    host = running_host()
    assert len(keys(host.beats(3))) == 1
    host(obs.Disconnected("eof"))
    host.connect(listed())
    assert keys(host.beats(10)) == []


def test_declared_hang_is_not_declared_again_after_a_monitor_restart():
    host = running_host()
    host.beats(3)
    boot = host.guest().boot
    restarted = Host(restored=engine_mod.Restored(
        boots={"vm": ("i-vm", boot)}, next_boot=host.engine.next_boot))
    restarted.connect(listed())
    assert keys(restarted.beats(10)) == []
    restarted.beats(1, ok=True)
    assert len(keys(restarted.beats(3))) == 1


def test_a_domain_restarted_while_away_is_a_new_boot():
    host = running_host(dom_id=1)
    host.beats(3)
    host(obs.Disconnected("eof"))
    host.connect(listed(dom_id=2))
    assert host.guest().liveness == gm.HEALTHY
    assert len(keys(host.beats(3))) == 1


def test_agent_port_closed_while_away_is_seen_in_the_listing():
    host = running_host()
    host(obs.Disconnected("eof"))
    host.connect(listed(agent=False))
    assert host.guest().agent == gm.CLOSED


# -- HA_Enabled (issue 11, item 11) -------------------------------------------

def test_defect_ha_enabled_reading_is_dropped_when_nova_fails():
    """The last reading was kept on a Nova error, unlike the option's
    help: while Nova cannot be read every guest is watched."""
    host = running_host(ONLY_HA)
    out = host(nova_reading(("other", True)))
    assert fx.Unwatch("vm") in out
    out = host(nova_reading(error="HTTP 503: unavailable"))
    assert fx.Watch("vm") in out
    assert host.engine.view(0)["ha_enabled_read_error"] == \
        "HTTP 503: unavailable"
    assert len(keys(host.beats(3))) == 1


# -- restart budget -----------------------------------------------------------

def hang_and_recover(host):
    out = host.beats(3)
    dom_id = host.guest().boot.dom_id + 1
    host.event(STOPPED, DESTROYED, dom_id=dom_id - 1)
    host.event(STARTED, BOOTED, dom_id=dom_id)
    host(obs.Described("vm", True))
    host(obs.AgentLifecycle("vm", "i-vm", True))
    return out


def decisions(effects):
    return [e.label for e in effects if isinstance(e, fx.Count) and
            e.metric == "decisions"]


@pytest.mark.parametrize("budget,expected", [
    (1, ["notify", "quarantine", "quarantine"]),
    (2, ["notify", "notify", "quarantine"]),
    (3, ["notify", "notify", "notify"]),
])
def test_restart_budget(budget, expected):
    host = running_host(dataclasses.replace(S, max_recoveries=budget))
    got = []
    for _ in range(3):
        got += decisions(hang_and_recover(host))
    assert got == expected


def test_quarantine_ends_when_the_window_passes():
    host = running_host()
    for _ in range(3):
        hang_and_recover(host)
    assert decisions(hang_and_recover(host)) == ["quarantine"]
    assert "vm" in host.engine.budget.quarantined
    host.now += 3600
    assert decisions(hang_and_recover(host)) == ["notify"]
    assert "vm" not in host.engine.budget.quarantined


def test_operator_clears_quarantine():
    host = running_host()
    for _ in range(4):
        hang_and_recover(host)
    out = host(obs.ClearQuarantine("vm"))
    assert fx.PutBudget("vm", (), None) in out
    assert decisions(hang_and_recover(host)) == ["notify"]


def test_budget_is_shared_with_process_deaths_and_survives_restart():
    host = running_host()
    for n in range(3):
        host.event(STOPPED, FAILED, dom_id=n + 1, at=100 + n)
        host.event(STARTED, BOOTED, dom_id=n + 2, at=100 + n)
    out = host.event(STOPPED, FAILED, dom_id=4, at=110)
    assert decisions(out) == ["quarantine"] and keys(out) == []
    again = Host(restored=engine_mod.Restored(
        recoveries=host.engine.budget.recoveries,
        quarantined=host.engine.budget.quarantined))
    again.connect(listed(dom_id=9), at=111)
    assert decisions(again.event(STOPPED, FAILED, dom_id=9, at=120)) == [
        "quarantine"]


def test_budget_survives_the_undefine_of_a_recovery():
    """Nova's power-on undefines and redefines the domain: a budget
    forgotten with the domain would never stop a restart loop."""
    host = running_host()
    for n in range(4):
        host.event(STOPPED, FAILED, dom_id=n + 1)
        host.event(LV.VIR_DOMAIN_EVENT_UNDEFINED, 0, dom_id=-1)
        host.event(LV.VIR_DOMAIN_EVENT_DEFINED, 0, dom_id=-1)
        host.event(STARTED, BOOTED, dom_id=n + 2)
    assert decisions(host.effects).count("notify") == 3
    assert decisions(host.effects).count("quarantine") == 1


def test_tick_forgets_budgets_that_left_the_window():
    host = running_host()
    host.event(STOPPED, FAILED, at=100)
    assert host(obs.Tick(), at=100 + 3599) == []
    assert host(obs.Tick(), at=100 + 3601) == [fx.PutBudget("vm", (), None)]
    assert host.engine.budget.recoveries == {}


# -- storm guard --------------------------------------------------------------

def host_of(count, settings=S):
    host = Host(settings)
    host.connect(*(listed("vm%d" % i, dom_id=i + 1) for i in range(count)))
    return host


def test_storm_holds_hang_notifications_and_judges_them_again():
    host = host_of(4)
    got = []
    for _ in range(3):
        host.now += 10
        for i in range(3):  # 3 of 4 = 75 % failing
            got += host(obs.Heartbeat("vm%d" % i, False, "t/o"))
    assert decisions(got) == ["storm-begin", "hold", "hold", "hold"]
    assert host.engine.view(host.now)["host_alert"].startswith(
        "75 % of 4 monitored guests failing at once")
    # one answers again: 2 of 4 failing is not more than half, the storm
    # ends; the two still silent are judged again on what they do from
    # now on, never on what they did during the storm
    end = host(obs.Heartbeat("vm0", True))
    assert decisions(end) == ["storm-end"] and not enqueued(end)
    assert [host.guest("vm%d" % i).failures for i in (1, 2)] == [0, 0]
    later = []
    for _ in range(3):  # a whole detection window after the storm
        host.now += 10
        for i in (1, 2):
            later += host(obs.Heartbeat("vm%d" % i, False, "t/o"))
    assert {e.body["payload"]["instance_uuid"] for e in enqueued(later)} \
        == {"vm1", "vm2"}


@pytest.mark.parametrize("count,failing,storm", [
    (4, 2, False),  # 50 %: not more than the fraction
    (4, 3, True),
    (3, 3, False),  # too few monitored guests to call it a storm
    (10, 5, False), (10, 6, True),
])
def test_storm_boundaries(count, failing, storm):
    host = host_of(count)
    for i in range(failing):
        host(obs.Heartbeat("vm%d" % i, False, "t/o"))
    assert host.engine.storm.active is storm


# -- forensics hold, forwarding -----------------------------------------------

def test_a_hang_is_held_for_forensics_a_death_is_not():
    host = running_host(dataclasses.replace(S, forensics=True,
                                            forensics_hold=10))
    hang, = enqueued(host.beats(3))
    assert hang.hold == 10 and of(fx.Capture, host.effects)
    out = host.event(STOPPED, FAILED)
    death, = enqueued(out)
    assert death.hold == 0 and of(fx.Capture, out)
    assert host(obs.Captured("vm", hang.key, "/x")) == [fx.Release(hang.key)]
    assert host.engine.view(0)["domains"][0]["last_forensics"] == "/x"


def test_forensics_of_a_hang_carry_both_signals():
    host = running_host(dataclasses.replace(S, forensics=True), period=10)
    host.now = 1000.0
    for _ in range(3):
        host(obs.GuestStats((("vm", 995.0, None),)), at=host.now + 5)
        host(obs.Heartbeat("vm", False, "timeout", sent_at=host.now - 2.5,
                           kernel_stamp=995.0), at=host.now + 5)
    capture, = of(fx.Capture, host.effects)
    signals = capture.facts["signals"]
    assert signals["agent"]["consecutive_failures"] == 3
    assert signals["agent"]["last_error"] == "timeout"
    assert signals["kernel"]["signal"] == gm.K_SILENT
    assert capture.facts["reason"].startswith(
        "3 consecutive heartbeats failed (last: timeout); guest kernel "
        "silent")


def test_forwarded_events_are_each_their_own_notification():
    host = running_host(dataclasses.replace(S, forward_ignored=True))
    out = host.event(LV.VIR_DOMAIN_EVENT_SUSPENDED, 0, at=1)
    out += host.event(LV.VIR_DOMAIN_EVENT_RESUMED, 0, at=2)
    out += host.event(LV.VIR_DOMAIN_EVENT_SUSPENDED, 0, at=3)
    assert len(set(keys(out))) == 3
    assert all(e.hold == 0 for e in enqueued(out))
    assert not of(fx.Capture, out)


def test_io_error_report_is_sent_once_per_boot():
    host = running_host()
    report = obs.IoError("vm", "i-vm", LV.VIR_DOMAIN_EVENT_IO_ERROR_REPORT)
    assert [e.body["payload"]["event"] for e in enqueued(host(report))] == [
        "IO_ERROR"]
    assert enqueued(host(report)) == []
    pause = obs.IoError("vm", "i-vm", LV.VIR_DOMAIN_EVENT_IO_ERROR_PAUSE)
    assert enqueued(host(pause)) == []


# -- the kernel heartbeat and the verdict table -------------------------------

AGENT_SETUPS = {  # how the agent behaves over the observed rounds
    "answering": dict(ok=True),
    "silent": dict(ok=False),
    "closed": dict(closed=True),
    "no channel": dict(channel=False),
}
START = 10000.0
KERNEL_SETUPS = {  # the balloon stamp at time t
    "alive": lambda t: t - 3,  # answered 3 s ago, every time
    "silent": lambda t: START - 1,  # last answered before it all began
    "unknown": lambda t: None,
}


def run_case(agent, kernel, rounds=4, settings=S):
    """Rounds 10 s apart: a poll of the balloon stamps, then a heartbeat
    (sent 2.5 s before its answer, with the stamp read after a failure),
    as the adapters post them."""
    setup = AGENT_SETUPS[agent]
    host = running_host(settings, channel=setup.get("channel", True),
                        period=10)
    host.now = START
    if setup.get("closed"):
        host(obs.AgentLifecycle("vm", "i-vm", False, True))
    stamp = KERNEL_SETUPS[kernel]
    for _ in range(rounds):
        host.now += 10
        host(obs.GuestStats((("vm", stamp(host.now), None),)))
        if "ok" in setup:
            host(obs.Heartbeat("vm", setup["ok"], "timeout",
                               sent_at=host.now - 2.5,
                               kernel_stamp=stamp(host.now)))
    return host


@pytest.mark.parametrize("agent,kernel,expected", [
    ("silent", "silent", "notify"),       # hang
    ("silent", "alive", "warn"),          # agent unresponsive, kernel alive
    ("silent", "unknown", "notify"),      # hang, as before the kernel signal
    ("closed", "silent", "notify"),       # kernel hang, no working agent
    ("no channel", "silent", "notify"),   # kernel hang, no agent at all
    ("closed", "alive", None),
    ("closed", "unknown", None),
    ("no channel", "alive", None),
    ("no channel", "unknown", None),
    ("answering", "silent", None),        # an answer proves life
    ("answering", "alive", None),
    ("answering", "unknown", None),
])
def test_verdicts(agent, kernel, expected):
    host = run_case(agent, kernel)
    got = [d for d in decisions(host.effects) if d in ("notify", "warn")]
    assert got == ([expected] if expected else [])


def test_agent_silence_recovers_restores_masakari_semantics():
    settings = dataclasses.replace(S, agent_silence_recovers=True)
    host = run_case("silent", "alive", settings=settings)
    assert decisions(host.effects).count("notify") == 1


def test_kernel_silence_can_be_left_to_the_agent():
    settings = dataclasses.replace(S, kernel_silence_recovers=False)
    host = run_case("no channel", "silent", settings=settings)
    assert "notify" not in decisions(host.effects)


@pytest.mark.parametrize("age,unchanged_polls,signal", [
    # window 2 x 10 s + 5 s slack, and one period of polls seeing the
    # same stamp
    (15, 3, gm.K_ALIVE),
    (16, 0, gm.K_ALIVE),  # late only once a poll saw the same stamp
    (16, 1, gm.K_LATE),  # more than a period and the slack: suspect
    (25, 3, gm.K_LATE),
    (26, 3, gm.K_SILENT),
    (26, 1, gm.K_SILENT),
    (26, 0, gm.K_ALIVE),  # a clock step: the next poll sees a new stamp
    (3600, 0, gm.K_ALIVE),
])
def test_kernel_silence_without_an_agent(age, unchanged_polls, signal):
    guest = gm.Guest("vm", "i-vm", kernel_period=10, kernel_stamp=1000.0,
                     kernel_unchanged=unchanged_polls,
                     kernel_read_at=1000.0 + age)
    assert gm.kernel_signal(guest, 1000.0 + age, 2, 5, 10)[0] == signal


@pytest.mark.parametrize("stamp,since_failure,signal", [
    (1001.0, 5, gm.K_ALIVE),     # answered after the first failed ping
    (999.0, 5, gm.K_PENDING),    # not asked since, maybe
    (999.0, 19.9, gm.K_PENDING),
    (999.0, 20, gm.K_SILENT),    # two periods without an answer
    (1015.0, 22, gm.K_ALIVE),
])
def test_kernel_signal_while_the_agent_fails(stamp, since_failure, signal):
    guest = gm.Guest("vm", "i-vm", kernel_period=10, kernel_stamp=stamp,
                     silent_since=1000.0, kernel_read_at=1000 + since_failure)
    assert gm.kernel_signal(guest, 1000.0 + since_failure, 2, 5, 10)[0] == \
        signal


@pytest.mark.parametrize("period,unknown", [(None, True), (0, True),
                                            (10, False)])
def test_kernel_signal_is_unknown_without_balloon_stats(period, unknown):
    guest = gm.Guest("vm", "i-vm", kernel_period=period, kernel_stamp=5.0,
                     kernel_read_at=6.0)
    assert (gm.kernel_signal(guest, 6.0, 2, 5, 10)[0] == gm.K_UNKNOWN) \
        is unknown
    guest.kernel_stamp = None
    assert gm.kernel_signal(guest, 6.0, 2, 5, 10)[0] == gm.K_UNKNOWN


@pytest.mark.parametrize("read_ago,signal", [
    (0, gm.K_SILENT), (25, gm.K_SILENT), (26, gm.K_UNKNOWN),
    (3600, gm.K_UNKNOWN)])
def test_stale_statistics_are_no_evidence(read_ago, signal):
    """Statistics not read lately (the kernel heartbeat turned off by a
    reload, a stats call that keeps failing) say nothing of the guest:
    unknown, never silent.  Polls every 10 s: stale after 2 x 10 + 5 s."""
    guest = gm.Guest("vm", "i-vm", kernel_period=10, kernel_stamp=1000.0,
                     kernel_unchanged=3, kernel_read_at=2000.0 - read_ago)
    assert gm.kernel_signal(guest, 2000.0, 2, 5, 10)[0] == signal


@pytest.mark.parametrize("agent", ["silent", "no channel"])
@pytest.mark.parametrize("step", [-300, 3600])
def test_a_step_of_the_host_clock_is_not_silence(agent, step):
    """The host clock steps: QEMU's next stamps and the monitor's clock
    move together, but the first poll after a forward step still sees
    the stamp from before it."""
    setup = AGENT_SETUPS[agent]
    host = running_host(channel=setup.get("channel", True), period=10)
    times = [START + 10 * n for n in range(1, 4)]
    times += [START + step + 10 * n for n in range(4, 12)]
    for index, t in enumerate(times):
        host.now = t
        stamp = times[index - 1] + 7 if index == 3 else t - 3
        host(obs.GuestStats((("vm", stamp, None),)))
        if "ok" in setup:
            host(obs.Heartbeat("vm", False, "timeout", sent_at=t - 2.5,
                               kernel_stamp=stamp))
    assert "notify" not in decisions(host.effects)


def test_a_hang_is_declared_with_the_third_failure_not_later():
    """A panicked kernel with the agent: both signals accumulate in
    parallel, so the kernel does not delay the notification."""
    host = run_case("silent", "silent", rounds=3)
    assert decisions(host.effects).count("notify") == 1


@pytest.mark.parametrize("agent,kernel,expected", [
    ("silent", "alive", "notify"), ("silent", "silent", "notify"),
    ("no channel", "silent", None), ("answering", "silent", None)])
def test_defect_kernel_heartbeat_off_leaves_the_agent_alone(agent, kernel,
                                                            expected):
    """kernel_heartbeat = false promised the agent alone decides, but the
    stamp read after each failed ping still fed the kernel signal: a
    frozen agent was only warned about, as with the heartbeat on."""
    host = run_case(agent, kernel, settings=dataclasses.replace(
        S, kernel_heartbeat=False))
    notified = decisions(host.effects).count("notify")
    assert notified == (1 if expected == "notify" else 0)
    assert "warn" not in decisions(host.effects)
    view, = host.engine.view(host.now)["domains"]
    assert view["kernel"] == engine_mod.KERNEL_HEARTBEAT_OFF


def test_warned_agent_only_guest_is_declared_when_the_kernel_stops():
    host = run_case("silent", "alive")
    dead = host.now
    for _ in range(4):
        host.now += 10
        host(obs.GuestStats((("vm", dead, None),)))
        host(obs.Heartbeat("vm", False, "timeout", sent_at=host.now - 2.5,
                           kernel_stamp=dead))
    assert decisions(host.effects).count("warn") == 1
    assert decisions(host.effects).count("notify") == 1
    assert "guest kernel silent" in host.guest().view["reason"]


@pytest.mark.parametrize("setup", [
    lambda h: h.event(LV.VIR_DOMAIN_EVENT_SUSPENDED, 0),
    lambda h: h.event(LV.VIR_DOMAIN_EVENT_SHUTDOWN, 0),
    lambda h: h(obs.Rebooted("vm", "i-vm")),
])
def test_kernel_silence_is_excused_like_the_agent(setup):
    host = running_host(channel=False, period=10)
    host.now = 500.0
    setup(host)
    for _ in range(5):
        host(obs.GuestStats((("vm", 490.0, None),)), at=host.now + 10)
    assert keys(host.effects) == []


@pytest.mark.parametrize("event,undo", [
    (LV.VIR_DOMAIN_EVENT_SUSPENDED, LV.VIR_DOMAIN_EVENT_RESUMED),
    (LV.VIR_DOMAIN_EVENT_PMSUSPENDED, LV.VIR_DOMAIN_EVENT_RESUMED),
])
def test_defect_a_resumed_kernel_gets_its_window_again(event, undo):
    """After a long pause the last stamp is old; the kernel answers again
    within a period of the resume, which must not count as silence."""
    host = running_host(channel=False, period=10)
    host.now = 1000.0
    host(obs.GuestStats((("vm", 998.0, None),)))
    host.event(event, 0, at=1001)
    for _ in range(12):  # 60 s paused, polled every 5 s
        host(obs.GuestStats((("vm", 998.0, None),)), at=host.now + 5)
    host.event(undo, 0, at=host.now + 1)
    for _ in range(4):  # 20 s after the resume, before its first answer
        host(obs.GuestStats((("vm", 998.0, None),)), at=host.now + 5)
    assert keys(host.effects) == []
    for _ in range(2):  # and then it is silent
        host(obs.GuestStats((("vm", 998.0, None),)), at=host.now + 5)
    assert len(keys(host.effects)) == 1


def test_verdict_and_liveness_tables_are_total():
    agents = (gm.A_ANSWERING, gm.A_FAILING, gm.A_SILENT, gm.A_UNAVAILABLE)
    kernels = (gm.K_ALIVE, gm.K_SILENT, gm.K_UNKNOWN, gm.K_PENDING,
               gm.K_LATE, gm.K_BOOTING)
    assert set(gm.VERDICTS) == set(itertools.product(agents, kernels))
    states = (gm.HEALTHY, gm.SUSPECT, gm.WARNED, gm.CONFIRMING,
              gm.DECLARED, gm.HELD)
    assert set(gm.LIVENESS) == set(itertools.product(
        states, set(gm.VERDICTS.values())))


def test_vcpu_time_over_the_last_interval_is_shown():
    """A panicked kernel spins (9.8 of 10 s), a halted one does not:
    evidence for the operator, not a signal."""
    host = running_host(channel=False, period=10)
    host(obs.GuestStats((("vm", 500.0, 1_000_000_000),)), at=500)
    host(obs.GuestStats((("vm", 510.0, 10_800_000_000),)), at=510)
    view = host.engine.view(510)["domains"][0]
    assert view["vcpu_used_last_interval"] == "9.8 s of 10.0 s"
    assert view["hang_detection"] == "kernel"


@pytest.mark.parametrize("channel,agent,period,expected", [
    (True, True, 10, "agent and kernel"),
    (True, True, None, "agent"),
    (False, False, 10, "kernel"),
    (False, False, None, "none: no guest-agent channel; kernel unknown: "
     "no balloon statistics period"),
])
def test_status_says_what_finds_a_hang(channel, agent, period, expected):
    host = running_host(channel=channel, agent=agent, period=period)
    host(obs.GuestStats((("vm", 1.0, None),)), at=2)
    assert host.engine.view(2)["domains"][0]["hang_detection"] == expected


# -- production's hard cases (issue 18) ---------------------------------------

# the storm guard as shipped (S keeps 4 for the boundary tables above)
SHIPPED = dataclasses.replace(
    S, storm_min_guests=engine_mod.Settings.storm_min_guests)


def mixed_host(count, settings=SHIPPED, agents=None):
    """``count`` guests, balloon period 10 s; the first ``agents`` (half
    by default) with a working agent, the others judged by the kernel
    alone."""
    agents = count // 2 if agents is None else agents
    host = Host(settings)
    host.connect(*(listed("vm%d" % i, dom_id=i + 1, channel=i < agents,
                          agent=i < agents, period=10)
                       for i in range(count)), at=START)
    return host


def round_of(host, count, stamp_of, ping_ok, at):
    """One 10 s round as the adapters post it: a stats poll, then a
    heartbeat of every agent guest."""
    out = host(obs.GuestStats(tuple(
        obs.DomainStats("vm%d" % i, stamp_of(i, at)) for i in range(count))),
        at=at)
    for i in range(count):
        if host.guest("vm%d" % i).channel:
            out += host(obs.Heartbeat("vm%d" % i, ping_ok(i, at), "timeout",
                                      sent_at=at - 1), at=at + 0.5)
    return out


def healthy_stamp(i, at):
    """A kernel answers every 10 s, each guest at its own phase."""
    phase = (i * 10.0 / 7) % 10
    return at - ((at - phase) % 10)


@pytest.mark.parametrize("count", [1, 2, 4, 40])
@pytest.mark.parametrize("evidence", ["stats time out", "QEMU stopped"])
def test_defect_a_host_wide_stall_recovers_no_healthy_guest(count, evidence):
    """Every QEMU of the host stopped for 60 s (a swap storm, CPU
    starvation): the bulk stats call timed out, the kernel signal became
    unknown for every guest and agent-silent guests were declared hung
    (2 of 4 recovered in the lab though all were healthy after the
    stall).  The host's own evidence holds every verdict, and after the
    stall every guest is judged on fresh evidence only."""
    host = mixed_host(count)
    out, t = [], START
    for _ in range(6):  # healthy before
        t += 10
        out += round_of(host, count, healthy_stamp, lambda i, a: True, t)
    frozen = t
    for _ in range(6):  # 60 s stall: no stats, no pings
        t += 10
        if evidence == "stats time out":
            out += host(obs.StatsFailed("no answer within 5 s", True), at=t)
        else:
            out += host(obs.HostSample(stopped=frozenset(
                "vm%d" % i for i in range(count))), at=t)
            out += host(obs.GuestStats(tuple(obs.DomainStats(
                "vm%d" % i, healthy_stamp(i, frozen), busy=True)
                for i in range(count))), at=t + 0.1)
        for i in range(count):
            if host.guest("vm%d" % i).channel:
                out += host(obs.Heartbeat("vm%d" % i, False, "timeout",
                                          sent_at=t - 1), at=t + 0.5)
    assert all(host.guest("vm%d" % i).excused for i in range(count))
    if evidence == "QEMU stopped":
        out += host(obs.HostSample(), at=t + 1)  # the QEMUs run again
    for _ in range(9):  # healthy again, watched for 90 s
        t += 10
        out += round_of(host, count, healthy_stamp, lambda i, a: True, t)
    assert keys(out) == []
    assert all(host.guest("vm%d" % i).liveness == gm.HEALTHY
               for i in range(count))


@pytest.mark.parametrize("agent", [True, False])
def test_a_guest_hung_during_a_stall_is_judged_on_evidence_after_it(agent):
    """The one guest that really hung is declared after the stall, and
    only a whole detection window after it ended."""
    host = mixed_host(2, agents=1 if agent else 0)
    hung = "vm0" if agent else "vm1"
    index = int(hung[-1])
    t = START
    for _ in range(3):
        t += 10
        round_of(host, 2, healthy_stamp, lambda i, a: True, t)
    dead_at = t

    def stamp(i, at):
        return healthy_stamp(i, dead_at if i == index else at)

    stopped = frozenset({"vm0", "vm1"})
    for _ in range(6):
        t += 10
        host(obs.HostSample(stopped=stopped), at=t)
        round_of(host, 2, stamp, lambda i, a: False, t)
    host(obs.HostSample(), at=t + 1)
    ended, declared = t + 1, None
    for _ in range(8):
        t += 10
        if keys(round_of(host, 2, stamp, lambda i, a: i != index, t)):
            declared = declared or t
    assert [e.body["payload"]["instance_uuid"]
            for e in enqueued(host.effects)] == [hung]
    assert 25 <= declared - ended <= 40


@pytest.mark.parametrize("count", [2, 4, 40])
def test_defect_the_storm_guard_engages_before_kernel_only_verdicts(count):
    """Without any host evidence (a stall no probe sees), kernel-only
    guests went from healthy straight to declared and the storm guard
    counted them after the verdict: 21 of 40 were declared first.  Late
    kernels are suspect now, and the guest about to be declared is
    counted before it is."""
    host = mixed_host(count, agents=0)
    t = START
    for _ in range(3):
        t += 10
        round_of(host, count, healthy_stamp, None, t)
    frozen = t
    out = []
    for _ in range(8):
        t += 5
        out += round_of(host, count, lambda i, a: healthy_stamp(i, frozen),
                        None, t)
    assert keys(out) == []
    assert host.engine.storm.active


@pytest.mark.parametrize("agents", [0, 20, 40])
def test_defect_the_end_of_a_storm_declares_nobody_on_old_evidence(agents):
    """A 60 s stall no probe sees, then every guest healthy again: when
    the storm ended every held guest was declared on evidence gathered
    before it ended (20 of 40 agent guests, 40 of 40 kernel-only)."""
    host = mixed_host(40, agents=agents)
    t = START
    for _ in range(3):
        t += 10
        round_of(host, 40, healthy_stamp, lambda i, a: True, t)
    frozen, out = t, []
    for _ in range(6):
        t += 10
        out += round_of(host, 40, lambda i, a: healthy_stamp(i, frozen),
                        lambda i, a: False, t)
    assert host.engine.storm.active
    for _ in range(9):
        t += 10
        out += round_of(host, 40, healthy_stamp, lambda i, a: True, t)
    assert keys(out) == [] and not host.engine.storm.active


def test_a_stall_of_the_whole_host_needs_no_minimum_of_guests():
    host = mixed_host(1, agents=1)
    host(obs.HostSample(pressure=(("memory", "full", 42.0),)), at=START + 1)
    view, = host.engine.view(host.now)["domains"]
    assert view["heartbeat"].startswith("not monitored: host stalled: "
                                        "memory pressure")
    assert keys(host.beats(10)) == []


def test_defect_a_stats_reading_skipped_for_a_busy_domain_is_no_silence():
    """libvirt returns a domain without its balloon stats when its job is
    busy (NOWAIT): that is QEMU's state, never the guest kernel's."""
    host = mixed_host(1, agents=0)
    t = START
    for _ in range(12):
        t += 5
        host(obs.GuestStats((obs.DomainStats("vm0", START, busy=True),)),
             at=t)
    assert keys(host.effects) == []
    assert host.guest("vm0").excused == engine_mod.BUSY


def test_io_errors_settle_and_a_storage_wide_error_recovers_nobody():
    host = mixed_host(3)
    report = LV.VIR_DOMAIN_EVENT_IO_ERROR_REPORT
    one, = enqueued(host(obs.IoError("vm0", "i-vm0", report), at=START + 1))
    assert one.hold == S.io_error_settle
    # no forensics release shortens the settle time
    assert host(obs.Captured("vm0", one.key, "/x"), at=START + 2) == []
    out = host(obs.IoError("vm1", "i-vm1", report), at=START + 3)
    assert enqueued(out) == []
    assert fx.Withdraw("vm0", engine_mod.IO_STORM % (2, 10), key=one.key) \
        in out
    assert decisions(out) == ["hold"]


def test_io_error_held_while_the_host_is_stalled():
    host = mixed_host(1)
    host(obs.StatsFailed("no answer", True), at=START + 1)
    out = host(obs.IoError("vm0", "i-vm0",
                           LV.VIR_DOMAIN_EVENT_IO_ERROR_REPORT), at=START + 2)
    assert enqueued(out) == [] and decisions(out) == ["hold"]


# -- revalidation: what no longer holds is withdrawn ----------------------

def test_defect_a_hang_that_resolved_is_withdrawn():
    """Masakari was down, the hung guest answered again, and the stale
    hang was delivered when the API came back: Masakari restarted a guest
    healthy for 75 s."""
    host = running_host()
    hang, = enqueued(host.beats(3))
    out = host(obs.Heartbeat("vm", True), at=host.now + 10)
    assert fx.Withdraw("vm", "the guest answered again (answering again) "
                       "before the hang was delivered", key=hang.key) in out


@pytest.mark.parametrize("undefined", [False, True])
def test_defect_a_death_whose_domain_runs_again_is_withdrawn(undefined):
    """A death still pending when the domain runs again (started by Nova
    or an operator, undefined and defined on the way) is moot."""
    host = running_host()
    death, = enqueued(host.event(STOPPED, FAILED, at=10))
    if undefined:
        host.event(LV.VIR_DOMAIN_EVENT_UNDEFINED, 0, dom_id=-1, at=11)
        assert "vm" not in host.engine.guests
        host.event(LV.VIR_DOMAIN_EVENT_DEFINED, 0, dom_id=-1, at=12)
    out = host.event(STARTED, BOOTED, dom_id=2, at=13)
    withdraw, = of(fx.Withdraw, out)
    assert withdraw.uuid == "vm" and withdraw.key is None
    assert withdraw.before_boot == host.guest().boot.seq > death.boot


# -- Nova's own operations ----------------------------------------------------

def test_defect_a_live_snapshot_keeps_the_guest_watched():
    """Nova's live snapshot undefines the running domain and defines it
    again: the engine forgot it, showed it shut off and called its next
    death 'already reported'."""
    host = running_host(dom_id=4)
    boot = host.guest().boot.seq
    out = host.event(LV.VIR_DOMAIN_EVENT_UNDEFINED, 0, dom_id=4, at=1)
    out += host.event(LV.VIR_DOMAIN_EVENT_DEFINED, 0, dom_id=4, at=30)
    assert not of(fx.Unwatch, out) and not of(fx.DropBoot, out)
    assert host.guest().boot.seq == boot and host.guest().power == gm.RUNNING
    assert len(keys(host.event(STOPPED, FAILED, dom_id=4, at=40))) == 1


def test_a_transient_domain_that_stops_is_forgotten():
    host = running_host(dom_id=4)
    host.event(LV.VIR_DOMAIN_EVENT_UNDEFINED, 0, dom_id=4, at=1)
    out = host.event(STOPPED, DESTROYED, dom_id=4, at=2)
    assert "vm" not in host.engine.guests and fx.Unwatch("vm") in out


def test_defect_an_aborted_incoming_migration_is_no_crash():
    """The destination QEMU of an aborted live migration stops with
    STOPPED/FAILED after STARTED/MIGRATED; the crash sent for it made
    Masakari stop and start the healthy source instance."""
    host = Host()
    host.connect()
    host.event(STARTED, LV.VIR_DOMAIN_EVENT_STARTED_MIGRATED, dom_id=7,
               at=1)
    assert keys(host.event(STOPPED, FAILED, dom_id=7, at=2)) == []
    assert "incoming live migration was aborted" in \
        host.guest().view["reason"]


@pytest.mark.parametrize("resumed", [LV.VIR_DOMAIN_EVENT_RESUMED_MIGRATED,
                                     LV.VIR_DOMAIN_EVENT_RESUMED_POSTCOPY])
def test_a_migrated_guest_that_dies_here_is_recovered(resumed):
    host = Host()
    host.connect()
    host.event(STARTED, LV.VIR_DOMAIN_EVENT_STARTED_MIGRATED, dom_id=7,
               at=1)
    host.event(LV.VIR_DOMAIN_EVENT_RESUMED, resumed, dom_id=7, at=2)
    assert len(keys(host.event(STOPPED, FAILED, dom_id=7, at=3))) == 1


def test_post_copy_excuses_the_kernel_signal():
    """A post-copy destination stalls on page faults: no kernel
    silence counts while libvirt says so."""
    host = mixed_host(1, agents=0)
    for n in range(20):
        host(obs.GuestStats((obs.DomainStats(
            "vm0", START, state=LV.VIR_DOMAIN_RUNNING,
            reason=LV.VIR_DOMAIN_RUNNING_POSTCOPY),)), at=START + 5 * n)
    assert keys(host.effects) == []
    assert host.guest("vm0").excused == engine_mod.POSTCOPY


NOVA = dataclasses.replace(SHIPPED, nova_guard=True)


def hung_kernel_only(settings=NOVA, count=1):
    """Kernel-only guests that stop answering at START; rounds of 5 s
    until the verdict."""
    host = mixed_host(count, settings, agents=0)
    for n in range(1, 9):
        host(obs.GuestStats(tuple(obs.DomainStats("vm%d" % i, START)
                                  for i in range(count))), at=START + 5 * n)
    return host


@pytest.mark.parametrize("server,recovered,why", [
    (("vm0", True, "active", None), True, None),
    (("vm0", True, "active", "rebooting"), False,
     "Nova task under way: rebooting"),
    (("vm0", True, "active", "image_uploading"), False,
     "Nova task under way: image_uploading"),
    (("vm0", True, "active", "migrating"), False,
     "Nova task under way: migrating"),
    (("vm0", True, "rescued", None), False, "Nova vm_state rescued"),
    (("vm0", True, "error", None), True, None),
    (("other", True, "active", None), True, None),  # not Nova's: no excuse
])
def test_a_hang_verdict_waits_for_novas_task_state(server, recovered, why):
    host = hung_kernel_only()
    assert keys(host.effects) == []
    assert host.guest("vm0").liveness == gm.CONFIRMING
    assert len(of(fx.ReadNova, host.effects)) == 1
    out = host(nova_reading(server), at=host.now + 1)
    assert len(keys(out)) == (1 if recovered else 0)
    if why:
        assert host.guest("vm0").excused == why
        assert host.guest("vm0").view["reason"] == "hang found, but " + why


def test_one_nova_reading_serves_every_verdict_of_an_interval():
    host = hung_kernel_only(dataclasses.replace(NOVA, storm_min_guests=9),
                            count=3)
    assert len(of(fx.ReadNova, host.effects)) == 1
    out = host(nova_reading(), at=host.now + 1)
    assert len(keys(out)) == 3


def test_when_nova_cannot_be_read_the_verdict_stands():
    host = hung_kernel_only()
    out = host(nova_reading(error="HTTP 503"), at=host.now + 1)
    assert len(keys(out)) == 1
    assert "Nova could not be read (HTTP 503): the verdict stands" in \
        host.guest("vm0").view["reason"]


def test_when_nova_does_not_answer_the_verdict_stands():
    host = hung_kernel_only()
    host(obs.GuestStats((obs.DomainStats("vm0", START),)),
         at=host.now + 2 * S.interval + 61)
    assert len(keys(host.effects)) == 1


def test_a_fresh_reading_of_nova_is_not_asked_again():
    host = mixed_host(1, NOVA, agents=0)
    host(nova_reading(("vm0", True, "active", None)), at=START + 39)
    for n in range(1, 9):
        host(obs.GuestStats((obs.DomainStats("vm0", START),)),
             at=START + 5 * n)
    assert not of(fx.ReadNova, host.effects)
    assert len(keys(host.effects)) == 1


def test_a_guest_is_judged_afresh_after_novas_operation():
    host = mixed_host(1, NOVA, agents=0)
    host(nova_reading(("vm0", True, "active", "powering-off")), at=START)
    for n in range(1, 13):
        host(obs.GuestStats((obs.DomainStats("vm0", START),)),
             at=START + 5 * n)
    assert keys(host.effects) == []
    host(nova_reading(("vm0", True, "active", None)), at=START + 61)
    assert host.guest("vm0").kernel_baseline == START + 61


# -- boots that take their time ---------------------------------------------

@pytest.mark.parametrize("answers_at,declared", [
    (100, False),  # a slow firmware and fsck: the new kernel answers late
    (230, False),
    (None, True),  # never: judged once the boot allowance has passed
])
def test_defect_a_slow_reboot_is_not_declared_hung(answers_at, declared):
    """QEMU keeps the balloon stamp across a reset: silence counted from
    the end of reboot_grace declared a guest whose reboot took more than
    about 85 s."""
    host = mixed_host(1, agents=0)
    t = START
    for _ in range(3):
        t += 5
        host(obs.GuestStats((obs.DomainStats("vm0", t - 2),)), at=t)
    old = t - 2
    host(obs.Rebooted("vm0", "i-vm0"), at=t)
    rebooted, out = t, []
    while t < rebooted + 300:
        t += 5
        fresh = answers_at is not None and t - rebooted >= answers_at
        out += host(obs.GuestStats((obs.DomainStats(
            "vm0", t - 1 if fresh else old),)), at=t)
    assert bool(keys(out)) is declared
    if declared:
        assert "no answer within the boot allowance" in \
            host.guest("vm0").view["reason"]


# -- clocks ---------------------------------------------------------------

@pytest.mark.parametrize("step", [-3600.0, 3600.0])
def test_a_clock_step_keeps_every_duration(step):
    host = running_host()
    host(obs.Rebooted("vm", "i-vm"), at=100)
    out = host(obs.ClockStepped(step), at=110 + step)
    assert fx.ShiftTimes(step) in out
    host(obs.Heartbeat("vm", False, "timeout"), at=159 + step)
    assert host.guest().failures == 0  # still within the 60 s grace
    host(obs.Heartbeat("vm", False, "timeout"), at=161 + step)
    assert host.guest().failures == 1


@pytest.mark.parametrize("step", [-3600.0, 3600.0])
def test_a_clock_step_keeps_the_budget_window(step):
    host = running_host(dataclasses.replace(S, max_recoveries=1))
    host.event(STOPPED, FAILED, at=100)
    out = host(obs.ClockStepped(step), at=200 + step)
    assert fx.PutBudget("vm", (100 + step,), None) in out
    host.event(STARTED, BOOTED, dom_id=2, at=300 + step)
    assert decisions(host.event(STOPPED, FAILED, dom_id=2,
                                at=400 + step)) == ["quarantine"]
    assert host(obs.Tick(), at=100 + 3601 + step) == [
        fx.PutBudget("vm", (), None)]


def test_qemu_processes_are_watched_only_while_a_guest_fails():
    host = running_host()
    assert not of(fx.WatchQemu, host.effects)
    assert of(fx.WatchQemu, host.beats(1)) == [fx.WatchQemu(True)]
    assert of(fx.WatchQemu, host.beats(1, ok=True)) == [fx.WatchQemu(False)]
    host(obs.HostSample(stopped=frozenset({"vm"})))  # excused by its QEMU
    assert host.engine.qemu_watched


# -- fencing a hang whose recovery is under way -----------------------------

FENCING = dataclasses.replace(S, nova_guard=True, fence_hung=True,
                              forensics=True, forensics_hold=10)
ACTIVE = ("vm", True, "active", None)


def accepted_hang(settings=FENCING):
    """A guest with an agent hangs at 0 (three failed heartbeats, 10 s
    apart), Nova is read for the verdict at 31, its forensics are kept at
    32 and Masakari accepts its recovery at 33."""
    host = running_host(settings)
    host.beats(3)
    host(nova_reading(ACTIVE, read_at=30.5), at=31)
    hang, = enqueued(host.effects)
    host(obs.Captured("vm", hang.key, "/forensics/vm"), at=32)
    out = host(obs.Delivered(hang.key, "vm", "accepted"), at=33)
    return host, hang.key, out


def fences(effects):
    return [e.label for e in effects if isinstance(e, fx.Count) and
            e.metric == "fences"]


def test_the_fence_table():
    """Every row of guest.FENCE: an accepted hang asks Nova; only a clear
    Nova leads to a destroy; every other way ends with a reason."""
    assert gm.FENCE == {
        (gm.F_IDLE, gm.ACCEPTED): (gm.F_ASKING, gm.READ_NOVA),
        (gm.F_IDLE, gm.NOT_HELD): (gm.F_IDLE, gm.SKIP),
        (gm.F_ASKING, gm.NOT_HELD): (gm.F_IDLE, gm.SKIP),
        (gm.F_ASKING, gm.NOVA_CLEAR): (gm.F_DESTROYING, gm.FENCE_NOW),
        (gm.F_ASKING, gm.NOVA_BUSY): (gm.F_IDLE, gm.SKIP),
        (gm.F_ASKING, gm.NOVA_UNREADABLE): (gm.F_IDLE, gm.SKIP),
        (gm.F_ASKING, gm.NOVA_SILENT): (gm.F_IDLE, gm.SKIP),
        (gm.F_DESTROYING, gm.DESTROYED): (gm.F_IDLE, gm.DONE),
        (gm.F_DESTROYING, gm.DESTROY_FAILED): (gm.F_IDLE, gm.FAIL),
        (gm.F_DESTROYING, gm.NOT_DESTROYED): (gm.F_IDLE, gm.SKIP),
    }
    assert engine_mod.RECOVERY_ACCEPTED == "accepted"  # delivery's


@pytest.mark.parametrize("server,why", [
    (ACTIVE, None),
    (("vm", True, "active", "powering-off"), None),  # Masakari's own stop
    (("vm", True, "stopped", "powering-off"), None),  # that stop finishing
    (("vm", True, "active", "migrating"), "Nova task under way: migrating"),
    (("vm", True, "active", "rebooting"), "Nova task under way: rebooting"),
    (("vm", True, "active", "powering-on"),
     "Nova task under way: powering-on"),
    (("vm", True, "stopped", None), "Nova vm_state stopped"),
    (("vm", True, "error", None), "Nova vm_state error"),
    (("vm", True, "rescued", None), "Nova vm_state rescued"),
    (("other", True, "active", None),
     "the server is not in Nova's listing of this host"),
    (("vm", False, "active", None), "HA_Enabled is not set on the server: "
     "Masakari's engine skips its recovery"),  # it would stay off
])
def test_an_accepted_hang_is_fenced_only_when_nova_is_clear(server, why):
    host, key, out = accepted_hang()
    assert of(fx.ReadNova, out) == [fx.ReadNova()]
    assert host.guest().fence == gm.F_ASKING
    assert host.engine.view(33)["domains"][0]["fence"] == gm.F_ASKING
    out = host(nova_reading(server, read_at=33.1), at=33.5)
    view = host.engine.view(33.5)["domains"][0]
    if why is None:
        assert of(fx.Fence, out) == [fx.Fence("vm", key, 1)]
        assert host.guest().fence == gm.F_DESTROYING
        assert fences(out) == [] and view["fence"] == gm.F_DESTROYING
        return
    assert not of(fx.Fence, out) and host.guest().fence is None
    assert fences(out) == ["skipped"] and view["fence_skipped"] == why
    assert "fence" not in view
    assert of(fx.NoteIncident, out) == [fx.NoteIncident("vm", key, {
        "fence": {"result": "skipped", "at": notification.iso(33.5),
                  "reason": why}})]
    assert "not fenced: %s; the recovery goes on through Nova's stop" % \
        why in of(fx.Log, out)[-1].message


@pytest.mark.parametrize("reading,why", [
    (nova_reading(error="HTTP 503", read_at=33.1),
     "Nova could not be read (HTTP 503)"),
    (obs.Tick(), "Nova did not answer within 80 s"),  # at 33 + 81
])
def test_no_fence_when_nova_cannot_tell(reading, why):
    host, key, _ = accepted_hang()
    out = host(reading, at=33.5 if isinstance(reading, obs.NovaServers)
               else 33 + 81)
    assert not of(fx.Fence, out) and fences(out) == ["skipped"]
    assert host.guest().view["fence_skipped"] == why


def test_a_fence_waits_for_a_reading_begun_after_the_acceptance():
    """A reading under way when Masakari accepted (the periodic one) is
    older than the acceptance: the fence waits for the next one."""
    host, key, _ = accepted_hang()
    out = host(nova_reading(ACTIVE, read_at=32.9), at=33.4)
    assert not of(fx.Fence, out) and host.guest().fence == gm.F_ASKING
    out = host(nova_reading(ACTIVE, read_at=33.4), at=33.8)
    assert of(fx.Fence, out) == [fx.Fence("vm", key, 1)]


def test_the_fence_reading_is_asked_even_while_a_verdict_reading_is():
    host, key, _ = accepted_hang()
    assert host.engine.nova_asked
    second = running_host(FENCING)
    second.engine.nova_asked = True  # another guest's verdict asked
    second.beats(3)
    second(nova_reading(ACTIVE, read_at=30.5), at=31)
    hang, = enqueued(second.effects)
    second.engine.nova_asked = True
    out = second(obs.Delivered(hang.key, "vm", "accepted"), at=33)
    assert of(fx.ReadNova, out) == [fx.ReadNova()]


LATER = [
    # (what happens between the acceptance at 33 and Nova's answer at 35,
    #  why no fence)
    (lambda h: h(obs.Heartbeat("vm", True), at=34),
     "the guest answered again"),
    (lambda h: h(obs.AgentLifecycle("vm", "i-vm", False, True), at=34),
     "the guest answered again"),  # only a running kernel closes the port
    (lambda h: h.event(STOPPED, DESTROYED, at=34),
     "the domain does not run any more"),
    (lambda h: (h.event(STOPPED, DESTROYED, at=34),
                h.event(STARTED, BOOTED, dom_id=2, at=34.5)),
     "the domain runs again on a newer boot"),
    (lambda h: h(obs.HostSample(pressure=(("memory", "full", 50.0),)),
                 at=34),
     "host stalled: memory pressure: PSI full avg10 50.0 % (limit 10 %)"),
    (lambda h: h(obs.HostSample(stopped=frozenset({"vm"})), at=34),
     engine_mod.QEMU_STOPPED),
    (lambda h: h.event(LV.VIR_DOMAIN_EVENT_SUSPENDED, 0, at=34), "paused"),
    (lambda h: h(obs.Disconnected("eof"), at=34), "libvirt connection down"),
    (lambda h: h(obs.GuestStats((obs.DomainStats(
        "vm", state=LV.VIR_DOMAIN_RUNNING,
        reason=LV.VIR_DOMAIN_RUNNING_POSTCOPY),)), at=34),
     engine_mod.POSTCOPY),
    (lambda h: h(obs.Reconfigured(dataclasses.replace(
        FENCING, fence_hung=False)), at=34), "fence_hung was turned off"),
]


@pytest.mark.parametrize("meanwhile,why", LATER)
def test_no_fence_when_the_hang_no_longer_holds(meanwhile, why):
    host, key, _ = accepted_hang()
    meanwhile(host)
    out = host(nova_reading(ACTIVE, read_at=34.9), at=35)
    assert not of(fx.Fence, out) and fences(out) == ["skipped"]
    assert host.guest().view["fence_skipped"] == why


@pytest.mark.parametrize("before,why", LATER[:-1])
def test_no_fence_when_the_hang_no_longer_holds_at_the_acceptance(before,
                                                                   why):
    """The same, when it happened before Masakari's answer: Nova is not
    even asked."""
    host = running_host(FENCING)
    host.beats(3)
    host(nova_reading(ACTIVE, read_at=30.5), at=31)
    hang, = enqueued(host.effects)
    before(host)
    out = host(obs.Delivered(hang.key, "vm", "accepted"), at=35)
    assert not of(fx.ReadNova, out) and fences(out) == ["skipped"]
    assert host.guest().view["fence_skipped"] == why


def test_no_fence_while_the_storm_guard_holds_the_host():
    host = host_of(4, dataclasses.replace(FENCING, nova_guard=False))
    for _ in range(3):
        host(obs.Heartbeat("vm0", False, "t/o"), at=host.now + 10)
    hang, = enqueued(host.effects)
    for _ in range(3):  # three more of four fail: a storm
        host.now += 10
        for i in (1, 2, 3):
            host(obs.Heartbeat("vm%d" % i, False, "t/o"))
    assert host.engine.storm.active
    out = host(obs.Delivered(hang.key, "vm0", "accepted"), at=host.now + 1)
    assert fences(out) == ["skipped"]
    assert host.guest("vm0").view["fence_skipped"].startswith(
        "host-wide storm: ")


@pytest.mark.parametrize("kind", ["rejected", "retry"])
def test_no_fence_unless_masakari_accepted(kind):
    host = running_host(FENCING)
    host.beats(3)
    host(nova_reading(ACTIVE, read_at=30.5), at=31)
    hang, = enqueued(host.effects)
    out = host(obs.Delivered(hang.key, "vm", kind), at=33)
    assert out == [] and host.guest().fence is None


def test_no_fence_for_a_death():
    host = running_host(FENCING)
    death, = enqueued(host.event(STOPPED, FAILED, at=10))
    out = host(obs.Delivered(death.key, "vm", "accepted"), at=11)
    assert out == [] and "fence_skipped" not in host.guest().view


def test_no_fence_when_fence_hung_is_off():
    host, key, out = accepted_hang(dataclasses.replace(FENCING,
                                                       fence_hung=False))
    assert out == [] and host.guest().fence is None
    assert "fence_skipped" not in host.guest().view


@pytest.mark.parametrize("fenced,result,view", [
    (obs.Fenced("vm", "K", took=0.2345), "done",
     {"fenced_at": notification.iso(34), "fence_seconds": 0.234}),
    (obs.Fenced("vm", "K", error="no answer from libvirt within 30 s"),
     "failed", {"fence_failed": "no answer from libvirt within 30 s"}),
    (obs.Fenced("vm", "K", skipped="the domain was off already"), "skipped",
     {"fence_skipped": "the domain was off already"}),
])
def test_how_a_fence_ended_is_counted_shown_and_kept(fenced, result, view):
    host, key, _ = accepted_hang()
    host(nova_reading(ACTIVE, read_at=33.1), at=33.5)
    out = host(dataclasses.replace(fenced, key=key), at=34)
    assert fences(out) == [result] and host.guest().fence is None
    shown = host.engine.view(34)["domains"][0]
    assert {k: shown.get(k) for k in view} == view
    assert "fence" not in shown
    note, = of(fx.NoteIncident, out)
    assert (note.uuid, note.key, note.facts["fence"]["result"]) == (
        "vm", key, result)
    if result == "done":
        assert note.facts["fence"]["seconds"] == 0.234


def test_a_fenced_guest_is_then_recovered_as_nova_stops_and_starts_it():
    """What follows a fence: libvirt's STOPPED/DESTROYED ends the boot
    (not a failure: nothing is sent), Masakari's start begins a new one,
    watched afresh; the status keeps the fence."""
    host, key, _ = accepted_hang()
    host(nova_reading(ACTIVE, read_at=33.1), at=33.5)
    out = host.event(STOPPED, DESTROYED, at=33.7)  # before Fenced arrives
    out += host(obs.Fenced("vm", key, took=0.2), at=33.8)
    out += host.event(STARTED, BOOTED, dom_id=2, at=36)
    assert enqueued(out) == [] and fences(out) == ["done"]
    assert host.guest().liveness == gm.HEALTHY and host.guest().boot.seq > 1
    assert host.guest().view["fenced_at"] == notification.iso(33.8)


def test_a_second_acceptance_during_a_fence_is_not_fenced_twice():
    host, key, _ = accepted_hang()
    out = host(obs.Delivered(key, "vm", "accepted"), at=33.2)
    assert fences(out) == ["skipped"] and not of(fx.ReadNova, out)
    assert host.guest().fence == gm.F_ASKING


def test_without_forensics_the_fence_notes_nothing():
    host, key, _ = accepted_hang(dataclasses.replace(FENCING,
                                                     forensics=False))
    out = host(nova_reading(error="HTTP 503", read_at=33.1), at=33.5)
    assert fences(out) == ["skipped"] and not of(fx.NoteIncident, out)


@pytest.mark.parametrize("step", [-3600.0, 3600.0])
def test_a_clock_step_keeps_the_fences_wait(step):
    host, key, _ = accepted_hang()
    host(obs.ClockStepped(step), at=40 + step)
    assert not fences(host(obs.Tick(), at=33 + 79 + step))
    assert fences(host(obs.Tick(), at=33 + 81 + step)) == ["skipped"]


# -- shadow mode --------------------------------------------------------------

SHADOW = dataclasses.replace(FENCING, shadow=True)
STORMY = dataclasses.replace(FENCING, storm_min_guests=2, max_recoveries=2)


def script(host):
    """Deaths, a hang, budget exhaustion, a storm and an accepted hang:
    every kind of decision, the same for both modes."""
    host.connect(listed("a", dom_id=1), listed("b", dom_id=2),
                 listed("c", dom_id=3), listed("d", dom_id=4), at=0)
    host.beats(3, uuid="a")  # a hang, Nova read for its verdict
    host(nova_reading(*[(u, True, "active", None) for u in "abcd"],
                      read_at=30.5), at=31)
    for dom_id in (5, 6, 7):  # b dies three times: the budget ends it
        host.event(STOPPED, FAILED, uuid="b", dom_id=dom_id - 3, at=40)
        host.event(STARTED, BOOTED, uuid="b", dom_id=dom_id, at=41)
    host(obs.IoError("c", "i-c", LV.VIR_DOMAIN_EVENT_IO_ERROR_REPORT),
         at=50)
    host(obs.Tick(), at=70)
    for key in [e.key for e in host.effects
                if isinstance(e, (fx.Enqueue, fx.WouldRecover))]:
        host(obs.Delivered(key, key.split("/")[0], "accepted"), at=80)
    host(nova_reading(*[(u, True, "active", None) for u in "abcd"],
                      read_at=81), at=82)
    for uuid in "cd":  # both freeze at once: a storm on four guests
        host.beats(3, uuid=uuid)
    return host


def test_shadow_mode_decides_exactly_as_enforce_mode_and_sends_nothing():
    enforce, shadow = script(Host(STORMY)), script(Host(
        dataclasses.replace(STORMY, shadow=True)))
    assert decisions(shadow.effects) == decisions(enforce.effects)
    assert "quarantine" in decisions(shadow.effects)
    would = of(fx.WouldRecover, shadow.effects)
    assert [w.key for w in would] == keys(enforce.effects)
    assert [w.body for w in would] == [e.body for e in enqueued(
        enforce.effects)]
    assert {w.kind for w in would} == {"hang", "death", "io-error"}
    assert fx.Count("would_recover", "hang") in shadow.effects
    # the edges get nothing to send or end in shadow mode
    assert enqueued(shadow.effects) == [] and of(fx.Fence,
                                                 shadow.effects) == []
    assert of(fx.ReadNova, enforce.effects) and of(fx.Fence, enforce.effects)
    # an acceptance (none comes in shadow mode) would not fence either
    assert fences(shadow.effects) == ["skipped"] * len(
        [w for w in would if w.kind == "hang"])
    # forensics are kept as in enforce mode
    assert len(of(fx.Capture, shadow.effects)) == len(of(
        fx.Capture, enforce.effects)) > 0


def test_a_shadow_hang_says_what_its_fence_would_do():
    host = running_host(SHADOW)
    host.beats(3)
    host(nova_reading(ACTIVE, read_at=30.5), at=31)
    hang, = of(fx.WouldRecover, host.effects)
    assert hang.kind == "hang" and hang.uuid == "vm"
    assert hang.fence == ("would fence once accepted, if Nova shows no task "
                          "of its own")
    view = host.engine.view(31)
    assert view["mode"] == "shadow"
    assert view["domains"][0]["last_decision"] == \
        "would notify QEMU_GUEST_AGENT_ERROR/STOPPED_FAILED"
    assert any("shadow mode: nothing sent" in e.message
               for e in of(fx.Log, host.effects))


def test_switching_shadow_to_enforce_sends_no_earlier_decision():
    """Deaths and an open hang recorded in shadow mode stay unsent after
    the switch; the next failure is sent."""
    host = running_host(SHADOW)
    host.beats(3)
    host(nova_reading(ACTIVE, read_at=30.5), at=31)
    host.event(STOPPED, FAILED, at=40)
    host(obs.Disconnected("eof"), at=41)  # the death seen again later
    host.connect(listed(state=SHUTOFF, reason=LV.VIR_DOMAIN_SHUTOFF_CRASHED,
                        dom_id=-1), at=42)
    before = len(of(fx.WouldRecover, host.effects))
    out = host(obs.Reconfigured(FENCING), at=50)
    assert any("those recorded in shadow mode are not" in e.message
               for e in of(fx.Log, out))
    host(obs.Disconnected("eof"), at=51)
    host.connect(listed(state=SHUTOFF, reason=LV.VIR_DOMAIN_SHUTOFF_CRASHED,
                        dom_id=-1), at=52)
    assert before == 2 and enqueued(host.effects) == []
    host.event(STARTED, BOOTED, dom_id=2, at=60)
    assert len(keys(host.event(STOPPED, FAILED, dom_id=2, at=70))) == 1


def test_an_acceptance_arriving_in_shadow_mode_is_not_fenced():
    """A hang sent in enforce mode, answered after the switch to shadow:
    its fence is skipped, never carried out."""
    host, key, out = accepted_hang(FENCING)
    assert host.guest().fence == gm.F_ASKING
    host(obs.Reconfigured(SHADOW), at=33.2)
    out = host(nova_reading(ACTIVE, read_at=33.3), at=33.5)
    assert of(fx.Fence, out) == [] and fences(out) == ["skipped"]
    assert host.guest().view["fence_skipped"] == \
        "shadow mode: nothing is fenced"


# -- pauses -------------------------------------------------------------------

def paused_reading(until, uuid="vm"):
    return obs.NovaServers((obs.Server(uuid, True, "active", None, until),))


def test_a_server_pause_holds_its_hang_until_it_ends_then_fresh_evidence():
    host = running_host()
    host(paused_reading("1970-01-01T00:01:40Z"), at=0)  # until 100
    view = host.engine.view(0)["domains"][0]
    assert view["paused_until"] == "1970-01-01T00:01:40Z"
    assert view["heartbeat"] == "not monitored: paused by the operator " \
        "until 1970-01-01T00:01:40Z (HA_Paused_Until)"
    assert keys(host.beats(9)) == []  # 10..90: held
    assert host.guest().failures == 0
    out = host.beats(2)  # 100, 110: over; judged from its end on
    assert keys(out) == [] and host.guest().failures == 2
    assert len(keys(host.beats(1))) == 1  # the third fresh failure
    assert "paused_until" not in host.engine.view(host.now)["domains"][0]


def test_a_death_during_a_pause_is_recorded_not_recovered_ever():
    host = running_host()
    host(paused_reading("1970-01-01T00:01:40Z"), at=0)
    out = host.event(STOPPED, FAILED, at=10)
    assert keys(out) == [] and decisions(out) == ["paused"]
    assert "not recovered: paused by the operator" in \
        host.guest().view["reason"]
    host(obs.Disconnected("eof"), at=200)  # seen again after the pause
    host.connect(listed(state=SHUTOFF, reason=LV.VIR_DOMAIN_SHUTOFF_CRASHED,
                        dom_id=-1), at=201)
    assert keys(host.effects) == []
    assert of(fx.PutBoot, out)[-1].boot.notified == {
        notification.payload_name(DEATH)}  # kept across a restart


@pytest.mark.parametrize("value,problem", [
    ("1970-01-09T00:00:00Z", "is more than 7d ahead ([recovery] max_pause): "
     "not paused"),
    ("tomorrow", "is not a time: expected UTC in ISO 8601"),
    ("1969-12-31T00:00:00Z", None),  # over: simply not paused
    ("", None),
    (None, None),
])
def test_a_server_pause_that_cannot_be_honoured_watches_the_guest(value,
                                                                  problem):
    host = running_host()
    out = host(paused_reading(value), at=0)
    view = host.engine.view(0)["domains"][0]
    assert "paused_until" not in view
    if problem is None:
        assert "pause_problem" not in view
    else:
        assert problem in view["pause_problem"]
        assert problem in of(fx.Log, out)[0].message
    assert len(keys(host.beats(3))) == 1


def test_a_server_pause_outlives_an_unreadable_nova_and_still_ends():
    host = running_host()
    host(paused_reading("1970-01-01T00:01:40Z"), at=0)
    host(nova_reading(error="HTTP 503"), at=5)
    assert keys(host.beats(9)) == []
    assert len(keys(host.beats(3))) == 1


def test_resuming_a_server_clears_its_pause_at_the_next_reading():
    host = running_host()
    host(paused_reading("1970-01-01T01:00:00Z"), at=0)
    host(paused_reading(None), at=5)
    assert len(keys(host.beats(3))) == 1


def test_a_host_pause_holds_every_guest_and_ends_by_itself():
    host = Host()
    host.connect(listed("a", dom_id=1), listed("b", dom_id=2))
    out = host(obs.PauseHost(100.0), at=0)
    assert of(fx.PutHostPause, out) == [fx.PutHostPause(100.0)]
    assert decisions(out) == ["pause-begin"]
    assert host.engine.view(0)["paused_until"] == "1970-01-01T00:01:40Z"
    assert keys(host.event(STOPPED, FAILED, uuid="b", dom_id=2, at=5)) == []
    assert keys(host.beats(9, uuid="a")) == []
    out = host(obs.Tick(), at=101)
    assert of(fx.PutHostPause, out) == [fx.PutHostPause(None)]
    assert decisions(out) == ["pause-end"]
    assert host.engine.view(101)["paused_until"] is None
    assert len(keys(host.beats(3, uuid="a"))) == 1


def test_a_host_pause_survives_a_restart_and_a_resume_ends_it():
    host = Host(restored=engine_mod.Restored(host_paused_until=500.0))
    host.connect(listed())
    assert keys(host.beats(5)) == []
    out = host(obs.PauseHost(None), at=100)
    assert of(fx.PutHostPause, out) == [fx.PutHostPause(None)]
    assert len(keys(host.beats(3))) == 1


def test_a_pause_holds_a_fence():
    host, key, out = accepted_hang()
    host(obs.PauseHost(600.0), at=33.2)
    out = host(nova_reading(ACTIVE, read_at=33.3), at=33.5)
    assert of(fx.Fence, out) == [] and fences(out) == ["skipped"]
    assert host.guest().view["fence_skipped"].startswith(
        "monitoring paused on this host until")
