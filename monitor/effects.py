"""What the engine asks of the adapters: plain, immutable requests.

The durable ones (boots, budgets, the outbox) are written by the store in
one transaction per observation, before any other effect is carried out;
the others go to the prober, the forensics capture, the fence, the log
and the metrics.
"""
import dataclasses


# -- durable: the store ----------------------------------------------------
@dataclasses.dataclass(frozen=True)
class PutBoot:
    uuid: str
    name: str
    boot: object  # guest.Boot


@dataclasses.dataclass(frozen=True)
class DropBoot:
    uuid: str


@dataclasses.dataclass(frozen=True)
class PutBudget:
    uuid: str
    recoveries: tuple  # times of the recoveries within the window
    quarantined_since: float | None


@dataclasses.dataclass(frozen=True)
class Enqueue:
    """A notification, on disk before it is sent.  ``hold``: seconds
    before its first attempt unless released (room for forensics)."""
    key: str
    body: dict
    hold: float = 0.0
    uuid: str = ""  # the instance, and the boot the incident belongs to
    boot: int | None = None


@dataclasses.dataclass(frozen=True)
class Release:
    key: str


@dataclasses.dataclass(frozen=True)
class Withdraw:
    """Pending notifications of ``uuid`` that no longer hold, never to be
    sent: the one with ``key``, or (``key`` None) every one of a boot
    before ``before_boot``.  Kept in history with ``reason``."""
    uuid: str
    reason: str
    key: str | None = None
    before_boot: int | None = None


@dataclasses.dataclass(frozen=True)
class WouldRecover:
    """Shadow mode: a decision that enforce mode would have put in the
    outbox, kept in a table of its own that delivery never reads.
    ``kind``: engine.WOULD_RECOVER; ``fence``: what the fence of a hang
    would do."""
    key: str
    body: dict
    kind: str
    reason: str
    uuid: str
    boot: int | None = None
    fence: str | None = None


@dataclasses.dataclass(frozen=True)
class PutHostPause:
    """The host's pause ends at ``until`` (None: not paused)."""
    until: float | None


@dataclasses.dataclass(frozen=True)
class ShiftTimes:
    """The wall clock stepped by ``delta`` s: the outbox's times move
    with it, so a retry is due as long after the step as before."""
    delta: float


DURABLE = (PutBoot, DropBoot, PutBudget, Enqueue, Release, Withdraw,
           ShiftTimes, WouldRecover, PutHostPause)


# -- after the commit ------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Watch:
    uuid: str


@dataclasses.dataclass(frozen=True)
class Unwatch:
    uuid: str


@dataclasses.dataclass(frozen=True)
class Capture:
    """Keep the evidence of a guest before its recovery."""
    uuid: str
    name: str
    key: str
    facts: dict


@dataclasses.dataclass(frozen=True)
class NoteIncident:
    """Add ``facts`` to the forensics manifest (``incident.json``) of the
    incident ``key`` of ``uuid`` (how its fence went)."""
    uuid: str
    key: str
    facts: dict


@dataclasses.dataclass(frozen=True)
class Fence:
    """End the hung guest ``uuid`` now (``virDomainDestroy``) if it
    still runs as the QEMU process ``dom_id``; its recovery ``key`` was
    accepted.  Answered by ``Fenced``."""
    uuid: str
    key: str
    dom_id: int


@dataclasses.dataclass(frozen=True)
class WatchQemu:
    """Look at the QEMU processes in every host sample (``on``) while a
    guest fails or is excused by its QEMU; otherwise pressure only."""
    on: bool


@dataclasses.dataclass(frozen=True)
class ReadNova:
    """Read this host's servers from Nova now (a verdict waits on it)."""


@dataclasses.dataclass(frozen=True)
class Log:
    level: int  # logging level
    message: str


@dataclasses.dataclass(frozen=True)
class Count:
    """One increment of a labelled counter of the metrics."""
    metric: str
    label: str
