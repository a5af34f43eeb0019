"""Which libvirt events mean "recover this instance", in one table.

Masakari's engine acts on three payloads only: LIFECYCLE/STOPPED_FAILED,
QEMU_GUEST_AGENT_ERROR/STOPPED_FAILED and IO_ERROR/IO_ERROR_REPORT; it marks
everything else "ignored".  So every event that needs a recovery is sent as
one of those, and the events that must not cause one (Nova's own stop or
destroy, an in-guest shutdown, migration, pause) are recorded for status but
not sent unless ``forward_ignored_events`` asks for masakari-monitors'
behaviour.
"""
import dataclasses

import libvirt

from monitor import notification
from monitor.notification import IO_ERROR
from monitor.notification import LIFECYCLE


def _names(prefix, exclude=()):
    """libvirt's constant names by value, e.g. {5: 'STOPPED'}."""
    names = {}
    for attr in dir(libvirt):
        if attr.startswith(prefix) and not attr.endswith("_LAST"):
            rest = attr[len(prefix):]
            if "_" not in rest and rest not in exclude:
                names[getattr(libvirt, attr)] = rest
    return names


EVENT_NAMES = _names("VIR_DOMAIN_EVENT_", exclude=("ID",))
DETAIL_NAMES = {
    event: {value: attr[len("VIR_DOMAIN_EVENT_%s_" % name):]
            for attr in dir(libvirt)
            if attr.startswith("VIR_DOMAIN_EVENT_%s_" % name)
            and not attr.endswith("_LAST")
            for value in [getattr(libvirt, attr)]}
    for event, name in EVENT_NAMES.items()
}


@dataclasses.dataclass(frozen=True)
class Classified:
    name: str  # e.g. "STOPPED_FAILED", as masakari-monitors spells it
    masakari: tuple | None  # (event, vir_domain_event) when recovery is due
    why: str


# (libvirt event, detail) -> why it needs a recovery.  Everything else does
# not.  All three are sent as LIFECYCLE/STOPPED_FAILED: the payload Masakari's
# engine recovers (stop, start, confirm ACTIVE); a crashed or stopped guest
# needs exactly that.  PANICKED and the STOPPED/CRASHED that follows it when
# on_crash=destroy share one idempotency key, so they make one notification.
RECOVER = {
    (libvirt.VIR_DOMAIN_EVENT_STOPPED,
     libvirt.VIR_DOMAIN_EVENT_STOPPED_FAILED):
        "the QEMU process died without being asked to stop",
    (libvirt.VIR_DOMAIN_EVENT_STOPPED,
     libvirt.VIR_DOMAIN_EVENT_STOPPED_CRASHED):
        "the guest crashed (panic device) and was stopped",
    (libvirt.VIR_DOMAIN_EVENT_CRASHED,
     libvirt.VIR_DOMAIN_EVENT_CRASHED_PANICKED):
        "the guest kernel panicked (panic device)",
}


def event_name(event, detail):
    detail_name = DETAIL_NAMES.get(event, {}).get(detail, str(detail))
    return "%s_%s" % (EVENT_NAMES.get(event, str(event)), detail_name)


def classify_lifecycle(event, detail):
    name = event_name(event, detail)
    why = RECOVER.get((event, detail))
    if why:
        return Classified(name, notification.PROCESS_DIED, why)
    return Classified(name, None, "not a failure Masakari recovers")


def classify_io_error(action):
    if action == libvirt.VIR_DOMAIN_EVENT_IO_ERROR_REPORT:
        return Classified("IO_ERROR_REPORT", notification.IO_REPORTED,
                          "an I/O error was reported to the guest")
    name = {libvirt.VIR_DOMAIN_EVENT_IO_ERROR_NONE: "IO_ERROR_NONE",
            libvirt.VIR_DOMAIN_EVENT_IO_ERROR_PAUSE: "IO_ERROR_PAUSE"}.get(
                action, "IO_ERROR_%s" % action)
    return Classified(name, None, "I/O error handled by the hypervisor")


def payload_for(classified, forward_ignored=False):
    """(event, vir_domain_event) to send, or None to only record."""
    if classified.masakari:
        return classified.masakari
    if forward_ignored:
        return (IO_ERROR if classified.name.startswith("IO_ERROR")
                else LIFECYCLE, classified.name)
    return None


def died_unseen(state, reason):
    """A domain found in this state by a listing, after it was last seen
    running, died while no event could reach the monitor: shut off for
    reason *crashed* (the QEMU process died) or sitting *crashed*."""
    if state == libvirt.VIR_DOMAIN_SHUTOFF and \
            reason == libvirt.VIR_DOMAIN_SHUTOFF_CRASHED:
        return Classified(
            "STOPPED_FAILED", notification.PROCESS_DIED,
            "the QEMU process died while the monitor was not listening "
            "(found shut off, reason crashed)")
    if state == libvirt.VIR_DOMAIN_CRASHED:
        return Classified(
            "CRASHED_PANICKED", notification.PROCESS_DIED,
            "the guest crashed while the monitor was not listening")
    return None
