"""The monitor process: libvirt events → decisions → outbox → Masakari.

One asyncio loop carries libvirt's events, the delivery worker and the
status endpoint.  A decision is committed to the outbox inside the libvirt
callback, before anything touches the network.
"""
import asyncio
import datetime
import gc
import logging
import os
import time
from pathlib import Path

from monitor import delivery as _delivery
from monitor import events
from monitor import forensics
from monitor import inventory as _inventory
from monitor import libvirt_recovery
from monitor import libvirt_watch
from monitor import masakari
from monitor import metrics as _metrics
from monitor import nova_recovery
from monitor import outbox as _outbox
from monitor import policy as _policy
from monitor import prober as _prober
from monitor import status_http
from monitor import systemd
from monitor.conf import recovery as recovery_conf
from monitor.conf import validate

LOG = logging.getLogger(__name__)

RECENT_ENTRIES = 50
AGENT_ERROR = ("QEMU_GUEST_AGENT_ERROR", "STOPPED_FAILED")


def policy_settings(conf):
    intro = conf.introspectiveinstancemonitor
    return _policy.Settings(
        interval=intro.guest_monitoring_interval,
        timeout=intro.guest_monitoring_timeout,
        threshold=intro.guest_monitoring_failure_threshold,
        reboot_grace=intro.reboot_grace,
        max_recoveries=conf.recovery_budget,
        recovery_window=conf.recovery_budget_window,
        storm_fraction=intro.storm_fraction,
        storm_min_guests=intro.storm_min_guests)


def iso(timestamp):
    return datetime.datetime.fromtimestamp(
        timestamp, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")


class Monitor:
    def __init__(self, conf, clock=time.time, send=None):
        self.conf = conf
        self.clock = clock
        state = Path(conf.state_path)
        state.mkdir(parents=True, exist_ok=True)
        self.state_path = state
        self.outbox = _outbox.Outbox(state / "outbox.sqlite", clock)
        self.inventory = _inventory.Inventory(state / "outbox.sqlite")
        self.metrics = _metrics.Metrics()
        self._cloud = None
        self.backend = conf.recovery.backend
        peer = {recovery_conf.MASAKARI: "Masakari", recovery_conf.NOVA:
                "Nova", recovery_conf.LIBVIRT: "libvirt"}[self.backend]
        self.delivery = _delivery.Delivery(
            self.outbox, send or self._backend_send(), clock, self.metrics,
            base_delay=conf.callback.retry_interval,
            max_delay=conf.callback.retry_max_interval, peer=peer)
        self.watcher = libvirt_watch.Watcher(
            conf.libvirt.connection_uri, self,
            keepalive_interval=conf.libvirt.keepalive_interval,
            keepalive_count=conf.libvirt.keepalive_count,
            max_backoff=conf.libvirt.reconnect_max_delay)
        self.libvirt_state = {"uri": conf.libvirt.connection_uri,
                              "connected": False, "since": None,
                              "last_error": None}
        self.status_url = None
        intro = conf.introspectiveinstancemonitor
        recoveries, quarantined = self.inventory.budgets()
        self.policy = _policy.Policy(policy_settings(conf),
                                     recoveries=recoveries,
                                     quarantined=quarantined)
        self.prober = _prober.Prober(
            self, intro.guest_monitoring_interval,
            intro.guest_monitoring_timeout, intro.heartbeat_workers)
        self.host_alert = None
        self.reloaded_at = None
        self.forensics_root = state / "forensics"
        self._captures = set()
        # monitor_ha_enabled_only: None until Nova has been read once
        self.ha_enabled = None
        self.ha_enabled_error = None

    def _backend_send(self):
        if self.backend == recovery_conf.NOVA:
            return nova_recovery.NovaRecovery(
                self.cloud, self.conf.recovery.nova_action_timeout)
        if self.backend == recovery_conf.LIBVIRT:
            return libvirt_recovery.LibvirtRecovery(
                self.conf.libvirt.connection_uri)
        return self._send_to_masakari

    def _send_to_masakari(self, body):
        return masakari.send(self.cloud(), body)

    def cloud(self):
        """The SDK connection, made on first use."""
        if self._cloud is None:
            self._cloud = masakari.connect(self.conf)
        return self._cloud

    def reload(self):
        """SIGHUP: re-read the config files and apply the options marked
        mutable (heartbeats, restart budget, storm guard, forwarding).
        A file that would not start the monitor changes nothing."""
        try:
            validate.check(self.conf, fresh=True)
        except validate.ConfigError as exc:
            LOG.error("Reload refused, the running config stays: %s", exc)
            return False
        self.conf.mutate_config_files()
        self.policy.settings = policy_settings(self.conf)
        self.prober.interval = self.policy.settings.interval
        self.prober.timeout = self.policy.settings.timeout
        self.reloaded_at = iso(self.clock())
        LOG.warning("Config reloaded: heartbeats every %s s, timeout %s s, "
                    "threshold %s, restart budget %s per %s s",
                    *(getattr(self.policy.settings, name) for name in (
                        "interval", "timeout", "threshold", "max_recoveries",
                        "recovery_window")))
        return True

    # -- lifecycle -----------------------------------------------------
    async def run(self, stop):
        """Run until ``stop`` (an asyncio.Event) is set."""
        server = await status_http.serve(self, self.conf.status.listen,
                                         self.conf.status.port)
        self.status_url = server.url
        (self.state_path / "status.url").write_text(server.url)
        tasks = [asyncio.ensure_future(self.delivery.run()),
                 asyncio.ensure_future(self.watcher.run())]
        if self.conf.introspectiveinstancemonitor.monitor_ha_enabled_only:
            tasks.append(asyncio.ensure_future(self._read_ha_enabled()))
        watchdog = systemd.watchdog_interval()
        if watchdog:
            tasks.append(asyncio.ensure_future(self._watchdog(watchdog)))
        LOG.info("instanceha-monitor running for host %s; status on %s",
                 self.conf.hostname, server.url)
        systemd.notify("READY=1\nSTATUS=monitoring %s" % self.conf.hostname)
        try:
            waiter = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait(
                tasks + [waiter], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not waiter and task.exception():
                    raise task.exception()
        finally:
            systemd.notify("STOPPING=1")
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.prober.close()
            self.watcher.close()
            gc.collect()  # drop libvirt handles while the loop still runs
            await asyncio.sleep(0.1)  # libvirt's last callbacks
            await server.close()
            self.outbox.close()
            self.inventory.close()
            LOG.info("instanceha-monitor stopped")

    async def _watchdog(self, interval):
        """WATCHDOG=1 from the loop, with a one-line STATUS."""
        while True:
            pending = self.outbox.depth()
            systemd.notify("WATCHDOG=1\nSTATUS=libvirt %s, %d domains, %d "
                           "notifications pending%s" % (
                               "connected" if self.libvirt_state["connected"]
                               else "DISCONNECTED",
                               len(self.inventory.domains), pending,
                               ", HOST ALERT" if self.host_alert else ""))
            await asyncio.sleep(interval)

    # -- handler for the watcher (on the loop) -------------------------
    def connection_changed(self, connected, error):
        if connected != self.libvirt_state["connected"]:
            self.libvirt_state["since"] = iso(self.clock())
        self.libvirt_state["connected"] = connected
        if error:
            self.libvirt_state["last_error"] = error
        self.metrics.libvirt_connected.set(1 if connected else 0)

    def reconciled(self, states, handles=None):
        """After every (re)connect: report deaths missed while away, and
        start heartbeats where there is a guest-agent channel."""
        now = self.clock()
        for domain, boot, classified in events.deaths_while_away(
                self.inventory.known_running(), states):
            LOG.warning("Domain %s (%s) died while unobserved: %s",
                        domain.name, domain.uuid, classified.why)
            self._decide(domain.uuid, domain.name, boot, classified, now,
                         state=domain.state)
            self.inventory.mark_stopped(domain.uuid)
        for domain in states.values():
            running = events.is_running(domain.state)
            if running:
                self.inventory.mark_running(domain.uuid, domain.name,
                                            domain.dom_id)
                self._apply(self.policy.started(
                    domain.uuid, now,
                    agent_connected=domain.agent == "connected"), now)
                self.policy.paused(domain.uuid, now, domain.state ==
                                   events.libvirt.VIR_DOMAIN_PAUSED)
            else:
                self._apply(self.policy.stopped(domain.uuid, now), now)
            if domain.agent is not None and handles:
                self.prober.watch(domain.uuid, handles[domain.uuid])
            self.inventory.observe(domain.uuid, domain.name,
                                   state=domain.state)

    def lifecycle(self, dom, event, detail):
        seen_at = time.perf_counter()
        now = self.clock()
        uuid, name = dom.UUIDString(), dom.name()
        classified = events.classify_lifecycle(event, detail)
        self.metrics.events.labels(classified.name).inc()
        if event in (events.libvirt.VIR_DOMAIN_EVENT_STARTED,
                     events.libvirt.VIR_DOMAIN_EVENT_RESUMED):
            self.inventory.mark_running(uuid, name, dom.ID())
        boot = self.inventory.boot_of(uuid)
        view = {"state": events.STATE_AFTER[event]} \
            if event in events.STATE_AFTER else {}
        self._decide(uuid, name, boot, classified, now, **view)
        if event == events.libvirt.VIR_DOMAIN_EVENT_STOPPED:
            self.inventory.mark_stopped(uuid)
        self.metrics.commit_latency.observe(time.perf_counter() - seen_at)
        self._feed_policy(dom, event, now)

    def _feed_policy(self, dom, event, now):
        lv = events.libvirt
        uuid = dom.UUIDString()
        if event == lv.VIR_DOMAIN_EVENT_STARTED:
            self._apply(self.policy.started(uuid, now), now)
            self.prober.watch(uuid, dom)
        elif event in (lv.VIR_DOMAIN_EVENT_STOPPED,
                       lv.VIR_DOMAIN_EVENT_CRASHED):
            self._apply(self.policy.stopped(uuid, now), now)
        elif event in (lv.VIR_DOMAIN_EVENT_SUSPENDED,
                       lv.VIR_DOMAIN_EVENT_PMSUSPENDED):
            self.policy.paused(uuid, now)
        elif event == lv.VIR_DOMAIN_EVENT_RESUMED:
            self.policy.paused(uuid, now, paused=False)
        elif event == lv.VIR_DOMAIN_EVENT_SHUTDOWN:
            self.policy.shutting_down(uuid, now)

    def agent_lifecycle(self, dom, state, reason):
        now = self.clock()
        uuid, name = dom.UUIDString(), dom.name()
        if state == events.AGENT_CONNECTED:
            what = "AGENT_CONNECTED"
            self._apply(self.policy.agent_changed(uuid, now, True), now)
            self.prober.watch(uuid, dom)
        elif reason == events.AGENT_CLOSED_BY_GUEST:
            what = "AGENT_DISCONNECTED_CHANNEL"
            self._apply(self.policy.agent_changed(uuid, now, False), now)
        else:
            what = "AGENT_DISCONNECTED"  # at domain start: not yet up
        self.metrics.events.labels(what).inc()
        self.inventory.observe(uuid, name, last_agent_event=what,
                               last_agent_event_at=iso(now))

    def rebooted(self, dom):
        now = self.clock()
        self.metrics.events.labels("REBOOT").inc()
        self._apply(self.policy.rebooted(dom.UUIDString(), now), now)
        self.inventory.observe(dom.UUIDString(), dom.name(),
                               last_event="REBOOT", last_event_at=iso(now))

    # -- heartbeats (the prober, on the loop) --------------------------
    async def _read_ha_enabled(self):
        loop = asyncio.get_running_loop()
        while True:
            try:
                self.ha_enabled = await loop.run_in_executor(
                    None, masakari.ha_enabled_servers, self.cloud(),
                    self.conf.hostname)
                self.ha_enabled_error = None
            except Exception as exc:  # keep the last reading; say why
                self.ha_enabled_error = masakari.describe(exc)
                LOG.warning("Cannot read HA_Enabled from Nova: %s",
                            self.ha_enabled_error)
            await asyncio.sleep(
                self.conf.introspectiveinstancemonitor.ha_enabled_refresh)

    def excluded(self, uuid):
        """Why heartbeats skip this guest for lack of HA_Enabled, or None
        (also when Nova has not been read yet: then every guest counts)."""
        if self.ha_enabled is not None and uuid not in self.ha_enabled:
            return "HA_Enabled is not set on the server"
        return None

    def wants_heartbeat(self, uuid):
        return self.excluded(uuid) is None and \
            self.policy.guest(uuid).monitored(self.clock())[0]

    def heartbeat(self, uuid, ok, detail, busy, latency):
        now = self.clock()
        if latency is not None:
            self.metrics.ping_latency.observe(latency)
        if not ok:
            self.metrics.heartbeat_failures.labels(
                "excused" if busy else "counted").inc()
        self._apply(self.policy.heartbeat(uuid, now, ok, detail, busy), now)

    def _apply(self, decisions, now):
        """Carry out what the policy decided."""
        for decision in decisions:
            self.metrics.decisions.labels(decision.action).inc()
            if decision.uuid is None:  # host-level: storm begins or ends
                self.host_alert = (None if decision.action ==
                                   _policy.STORM_END else decision.reason)
                LOG.error("Storm guard: %s", decision.reason) \
                    if self.host_alert else LOG.warning(
                        "Storm guard: %s", decision.reason)
                continue
            view = self.inventory.domains.get(decision.uuid, {})
            name = view.get("name", decision.uuid)
            if decision.action == _policy.NOTIFY:
                self._enqueue(decision.uuid, name, AGENT_ERROR, now,
                              "%s/%s/%s/%s" % (
                                  decision.uuid,
                                  self.inventory.boot_of(decision.uuid),
                                  "/".join(AGENT_ERROR), iso(now)),
                              decision.reason)
            else:
                LOG.warning("%s (%s): %s -> %s", name, decision.uuid,
                            decision.reason, decision.action)
                self.inventory.observe(decision.uuid, name,
                                       last_decision=decision.action,
                                       reason=decision.reason,
                                       last_event_at=iso(now))
            self._save_budget(decision.uuid)

    def _save_budget(self, uuid):
        self.inventory.save_budget(uuid, self.policy.recoveries.get(uuid, []),
                                   self.policy.quarantined.get(uuid))

    def clear_quarantine(self, uuid):
        self.policy.clear_quarantine(uuid)
        self._save_budget(uuid)
        LOG.warning("Quarantine of %s cleared by the operator", uuid)

    def io_error(self, dom, action):
        uuid, name = dom.UUIDString(), dom.name()
        classified = events.classify_io_error(action)
        self.metrics.events.labels(classified.name).inc()
        self._decide(uuid, name, self.inventory.boot_of(uuid), classified,
                     self.clock())

    def _decide(self, uuid, name, boot, classified, now, **view):
        """A lifecycle event: record it, and send it when it calls for a
        recovery (within the VM's restart budget) or is forwarded."""
        payload = events.payload_for(classified,
                                     self.conf.forward_ignored_events)
        self.inventory.observe(uuid, name, last_event=classified.name,
                               last_event_at=iso(now),
                               last_decision="record only",
                               reason=classified.why, **view)
        if not payload:
            return
        key = events.incident_key(uuid, boot, payload)
        if not classified.masakari:  # forwarded: each one is its own
            key += "/" + iso(now)
        elif self.outbox.has(key):
            self.inventory.observe(uuid, name, last_decision="notify %s/%s "
                                   "(already recorded)" % payload)
            return
        else:
            decision = self.policy.process_death(uuid, now, classified.why)
            self._save_budget(uuid)
            if decision.action == _policy.QUARANTINE:
                LOG.warning("%s (%s): %s", name, uuid, decision.reason)
                self.inventory.observe(uuid, name,
                                       last_decision=_policy.QUARANTINE,
                                       reason=decision.reason)
                return
        self._enqueue(uuid, name, payload, now, key, classified.why,
                      log_level=logging.WARNING if classified.masakari
                      else logging.INFO, recovery=classified.masakari)

    def _enqueue(self, uuid, name, payload, now, key, why,
                 log_level=logging.WARNING, recovery=True):
        body = {"type": "VM", "hostname": self.conf.hostname,
                "generated_time": iso(now),
                "payload": {"event": payload[0], "instance_uuid": uuid,
                            "vir_domain_event": payload[1]}}
        decision = "notify %s/%s" % payload
        keep = recovery and self.conf.forensics.enabled
        if self.outbox.add(key, body, hold=self.conf.forensics.timeout
                           if keep else 0.0):
            LOG.log(log_level, "%s (%s): %s -> %s", name, uuid, why,
                    decision)
            if keep:
                self._start_capture(uuid, name, key, body, why, now)
            else:
                self.delivery.wake()
            # kept apart from last_decision, which later events overwrite
            self.inventory.observe(uuid, name, last_notified=decision,
                                   last_notified_at=iso(now),
                                   last_notified_reason=why)
        else:
            decision += " (already recorded)"
        self.inventory.observe(uuid, name, last_decision=decision,
                               reason=why)

    # -- forensics (before the recovery is sent) ------------------------
    def _start_capture(self, uuid, name, key, body, why, now):
        guest = self.policy.guests.get(uuid)
        facts = {"key": key, "notification": body, "reason": why,
                 "monitor_view": dict(self.inventory.domains.get(uuid, {})),
                 "heartbeat": None if guest is None else {
                     "consecutive_failures": guest.failures,
                     "last_ok": iso(guest.last_ok) if guest.last_ok
                     else None, "agent": guest.agent}}
        directory = forensics.incident_dir(self.forensics_root, uuid, now)
        task = asyncio.ensure_future(
            self._capture(uuid, name, key, directory, facts))
        self._captures.add(task)
        task.add_done_callback(self._captures.discard)

    async def _capture(self, uuid, name, key, directory, facts):
        settings = self.conf.forensics
        loop = asyncio.get_running_loop()
        try:
            manifest = await asyncio.wait_for(loop.run_in_executor(
                None, forensics.capture, self.conf.libvirt.connection_uri,
                uuid, directory, settings, facts), settings.timeout)
            self.inventory.observe(uuid, name, last_forensics=str(directory))
            LOG.info("%s (%s): forensics kept in %s in %.3f s (%s)", name,
                     uuid, directory, manifest["capture_seconds"],
                     ", ".join(manifest["files"]) or "nothing")
            await loop.run_in_executor(None, forensics.prune,
                                       self.forensics_root,
                                       settings.max_incidents)
        except Exception as exc:  # the recovery goes out regardless
            LOG.warning("%s (%s): forensics not kept: %s", name, uuid,
                        exc or type(exc).__name__)
        finally:
            self.outbox.release(key)
            self.delivery.wake()

    # -- status --------------------------------------------------------
    def status(self):
        # every pending entry, but only the recent part of the history
        pending = self.outbox.entries(_outbox.PENDING)
        self.metrics.outbox_depth.set(len(pending))
        now = self.clock()
        domains = []
        for view in self.inventory.view():
            view = dict(view)
            guest = self.policy.guests.get(view["uuid"])
            if guest is not None:
                monitored, why = guest.monitored(now)
                excluded = self.excluded(view["uuid"])
                if excluded:
                    monitored, why = False, excluded
                view["heartbeat"] = "monitored" if monitored else \
                    "not monitored: " + why
                view["heartbeat_failures"] = guest.failures
                view["last_heartbeat_ok"] = (iso(guest.last_ok)
                                             if guest.last_ok else None)
            lateness = [actual - planned for planned, actual in
                        self.prober.schedule.get(view["uuid"], [])]
            if lateness:
                view["heartbeat_lateness_ms_max"] = round(
                    max(lateness) * 1000, 1)
            if view["uuid"] in self.policy.quarantined:
                view["quarantined_since"] = iso(
                    self.policy.quarantined[view["uuid"]])
            domains.append(view)
        return {
            "hostname": self.conf.hostname,
            "pid": os.getpid(),
            "recovery_backend": self.backend,
            "settings": {
                "interval": self.policy.settings.interval,
                "timeout": self.policy.settings.timeout,
                "threshold": self.policy.settings.threshold,
                "recovery_budget": self.policy.settings.max_recoveries,
                "reloaded_at": self.reloaded_at},
            "libvirt": dict(self.libvirt_state),
            "host_alert": self.host_alert,
            "ha_enabled_read_error": self.ha_enabled_error,
            "domains": domains,
            "outbox": {
                "pending": len(pending),
                "entries": [_entry_view(e) for e in pending +
                            self.outbox.recent_final(RECENT_ENTRIES)],
            },
        }


def _entry_view(entry):
    payload = entry["body"]["payload"]
    return {
        "key": entry["key"],
        "instance_uuid": payload["instance_uuid"],
        "event": "%s/%s" % (payload["event"], payload["vir_domain_event"]),
        "generated_time": entry["body"]["generated_time"],
        "state": entry["state"],
        "attempts": entry["attempts"],
        "next_attempt_at": (iso(entry["next_attempt_at"])
                            if entry["state"] == _outbox.PENDING else None),
        "last_error": entry["last_error"],
        "notification_uuid": entry["notification_uuid"],
    }
