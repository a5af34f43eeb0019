"""One guest's state machines, written as tables, and its record.

Three machines per guest, each a table the engine looks transitions up in:

- ``LIFECYCLE``: a libvirt lifecycle event -> the power state after it and
  what it does to the current boot (begin one, keep it, end it, forget the
  domain);
- ``AGENT``: what is known of the guest agent (no channel, never connected
  since the boot began, connected, port closed by the guest);
- ``LIVENESS``: the hang detector of the current boot, driven by the
  verdict of ``VERDICTS`` on the two liveness signals, the agent's answers
  and the kernel's balloon heartbeat;
- ``FENCE``: what becomes of a hang whose recovery Masakari accepted: a
  fresh reading of Nova, then the guest ended here (``fence_nova``), or
  skipped with the reason.

No I/O and no clock of its own: every function takes ``now``.
"""
import dataclasses

import libvirt

# -- power: what libvirt says the domain is doing ----------------------------
OFF, RUNNING, PAUSED, SHUTTING_DOWN, CRASHED = (
    "shutoff", "running", "paused", "shutting down", "crashed")
ACTIVE = (RUNNING, PAUSED, SHUTTING_DOWN)  # a QEMU process exists

# What a lifecycle event does to the current boot.  Undefine: forget a
# domain that does not run; one that runs (Nova's live snapshot and
# volume swap make it transient for a block job, then define it again)
# keeps its boot, and is forgotten when it stops.
BEGIN, KEEP, END, UNDEFINE, DEFINE = (
    "begin", "keep", "end", "undefine", "define")

LV = libvirt
LIFECYCLE = {  # event -> (power state after, boot action)
    LV.VIR_DOMAIN_EVENT_DEFINED: (None, DEFINE),
    LV.VIR_DOMAIN_EVENT_UNDEFINED: (None, UNDEFINE),
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
# late: no answer for more than a period and the slack, not yet silent (a
# kernel-only guest is suspect, so the storm guard counts it before any
# verdict); booting: reset, and no answer of the new kernel yet within the
# boot allowance
K_ALIVE, K_SILENT, K_UNKNOWN, K_PENDING, K_LATE, K_BOOTING = (
    "alive", "silent", "unknown", "pending", "late", "booting")

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
    (A_ANSWERING, K_LATE): FINE,
    (A_ANSWERING, K_BOOTING): FINE,
    (A_FAILING, K_ALIVE): PENDING,
    (A_FAILING, K_SILENT): PENDING,
    (A_FAILING, K_UNKNOWN): PENDING,
    (A_FAILING, K_PENDING): PENDING,
    (A_FAILING, K_LATE): PENDING,
    (A_FAILING, K_BOOTING): PENDING,
    (A_SILENT, K_ALIVE): AGENT_ONLY,
    (A_SILENT, K_SILENT): HANG,
    (A_SILENT, K_UNKNOWN): HANG,
    (A_SILENT, K_PENDING): PENDING,
    (A_SILENT, K_LATE): PENDING,
    (A_SILENT, K_BOOTING): PENDING,  # the new kernel has its allowance
    (A_UNAVAILABLE, K_ALIVE): FINE,
    (A_UNAVAILABLE, K_SILENT): HANG,
    (A_UNAVAILABLE, K_UNKNOWN): UNMONITORED,
    (A_UNAVAILABLE, K_PENDING): UNMONITORED,
    (A_UNAVAILABLE, K_LATE): PENDING,
    (A_UNAVAILABLE, K_BOOTING): UNMONITORED,
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
# confirming: the verdict is a hang, and Nova is asked whether an
# operation of its own is under way before it is acted on
HEALTHY, SUSPECT, WARNED, CONFIRMING, DECLARED, HELD = (
    "healthy", "suspect", "agent unresponsive, kernel alive",
    "hang found, asking Nova", "hang declared", "held: host-wide storm")

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
    # the answer from Nova decides (engine._nova); evidence that the
    # guest lives ends the wait
    (CONFIRMING, FINE): (HEALTHY, None),
    (CONFIRMING, PENDING): (CONFIRMING, None),
    (CONFIRMING, AGENT_ONLY): (CONFIRMING, None),
    (CONFIRMING, HANG): (CONFIRMING, None),
    (CONFIRMING, UNMONITORED): (CONFIRMING, None),
}
FAILING_STATES = (SUSPECT, WARNED, CONFIRMING, DECLARED, HELD)


@dataclasses.dataclass
class Boot:
    """One run of a domain's QEMU process, as the store keeps it."""
    seq: int
    dom_id: int
    host_boot: str | None = None
    notified: frozenset = frozenset()  # payload names sent in this boot
    hangs: int = 0  # hang incidents declared in this boot
    hang_open: bool = False  # declared, and not answered since
    # started by an incoming migration that has not resumed here yet: the
    # instance still runs on the source host
    incoming: bool = False


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
    # a reset: the stamp the old kernel left (QEMU keeps it across the
    # reset) and until when the new kernel may take to answer
    reset_stamp: float | None = None
    allowance_until: float = 0.0
    # facts from outside the guest that excuse it (None: none)
    qemu: str | None = None  # the QEMU process stopped or blocked
    busy: str | None = None  # libvirt skipped its statistics
    migration: str | None = None  # post-copy, incoming
    nova: str | None = None  # a Nova operation or state
    paused_until: float | None = None  # the server's HA_Paused_Until
    transient: bool = False  # undefined while running (Nova's snapshot)
    excused: str | None = None  # the excuse of the last evaluation
    confirming_since: float | None = None
    # the fence of a hang whose recovery was accepted (see FENCE): its
    # state, the incident and when it began
    fence: str | None = None
    fence_key: str | None = None
    fence_since: float | None = None
    watched: bool = False
    view: dict = dataclasses.field(default_factory=dict)

    @property
    def active(self):
        return self.power in ACTIVE


def excuse(guest, now, connected=True, included=True, host_stall=None,
           nova=True, paused=None):
    """Why no liveness signal of this guest counts now, or None.  The
    first rule that holds wins; the order is the one status shows.
    ``host_stall``: why the host itself is stalled, if it is; ``nova``:
    False leaves Nova's view out (a fence judges it on a reading of its
    own, see ``fence_nova``); ``paused``: why the operator's pause (of
    the host or the server) holds the guest, if it does."""
    for holds, why in (
            (not connected, "libvirt connection down"),
            (guest.power not in ACTIVE, "not running"),
            (paused, paused),
            (guest.power == PAUSED, "paused"),
            (guest.power == SHUTTING_DOWN, "shutting down"),
            (now < guest.grace_until, "grace after reboot until +%.0f s" % (
                guest.grace_until - now)),
            (not included, "HA_Enabled is not set on the server"),
            (host_stall, "host stalled: %s" % host_stall),
            (guest.qemu, guest.qemu),
            (guest.busy, guest.busy),
            (guest.migration, guest.migration),
            (nova and guest.nova, guest.nova)):
        if holds:
            return why
    return None


# Nova's vm_states in which a hung guest is Nova's to recover; in any
# other (paused, suspended, rescued, stopped, shelved...) Nova does not
# expect the guest to run as usual, and Masakari skips paused and rescued
RECOVERABLE_VM_STATES = ("active", "error", "resized")


def nova_excuse(server):
    """Why Nova's view of a server excuses its guest, or None: any task
    under way (migrating, resizing, rebuilding, rescuing, snapshotting,
    shelving, powering off or on, rebooting) or a vm_state it is not
    meant to run in."""
    if server.task_state:
        return "Nova task under way: %s" % server.task_state
    if server.vm_state and server.vm_state not in RECOVERABLE_VM_STATES:
        return "Nova vm_state %s" % server.vm_state
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
    if guest.reset_stamp is not None:  # no answer since the reset yet
        if now < guest.allowance_until:
            return K_BOOTING, "booting: no answer since the reset yet " \
                "(boot allowance until +%.0f s)" % (
                    guest.allowance_until - now)
        return K_SILENT, "silent: no answer within the boot allowance " \
            "after the reset"
    window = stale_periods * guest.kernel_period
    age = max(0.0, now - guest.kernel_stamp)
    quiet = max(0.0, now - max(guest.kernel_stamp, guest.kernel_baseline))
    seen_unchanged = \
        guest.kernel_unchanged * poll_interval >= guest.kernel_period
    if quiet > window + slack and seen_unchanged:
        return K_SILENT, "silent for %.0f s" % age
    if guest.silent_since is None:
        if quiet > guest.kernel_period + slack and guest.kernel_unchanged:
            return K_LATE, "late: last answer %.0f s ago" % age
        return K_ALIVE, "alive, last answer %.0f s ago" % age
    if guest.kernel_stamp > guest.silent_since:
        return K_ALIVE, "alive, answered %.0f s after the agent stopped" % (
            guest.kernel_stamp - guest.silent_since)
    if now - guest.silent_since >= window:
        return K_SILENT, "silent: no answer since the agent stopped " \
            "answering %.0f s ago" % (now - guest.silent_since)
    return K_PENDING, "not answered since the agent stopped %.0f s ago" % (
        now - guest.silent_since)


# -- fence: a hung guest ended here once its recovery is under way --------
# Masakari's engine recovers a hung guest by Nova's stop, which first asks
# the guest to shut down cleanly and waits [DEFAULT] shutdown_timeout for
# it (113 s measured for Nova's 60 s): a guest whose kernel is confirmed
# silent never does.  Once Masakari accepted the hang (its recovery is on
# its way) the monitor ends the guest itself, so that stop finds it off.
# Nova is read afresh first: the fence never races a Nova operation other
# than Masakari's own stop.
F_IDLE, F_ASKING, F_DESTROYING = (
    None, "asking Nova before fencing", "fencing: destroying the domain")

# What happens to a fence (the inputs), in the order the engine meets them
ACCEPTED = "recovery accepted"  # Masakari accepted the current hang
NOT_HELD = "no longer holds"  # accepted, but the guest is excused now,
# answered again, runs on a newer boot, or the storm guard holds the host
NOVA_CLEAR = "Nova clear"  # no task but Masakari's stop, vm_state fits
NOVA_BUSY = "Nova busy"  # another task under way, or another vm_state
NOVA_UNREADABLE = "Nova unreadable"
NOVA_SILENT = "Nova silent"  # no fresh reading within the fence's wait
DESTROYED, DESTROY_FAILED, NOT_DESTROYED = (
    "destroyed", "destroy failed", "not destroyed")

# What the engine does on a transition
READ_NOVA, FENCE_NOW, SKIP, DONE, FAIL = (
    "read Nova", "fence", "skip", "done", "fail")

FENCE = {  # (state, input) -> (next state, action); others: ignored
    (F_IDLE, ACCEPTED): (F_ASKING, READ_NOVA),
    (F_IDLE, NOT_HELD): (F_IDLE, SKIP),
    (F_ASKING, NOT_HELD): (F_IDLE, SKIP),
    (F_ASKING, NOVA_CLEAR): (F_DESTROYING, FENCE_NOW),
    (F_ASKING, NOVA_BUSY): (F_IDLE, SKIP),
    (F_ASKING, NOVA_UNREADABLE): (F_IDLE, SKIP),
    (F_ASKING, NOVA_SILENT): (F_IDLE, SKIP),
    (F_DESTROYING, DESTROYED): (F_IDLE, DONE),
    (F_DESTROYING, DESTROY_FAILED): (F_IDLE, FAIL),
    # the domain ran as another QEMU process by then, or was off already
    (F_DESTROYING, NOT_DESTROYED): (F_IDLE, SKIP),
}

# Nova's task states a fence goes ahead with: none, or Masakari's stop
FENCE_TASKS = (None, "powering-off")


def fence_nova(server):
    """Why Nova's fresh reading of a server forbids ending its guest
    here, or None: it must be on this host, with HA_Enabled (Masakari's
    engine skips the recovery of any other server, unless its
    process_all_instances is set, which the monitor cannot see: the guest
    would stay off), no task under way other than ``powering-off``
    (Masakari's own stop), in vm_state active (or stopped while that stop
    finishes)."""
    if server is None:
        return "the server is not in Nova's listing of this host"
    if not server.ha_enabled:
        return "HA_Enabled is not set on the server: Masakari's engine " \
            "skips its recovery"
    if server.task_state not in FENCE_TASKS:
        return "Nova task under way: %s" % server.task_state
    if server.vm_state == "active" or (
            server.vm_state == "stopped" and
            server.task_state == "powering-off"):
        return None
    return "Nova vm_state %s%s" % (server.vm_state, "" if not
                                   server.task_state else ", task %s" %
                                   server.task_state)
