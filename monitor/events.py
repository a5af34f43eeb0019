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

AGENT_CONNECTED = \
    libvirt.VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED
AGENT_CLOSED_BY_GUEST = \
    libvirt.VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_REASON_CHANNEL

LIFECYCLE = "LIFECYCLE"
IO_ERROR = "IO_ERROR"
STOPPED_FAILED = "STOPPED_FAILED"
IO_ERROR_REPORT = "IO_ERROR_REPORT"


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


# The domain state a lifecycle event leaves behind (others change nothing).
STATE_AFTER = {
    libvirt.VIR_DOMAIN_EVENT_STARTED: libvirt.VIR_DOMAIN_RUNNING,
    libvirt.VIR_DOMAIN_EVENT_RESUMED: libvirt.VIR_DOMAIN_RUNNING,
    libvirt.VIR_DOMAIN_EVENT_SUSPENDED: libvirt.VIR_DOMAIN_PAUSED,
    libvirt.VIR_DOMAIN_EVENT_STOPPED: libvirt.VIR_DOMAIN_SHUTOFF,
    libvirt.VIR_DOMAIN_EVENT_CRASHED: libvirt.VIR_DOMAIN_CRASHED,
    libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED: libvirt.VIR_DOMAIN_PMSUSPENDED,
}


def event_name(event, detail):
    detail_name = DETAIL_NAMES.get(event, {}).get(detail, str(detail))
    return "%s_%s" % (EVENT_NAMES.get(event, str(event)), detail_name)


def classify_lifecycle(event, detail):
    name = event_name(event, detail)
    why = RECOVER.get((event, detail))
    if why:
        return Classified(name, (LIFECYCLE, STOPPED_FAILED), why)
    return Classified(name, None, "not a failure Masakari recovers")


def classify_io_error(action):
    if action == libvirt.VIR_DOMAIN_EVENT_IO_ERROR_REPORT:
        return Classified(IO_ERROR_REPORT, (IO_ERROR, IO_ERROR_REPORT),
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


def incident_key(instance_uuid, boot, payload):
    """One notification per instance, boot and payload.

    ``boot`` is the libvirt domain id the instance had while it ran: a new
    start gets a new id, so a second crash after a recovery is a new
    incident, while the same crash seen twice (event and reconcile, or before
    and after a monitor restart) is not.
    """
    return "%s/%s/%s/%s" % (instance_uuid, boot, payload[0], payload[1])


# -- reconcile ------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class DomainState:
    uuid: str
    name: str
    dom_id: int  # -1 when not running
    state: int
    reason: int
    agent: str | None = None  # channel: None, "connected", "disconnected"


def is_running(state):
    return state in (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_PAUSED,
                     libvirt.VIR_DOMAIN_BLOCKED,
                     libvirt.VIR_DOMAIN_PMSUSPENDED,
                     libvirt.VIR_DOMAIN_SHUTDOWN)


def deaths_while_away(known_running, current):
    """Deaths that happened while no events could be received.

    ``known_running`` maps instance UUID -> boot (domain id) for the domains
    last seen running; ``current`` maps UUID -> DomainState as listed now.
    A domain that was running and is now shut off for reason *crashed*, or
    sits in the *crashed* state, died unseen.  A domain that is gone, shut
    off for another reason or running again is not reported.
    """
    deaths = []
    for uuid, boot in sorted(known_running.items()):
        domain = current.get(uuid)
        if domain is None:
            continue
        if domain.state == libvirt.VIR_DOMAIN_SHUTOFF and \
                domain.reason == libvirt.VIR_DOMAIN_SHUTOFF_CRASHED:
            classified = Classified(
                "STOPPED_FAILED", (LIFECYCLE, STOPPED_FAILED),
                "the QEMU process died while the monitor was not "
                "listening (found shut off, reason crashed)")
        elif domain.state == libvirt.VIR_DOMAIN_CRASHED:
            classified = Classified(
                "CRASHED_PANICKED", (LIFECYCLE, STOPPED_FAILED),
                "the guest crashed while the monitor was not listening")
        else:
            continue
        deaths.append((domain, boot, classified))
    return deaths
