"""What makes a server protected by instance HA, decided without any I/O.

The commands gather facts from Nova, Glance/Cinder and Masakari; the rules that
turn those facts into "protected" or "not protected: why" live here, so that
they can be tested exhaustively.
"""
import dataclasses
import datetime
import math

from oslo_utils import strutils
from oslo_utils import timeutils

# Masakari's engine recovers an instance only when this metadata key is true
# ([instance_failure] ha_enabled_instance_metadata_key, default HA_Enabled).
HA_METADATA_KEY = "HA_Enabled"
# Nova adds the guest-agent channel to the domain only when the image (or the
# boot volume's image metadata) carries this property.
AGENT_PROPERTY = "hw_qemu_guest_agent"
AGENT_VALUE = "yes"

# A server whose monitoring was paused (``openstack instanceha pause``):
# the UTC end of the pause, ISO 8601 (2026-12-03T16:00:00Z).
PAUSE_METADATA_KEY = "HA_Paused_Until"

PROTECTED = "protected"
NOT_PROTECTED = "not protected"
UNKNOWN = "unknown"

# What the monitor recovers a server from (the "Protects Against" column):
# its QEMU process dying; a hung guest kernel, seen by the kernel heartbeat
# (the balloon statistics Nova gives every guest); a hang the guest agent
# finds where the kernel heartbeat cannot tell (see the detection page).
DEATHS = "deaths"
KERNEL_HANGS = "kernel hangs"
AGENT_HANGS = "agent hangs"

ADMIN_ONLY = ("only an admin sees the compute host, its failover segment "
              "and its monitor")


def is_true(value):
    """Parse a flag the way Masakari and Nova do (oslo strutils)."""
    return strutils.bool_from_string(value, default=False)


@dataclasses.dataclass
class AgentSource:
    """Where a server's guest-agent property lives: its image or boot volume.

    ``value`` is the property as found (None when absent); ``error`` is set
    when the source could not be read (hidden image, no boot volume...).
    ``owner`` and ``visibility`` say whether ``enable`` may change it.
    """
    kind: str  # "image" or "volume"
    id: str | None
    name: str | None = None
    value: str | None = None
    updated_at: str | None = None
    error: str | None = None
    owner: str | None = None
    visibility: str | None = None

    @property
    def has_agent(self):
        return None if self.error else is_true(self.value)

    def label(self):
        return "%s %s" % (self.kind, self.name or self.id or "?")


@dataclasses.dataclass
class MasakariHost:
    """A compute host as Masakari knows it."""
    segment: str
    segment_enabled: bool | None
    on_maintenance: bool
    reserved: bool = False


@dataclasses.dataclass
class ServerFacts:
    id: str
    name: str
    status: str
    metadata: dict
    host: str | None  # None when the caller may not see it (non-admin)
    agent: AgentSource
    # None: host not registered.  Ignored when masakari_error is set.
    masakari_host: MasakariHost | None = None
    masakari_error: str | None = None
    last_notification: dict | None = None
    # Nova's OS-SRV-USG:launched_at: when the guest was built or rebuilt
    launched_at: str | None = None
    # The image properties the instance was built with (Nova 2.98); None
    # when Nova does not show them (older Nova, boot from volume).
    built_with: dict | None = None
    # The host's monitor as Prometheus sees it (fleet.MonitorState; None:
    # never seen), unless monitor_error says why it was not checked.
    monitor: object = None
    monitor_error: str | None = None

    @property
    def ha_enabled(self):
        return is_true(self.metadata.get(HA_METADATA_KEY))


@dataclasses.dataclass
class Verdict:
    """``state``: protected / not protected / unknown; ``reasons``: why
    not, what could not be checked, and what it is not protected against;
    ``covers``: what the monitor recovers the server from."""
    state: str
    reasons: list
    covers: list


def paused_until(metadata, now):
    """``(end, None)`` while HA_Paused_Until is in the future, ``(None,
    None)`` without a pause or after it, ``(None, why)`` when unreadable."""
    text = metadata.get(PAUSE_METADATA_KEY)
    if not text:
        return None, None
    end = _utc_seconds(text)
    if end is None:
        return None, ("%s=%r is not a UTC time (like 2026-12-03T16:00:00Z)"
                      % (PAUSE_METADATA_KEY, text))
    if end.replace(tzinfo=datetime.timezone.utc).timestamp() <= now:
        return None, None
    return end, None


def iso(moment):
    """A naive UTC datetime or epoch seconds as 2026-12-03T16:00:00Z."""
    if not isinstance(moment, datetime.datetime):
        moment = datetime.datetime.fromtimestamp(
            moment, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def assess(facts, now):
    """The verdict over what the plugin can see; ``now``: epoch seconds.

    Anything that stops recovery makes it "not protected"; anything that
    could not be checked (the host side without a Prometheus URL included)
    makes it "unknown": never "protected" on an unchecked host.
    """
    blocking, unknown, limits = [], [], []
    if not facts.ha_enabled:
        blocking.append("%s is not true in the server metadata"
                        % HA_METADATA_KEY)
    if facts.status not in ("ACTIVE",):
        blocking.append("server is %s (only running servers are monitored)"
                        % facts.status)
    end, bad_pause = paused_until(facts.metadata, now)
    if end is not None:
        blocking.append("paused until %s" % iso(end))
    elif bad_pause:
        unknown.append(bad_pause)
    has_channel, reason = channel_state(facts.agent, facts.launched_at,
                                        facts.built_with)
    if has_channel is False:
        limits.append(reason)
    elif has_channel is None:
        limits.append("agent hangs not known: " + reason)
    if facts.host is None:
        unknown.append(ADMIN_ONLY)
    else:
        _host_side(facts, blocking, unknown)
    covers = [] if blocking else [DEATHS, KERNEL_HANGS] + (
        [AGENT_HANGS] if has_channel else [])
    if blocking:
        return Verdict(NOT_PROTECTED, blocking + unknown, covers)
    if unknown:
        return Verdict(UNKNOWN, unknown + limits, covers)
    return Verdict(PROTECTED, limits, covers)


def _host_side(facts, blocking, unknown):
    if facts.masakari_error:
        unknown.append(facts.masakari_error)
    elif facts.masakari_host is None:
        blocking.append("host %s is not in any failover segment"
                        % facts.host)
    else:
        if facts.masakari_host.on_maintenance:
            blocking.append("host %s is on maintenance" % facts.host)
        if facts.masakari_host.segment_enabled is False:
            blocking.append("segment %s is disabled"
                            % facts.masakari_host.segment)
    if facts.monitor_error:
        unknown.append(facts.monitor_error)
        return
    monitor = facts.monitor
    if monitor is None:
        blocking.append("no monitor seen on %s" % facts.host)
        return
    if not monitor.up:
        blocking.append("no monitor seen on %s since %s" % (
            facts.host, iso(monitor.last_seen)))
        return
    if monitor.mode == "shadow":
        blocking.append("monitor on %s is in shadow mode" % facts.host)
    if monitor.paused_until:
        blocking.append("monitor on %s is paused until %s" % (
            facts.host, iso(monitor.paused_until)))
    if monitor.libvirt_connected is False:
        blocking.append("monitor on %s has lost libvirt" % facts.host)
    if monitor.overdue:
        unknown.append("monitor on %s has overdue notifications"
                       % facts.host)
    if monitor.store_writable is False:
        unknown.append("monitor on %s cannot write its state store"
                       % facts.host)


def verdict(facts, now):
    return assess(facts, now).state


# -- enable / disable -----------------------------------------------------

@dataclasses.dataclass
class EnablePlan:
    set_metadata: bool
    set_agent: bool
    touch_agent: bool  # False with --no-image
    # why the image is left alone unless --modify-shared-image says so
    held_back: str | None = None


def shared_reason(agent, project_id):
    """Why changing this image would reach beyond the project, or None:
    a public, shared or community image, or one another project owns.
    A boot volume belongs to its server's project alone."""
    if agent.kind != "image" or agent.error:
        return None
    if agent.visibility in ("public", "shared", "community"):
        return "%s is %s" % (agent.label(), agent.visibility)
    if agent.owner and project_id and agent.owner != project_id:
        return "%s belongs to project %s" % (agent.label(), agent.owner)
    return None


def plan_enable(metadata, agent, touch_agent=True, project_id=None,
                modify_shared=False):
    missing = touch_agent and not agent.error and not agent.has_agent
    held_back = shared_reason(agent, project_id) \
        if missing and not modify_shared else None
    return EnablePlan(
        set_metadata=not is_true(metadata.get(HA_METADATA_KEY)),
        set_agent=missing and held_back is None,
        touch_agent=touch_agent, held_back=held_back)


def channel_state(agent, launched_at, built_with=None):
    """Whether the running guest has the guest-agent channel: ``(True,
    None)``, ``(False, why not)`` or ``(None, reason)`` when that cannot
    be known.

    Nova copies the image's properties into the instance when it is built
    or rebuilt (a hard reboot regenerates the domain from that copy), and
    from microversion 2.98 shows that copy (``built_with``): the fact
    itself.  Older clouds only show the image as it is now; Glance moves
    its ``updated_at`` on every change, so an image changed after the
    launch may have got the property since: not known.  (Cinder does not
    move a volume's ``updated_at`` when its image metadata changes: for a
    boot volume the comparison only sees other changes.)
    """
    if built_with is not None:
        if is_true(built_with.get(AGENT_PROPERTY)):
            return True, None
        if agent.has_agent:
            return False, ("built without %s=%s, which %s has now (rebuild "
                           "the server for agent hangs)" % (
                               AGENT_PROPERTY, AGENT_VALUE, agent.label()))
        return False, ("no agent hangs: built without %s=%s"
                       % (AGENT_PROPERTY, AGENT_VALUE))
    if agent.error:
        return None, agent.error
    if not agent.has_agent:
        return False, "no agent hangs: %s lacks %s=%s" % (
            agent.label(), AGENT_PROPERTY, AGENT_VALUE)
    launched = _utc_seconds(launched_at)
    if launched is None:
        return None, ("the server's launch time is %s" % (
            "unreadable (%r)" % launched_at if launched_at
            else "not shown"))
    updated = _utc_seconds(agent.updated_at)
    if updated is None:
        return None, "%s shows no readable update time" % agent.label()
    if updated > launched:
        return None, ("%s changed after the server was launched (rebuild "
                      "the server if it got %s since)" % (
                          agent.label(), AGENT_PROPERTY))
    return True, None


def agent_channel(agent, set_now, launched_at, built_with=None):
    """The "Agent Channel" column of ``enable``: the same rule as the
    status verdict, worded for the change just made."""
    if set_now:
        return "no: rebuild the server to add the channel"
    has_channel, reason = channel_state(agent, launched_at, built_with)
    if has_channel is None:
        return "unknown: " + reason
    if not has_channel:
        return "no: " + reason
    return "yes"


def _utc_seconds(timestamp):
    """A naive UTC datetime to the second, or None.  Glance says
    2026-01-02T03:04:05Z, Nova and Cinder 2026-01-02T03:04:05.000000
    (UTC); the same second counts as not later."""
    if not timestamp:
        return None
    try:
        parsed = timeutils.normalize_time(timeutils.parse_isotime(
            str(timestamp)))
    except ValueError:
        return None
    return parsed.replace(microsecond=0)


MAX_SINCE_HOURS = 1000000  # about 114 years


def parse_since(text):
    """``status --since``: hours as a positive finite number, at most
    MAX_SINCE_HOURS; ValueError with a one-line message otherwise."""
    try:
        hours = float(text)
    except (TypeError, ValueError):
        raise ValueError("--since must be a number of hours, not %r"
                         % text) from None
    if math.isnan(hours) or math.isinf(hours):
        raise ValueError("--since must be a finite number of hours, not %r"
                         % text)
    if hours <= 0:
        raise ValueError("--since must be more than 0 hours, not %r" % text)
    if hours > MAX_SINCE_HOURS:
        raise ValueError("--since must be at most %d hours, not %r"
                         % (MAX_SINCE_HOURS, text))
    return hours


def notification_summary(notification):
    if not notification:
        return None
    payload = notification.get("payload") or {}
    return "%s/%s %s at %s" % (
        payload.get("event"), payload.get("vir_domain_event"),
        notification.get("status"), notification.get("generated_time"))
