"""The libvirt → Masakari mapping and the reconcile rule, exhaustively."""
import itertools

import libvirt
import pytest

from monitor import events as ev

RECOVERED = {
    (libvirt.VIR_DOMAIN_EVENT_STOPPED,
     libvirt.VIR_DOMAIN_EVENT_STOPPED_FAILED),
    (libvirt.VIR_DOMAIN_EVENT_STOPPED,
     libvirt.VIR_DOMAIN_EVENT_STOPPED_CRASHED),
    (libvirt.VIR_DOMAIN_EVENT_CRASHED,
     libvirt.VIR_DOMAIN_EVENT_CRASHED_PANICKED),
}
ALL_LIFECYCLE = [(event, detail) for event, details in ev.DETAIL_NAMES.items()
                 for detail in details]


def test_every_libvirt_lifecycle_event_is_named():
    assert len(ALL_LIFECYCLE) > 30
    names = {ev.event_name(e, d) for e, d in ALL_LIFECYCLE}
    assert {"STOPPED_FAILED", "STOPPED_DESTROYED", "SHUTDOWN_FINISHED",
            "SUSPENDED_PAUSED", "STARTED_BOOTED", "CRASHED_PANICKED",
            "STOPPED_MIGRATED"} <= names
    assert len(names) == len(ALL_LIFECYCLE)


@pytest.mark.parametrize("event,detail", ALL_LIFECYCLE)
def test_only_deaths_are_recovered(event, detail):
    classified = ev.classify_lifecycle(event, detail)
    if (event, detail) in RECOVERED:
        assert classified.masakari == ("LIFECYCLE", "STOPPED_FAILED")
        assert ev.payload_for(classified) == ("LIFECYCLE", "STOPPED_FAILED")
    else:
        assert classified.masakari is None
        assert ev.payload_for(classified) is None
        # masakari-monitors' behaviour, on request
        assert ev.payload_for(classified, forward_ignored=True) == (
            "LIFECYCLE", classified.name)


@pytest.mark.parametrize("action,payload", [
    (libvirt.VIR_DOMAIN_EVENT_IO_ERROR_REPORT,
     ("IO_ERROR", "IO_ERROR_REPORT")),
    (libvirt.VIR_DOMAIN_EVENT_IO_ERROR_PAUSE, None),
    (libvirt.VIR_DOMAIN_EVENT_IO_ERROR_NONE, None),
])
def test_io_errors(action, payload):
    assert ev.payload_for(ev.classify_io_error(action)) == payload


def test_panic_then_stop_share_one_incident():
    panic = ev.classify_lifecycle(libvirt.VIR_DOMAIN_EVENT_CRASHED,
                                  libvirt.VIR_DOMAIN_EVENT_CRASHED_PANICKED)
    stop = ev.classify_lifecycle(libvirt.VIR_DOMAIN_EVENT_STOPPED,
                                 libvirt.VIR_DOMAIN_EVENT_STOPPED_CRASHED)
    assert ev.incident_key("u", 7, ev.payload_for(panic)) == \
        ev.incident_key("u", 7, ev.payload_for(stop))
    assert ev.incident_key("u", 7, ev.payload_for(stop)) != \
        ev.incident_key("u", 8, ev.payload_for(stop))


STATES = [libvirt.VIR_DOMAIN_NOSTATE, libvirt.VIR_DOMAIN_RUNNING,
          libvirt.VIR_DOMAIN_BLOCKED, libvirt.VIR_DOMAIN_PAUSED,
          libvirt.VIR_DOMAIN_SHUTDOWN, libvirt.VIR_DOMAIN_SHUTOFF,
          libvirt.VIR_DOMAIN_CRASHED, libvirt.VIR_DOMAIN_PMSUSPENDED]
SHUTOFF_REASONS = range(libvirt.VIR_DOMAIN_SHUTOFF_UNKNOWN,
                        libvirt.VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT + 1)


@pytest.mark.parametrize("state,reason", itertools.product(
    STATES, SHUTOFF_REASONS))
def test_reconcile_reports_only_unseen_deaths(state, reason):
    now = {"u1": ev.DomainState("u1", "instance-1", -1, state, reason)}

    deaths = ev.deaths_while_away({"u1": 5}, now)

    died = (state == libvirt.VIR_DOMAIN_CRASHED or (
        state == libvirt.VIR_DOMAIN_SHUTOFF and
        reason == libvirt.VIR_DOMAIN_SHUTOFF_CRASHED))
    if died:
        [(domain, boot, classified)] = deaths
        assert (domain.uuid, boot) == ("u1", 5)
        assert classified.masakari == ("LIFECYCLE", "STOPPED_FAILED")
    else:
        assert deaths == []


def test_reconcile_ignores_unknown_and_vanished_domains():
    crashed = ev.DomainState("u2", "instance-2", -1,
                             libvirt.VIR_DOMAIN_SHUTOFF,
                             libvirt.VIR_DOMAIN_SHUTOFF_CRASHED)
    # u2 was never seen running; u1 was, but is gone (deleted).
    assert ev.deaths_while_away({"u1": 3}, {"u2": crashed}) == []
