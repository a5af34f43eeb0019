"""What the adapters tell the engine: plain, immutable facts.

libvirt's events, a listing after every (re)connect, a heartbeat's
answer, the balloon statistics, Nova's HA_Enabled flags, a finished
forensics capture and an operator's word.  No handles, no callbacks: an
observation can be written down in a test table.
"""
import dataclasses


@dataclasses.dataclass(frozen=True)
class Domain:
    """One domain as a listing shows it."""
    uuid: str
    name: str
    dom_id: int  # -1 when not running
    state: int  # libvirt's virDomainState
    reason: int
    channel: bool = False  # has a guest-agent channel
    agent_connected: bool | None = None  # its live state (None: unsaid)
    balloon_period: int | None = None  # <memballoon><stats period>


@dataclasses.dataclass(frozen=True)
class Connected:
    """After every (re)connect.  ``touched``: domains whose events arrived
    while the listing ran (their events are newer than the listing)."""
    domains: tuple
    host_boot: str | None = None
    touched: frozenset = frozenset()


@dataclasses.dataclass(frozen=True)
class Disconnected:
    reason: str


@dataclasses.dataclass(frozen=True)
class Lifecycle:
    uuid: str
    name: str
    event: int
    detail: int
    dom_id: int
    # time.perf_counter() in libvirt's callback (for the commit latency)
    seen: float = dataclasses.field(default=0.0, compare=False)


@dataclasses.dataclass(frozen=True)
class Described:
    """What a domain's definition says, read after it started."""
    uuid: str
    channel: bool
    balloon_period: int | None = None


@dataclasses.dataclass(frozen=True)
class AgentLifecycle:
    uuid: str
    name: str
    connected: bool
    closed_by_guest: bool = False  # else: reset (the domain started)


@dataclasses.dataclass(frozen=True)
class Rebooted:
    uuid: str
    name: str


@dataclasses.dataclass(frozen=True)
class IoError:
    uuid: str
    name: str
    action: int


@dataclasses.dataclass(frozen=True)
class Heartbeat:
    """A guest-agent ping's answer.  ``excuse``: a state that excuses a
    failure (paused, migrating, no free worker), seen right after it;
    ``sent_at``: wall-clock time the ping was sent; ``kernel_stamp``: the
    balloon's last-update read right after a failure (None: not read)."""
    uuid: str
    ok: bool
    detail: str = ""
    excuse: str | None = None
    sent_at: float | None = None
    kernel_stamp: float | None = None


@dataclasses.dataclass(frozen=True)
class GuestStats:
    """One bulk statistics call: per running domain, the balloon's
    ``last-update`` (QEMU's host-clock time of the guest kernel's last
    answer; None when it reports none) and the vCPU time used so far
    (``cpu.time``, ns; None when unknown)."""
    stats: tuple  # ((uuid, stamp or None, cpu_ns or None), ...)


@dataclasses.dataclass(frozen=True)
class HaEnabled:
    """Nova's HA_Enabled servers on this host; ``uuids`` None when Nova
    could not be read (then every guest counts)."""
    uuids: frozenset | None
    error: str | None = None


@dataclasses.dataclass(frozen=True)
class Captured:
    uuid: str
    key: str
    directory: str | None
    error: str | None = None


@dataclasses.dataclass(frozen=True)
class ClearQuarantine:
    uuid: str


@dataclasses.dataclass(frozen=True)
class Reconfigured:
    settings: object  # engine.Settings


@dataclasses.dataclass(frozen=True)
class Tick:
    """Periodic housekeeping (budgets whose window has passed)."""
