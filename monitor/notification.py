"""What a notification says and how an incident is named, in one place.

Masakari's engine acts on three payloads only: LIFECYCLE/STOPPED_FAILED,
QEMU_GUEST_AGENT_ERROR/STOPPED_FAILED and IO_ERROR/IO_ERROR_REPORT.  Its
payload schema is strict (exactly event, instance_uuid, vir_domain_event),
and every backend receives the same body, so the nova and libvirt backends
read the same three names.

An incident key names one failure of one boot of one instance.  A boot is
a number the store hands out when the monitor sees a domain start; it is
never reused, so keys stay unique over months of reboots (libvirt's domain
IDs start again at 1 whenever libvirtd starts with nothing running).
"""
import datetime

LIFECYCLE = "LIFECYCLE"
IO_ERROR = "IO_ERROR"
AGENT_ERROR = "QEMU_GUEST_AGENT_ERROR"
STOPPED_FAILED = "STOPPED_FAILED"
IO_ERROR_REPORT = "IO_ERROR_REPORT"

PROCESS_DIED = (LIFECYCLE, STOPPED_FAILED)
HUNG = (AGENT_ERROR, STOPPED_FAILED)
IO_REPORTED = (IO_ERROR, IO_ERROR_REPORT)


def iso(timestamp):
    """Masakari's generated_time: UTC, microseconds, no zone suffix."""
    return datetime.datetime.fromtimestamp(
        timestamp, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")


def payload_name(payload):
    return "%s/%s" % payload


def death_key(uuid, boot, payload):
    """One notification per instance, boot and payload: the same death
    seen by its event, by a reconcile and again after a monitor restart is
    one incident; a death in a later boot is another."""
    return "%s/b%d/%s" % (uuid, boot, payload_name(payload))


def hang_key(uuid, boot, ordinal):
    """The ``ordinal``-th hang of this boot: a guest that hangs, answers
    again and hangs later in the same boot has two incidents."""
    return "%s/b%d/%s/h%d" % (uuid, boot, payload_name(HUNG), ordinal)


def hang_incident(key):
    """(uuid, boot, ordinal) of a hang's incident key, None for any other
    key (a death, an I/O error, a forwarded event)."""
    head, _, ordinal = key.rpartition("/h")
    uuid, sep, rest = head.partition("/b")
    boot, _, name = rest.partition("/")
    if not sep or name != payload_name(HUNG) or not boot.isdigit() or \
            not ordinal.isdigit():
        return None
    return uuid, int(boot), int(ordinal)


def forwarded_key(uuid, boot, payload, now):
    """Events sent only on request (forward_ignored_events): each one is
    its own notification."""
    return "%s/b%s/%s/at-%s" % (uuid, "-" if boot is None else boot,
                                payload_name(payload), iso(now))


def body(hostname, uuid, payload, now):
    return {"type": "VM", "hostname": hostname, "generated_time": iso(now),
            "payload": {"event": payload[0], "instance_uuid": uuid,
                        "vir_domain_event": payload[1]}}


def is_hang(body):
    return body["payload"]["event"] == AGENT_ERROR
