"""One guest's state machines, written as tables, and its record.

Three machines per guest, each a table the engine looks transitions up in:

- ``LIFECYCLE``: a libvirt lifecycle event -> the power state after it and
  what it does to the current boot (begin one, keep it, end it, forget the
  domain);
- ``AGENT``: what is known of the guest agent (no channel, never connected
  since the boot began, connected, port closed by the guest);
- ``LIVENESS``: the hang detector of the current boot, driven by the
  verdict of ``VERDICTS`` on the two liveness signals, the agent's answers
  and the kernel's balloon heartbeat.

No I/O and no clock of its own: every function takes ``now``.
"""
import dataclasses

import libvirt

# -- power: what libvirt says the domain is doing ----------------------------
OFF, RUNNING, PAUSED, SHUTTING_DOWN, CRASHED = (
    "shutoff", "running", "paused", "shutting down", "crashed")
ACTIVE = (RUNNING, PAUSED, SHUTTING_DOWN)  # a QEMU process exists

# What a lifecycle event does to the current boot.
BEGIN, KEEP, END, FORGET = "begin", "keep", "end", "forget"

LV = libvirt
LIFECYCLE = {  # event -> (power state after, boot action)
    LV.VIR_DOMAIN_EVENT_DEFINED: (None, KEEP),
    LV.VIR_DOMAIN_EVENT_UNDEFINED: (None, FORGET),
    LV.VIR_DOMAIN_EVENT_STARTED: (RUNNING, BEGIN),
    LV.VIR_DOMAIN_EVENT_SUSPENDED: (PAUSED, KEEP),
    LV.VIR_DOMAIN_EVENT_RESUMED: (RUNNING, KEEP),
    LV.VIR_DOMAIN_EVENT_STOPPED: (OFF, END),
    LV.VIR_DOMAIN_EVENT_SHUTDOWN: (SHUTTING_DOWN, KEEP),
    LV.VIR_DOMAIN_EVENT_PMSUSPENDED: (PAUSED, KEEP),
    # a panic with on_crash=preserve leaves QEMU alive; the STOPPED/CRASHED
    # that follows with on_crash=destroy ends the boot
    LV.VIR_DOMAIN_EVENT_CRASHED: (CRASHED, KEEP),
}

POWER_OF_STATE = {  # a listing's domain state -> power state
    LV.VIR_DOMAIN_NOSTATE: RUNNING,
    LV.VIR_DOMAIN_RUNNING: RUNNING,
    LV.VIR_DOMAIN_BLOCKED: RUNNING,
    LV.VIR_DOMAIN_PAUSED: PAUSED,
    LV.VIR_DOMAIN_PMSUSPENDED: PAUSED,
    LV.VIR_DOMAIN_SHUTDOWN: SHUTTING_DOWN,
    LV.VIR_DOMAIN_SHUTOFF: OFF,
    LV.VIR_DOMAIN_CRASHED: CRASHED,
}

# -- agent --------------------------------------------------------------------
ABSENT = "no guest-agent channel"
NEVER = "never connected since the domain started"
CONNECTED = "connected"
CLOSED = "agent port closed by the guest"

# What the agent state becomes on each signal, whatever it was: every
# signal is a fact about the agent now.
BOOT_BEGAN, NO_CHANNEL, AGENT_UP, AGENT_CLOSED, AGENT_RESET, ANSWERED = (
    "boot began", "no channel", "agent connected", "agent closed",
    "agent reset", "answered")
AGENT = {
    BOOT_BEGAN: NEVER,
    NO_CHANNEL: ABSENT,
    AGENT_UP: CONNECTED,
    AGENT_CLOSED: CLOSED,
    AGENT_RESET: NEVER,
    ANSWERED: CONNECTED,
}

# -- the two liveness signals ---------------------------------------------
# agent: answering, failing (fewer than threshold consecutive misses),
# silent (threshold or more), unavailable (no channel, never connected,
# port closed).  kernel: alive, silent, unknown (no balloon stats), or
# pending: the agent went silent too recently for the kernel to have
# answered twice since (see kernel_signal).
A_ANSWERING, A_FAILING, A_SILENT, A_UNAVAILABLE = (
    "answering", "failing", "silent", "unavailable")
K_ALIVE, K_SILENT, K_UNKNOWN, K_PENDING = (
    "alive", "silent", "unknown", "pending")

FINE, PENDING, AGENT_ONLY, HANG, UNMONITORED = (
    "fine", "pending", "agent-only", "hang", "unmonitored")

# (agent, kernel) -> verdict.  The two defaults that options change are
# AGENT_SILENCE (agent silent, kernel alive) and KERNEL_SILENCE (no usable
# agent, kernel silent): see verdicts().
VERDICTS = {
    (A_ANSWERING, K_ALIVE): FINE,
    (A_ANSWERING, K_SILENT): FINE,
    (A_ANSWERING, K_UNKNOWN): FINE,
    (A_ANSWERING, K_PENDING): FINE,
    (A_FAILING, K_ALIVE): PENDING,
    (A_FAILING, K_SILENT): PENDING,
    (A_FAILING, K_UNKNOWN): PENDING,
    (A_FAILING, K_PENDING): PENDING,
    (A_SILENT, K_ALIVE): AGENT_ONLY,
    (A_SILENT, K_SILENT): HANG,
    (A_SILENT, K_UNKNOWN): HANG,
    (A_SILENT, K_PENDING): PENDING,
    (A_UNAVAILABLE, K_ALIVE): FINE,
    (A_UNAVAILABLE, K_SILENT): HANG,
    (A_UNAVAILABLE, K_UNKNOWN): UNMONITORED,
    (A_UNAVAILABLE, K_PENDING): UNMONITORED,
}
AGENT_SILENCE = (A_SILENT, K_ALIVE)
KERNEL_SILENCE = (A_UNAVAILABLE, K_SILENT)


def verdicts(agent_silence_recovers=False, kernel_silence_recovers=True):
    """The verdict table with the two options applied."""
    table = dict(VERDICTS)
    if agent_silence_recovers:
        table[AGENT_SILENCE] = HANG
    if not kernel_silence_recovers:
        table[KERNEL_SILENCE] = UNMONITORED
    return table


# -- liveness: the hang detector of one boot ------------------------------
HEALTHY, SUSPECT, WARNED, DECLARED, HELD = (
    "healthy", "suspect", "agent unresponsive, kernel alive", "hang declared",
    "held: host-wide storm")

# What the engine does on a transition (None: nothing but the new state).
DECLARE, WARN, ANSWERING_AGAIN = "declare", "warn", "answering again"

LIVENESS = {  # (state, verdict) -> (next state, action)
    (HEALTHY, FINE): (HEALTHY, None),
    (HEALTHY, PENDING): (SUSPECT, None),
    (HEALTHY, AGENT_ONLY): (WARNED, WARN),
    (HEALTHY, HANG): (DECLARED, DECLARE),
    (HEALTHY, UNMONITORED): (HEALTHY, None),
    (SUSPECT, FINE): (HEALTHY, None),
    (SUSPECT, PENDING): (SUSPECT, None),
    (SUSPECT, AGENT_ONLY): (WARNED, WARN),
    (SUSPECT, HANG): (DECLARED, DECLARE),
    (SUSPECT, UNMONITORED): (HEALTHY, None),
    (WARNED, FINE): (HEALTHY, ANSWERING_AGAIN),
    (WARNED, PENDING): (SUSPECT, None),
    (WARNED, AGENT_ONLY): (WARNED, None),
    (WARNED, HANG): (DECLARED, DECLARE),
    (WARNED, UNMONITORED): (HEALTHY, None),
    (DECLARED, FINE): (HEALTHY, ANSWERING_AGAIN),
    (DECLARED, PENDING): (DECLARED, None),
    (DECLARED, AGENT_ONLY): (DECLARED, None),
    (DECLARED, HANG): (DECLARED, None),
    (DECLARED, UNMONITORED): (DECLARED, None),
    (HELD, FINE): (HEALTHY, ANSWERING_AGAIN),
    (HELD, PENDING): (HELD, None),
    (HELD, AGENT_ONLY): (HELD, None),
    (HELD, HANG): (HELD, None),
    (HELD, UNMONITORED): (HELD, None),
}
FAILING_STATES = (SUSPECT, WARNED, DECLARED, HELD)


@dataclasses.dataclass
class Boot:
    """One run of a domain's QEMU process, as the store keeps it."""
    seq: int
    dom_id: int
    host_boot: str | None = None
    notified: frozenset = frozenset()  # payload names sent in this boot
    hangs: int = 0  # hang incidents declared in this boot
    hang_open: bool = False  # declared, and not answered since


@dataclasses.dataclass
class Guest:
    uuid: str
    name: str
    boot: Boot | None = None
    power: str = OFF
    channel: bool | None = None  # a guest-agent channel; None: not known
    agent: str = NEVER
    liveness: str = HEALTHY
    failures: int = 0
    silent_since: float | None = None  # the first failed ping was sent
    last_error: str = "no answer"
    last_ok: float | None = None
    grace_until: float = 0.0
    excuse: str | None = None  # the last excuse the prober reported
    kernel_period: int | None = None  # balloon stats period, s
    kernel_stamp: float | None = None  # QEMU's stamp of the last answer
    kernel_unchanged: int = 0  # polls in a row that saw the same stamp
    kernel_read_at: float | None = None  # the last poll that read it
    # silence is not counted before this (pause, reboot grace, resume)
    kernel_baseline: float = 0.0
    cpu_ns: int | None = None  # vCPU time at the last poll
    cpu_at: float | None = None
    cpu_used: tuple | None = None  # (seconds used, over seconds)
    watched: bool = False
    view: dict = dataclasses.field(default_factory=dict)

    @property
    def active(self):
        return self.power in ACTIVE


def excuse(guest, now, connected=True, included=True):
    """Why no liveness signal of this guest counts now, or None.  The
    first rule that holds wins; the order is the one status shows."""
    for holds, why in (
            (not connected, "libvirt connection down"),
            (guest.power not in ACTIVE, "not running"),
            (guest.power == PAUSED, "paused"),
            (guest.power == SHUTTING_DOWN, "shutting down"),
            (now < guest.grace_until, "grace after reboot until +%.0f s" % (
                guest.grace_until - now)),
            (not included, "HA_Enabled is not set on the server")):
        if holds:
            return why
    return None


def agent_signal(guest, threshold):
    if guest.agent != CONNECTED:
        return A_UNAVAILABLE
    if guest.failures == 0:
        return A_ANSWERING
    return A_SILENT if guest.failures >= threshold else A_FAILING


def kernel_signal(guest, now, stale_periods, slack, poll_interval):
    """(signal, detail) of the balloon heartbeat.

    ``kernel_stamp`` is QEMU's host-clock time of the guest kernel's last
    answer to a stats request, which it sends every ``kernel_period``
    seconds; ``window`` is ``stale_periods`` of them.

    - silent: no answer for ``window`` + ``slack`` seconds (counted from
      ``kernel_baseline`` at the earliest: the end of a pause or a reboot
      grace), and the same stamp seen by polls spanning at least one
      period (so a step of the host clock alone never silences a guest);
    - while the agent is failing (``silent_since``: when its first failed
      ping was sent): alive if the kernel answered after that; silent if
      it has not and ``window`` has passed since; pending before, since a
      live kernel may simply not have been asked yet;
    - alive otherwise; unknown without a stats period or a stamp, or when
      the statistics were not read lately (never silence from stale data).
    """
    if not guest.kernel_period:
        return K_UNKNOWN, "unknown: no balloon statistics period"
    if not guest.kernel_stamp:
        return K_UNKNOWN, "unknown: no balloon statistics from the guest"
    if guest.kernel_read_at is None or \
            now - guest.kernel_read_at > 2 * poll_interval + slack:
        return K_UNKNOWN, "unknown: statistics not read for %.0f s" % (
            now - (guest.kernel_read_at or now))
    window = stale_periods * guest.kernel_period
    age = max(0.0, now - guest.kernel_stamp)
    quiet = max(0.0, now - max(guest.kernel_stamp, guest.kernel_baseline))
    if quiet > window + slack and \
            guest.kernel_unchanged * poll_interval >= guest.kernel_period:
        return K_SILENT, "silent for %.0f s" % age
    if guest.silent_since is None:
        return K_ALIVE, "alive, last answer %.0f s ago" % age
    if guest.kernel_stamp > guest.silent_since:
        return K_ALIVE, "alive, answered %.0f s after the agent stopped" % (
            guest.kernel_stamp - guest.silent_since)
    if now - guest.silent_since >= window:
        return K_SILENT, "silent: no answer since the agent stopped " \
            "answering %.0f s ago" % (now - guest.silent_since)
    return K_PENDING, "not answered since the agent stopped %.0f s ago" % (
        now - guest.silent_since)
