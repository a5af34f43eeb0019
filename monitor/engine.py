"""Every decision of the monitor, as a pure reducer.

    effects = engine.observe(observation, now)

An observation is a fact an adapter saw (``observations``); an effect is a
request to an adapter (``effects``).  The engine owns deaths, hangs, agent
state, reboot grace, budgets and quarantine, the storm guard and
deduplication; it does no I/O and reads no clock, so every rule is tested
as a table with the time given.  Its durable state (boots, budgets) is
handed back by the store at start (``Restored``) and kept by the store
from the effects.

Before any guest is judged, the host is: a stalled host (``stall``), a
stopped or busy QEMU, a migration or a Nova operation excuses the guest,
and when the excuse ends the guest is judged only on evidence gathered
afterwards.  A hang verdict waits for a fresh reading of Nova's task
state (``ReadNova``) where Nova is there to ask.  A pending notification
that no longer holds (the guest answered again, the domain runs again on
a newer boot) is withdrawn, never sent.

A hang whose recovery Masakari accepted is fenced: the engine reads Nova
afresh and, when nothing but Masakari's own stop is under way and the
guest is still hung and not excused, has it destroyed here (``Fence``),
so that Nova's stop does not wait out a clean shutdown that cannot come
(``guest.FENCE``).

Incident identity: each time a domain is seen starting, it gets a new boot
number (``next_boot``, never reused).  A death is notified once per boot;
a hang once per hang incident of a boot.  The boot is kept while the
domain runs, so the same death seen by its event, by a reconcile after a
reconnect, and again after a monitor restart is one notification, while a
crash after a host reboot (libvirt hands out the same domain IDs again) is
a new one.
"""
import dataclasses
import logging

import libvirt

from monitor import budget as budget_mod
from monitor import effects as fx
from monitor import events
from monitor import guest as gm
from monitor import notification
from monitor import observations as obs
from monitor import pause as pause_mod
from monitor import stall as stall_mod
from monitor import storm as storm_mod

LV = libvirt
LOG_WARNING, LOG_INFO, LOG_ERROR = (logging.WARNING, logging.INFO,
                                    logging.ERROR)
RECORD_ONLY, QUARANTINE, HOLD = "record only", "quarantine", "hold"
KERNEL_HEARTBEAT_OFF = "unknown: the kernel heartbeat is turned off"
# delivery.ACCEPTED: the answer of an Outcome that starts a recovery
RECOVERY_ACCEPTED = "accepted"
# labels of the fences metric
FENCES = ("done", "skipped", "failed")
# labels of the decisions metric
DECISIONS = ("notify", "record", "duplicate", "quarantine", "hold", "warn",
             "storm-begin", "storm-end", "stall-begin", "stall-end",
             "confirm", "excused", "withdraw", "paused", "pause-begin",
             "pause-end")
# labels of the would-recover metric (shadow mode): what would have been
# sent
WOULD_RECOVER = ("death", "hang", "io-error", "forwarded")
ENFORCE, SHADOW = "enforce", "shadow"
POSTCOPY_REASONS = {getattr(LV, name) for name in (
    "VIR_DOMAIN_RUNNING_POSTCOPY", "VIR_DOMAIN_RUNNING_POSTCOPY_FAILED")
    if hasattr(LV, name)}
# an excuse whose end leaves the evidence as it was: the monitor was
# blind, the guest was not impaired
BLIND = "libvirt connection down"
INCOMING = "incoming live migration, not resumed here yet"
POSTCOPY = "post-copy live migration"
BUSY = "QEMU busy: libvirt skipped its statistics (a job holds the " \
    "domain, or QEMU's monitor does not answer)"
QEMU_STOPPED = "QEMU process stopped (SIGSTOP or a frozen cgroup)"
QEMU_BLOCKED = "QEMU blocked in uninterruptible sleep (storage or host)"
IO_STORM = "I/O errors reported on %d guests within %.0f s: suspect the " \
    "storage, not the guests"


@dataclasses.dataclass(frozen=True)
class Settings:
    hostname: str = "localhost"
    interval: float = 10.0
    timeout: float = 2.0
    threshold: int = 3
    reboot_grace: float = 60.0
    boot_allowance: float = 240.0
    max_recoveries: int = 3
    recovery_window: float = 3600.0
    storm_fraction: float = 0.5
    storm_min_guests: int = 2
    # host stall thresholds: PSI avg10 in %, 0 turns a rule off; seconds
    stall_memory_full: float = 10.0
    stall_io_full: float = 30.0
    stall_cpu_some: float = 0.0
    stall_loop_lag: float = 2.0
    io_error_settle: float = 10.0
    # read Nova's task state before a hang is acted on (a cloud is there)
    nova_guard: bool = False
    ha_enabled_only: bool = False
    forward_ignored: bool = False
    forensics: bool = True
    forensics_hold: float = 10.0
    kernel_heartbeat: bool = True
    kernel_stale_periods: int = 2
    kernel_slack: float = 5.0
    kernel_poll_interval: float = 10.0
    agent_silence_recovers: bool = False
    kernel_silence_recovers: bool = True
    # end a hung guest once Masakari accepted its recovery (settings.py
    # turns it on for the masakari backend with [recovery] fence_hung)
    fence_hung: bool = False
    # shadow mode: every decision is taken and recorded as "would
    # recover"; nothing is sent and nothing is fenced
    shadow: bool = False
    # the longest pause honoured, seconds (a server's HA_Paused_Until
    # further ahead is refused as a whole)
    max_pause: float = pause_mod.DEFAULT_MAX

    @property
    def mode(self):
        return SHADOW if self.shadow else ENFORCE


@dataclasses.dataclass
class Restored:
    """The durable state, as the store read it back."""
    boots: dict = dataclasses.field(default_factory=dict)  # uuid: (name, Boot)
    next_boot: int = 1
    recoveries: dict = dataclasses.field(default_factory=dict)
    quarantined: dict = dataclasses.field(default_factory=dict)
    host_paused_until: float | None = None


class Engine:
    def __init__(self, settings, restored=None):
        restored = restored or Restored()
        self.settings = settings
        self.verdicts = gm.verdicts(settings.agent_silence_recovers,
                                    settings.kernel_silence_recovers)
        self.budget = budget_mod.Budget(
            settings.max_recoveries, settings.recovery_window,
            restored.recoveries, restored.quarantined)
        self.storm = storm_mod.StormGuard(settings.storm_fraction,
                                          settings.storm_min_guests)
        self.next_boot = restored.next_boot
        self.guests = {}
        self.view_host = {}
        for uuid, (name, boot) in restored.boots.items():
            self.guests[uuid] = gm.Guest(
                uuid, name, boot=boot, power=gm.RUNNING,
                liveness=gm.DECLARED if boot.hang_open else gm.HEALTHY)
        self.host_boot = None
        self.connected = False
        self.libvirt = {"connected": False, "since": None,
                        "last_error": None}
        self.included = None  # HA_Enabled servers; None: every guest
        self.ha_error = None
        self.nova_read_at = None  # the last reading of Nova, answered
        self.nova_asked = False  # a reading is asked for and not yet in
        self.facts = stall_mod.Facts()
        self.qemu_watched = False
        self.stall = None  # why the host is stalled, while it is
        self.stall_since = None
        self.io_errors = {}  # uuid -> time of its last I/O error report
        self.settling = {}  # I/O error key -> end of its settle time
        # the operator's pause of the whole host (an end time), if any
        self.host_paused_until = restored.host_paused_until
        self._handlers = {
            obs.Connected: self._connected,
            obs.Disconnected: self._disconnected,
            obs.Lifecycle: self._lifecycle,
            obs.Described: self._described,
            obs.AgentLifecycle: self._agent,
            obs.Rebooted: self._rebooted,
            obs.IoError: self._io_error,
            obs.Heartbeat: self._heartbeat,
            obs.GuestStats: self._stats,
            obs.StatsFailed: self._stats_failed,
            obs.HostSample: self._host_sample,
            obs.NovaServers: self._nova_servers,
            obs.ClockStepped: self._clock_stepped,
            obs.Captured: self._captured,
            obs.Delivered: self._delivered,
            obs.Fenced: self._fenced,
            obs.ClearQuarantine: self._clear_quarantine,
            obs.PauseHost: self._pause_host,
            obs.Reconfigured: self._reconfigured,
            obs.Tick: self._tick,
        }

    def observe(self, observation, now):
        out = []
        self._handlers[type(observation)](observation, now, out)
        self._watch_qemu(out)
        return out

    def _watch_qemu(self, out):
        """The QEMU processes are read only while they can matter: a
        guest failing (its first failed heartbeat, a late kernel) or
        excused by its QEMU.  A verdict needs a whole detection window,
        the probe looks at once and then every sample."""
        want = any(g.liveness in gm.FAILING_STATES or g.qemu or g.busy
                   for g in self.guests.values())
        if want != self.qemu_watched:
            self.qemu_watched = want
            out.append(fx.WatchQemu(want))

    # -- the libvirt connection -------------------------------------------
    def _connected(self, o, now, out):
        self.connected = True
        self.libvirt.update(connected=True, since=notification.iso(now))
        if o.host_boot:
            self.host_boot = o.host_boot
        listed = set()
        for domain in o.domains:
            listed.add(domain.uuid)
            if domain.uuid in o.touched:
                continue  # its events arrived after the listing was taken
            self._reconcile(domain, now, out)
        for uuid in list(self.guests):
            if uuid not in listed and uuid not in o.touched:
                self._forget(uuid, out)  # undefined while away
        self._check_storm(now, out)

    def _reconcile(self, d, now, out):
        g = self._guest(d.uuid, d.name)
        power = gm.POWER_OF_STATE.get(d.state, gm.RUNNING)
        g.view["state"] = power
        if power in gm.ACTIVE:
            boot = g.boot
            same = boot is not None and boot.dom_id == d.dom_id and (
                None in (boot.host_boot, self.host_boot) or
                boot.host_boot == self.host_boot)
            if not same:  # (re)started while nobody listened: a new boot
                self._begin_boot(g, d.dom_id, out)
            g.power = power
            self._describe(g, d.channel, d.balloon_period)
            if d.channel and d.agent_connected:
                g.agent = gm.CONNECTED
            elif d.channel and d.agent_connected is False and \
                    g.agent == gm.CONNECTED:
                g.agent = gm.CLOSED  # the guest closed it while away
        else:
            died = events.died_unseen(d.state, d.reason)
            if g.boot is not None and died is not None:
                g.view.update(last_event=died.name,
                              last_event_at=notification.iso(now))
                out.append(fx.Count("events", died.name))
                out.append(fx.Log(LOG_WARNING, "Domain %s (%s) died while "
                                  "unobserved: %s" % (g.name, g.uuid,
                                                      died.why)))
                self._recover(g, died.masakari, died.why, now, out)
            if g.boot is not None:
                self._end_boot(g, out)
            g.power = power
        self._update_watch(g, out)

    def _disconnected(self, o, now, out):
        self.connected = False
        self.libvirt.update(connected=False, since=notification.iso(now),
                            last_error=o.reason)

    # -- lifecycle events ---------------------------------------------------
    def _lifecycle(self, o, now, out):
        power, action = gm.LIFECYCLE.get(o.event, (None, gm.KEEP))
        classified = events.classify_lifecycle(o.event, o.detail)
        out.append(fx.Count("events", classified.name))
        g = self.guests.get(o.uuid)
        if action == gm.UNDEFINE and (g is None or g.boot is None):
            self._forget(o.uuid, out)
            return
        g = self._guest(o.uuid, o.name)
        g.view.update(last_event=classified.name,
                      last_event_at=notification.iso(now))
        if action in (gm.UNDEFINE, gm.DEFINE):  # the same QEMU, same boot
            g.transient = action == gm.UNDEFINE
            g.view["transient"] = g.transient or None
            return
        same_process = (g.boot is not None and g.power in gm.ACTIVE and
                        g.boot.dom_id == o.dom_id)
        if (action == gm.BEGIN and not same_process) or (
                g.boot is None and power in gm.ACTIVE):
            self._begin_boot(g, o.dom_id, out)
        self._migration_event(g, o.event, o.detail)
        if power is not None:
            if power != g.power:  # e.g. resumed: its kernel starts again
                g.kernel_baseline = now
            g.power = power
            g.view["state"] = power
        aborted = g.boot is not None and g.boot.incoming and \
            classified.masakari is not None
        if aborted:  # the instance runs on, on the source host
            self._decided(g, "record", RECORD_ONLY, "%s, but an incoming "
                          "live migration was aborted: the instance runs "
                          "on the source host" % classified.why, out)
        else:
            self._record_event(g, classified, now, out)
        if action == gm.END and g.boot is not None:
            self._end_boot(g, out)
        if action == gm.END and g.transient:  # a transient domain is gone
            self._forget(g.uuid, out)
            return
        if g.boot is not None:  # e.g. resumed: judged from now on
            self._check_excuse(g, now)
        self._update_watch(g, out)
        if action in (gm.BEGIN, gm.END) or power is not None:
            self._check_storm(now, out)

    @staticmethod
    def _migration_event(g, event, detail):
        """An incoming migration begins with STARTED/MIGRATED and ends
        here with RESUMED/MIGRATED (or RESUMED/POSTCOPY, from when the
        guest runs on this host); until then a QEMU that stops is the
        destination of an aborted migration."""
        if g.boot is None:
            return
        if event == LV.VIR_DOMAIN_EVENT_STARTED and \
                detail == LV.VIR_DOMAIN_EVENT_STARTED_MIGRATED:
            g.boot.incoming, g.migration = True, INCOMING
        elif event == LV.VIR_DOMAIN_EVENT_RESUMED and detail in (
                LV.VIR_DOMAIN_EVENT_RESUMED_MIGRATED,
                LV.VIR_DOMAIN_EVENT_RESUMED_POSTCOPY):
            g.boot.incoming = False
            g.migration = POSTCOPY if \
                detail == LV.VIR_DOMAIN_EVENT_RESUMED_POSTCOPY else None

    def _io_error(self, o, now, out):
        """An I/O error reported to the guest is recovered after a settle
        time, unless the host is stalled or more guests report one within
        it: storage failing for many guests is the host's problem."""
        classified = events.classify_io_error(o.action)
        out.append(fx.Count("events", classified.name))
        g = self._guest(o.uuid, o.name)
        g.view.update(last_event=classified.name,
                      last_event_at=notification.iso(now))
        if classified.masakari is None:
            self._record_event(g, classified, now, out)
            return
        settle = self.settings.io_error_settle
        self.io_errors = {u: t for u, t in self.io_errors.items()
                          if now - t <= settle}
        self.io_errors[g.uuid] = now
        host_wide = None
        if len(self.io_errors) >= max(2, self.settings.storm_min_guests):
            host_wide = IO_STORM % (len(self.io_errors), settle)
        elif self.stall or self.storm.active:
            host_wide = "host-wide: %s" % (self.stall or self.storm.reason)
        if host_wide is None:
            self._record_event(g, classified, now, out, settle=settle)
            return
        self._decided(g, "hold", HOLD, "%s; held: %s" % (
            classified.why, host_wide), out)
        for uuid in self.io_errors:  # withdraw those still settling
            other = self.guests.get(uuid)
            if other is not None and other.boot is not None:
                out.append(fx.Withdraw(uuid, host_wide, key=(
                    notification.death_key(uuid, other.boot.seq,
                                           classified.masakari))))

    def _record_event(self, g, classified, now, out, settle=0.0):
        payload = events.payload_for(classified,
                                     self.settings.forward_ignored)
        if payload is None:
            self._decided(g, "record", RECORD_ONLY, classified.why, out)
        elif classified.masakari:
            self._recover(g, payload, classified.why, now, out,
                          settle=settle)
        else:  # forwarded on request: every one is its own notification
            key = notification.forwarded_key(
                g.uuid, g.boot.seq if g.boot else None, payload, now)
            self._enqueue(g, key, payload, classified.why, now, out,
                          recovery=False)

    def _described(self, o, now, out):
        g = self.guests.get(o.uuid)
        if g is not None and g.boot is not None:
            self._describe(g, o.channel, o.balloon_period)
            self._update_watch(g, out)

    def _describe(self, g, channel, balloon_period):
        g.channel = channel
        g.kernel_period = balloon_period
        if not channel:
            g.agent = gm.AGENT[gm.NO_CHANNEL]
        elif g.agent == gm.ABSENT:
            g.agent = gm.AGENT[gm.BOOT_BEGAN]

    def _agent(self, o, now, out):
        if o.connected:
            signal, what = gm.AGENT_UP, "AGENT_CONNECTED"
        elif o.closed_by_guest:
            signal, what = gm.AGENT_CLOSED, "AGENT_DISCONNECTED_CHANNEL"
        else:  # at domain start: not yet up
            signal, what = gm.AGENT_RESET, "AGENT_DISCONNECTED"
        out.append(fx.Count("events", what))
        g = self._guest(o.uuid, o.name)
        g.view.update(last_agent_event=what,
                      last_agent_event_at=notification.iso(now))
        if g.boot is None:
            return
        known, g.agent = g.agent, gm.AGENT[signal]
        if signal != gm.AGENT_RESET:
            g.channel = True
            # only a running guest kernel opens or closes the port; an
            # event that repeats the known state is libvirt's, not the
            # guest's (libvirtd sends one when it reconnects to a domain)
            if g.agent != known:
                self._reset_liveness(g, out, "the agent port was %s" % (
                    "opened" if o.connected else "closed by the guest"))
        self._update_watch(g, out)
        self._check_storm(now, out)

    def _rebooted(self, o, now, out):
        out.append(fx.Count("events", "REBOOT"))
        g = self._guest(o.uuid, o.name)
        g.view.update(last_event="REBOOT",
                      last_event_at=notification.iso(now))
        if g.boot is None:
            return
        g.grace_until = now + self.settings.reboot_grace
        # QEMU keeps the old kernel's stamp across the reset: the new
        # kernel counts as answering from its first stamp of its own, and
        # is judged without one only after the boot allowance
        g.reset_stamp = g.kernel_stamp
        g.allowance_until = now + self.settings.boot_allowance
        g.kernel_unchanged = 0
        g.kernel_baseline = g.grace_until
        self._reset_liveness(g, out, "the guest rebooted")
        self._check_storm(now, out)

    # -- liveness -------------------------------------------------------------
    def _heartbeat(self, o, now, out):
        g = self.guests.get(o.uuid)
        if g is None or g.boot is None:
            return
        self._check_excuse(g, now)
        if o.ok:
            g.last_ok = now
            g.agent, g.channel = gm.AGENT[gm.ANSWERED], True
            g.failures, g.excuse, g.silent_since = 0, None, None
        else:
            g.excuse = o.excuse or self._excuse(g, now)
            counted = g.excuse is None and g.agent == gm.CONNECTED
            out.append(fx.Count("heartbeat_failures",
                                "counted" if counted else "excused"))
            if counted:
                if g.failures == 0:
                    g.silent_since = o.sent_at if o.sent_at else now
                g.failures += 1
                g.last_error = o.detail or "no answer"
            if o.kernel_stamp:
                g.kernel_read_at = now
                self._see_stamp(g, o.kernel_stamp, now, polled=False)
        self._liveness(g, now, out)

    def _stats(self, o, now, out):
        stuck = self.facts.stats_stuck
        self.facts = dataclasses.replace(self.facts, stats_stuck=None)
        for entry in o.stats:
            d = entry if isinstance(entry, obs.DomainStats) else \
                obs.DomainStats(*entry)
            g = self.guests.get(d.uuid)
            if g is None or g.boot is None:
                continue
            if d.cpu_ns is not None and g.cpu_ns is not None and \
                    g.cpu_at is not None and now > g.cpu_at:
                g.cpu_used = (max(0, d.cpu_ns - g.cpu_ns) / 1e9,
                              now - g.cpu_at)
            g.cpu_ns, g.cpu_at = d.cpu_ns, now
            self._stats_state(g, d)
            if not d.busy:  # a skipped reading says nothing of the kernel
                g.kernel_read_at = now
                self._see_stamp(g, d.stamp, now, polled=True)
        if stuck:
            self._judge_host(now, out)
        for entry in o.stats:
            g = self.guests.get(entry[0])
            if g is None or g.boot is None:
                continue
            if self._excuse(g, now):  # silence counts only from now
                g.kernel_unchanged, g.kernel_baseline = 0, now
            self._liveness(g, now, out)

    @staticmethod
    def _stats_state(g, d):
        g.busy = BUSY if d.busy else None
        if d.state == LV.VIR_DOMAIN_RUNNING and d.reason in POSTCOPY_REASONS:
            g.migration = POSTCOPY
        elif g.migration == POSTCOPY and d.state is not None:
            g.migration = None  # the post-copy phase is over

    @staticmethod
    def _see_stamp(g, stamp, now, polled):
        """Any new stamp is an answer, also one that goes backwards (the
        host clock stepped back; a QEMU restart is a new boot)."""
        if not stamp:
            g.kernel_stamp, g.kernel_unchanged = None, 0
            return
        if stamp != g.kernel_stamp:
            g.kernel_stamp, g.kernel_unchanged = stamp, 0
            g.reset_stamp = None  # the kernel of this run answers
        elif polled:
            g.kernel_unchanged += 1

    def _stats_failed(self, o, now, out):
        if o.timed_out:
            self.facts = dataclasses.replace(
                self.facts, stats_stuck="libvirt's statistics call did "
                "not answer in time (%s)" % o.reason)
            self._judge_host(now, out)

    # -- the host -------------------------------------------------------------
    def _host_sample(self, o, now, out):
        impaired = 0
        for g in self.guests.values():
            qemu = None
            if o.qemu_read and g.uuid in o.stopped:
                qemu = QEMU_STOPPED
            elif o.qemu_read and g.uuid in o.blocked:
                qemu = QEMU_BLOCKED
            g.qemu = qemu if g.active else None
            impaired += g.qemu is not None
        self.facts = dataclasses.replace(
            self.facts, pressure=o.pressure, loop_lag=o.loop_lag,
            qemu_impaired=impaired,
            running=sum(g.active and g.boot is not None
                        for g in self.guests.values()))
        self.view_host = {"pressure": {"%s %s" % (r, k): v
                                       for r, k, v in o.pressure},
                          "loop_lag_seconds": round(o.loop_lag, 3),
                          "qemu_processes_read": o.qemu_read}
        self._judge_host(now, out)
        for g in self.guests.values():
            if g.boot is not None:
                self._check_excuse(g, now)

    def _judge_host(self, now, out):
        stall = stall_mod.judge(self.facts, self.settings)
        if stall == self.stall:
            return
        began = self.stall is None
        self.stall = stall
        if stall is not None and began:
            self.stall_since = now
            out.append(fx.Count("decisions", "stall-begin"))
            out.append(fx.Log(LOG_ERROR, "Host stalled: %s; no guest is "
                              "judged until it ends" % stall))
        elif stall is None:
            out.append(fx.Count("decisions", "stall-end"))
            out.append(fx.Log(LOG_WARNING, "Host stall over after %.0f s; "
                              "every guest is judged on evidence from now "
                              "on" % (now - self.stall_since)))
            self.stall_since = None
        for g in self.guests.values():  # the excuse begins or ends now
            if g.boot is not None:
                self._check_excuse(g, now)

    def _signals(self, g, now):
        s = self.settings
        kernel = gm.kernel_signal(g, now, s.kernel_stale_periods,
                                  s.kernel_slack, s.kernel_poll_interval) \
            if s.kernel_heartbeat else (gm.K_UNKNOWN, KERNEL_HEARTBEAT_OFF)
        return gm.agent_signal(g, s.threshold), kernel

    def _liveness(self, g, now, out):
        self._fence_overdue(g, now, out)
        if self._check_excuse(g, now):
            return  # nothing counts while excused; the state stays
        if g.liveness == gm.CONFIRMING and \
                now - g.confirming_since > self._confirm_timeout():
            self._confirmed(g, now, out, "Nova did not answer within "
                            "%.0f s: the verdict stands" % (
                                self._confirm_timeout()))
            return
        agent, (kernel, kernel_detail) = self._signals(g, now)
        verdict = self.verdicts[(agent, kernel)]
        before = g.liveness
        g.liveness, action = gm.LIVENESS[(before, verdict)]
        if action == gm.DECLARE:
            self._verdict(g, agent, kernel, kernel_detail, now, out)
        elif action == gm.WARN:
            why = "%d consecutive heartbeats failed, but the guest kernel " \
                  "is %s: the agent is unresponsive, the guest is not " \
                  "recovered" % (g.failures, kernel_detail)
            self._decided(g, "warn", "no recovery", why, out)
            out.append(fx.Log(LOG_WARNING, "%s (%s): %s" % (g.name, g.uuid,
                                                            why)))
        elif action == gm.ANSWERING_AGAIN:
            self._answering_again(g, out, "answering again")
        if g.liveness != before:
            self._check_storm(now, out)

    def _verdict(self, g, agent, kernel, kernel_detail, now, out):
        """A hang: held in a storm (this guest counted), confirmed with
        Nova when its reading is older than an interval, else declared."""
        self._check_storm(now, out)
        if self.storm.active:
            g.liveness = gm.HELD
            self._decided(g, "hold", HOLD, self._hang_reason(
                g, agent, kernel, kernel_detail) + "; held: host-wide "
                "storm", out)
            return
        if self.settings.nova_guard and (
                self.nova_read_at is None or
                now - self.nova_read_at > self.settings.interval):
            g.liveness, g.confirming_since = gm.CONFIRMING, now
            self._decided(g, "confirm", "asking Nova", self._hang_reason(
                g, agent, kernel, kernel_detail) + "; asking Nova whether "
                "an operation of its own is under way", out)
            if not self.nova_asked:
                self.nova_asked = True
                out.append(fx.ReadNova())
            return
        self._declare(g, now, out)

    def _hang_reason(self, g, agent, kernel, kernel_detail):
        if agent == gm.A_SILENT:
            reason = "%d consecutive heartbeats failed (last: %s)" % (
                g.failures, g.last_error)
            if kernel == gm.K_SILENT:
                reason += "; guest kernel %s" % kernel_detail
            return reason
        return "guest kernel %s (agent: %s)" % (kernel_detail, g.agent)

    def _declare(self, g, now, out, note=None):
        agent, (kernel, kernel_detail) = self._signals(g, now)
        reason = self._hang_reason(g, agent, kernel, kernel_detail)
        if note:
            reason += "; " + note
        g.liveness, g.confirming_since = gm.DECLARED, None
        self._recover(g, notification.HUNG, reason, now, out, hang=True)

    def _confirmed(self, g, now, out, note=None):
        """Nova answered (or could not be asked) for a confirming guest."""
        why = self._excuse(g, now)
        if why is None:
            self._declare(g, now, out, note)
            return
        g.liveness, g.confirming_since = gm.HEALTHY, None
        self._decided(g, "excused", "no recovery", "hang found, but %s" %
                      why, out)
        out.append(fx.Log(LOG_WARNING, "%s (%s): hang found, not recovered:"
                          " %s" % (g.name, g.uuid, why)))
        self._check_excuse(g, now)

    def _confirm_timeout(self):
        return 2 * self.settings.interval + 60.0

    def _answering_again(self, g, out, why):
        out.append(fx.Log(LOG_INFO, "%s (%s): %s" % (g.name, g.uuid, why)))
        g.view.update(last_decision="watching", reason=why)
        if g.boot.hang_open:
            g.boot.hang_open = False
            out.append(fx.PutBoot(g.uuid, g.name,
                                  dataclasses.replace(g.boot)))
            out.append(fx.Withdraw(g.uuid, "the guest answered again (%s) "
                                   "before the hang was delivered" % why,
                                   key=notification.hang_key(
                                       g.uuid, g.boot.seq, g.boot.hangs)))

    def _reset_liveness(self, g, out, why):
        if g.liveness in (gm.DECLARED, gm.HELD, gm.WARNED, gm.CONFIRMING):
            self._answering_again(g, out, why)
        g.liveness, g.failures, g.silent_since = gm.HEALTHY, 0, None
        g.confirming_since = None

    def _excuse(self, g, now):
        included = self.included is None or g.uuid in self.included
        return gm.excuse(g, now, self.connected, included, self.stall,
                         paused=self._paused(g, now))

    # -- pauses ---------------------------------------------------------------
    def _paused(self, g, now):
        """Why the operator's pause holds this guest now, or None: the
        host's, else the server's own (HA_Paused_Until)."""
        if pause_mod.active(self.host_paused_until, now):
            return "monitoring paused on this host until %s" % \
                pause_mod.iso(self.host_paused_until)
        if pause_mod.active(g.paused_until, now):
            return "paused by the operator until %s (%s)" % (
                pause_mod.iso(g.paused_until), pause_mod.METADATA_KEY)
        return None

    def _read_pause(self, g, server, now, out):
        """The server's HA_Paused_Until from Nova's reading; a value that
        cannot be honoured is said once in the log and in status."""
        value = server.paused_until if server is not None else None
        until, problem = pause_mod.server_pause(
            value, now, self.settings.max_pause)
        if until != g.paused_until and until is not None:
            out.append(fx.Log(LOG_WARNING, "%s (%s): paused by the operator "
                              "until %s: its failures are not acted on" % (
                                  g.name, g.uuid, pause_mod.iso(until))))
        if problem and problem != g.view.get("pause_problem"):
            out.append(fx.Log(LOG_WARNING, "%s (%s): %s" % (g.name, g.uuid,
                                                            problem)))
        g.paused_until = until
        if problem:
            g.view["pause_problem"] = problem
        else:
            g.view.pop("pause_problem", None)

    def _pause_host(self, o, now, out):
        """The operator pauses the whole host for ``o.seconds`` (checked
        by the control socket against max_pause), or resumes it (None)."""
        until = None if o.seconds is None else now + o.seconds
        was = self.host_paused_until if pause_mod.active(
            self.host_paused_until, now) else None
        self.host_paused_until = until
        out.append(fx.PutHostPause(until))
        if until is not None:
            out.append(fx.Count("decisions", "pause-begin"))
            out.append(fx.Log(LOG_WARNING, "Monitoring paused on this host "
                              "by the operator until %s: no failure is "
                              "acted on until then" % pause_mod.iso(until)))
        else:
            out.append(fx.Count("decisions", "pause-end"))
            out.append(fx.Log(LOG_WARNING, "Host pause %s by the operator; "
                              "every guest is judged on evidence from now "
                              "on" % ("ended" if was else
                                      "cleared (none was active)")))
        for g in self.guests.values():
            if g.boot is not None:
                self._check_excuse(g, now)

    def _pause_over(self, now, out):
        """A host pause whose end time has come ends here (it held no
        guest since)."""
        if self.host_paused_until is not None and \
                not pause_mod.active(self.host_paused_until, now):
            out.append(fx.Log(LOG_WARNING, "Host pause until %s is over: "
                              "every guest is judged on evidence from now "
                              "on" % pause_mod.iso(self.host_paused_until)))
            out.append(fx.Count("decisions", "pause-end"))
            self.host_paused_until = None
            out.append(fx.PutHostPause(None))

    def _check_excuse(self, g, now):
        """The guest's excuse now; when one that impaired the guest (not
        the monitor's blindness) has just ended, the guest is judged on
        evidence from now on only: what it did before or during the
        excuse (a stall, a stopped QEMU, a Nova operation) is no
        evidence of a hang."""
        why = self._excuse(g, now)
        ended, g.excused = g.excused, why
        if why is None and ended is not None and ended != BLIND:
            g.failures, g.silent_since = 0, None
            g.kernel_unchanged, g.kernel_baseline = 0, now
            if g.liveness in (gm.SUSPECT, gm.WARNED, gm.HELD):
                g.liveness = gm.HEALTHY
        return why

    # -- storm guard ----------------------------------------------------------
    def _check_storm(self, now, out):
        monitored = failing = 0
        for g in self.guests.values():
            if g.boot is None or self._excuse(g, now):
                continue
            agent, (kernel, _) = self._signals(g, now)
            verdict = self.verdicts[(agent, kernel)]
            if verdict == gm.UNMONITORED:
                continue
            monitored += 1
            # the signals as they are now, not as this guest's last
            # evaluation left them: guests that froze together are
            # counted together, whatever order they are looked at in
            failing += g.liveness in gm.FAILING_STATES or verdict != gm.FINE
        change = self.storm.update(monitored, failing)
        if change == "begin":
            out.append(fx.Count("decisions", "storm-begin"))
            out.append(fx.Log(LOG_ERROR, "Storm guard: %s" %
                              self.storm.reason))
        elif change == "end":
            # a held guest is judged again on what it does from now on:
            # the evidence it gathered during the storm is the storm's
            out.append(fx.Count("decisions", "storm-end"))
            out.append(fx.Log(LOG_WARNING, "Storm guard: %s; held guests "
                              "are judged again from now on" %
                              self.storm.last_end))
            for g in self.guests.values():
                if g.liveness == gm.HELD:
                    g.liveness, g.failures, g.silent_since = \
                        gm.HEALTHY, 0, None
                    g.kernel_unchanged, g.kernel_baseline = 0, now

    # -- recoveries -----------------------------------------------------------
    def _recover(self, g, payload, why, now, out, hang=False, settle=0.0):
        name = notification.payload_name(payload)
        if g.boot is None:
            self._decided(g, "duplicate", RECORD_ONLY, why + "; no running "
                          "boot known: already reported", out)
            return
        if not hang and name in g.boot.notified:
            self._decided(g, "duplicate", "notify %s (already recorded)"
                          % name, why, out)
            return
        paused = self._paused(g, now)
        if paused:  # the operator said: step out of the way
            if not hang:  # not sent when the pause ends, nor after a restart
                g.boot.notified = g.boot.notified | {name}
                out.append(fx.PutBoot(g.uuid, g.name,
                                      dataclasses.replace(g.boot)))
            why = "%s; not recovered: %s" % (why, paused)
            self._decided(g, "paused", "no recovery (paused)", why, out)
            out.append(fx.Log(LOG_WARNING, "%s (%s): %s" % (g.name, g.uuid,
                                                            why)))
            return
        allowed = self.budget.spend(g.uuid, now)
        out.append(self.budget.record(g.uuid))
        if not allowed:
            why = "%s; %s" % (why, self.budget.why_quarantined())
            self._decided(g, "quarantine", QUARANTINE, why, out)
            out.append(fx.Log(LOG_WARNING, "%s (%s): %s" % (g.name, g.uuid,
                                                            why)))
            return
        if hang:
            g.boot.hangs += 1
            g.boot.hang_open = True
            key = notification.hang_key(g.uuid, g.boot.seq, g.boot.hangs)
        else:
            g.boot.notified = g.boot.notified | {name}
            key = notification.death_key(g.uuid, g.boot.seq, payload)
        out.append(fx.PutBoot(g.uuid, g.name, dataclasses.replace(g.boot)))
        hold = self.settings.forensics_hold if (
            hang and self.settings.forensics) else 0.0
        if settle:
            self.settling[key] = now + settle
            hold = max(hold, settle)
        self._enqueue(g, key, payload, why, now, out, hold=hold)

    def _enqueue(self, g, key, payload, why, now, out, recovery=True,
                 hold=0.0):
        body = notification.body(self.settings.hostname, g.uuid, payload,
                                 now)
        boot = g.boot.seq if g.boot else None
        decision = "notify " + notification.payload_name(payload)
        if self.settings.shadow:
            # recorded apart from the outbox: delivery never sees it, and
            # enforce mode later does not send it either
            kind = self._would_recover_kind(payload, recovery)
            fence = self._would_fence(g, key, now) if kind == "hang" \
                else None
            out.append(fx.WouldRecover(key, body, kind, why, g.uuid, boot,
                                       fence))
            out.append(fx.Count("would_recover", kind))
            decision = "would " + decision
        else:
            out.append(fx.Enqueue(key, body, hold, g.uuid, boot))
        if recovery and self.settings.forensics:
            out.append(fx.Capture(g.uuid, g.name, key, {
                "key": key, "notification": body, "reason": why,
                "signals": self._evidence(g, now),
                "monitor_view": self._domain_view(g, now)}))
        out.append(fx.Log(LOG_WARNING if recovery else LOG_INFO,
                          "%s (%s): %s -> %s%s" % (
                              g.name, g.uuid, why, decision,
                              " (shadow mode: nothing sent)"
                              if self.settings.shadow else "")))
        # kept apart from last_decision, which later events overwrite
        g.view.update(last_notified=decision,
                      last_notified_at=notification.iso(now),
                      last_notified_reason=why)
        self._decided(g, "notify", decision, why, out)

    @staticmethod
    def _would_recover_kind(payload, recovery):
        if not recovery:
            return "forwarded"
        return {notification.HUNG: "hang",
                notification.IO_REPORTED: "io-error"}.get(payload, "death")

    def _would_fence(self, g, key, now):
        """Shadow mode: what the fence of this hang would do once Masakari
        accepted it (Nova's own reading is left to that time)."""
        if not self.settings.fence_hung:
            return "no fence: fence_hung is off or not the masakari backend"
        why = self._fence_hold(g, key, now)
        if why:
            return "no fence: %s" % why
        return "would fence once accepted, if Nova shows no task of its own"

    @staticmethod
    def _decided(g, label, decision, why, out):
        """``label``: the decisions metric's label (one of DECISIONS)."""
        g.view.update(last_decision=decision, reason=why)
        out.append(fx.Count("decisions", label))

    # -- boots ----------------------------------------------------------------
    def _guest(self, uuid, name):
        g = self.guests.get(uuid)
        if g is None:
            g = self.guests[uuid] = gm.Guest(uuid, name)
        g.name = name
        return g

    def _begin_boot(self, g, dom_id, out):
        g.boot = gm.Boot(self.next_boot, dom_id, self.host_boot)
        self.next_boot += 1
        # a death or hang of an earlier boot not sent yet is moot now;
        # also after the domain was forgotten (Nova's power-on undefines
        # and defines it again), so whatever the engine still knows
        out.append(fx.Withdraw(g.uuid, "the domain runs again on a newer "
                               "boot", before_boot=g.boot.seq))
        g.qemu = g.busy = g.migration = None
        g.reset_stamp, g.excused = None, None
        g.channel, g.agent = None, gm.AGENT[gm.BOOT_BEGAN]
        g.liveness, g.failures, g.last_ok, g.excuse = gm.HEALTHY, 0, None, \
            None
        g.silent_since = None
        g.grace_until, g.kernel_stamp, g.kernel_unchanged = 0.0, None, 0
        g.kernel_baseline = 0.0
        g.kernel_read_at = g.cpu_ns = g.cpu_at = g.cpu_used = None
        out.append(fx.PutBoot(g.uuid, g.name, dataclasses.replace(g.boot)))

    def _end_boot(self, g, out):
        g.boot = None
        g.liveness, g.failures, g.agent = gm.HEALTHY, 0, gm.NEVER
        g.silent_since = None
        g.kernel_stamp, g.kernel_unchanged = None, 0
        out.append(fx.DropBoot(g.uuid))

    def _forget(self, uuid, out):
        g = self.guests.pop(uuid, None)
        if g is None:
            return
        if g.boot is not None:
            out.append(fx.DropBoot(uuid))
        if g.watched:
            out.append(fx.Unwatch(uuid))

    def _update_watch(self, g, out):
        """Heartbeats for a running guest with an agent channel (and
        HA_Enabled when only those are watched)."""
        included = self.included is None or g.uuid in self.included
        want = (g.boot is not None and g.power in gm.ACTIVE and
                g.channel is True and included)
        if want != g.watched:
            g.watched = want
            out.append(fx.Watch(g.uuid) if want else fx.Unwatch(g.uuid))

    # -- the rest -------------------------------------------------------------
    def _nova_servers(self, o, now, out):
        """Nova's reading of this host's servers: HA_Enabled (when only
        those are watched) and the operations under way, which excuse a
        guest.  Unreadable: no excuse from Nova, every guest watched."""
        self.nova_asked, self.ha_error = False, o.error
        servers = {s.uuid: s for s in o.servers or ()}
        if o.servers is not None:
            self.nova_read_at = now
        if self.settings.ha_enabled_only:
            self.included = None if o.servers is None else frozenset(
                uuid for uuid, s in servers.items() if s.ha_enabled)
        for g in self.guests.values():
            server = servers.get(g.uuid)
            g.nova = gm.nova_excuse(server) if server else None
            if o.servers is not None:  # unreadable: a pause ends on time
                self._read_pause(g, server, now, out)
            self._update_watch(g, out)
        for g in list(self.guests.values()):
            if g.liveness == gm.CONFIRMING:
                self._confirmed(g, now, out, None if o.servers is not None
                                else "Nova could not be read (%s): the "
                                "verdict stands" % o.error)
            elif g.boot is not None:
                self._check_excuse(g, now)
        for g in list(self.guests.values()):
            # a fence waits for a reading begun after it asked for one
            if g.fence == gm.F_ASKING and (o.read_at is None or
                                           o.read_at >= g.fence_since):
                self._fence_on_nova(g, o, servers, now, out)
        self._check_storm(now, out)

    def _captured(self, o, now, out):
        g = self.guests.get(o.uuid)
        if o.directory is not None and g is not None:
            g.view["last_forensics"] = o.directory
        if now < self.settling.pop(o.key, now):
            return  # an I/O error waits out its settle time all the same
        out.append(fx.Release(o.key))

    def _clock_stepped(self, o, now, out):
        """Every wall-clock time held moves with the clock, so durations
        (grace, windows, budgets, retries) keep their length."""
        d = o.delta
        for g in self.guests.values():
            for name in ("last_ok", "silent_since", "kernel_read_at",
                         "cpu_at", "kernel_stamp", "reset_stamp",
                         "confirming_since", "fence_since"):
                if getattr(g, name) is not None:
                    setattr(g, name, getattr(g, name) + d)
            g.grace_until += d
            g.allowance_until += d
            g.kernel_baseline += d
        for name in ("nova_read_at", "stall_since"):
            if getattr(self, name) is not None:
                setattr(self, name, getattr(self, name) + d)
        self.io_errors = {u: t + d for u, t in self.io_errors.items()}
        self.settling = {k: t + d for k, t in self.settling.items()}
        out.extend(self.budget.shift(d))
        out.append(fx.ShiftTimes(d))
        out.append(fx.Log(LOG_WARNING, "The wall clock stepped by %+.1f s; "
                          "deadlines and windows moved with it" % d))

    def _clear_quarantine(self, o, now, out):
        if self.budget.clear(o.uuid):
            out.append(self.budget.record(o.uuid))
            out.append(fx.Log(LOG_WARNING, "Quarantine of %s cleared by the "
                              "operator" % o.uuid))

    def _reconfigured(self, o, now, out):
        if o.settings.shadow != self.settings.shadow:
            out.append(fx.Log(LOG_WARNING, "Mode %s -> %s: %s" % (
                self.settings.mode, o.settings.mode,
                "decisions are recorded as would-recover, nothing is sent "
                "or fenced" if o.settings.shadow else "decisions are sent "
                "from now on; those recorded in shadow mode are not")))
        s = self.settings = o.settings
        self.verdicts = gm.verdicts(s.agent_silence_recovers,
                                    s.kernel_silence_recovers)
        self.budget.max_recoveries = s.max_recoveries
        self.budget.window = s.recovery_window
        self.storm.fraction = s.storm_fraction
        self.storm.min_guests = s.storm_min_guests
        self._judge_host(now, out)

    def _tick(self, o, now, out):
        """Periodic housekeeping: budgets whose window has passed, fences
        that waited too long for Nova."""
        for uuid in self.budget.expired(now):
            out.append(self.budget.record(uuid))
        self._pause_over(now, out)
        for g in list(self.guests.values()):
            self._fence_overdue(g, now, out)

    # -- fencing a hang whose recovery is under way ---------------------------
    def _delivered(self, o, now, out):
        """The backend's recorded answer: Masakari accepted the current
        hang of a guest, whose recovery is now on its way; the guest is
        fenced if it still holds (``guest.FENCE``).  Deaths, refusals and
        retries change nothing."""
        if o.kind != RECOVERY_ACCEPTED or not self.settings.fence_hung or \
                notification.hang_incident(o.key) is None:
            return
        g = self.guests.get(o.uuid)
        if self.settings.shadow:  # sent before the switch: not fenced
            self._fence_end(g, o.uuid, o.key, "skipped", "shadow mode: "
                            "nothing is fenced", now, out)
            return
        if g is None or g.fence is not gm.F_IDLE:
            self._fence_end(None, o.uuid, o.key, "skipped", "the domain is "
                            "no longer defined here" if g is None else
                            "the fence of an earlier hang is under way",
                            now, out)
            return
        why = self._fence_hold(g, o.key, now)
        self._fence_step(g, gm.NOT_HELD if why else gm.ACCEPTED, now, out,
                         key=o.key, detail=why)

    def _fence_hold(self, g, key, now):
        """Why the hang ``key`` of this guest must not be fenced now, or
        None.  Nova's view is judged apart, on a fresh reading."""
        _, boot, ordinal = notification.hang_incident(key)
        if not self.settings.fence_hung:
            return "fence_hung was turned off"
        if g.boot is None:
            return "the domain does not run any more"
        if boot != g.boot.seq:
            return "the domain runs again on a newer boot"
        if ordinal != g.boot.hangs or not g.boot.hang_open:
            return "the guest answered again"
        if self.storm.active:
            return "host-wide storm: %s" % self.storm.reason
        included = self.included is None or g.uuid in self.included
        return gm.excuse(g, now, self.connected, included, self.stall,
                         nova=False, paused=self._paused(g, now))

    def _fence_on_nova(self, g, o, servers, now, out):
        """The fresh reading a fence waited for."""
        why = self._fence_hold(g, g.fence_key, now)
        if why:
            self._fence_step(g, gm.NOT_HELD, now, out, detail=why)
        elif o.servers is None:
            self._fence_step(g, gm.NOVA_UNREADABLE, now, out, detail=(
                "Nova could not be read (%s)" % o.error))
        else:
            why = gm.fence_nova(servers.get(g.uuid))
            self._fence_step(g, gm.NOVA_BUSY if why else gm.NOVA_CLEAR, now,
                             out, detail=why)

    def _fence_overdue(self, g, now, out):
        if g.fence == gm.F_ASKING and \
                now - g.fence_since > self._confirm_timeout():
            self._fence_step(g, gm.NOVA_SILENT, now, out, detail=(
                "Nova did not answer within %.0f s" %
                self._confirm_timeout()))

    def _fenced(self, o, now, out):
        g = self.guests.get(o.uuid)
        if g is None or g.fence != gm.F_DESTROYING or g.fence_key != o.key:
            # forgotten meanwhile (a transient domain): counted all the same
            result, detail = ("failed", o.error) if o.error else (
                ("skipped", o.skipped) if o.skipped else ("done", None))
            self._fence_end(None, o.uuid, o.key, result, detail, now, out,
                            took=o.took)
            return
        if o.error:
            self._fence_step(g, gm.DESTROY_FAILED, now, out, detail=o.error)
        elif o.skipped:
            self._fence_step(g, gm.NOT_DESTROYED, now, out,
                             detail=o.skipped)
        else:
            self._fence_step(g, gm.DESTROYED, now, out, took=o.took)

    def _fence_step(self, g, signal, now, out, key=None, detail=None,
                    took=None):
        """One transition of ``guest.FENCE``; ``key``: the incident an
        acceptance names (else the one the fence is for)."""
        key = key or g.fence_key
        state, action = gm.FENCE.get((g.fence, signal), (g.fence, None))
        g.fence = state
        if action == gm.READ_NOVA:
            g.fence_key, g.fence_since = key, now
            for name in ("fenced_at", "fence_seconds", "fence_skipped",
                         "fence_failed"):
                g.view.pop(name, None)
            self.nova_asked = True  # the reading also serves verdicts
            out.append(fx.ReadNova())
        elif action == gm.FENCE_NOW and self.settings.shadow:
            g.fence = state = None  # switched to shadow meanwhile
            self._fence_end(g, g.uuid, key, "skipped", "shadow mode: nothing"
                            " is fenced", now, out)
        elif action == gm.FENCE_NOW:
            out.append(fx.Fence(g.uuid, key, g.boot.dom_id))
            out.append(fx.Log(LOG_WARNING, "%s (%s): hung, its recovery "
                              "accepted, Nova clear: ending the guest now "
                              "(virDomainDestroy) so that Nova's stop does "
                              "not wait for a clean shutdown" % (g.name,
                                                                 g.uuid)))
        elif action in (gm.SKIP, gm.DONE, gm.FAIL):
            self._fence_end(g, g.uuid, key, {
                gm.SKIP: "skipped", gm.DONE: "done", gm.FAIL: "failed"}[
                    action], detail, now, out, took=took)
        if state is None:
            g.fence_key = g.fence_since = None
            g.view.pop("fence", None)
        else:
            g.view["fence"] = state

    def _fence_end(self, g, uuid, key, result, detail, now, out, took=None):
        """A fence's outcome (one of FENCES): counted, logged, in status
        and in the incident's forensics."""
        name = g.name if g is not None else uuid
        out.append(fx.Count("fences", result))
        facts = {"result": result, "at": notification.iso(now)}
        if result == "done":
            facts["seconds"] = round(took or 0.0, 3)
            out.append(fx.Log(LOG_WARNING, "%s (%s): fenced in %.3f s; the "
                              "recovery goes on through Nova's stop and "
                              "start" % (name, uuid, facts["seconds"])))
            view = {"fenced_at": facts["at"],
                    "fence_seconds": facts["seconds"]}
        elif result == "skipped":
            facts["reason"] = detail
            out.append(fx.Log(LOG_WARNING, "%s (%s): not fenced: %s; the "
                              "recovery goes on through Nova's stop" % (
                                  name, uuid, detail)))
            view = {"fence_skipped": detail}
        else:
            facts["error"] = detail
            out.append(fx.Log(LOG_ERROR, "%s (%s): fence failed: %s; the "
                              "recovery goes on through Nova's stop" % (
                                  name, uuid, detail)))
            view = {"fence_failed": detail}
        if g is not None:
            g.view.update(view)
        if self.settings.forensics:
            out.append(fx.NoteIncident(uuid, key, {"fence": facts}))

    # -- status ---------------------------------------------------------------
    def _domain_view(self, g, now):
        view = {"uuid": g.uuid, "name": g.name, "state": g.power}
        view.update(g.view)
        if pause_mod.active(g.paused_until, now):
            view["paused_until"] = pause_mod.iso(g.paused_until)
        if g.boot is None:
            return view
        agent, (kernel, kernel_detail) = self._signals(g, now)
        why = self._excuse(g, now)
        if why is None and g.agent != gm.CONNECTED:
            why = g.agent
        view.update(
            boot=g.boot.seq,
            heartbeat="monitored" if why is None else "not monitored: " + why,
            heartbeat_failures=g.failures,
            last_heartbeat_ok=(notification.iso(g.last_ok) if g.last_ok
                               else None),
            kernel=kernel_detail, liveness=g.liveness,
            hang_detection=self._detection(g, now, agent, kernel,
                                           kernel_detail))
        if g.cpu_used is not None:
            view["vcpu_used_last_interval"] = "%.1f s of %.1f s" % g.cpu_used
        if g.uuid in self.budget.quarantined:
            view["quarantined_since"] = notification.iso(
                self.budget.quarantined[g.uuid])
        return view

    def _evidence(self, g, now):
        """Both liveness signals as they stood, for the forensics."""
        _, (kernel, detail) = self._signals(g, now)
        return {
            "agent": {"state": g.agent, "consecutive_failures": g.failures,
                      "last_ok": (notification.iso(g.last_ok) if g.last_ok
                                  else None),
                      "last_error": g.last_error if g.failures else None},
            "kernel": {"signal": kernel, "detail": detail,
                       "last_answer": (notification.iso(g.kernel_stamp)
                                       if g.kernel_stamp else None)},
            "vcpu_used_last_interval": (
                "%.1f s of %.1f s" % g.cpu_used if g.cpu_used else None)}

    def _detection(self, g, now, agent, kernel, kernel_detail):
        """Which signals would find a hang of this guest now."""
        why = self._excuse(g, now)
        if why:
            return "off: " + why
        signals = []
        if agent != gm.A_UNAVAILABLE:
            signals.append("agent")
        if kernel != gm.K_UNKNOWN and (
                signals or self.settings.kernel_silence_recovers):
            signals.append("kernel")
        if signals:
            return " and ".join(signals)
        return "none: %s; kernel %s" % (g.agent, kernel_detail)

    def detection_counts(self, now):
        """{agent|kernel|none|off: count} of the domains by what would find
        a hang of each now (the ``instanceha_domains`` metric)."""
        counts = {}
        for g in self.guests.values():
            if g.boot is None:
                kind = "off"
            else:
                agent, (kernel, detail) = self._signals(g, now)
                found = self._detection(g, now, agent, kernel, detail)
                kind = ("off" if found.startswith("off") else
                        "agent" if found.startswith("agent") else
                        "kernel" if found.startswith("kernel") else "none")
            counts[kind] = counts.get(kind, 0) + 1
        return counts

    def view(self, now):
        return {
            "mode": self.settings.mode,
            "paused_until": (pause_mod.iso(self.host_paused_until)
                             if pause_mod.active(self.host_paused_until, now)
                             else None),
            "libvirt": dict(self.libvirt),
            "host_alert": self.stall or self.storm.reason,
            "host": dict(self.view_host, stalled=self.stall, since=(
                notification.iso(self.stall_since) if self.stall_since
                else None), storm=self.storm.reason),
            "nova_read_at": (notification.iso(self.nova_read_at)
                             if self.nova_read_at else None),
            "ha_enabled_read_error": self.ha_error,
            "quarantined": len(self.budget.quarantined),
            "domains": [self._domain_view(self.guests[uuid], now)
                        for uuid in sorted(self.guests)],
        }
