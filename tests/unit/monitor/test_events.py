"""Which libvirt events are recoveries, as an operator would state it.

The expectations are written by name, from libvirt's documentation of
each event and what it means on a compute host, not copied from the
monitor's table: a wrong row in ``events.RECOVER`` fails here.
"""
import libvirt
import pytest

from monitor import events as ev

DIED = ("LIFECYCLE", "STOPPED_FAILED")
# Every lifecycle event of libvirt, with what the monitor must do and why.
SPEC = {
    "DEFINED_ADDED": None, "DEFINED_UPDATED": None,
    "DEFINED_RENAMED": None, "DEFINED_FROM_SNAPSHOT": None,
    "UNDEFINED_REMOVED": None, "UNDEFINED_RENAMED": None,
    "STARTED_BOOTED": None, "STARTED_MIGRATED": None,
    "STARTED_RESTORED": None, "STARTED_FROM_SNAPSHOT": None,
    "STARTED_WAKEUP": None, "SUSPENDED_PAUSED": None,
    "SUSPENDED_MIGRATED": None, "SUSPENDED_IOERROR": None,
    "SUSPENDED_WATCHDOG": None, "SUSPENDED_RESTORED": None,
    "SUSPENDED_FROM_SNAPSHOT": None, "SUSPENDED_API_ERROR": None,
    "SUSPENDED_POSTCOPY": None, "SUSPENDED_POSTCOPY_FAILED": None,
    "RESUMED_UNPAUSED": None, "RESUMED_MIGRATED": None,
    "RESUMED_FROM_SNAPSHOT": None, "RESUMED_POSTCOPY": None,
    "RESUMED_POSTCOPY_FAILED": None,
    "STOPPED_SHUTDOWN": None,  # the guest powered itself off
    "STOPPED_DESTROYED": None,  # Nova's stop, delete, hard reboot
    "STOPPED_CRASHED": DIED,  # panic device + on_crash=destroy
    "STOPPED_MIGRATED": None, "STOPPED_SAVED": None,
    "STOPPED_FAILED": DIED,  # the QEMU process died
    "STOPPED_FROM_SNAPSHOT": None,
    "SHUTDOWN_FINISHED": None, "SHUTDOWN_GUEST": None,
    "SHUTDOWN_HOST": None,
    "PMSUSPENDED_MEMORY": None, "PMSUSPENDED_DISK": None,
    "CRASHED_PANICKED": DIED,  # panic device, before the stop
    "CRASHED_CRASHLOADED": None,  # kdump kernel took over: it reboots
}
LIFECYCLE = [(event, detail) for event, details in ev.DETAIL_NAMES.items()
             for detail in details]


def test_the_spec_covers_every_event_this_libvirt_knows():
    names = {ev.event_name(e, d) for e, d in LIFECYCLE}
    assert names <= set(SPEC), names - set(SPEC)
    assert len(names) == len(LIFECYCLE) > 30


@pytest.mark.parametrize("event,detail", LIFECYCLE)
def test_only_deaths_are_recovered(event, detail):
    classified = ev.classify_lifecycle(event, detail)
    expected = SPEC[classified.name]
    assert classified.masakari == expected
    assert ev.payload_for(classified) == expected
    if expected is None:  # masakari-monitors' behaviour, on request
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


SHUTOFF = libvirt.VIR_DOMAIN_SHUTOFF


@pytest.mark.parametrize("state,reason,died", [
    (SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_CRASHED, True),
    (libvirt.VIR_DOMAIN_CRASHED, libvirt.VIR_DOMAIN_CRASHED_PANICKED, True),
    (libvirt.VIR_DOMAIN_CRASHED, libvirt.VIR_DOMAIN_CRASHED_UNKNOWN, True),
    (SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_UNKNOWN, False),
    (SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_SHUTDOWN, False),
    (SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_DESTROYED, False),
    (SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_MIGRATED, False),
    (SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_SAVED, False),
    (SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_FAILED, False),  # never started
    (SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT, False),
    (libvirt.VIR_DOMAIN_RUNNING, 1, False),
    (libvirt.VIR_DOMAIN_PAUSED, 1, False),
])
def test_deaths_a_listing_reveals(state, reason, died):
    classified = ev.died_unseen(state, reason)
    assert (classified is not None) is died
    if died:
        assert classified.masakari == DIED
