"""What makes a server protected by instance HA, decided without any I/O.

The commands gather facts from Nova, Glance/Cinder and Masakari; the rules that
turn those facts into "protected" or "not protected: why" live here, so that
they can be tested exhaustively.
"""
import dataclasses
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

PROTECTED = "protected"


def is_true(value):
    """Parse a flag the way Masakari and Nova do (oslo strutils)."""
    return strutils.bool_from_string(value, default=False)


@dataclasses.dataclass
class AgentSource:
    """Where a server's guest-agent property lives: its image or boot volume.

    ``value`` is the property as found (None when absent); ``error`` is set
    when the source could not be read (hidden image, no boot volume...).
    """
    kind: str  # "image" or "volume"
    id: str | None
    name: str | None = None
    value: str | None = None
    updated_at: str | None = None
    error: str | None = None

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

    @property
    def ha_enabled(self):
        return is_true(self.metadata.get(HA_METADATA_KEY))


def assess(facts):
    """Return ``(blocking, unknown)``: reasons the server is not protected,
    and facts that could not be established."""
    blocking, unknown = [], []
    if not facts.ha_enabled:
        blocking.append("%s is not true in the server metadata"
                        % HA_METADATA_KEY)
    if facts.status not in ("ACTIVE",):
        blocking.append("server is %s (only running servers are monitored)"
                        % facts.status)
    agent = facts.agent
    has_channel, reason = channel_state(agent, facts.launched_at)
    if has_channel is False:
        blocking.append("%s lacks %s=%s (only the host's kernel "
                        "heartbeat can find a hang)"
                        % (agent.label(), AGENT_PROPERTY, AGENT_VALUE))
    elif has_channel is None:
        unknown.append(reason)
    if facts.masakari_error:
        unknown.append(facts.masakari_error)
    elif facts.host is None:
        unknown.append("compute host not visible (admin only)")
    elif facts.masakari_host is None:
        blocking.append("host %s is not in any failover segment"
                        % facts.host)
    else:
        if facts.masakari_host.on_maintenance:
            blocking.append("host %s is on maintenance" % facts.host)
        if facts.masakari_host.segment_enabled is False:
            blocking.append("segment %s is disabled"
                            % facts.masakari_host.segment)
    return blocking, unknown


def verdict(facts):
    blocking, unknown = assess(facts)
    if blocking:
        return "not protected: " + "; ".join(blocking)
    if unknown:
        return "unknown: " + "; ".join(unknown)
    return PROTECTED


# -- enable / disable -----------------------------------------------------

@dataclasses.dataclass
class EnablePlan:
    set_metadata: bool
    set_agent: bool
    touch_agent: bool  # False with --no-image


def plan_enable(metadata, agent, touch_agent=True):
    return EnablePlan(
        set_metadata=not is_true(metadata.get(HA_METADATA_KEY)),
        set_agent=touch_agent and not agent.error and not agent.has_agent,
        touch_agent=touch_agent)


def channel_state(agent, launched_at):
    """Whether the running guest has the guest-agent channel: ``(True,
    None)``, ``(False, None)`` (no property) or ``(None, reason)`` when
    that cannot be known.

    Nova copies image properties into the instance when it is built or
    rebuilt; a hard reboot regenerates the domain from that saved copy, so a
    property added afterwards takes effect only after a rebuild.  Glance
    moves an image's ``updated_at`` on every change, so an image changed
    after the launch may have got the property since: not known.  (Cinder
    does not move a volume's ``updated_at`` when its image metadata
    changes: for a boot volume the comparison only sees other changes.)
    """
    if agent.error:
        return None, agent.error
    if not agent.has_agent:
        return False, None
    launched = _utc_seconds(launched_at)
    if launched is None:
        return None, ("the server's launch time is %s, so whether its "
                      "guest has the agent channel is not known" % (
                          "unreadable (%r)" % launched_at if launched_at
                          else "not shown"))
    updated = _utc_seconds(agent.updated_at)
    if updated is None:
        return None, ("%s shows no readable update time, so whether the "
                      "guest has the agent channel is not known"
                      % agent.label())
    if updated > launched:
        return None, ("%s changed after the server was launched, so the "
                      "guest may lack the agent channel; rebuild the server "
                      "to add it" % agent.label())
    return True, None


def agent_channel(agent, set_now, launched_at):
    """The "Agent Channel" column of ``enable``: the same rule as the
    status verdict, worded for the change just made."""
    if set_now:
        return "no: rebuild the server to add the channel"
    has_channel, reason = channel_state(agent, launched_at)
    if has_channel is None:
        return "unknown: " + reason
    if not has_channel:
        return "no: %s lacks %s" % (agent.label(), AGENT_PROPERTY)
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
