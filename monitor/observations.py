"""What the adapters tell the engine: plain, immutable facts.

libvirt's events, a listing after every (re)connect, a heartbeat's
answer, the balloon statistics, Nova's HA_Enabled flags, a finished
forensics capture, a delivery's recorded outcome, a fence's end and an
operator's word.  No handles, no callbacks: an
observation can be written down in a test table.
"""
import dataclasses
import typing


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


class DomainStats(typing.NamedTuple):
    """One domain in a bulk statistics call.  ``stamp``: the balloon's
    ``last-update`` (QEMU's host-clock time of the guest kernel's last
    answer; None when it reports none); ``cpu_ns``: vCPU time used so far
    (``cpu.time``); ``state``/``reason``: libvirt's virDomainState and
    its reason (None when not read); ``busy``: libvirt skipped the stats
    that need the domain's job (another job holds it, or QEMU's monitor
    does not answer), so ``stamp`` says nothing of the guest."""
    uuid: str
    stamp: float | None = None
    cpu_ns: int | None = None
    state: int | None = None
    reason: int | None = None
    busy: bool = False


@dataclasses.dataclass(frozen=True)
class GuestStats:
    """One bulk statistics call that answered, ``DomainStats`` (or plain
    tuples in its field order) per running domain; ``took``: seconds the
    call took."""
    stats: tuple
    took: float = 0.0


@dataclasses.dataclass(frozen=True)
class StatsFailed:
    """The bulk statistics call failed or has not answered within its
    deadline (``timed_out``): libvirt or QEMU is stuck, which says
    nothing of any guest's kernel."""
    reason: str
    timed_out: bool = False


@dataclasses.dataclass(frozen=True)
class HostSample:
    """One look at the host itself (``host_probe``), so a stalled host is
    told from a hung guest.  ``pressure``: Linux PSI averages over 10 s,
    ``(("cpu", "some", 12.5), ("memory", "full", 0.0), ...)`` (empty when
    the kernel has none); ``loop_lag``: the longest time the monitor's
    own event loop ran late since the last sample, s; ``stopped``: UUIDs
    whose QEMU process or one of its threads is stopped (SIGSTOP, a
    frozen cgroup); ``blocked``: UUIDs whose QEMU has a thread in
    uninterruptible sleep (D) in this sample and the previous one;
    ``qemu_read``: False when QEMU processes cannot be seen (a remote
    libvirt), so ``stopped``/``blocked`` say nothing."""
    pressure: tuple = ()
    loop_lag: float = 0.0
    stopped: frozenset = frozenset()
    blocked: frozenset = frozenset()
    qemu_read: bool = True


@dataclasses.dataclass(frozen=True)
class Server:
    """What Nova says of one server on this host."""
    uuid: str
    ha_enabled: bool
    vm_state: str | None = None
    task_state: str | None = None
    # HA_Paused_Until as the metadata holds it (judged by the engine)
    paused_until: str | None = None


@dataclasses.dataclass(frozen=True)
class NovaServers:
    """One reading of this host's servers from Nova; ``servers`` None
    when Nova could not be read (``error`` says why).  ``read_at``: the
    wall-clock time its request was sent (None: not said), so a fence
    waits for a reading begun after it was asked for."""
    servers: tuple | None
    error: str | None = None
    read_at: float | None = dataclasses.field(default=None, compare=False)


@dataclasses.dataclass(frozen=True)
class ClockStepped:
    """The wall clock jumped by ``delta`` seconds (against the monotonic
    clock): every wall-clock time the monitor holds moves with it."""
    delta: float


@dataclasses.dataclass(frozen=True)
class Captured:
    uuid: str
    key: str
    directory: str | None
    error: str | None = None


@dataclasses.dataclass(frozen=True)
class Delivered:
    """The recovery backend's answer to the notification ``key`` of
    ``uuid`` is recorded: ``kind`` is delivery's ACCEPTED, REJECTED or
    RETRY."""
    key: str
    uuid: str
    kind: str


@dataclasses.dataclass(frozen=True)
class Fenced:
    """A ``Fence`` ended: the domain destroyed in ``took`` seconds, or
    not destroyed because it could not be (``error``: libvirt's error, no
    answer within the deadline, no free worker) or there was nothing of
    this boot left to end (``skipped``: off already, or another QEMU
    process by now)."""
    uuid: str
    key: str
    took: float | None = None
    error: str | None = None
    skipped: str | None = None


@dataclasses.dataclass(frozen=True)
class ClearQuarantine:
    uuid: str


@dataclasses.dataclass(frozen=True)
class PauseHost:
    """The operator pauses the whole host for ``seconds`` (already checked
    against [recovery] max_pause), or resumes it (None)."""
    seconds: float | None


@dataclasses.dataclass(frozen=True)
class Reconfigured:
    settings: object  # engine.Settings


@dataclasses.dataclass(frozen=True)
class Tick:
    """Periodic housekeeping (budgets whose window has passed)."""
