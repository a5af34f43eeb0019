"""When a silent guest agent means a hung guest, decided without I/O.

One ``Guest`` per domain is fed what libvirt and the prober observe; the
``Policy`` turns that into decisions with a reason.  The clock is passed in
with every observation, so every guard can be tested to the second:

- the agent never connected since the domain started (not installed, still
  booting): not monitored yet;
- the guest closed the agent port (the agent stopped; the guest lives): not
  monitored, not a hang;
- paused, migrating or another libvirt job, shutting down, just rebooted,
  not running: failures are not counted;
- exactly ``threshold`` consecutive failed heartbeats of a connected agent:
  a hang, one notification, then silence until the guest answers again or
  boots anew;
- the restart budget (``max_recoveries`` per ``recovery_window``) for every
  recovery, process deaths included: beyond it the VM is quarantined until
  the window passes or an operator clears it;
- a storm (more than ``storm_fraction`` of the monitored guests failing at
  once, with at least ``storm_min_guests`` monitored): one host alert and no
  per-VM hang notifications until it clears, since recovering every guest of
  a sick host on the same host helps none of them.
"""
import dataclasses

NOTIFY = "notify"
QUARANTINE = "quarantine"
HOLD = "hold"
STORM_BEGIN = "storm-begin"
STORM_END = "storm-end"

NEVER = "never connected since the domain started"
CLOSED = "agent port closed by the guest"
CONNECTED = "connected"


@dataclasses.dataclass(frozen=True)
class Settings:
    interval: float = 10.0
    timeout: float = 2.0
    threshold: int = 3
    reboot_grace: float = 60.0
    max_recoveries: int = 3
    recovery_window: float = 3600.0
    storm_fraction: float = 0.5
    storm_min_guests: int = 4


@dataclasses.dataclass(frozen=True)
class Decision:
    uuid: str | None
    action: str
    reason: str


@dataclasses.dataclass
class Guest:
    uuid: str
    running: bool = False
    paused: bool = False
    shutting_down: bool = False
    agent: str = NEVER
    grace_until: float = 0.0
    failures: int = 0
    last_ok: float | None = None
    declared: bool = False  # a hang was declared for this silence
    held: bool = False  # declared during a storm, not sent yet
    last_decision: str | None = None
    last_reason: str | None = None

    def monitored(self, now):
        """(True, "monitored") or (False, why not)."""
        if not self.running:
            return False, "not running"
        if self.paused:
            return False, "paused"
        if self.shutting_down:
            return False, "shutting down"
        if self.agent != CONNECTED:
            return False, self.agent
        if now < self.grace_until:
            return False, "grace after reboot until +%.0f s" % (
                self.grace_until - now)
        return True, "monitored"

    def reset(self):
        self.failures = 0
        self.declared = False
        self.held = False


class Policy:
    def __init__(self, settings, recoveries=None, quarantined=None):
        self.settings = settings
        self.guests = {}
        # uuid -> recovery times; persisted by the caller, given back here
        self.recoveries = {u: list(t) for u, t in (recoveries or {}).items()}
        self.quarantined = dict(quarantined or {})  # uuid -> since
        self.storm = False

    def guest(self, uuid):
        return self.guests.setdefault(uuid, Guest(uuid))

    def forget(self, uuid):
        self.guests.pop(uuid, None)

    # -- lifecycle observations -------------------------------------------
    def started(self, uuid, now, agent_connected=False):
        guest = self.guest(uuid)
        guest.running, guest.paused, guest.shutting_down = True, False, False
        guest.agent = CONNECTED if agent_connected else NEVER
        guest.reset()
        return self._storm_check(now)

    def stopped(self, uuid, now):
        guest = self.guest(uuid)
        guest.running = False
        guest.reset()
        return self._storm_check(now)

    def paused(self, uuid, now, paused=True):
        self.guest(uuid).paused = paused
        return []

    def shutting_down(self, uuid, now):
        self.guest(uuid).shutting_down = True
        return []

    def rebooted(self, uuid, now):
        guest = self.guest(uuid)
        guest.grace_until = now + self.settings.reboot_grace
        guest.reset()
        return self._storm_check(now)

    def agent_changed(self, uuid, now, connected):
        """AGENT_LIFECYCLE: connected, or the port closed by the guest."""
        guest = self.guest(uuid)
        guest.agent = CONNECTED if connected else CLOSED
        if connected:
            guest.reset()
        return self._storm_check(now)

    # -- heartbeats ---------------------------------------------------------
    def heartbeat(self, uuid, now, ok, detail="", busy=None):
        """One ping result.  ``busy`` names a state that excuses a failure
        (paused, migrating, job active, not running), seen by the prober
        right after it."""
        guest = self.guest(uuid)
        if ok:
            was_failing = guest.failures
            guest.last_ok = now
            guest.reset()
            decisions = self._storm_check(now)
            if was_failing:
                self._remember(guest, "answering again after %d failed "
                               "heartbeats" % was_failing, "recovered")
            return decisions
        monitored, why = guest.monitored(now)
        if busy or not monitored:
            return []
        guest.failures += 1
        decisions = self._storm_check(now)
        if guest.failures < self.settings.threshold or guest.declared:
            return decisions
        guest.declared = True
        reason = "%d consecutive heartbeats failed (last: %s)" % (
            guest.failures, detail or "no answer")
        if self.storm:
            guest.held = True
            return decisions + [self._remember(
                guest, reason + "; held: host-wide storm", HOLD)]
        return decisions + [self._recovery(guest.uuid, now, reason)]

    # -- budget --------------------------------------------------------------
    def _recovery(self, uuid, now, reason):
        if not self.budget_allows(uuid, now):
            self.quarantined.setdefault(uuid, now)
            return self._remember(self.guest(uuid), reason + "; quarantined: "
                                  "%d recoveries within %.0f s" % (
                                      self.settings.max_recoveries,
                                      self.settings.recovery_window),
                                  QUARANTINE)
        self.recoveries.setdefault(uuid, []).append(now)
        return self._remember(self.guest(uuid), reason, NOTIFY)

    def budget_allows(self, uuid, now):
        window_start = now - self.settings.recovery_window
        recent = [t for t in self.recoveries.get(uuid, [])
                  if t > window_start]
        self.recoveries[uuid] = recent
        if uuid in self.quarantined and not recent:
            del self.quarantined[uuid]  # the window has passed
        if uuid in self.quarantined:
            return False
        return len(recent) < self.settings.max_recoveries

    def process_death(self, uuid, now, reason):
        """A death libvirt reported: recovery unless over budget."""
        return self._recovery(uuid, now, reason)

    def clear_quarantine(self, uuid):
        """An operator's word: the VM may be recovered again."""
        self.quarantined.pop(uuid, None)
        self.recoveries.pop(uuid, None)

    # -- storm --------------------------------------------------------------
    def failing_fraction(self, now):
        monitored = [g for g in self.guests.values() if g.monitored(now)[0]]
        if not monitored:
            return 0, 0.0
        failing = sum(1 for g in monitored if g.failures > 0)
        return len(monitored), failing / len(monitored)

    def _storm_check(self, now):
        count, fraction = self.failing_fraction(now)
        storm = (count >= self.settings.storm_min_guests and
                 fraction > self.settings.storm_fraction)
        if storm == self.storm:
            return []
        self.storm = storm
        if storm:
            return [Decision(None, STORM_BEGIN, "%.0f %% of %d monitored "
                             "guests failing at once: suspect the host, not "
                             "the guests" % (fraction * 100, count))]
        decisions = [Decision(None, STORM_END, "storm over: %.0f %% of %d "
                              "monitored guests failing" % (fraction * 100,
                                                            count))]
        for guest in self.guests.values():
            if guest.held and guest.failures >= self.settings.threshold:
                guest.held = False
                decisions.append(self._recovery(
                    guest.uuid, now, "%d consecutive heartbeats failed; "
                    "held during a storm" % guest.failures))
        return decisions

    @staticmethod
    def _remember(guest, reason, action):
        guest.last_decision, guest.last_reason = action, reason
        return Decision(guest.uuid, action, reason)
