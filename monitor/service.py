"""The monitor process: wiring and the loop.

Adapters post observations to ``Monitor.observe``; the engine turns each
into effects; the store commits the durable ones in one transaction; the
rest go to the prober, the forensics capture, the log and the metrics.
One asyncio loop carries it all; blocking calls run in worker pools.
"""
import asyncio
import logging
import os
import time

from monitor import backends
from monitor import clock as clock_mod
from monitor import settings as settings_mod
from monitor import control
from monitor import delivery as delivery_mod
from monitor import effects as fx
from monitor import engine as engine_mod
from monitor import fence as fence_mod
from monitor import forensics as forensics_mod
from monitor import host_probe
from monitor import libvirt_watch
from monitor import metrics as metrics_mod
from monitor import notification
from monitor import nova_servers
from monitor import observations as obs
from monitor import pause
from monitor import private
from monitor import prober as prober_mod
from monitor import status as status_mod
from monitor import status_http
from monitor import store as store_mod
from monitor import systemd
from monitor import threads
from monitor.conf import recovery as recovery_conf
from monitor.conf import validate

LOG = logging.getLogger(__name__)
# a quarantine ends in status and metrics at most this late (the shortest
# budget window is 60 s); pruning finds nothing to do most minutes
HOUSEKEEPING = 60.0
# while the state store keeps changes in memory, it tries to write them
# this often (observations also try, but may be minutes apart)
STORE_FLUSH = 5.0


def due_horizon(conf):
    """The longest an outbox entry legitimately waits: a retry's backoff
    after a forensics hold.  One due later than this was left by a wall
    clock stepped back while the monitor was down."""
    return conf.callback.retry_max_interval + conf.forensics.timeout


class Monitor:
    def __init__(self, conf, clock=time.time, send=None, monotonic=None):
        """``clock``: the wall clock; its steps are told to the engine
        (``ClockStepped``) when a ``monotonic`` clock is given, or when
        neither is (the real clocks)."""
        self.conf, self.clock = conf, clock
        for line in validate.ignored(conf):  # the other masakari monitors'
            LOG.info("%s", line)
        if monotonic is None and clock is time.time:
            monotonic = time.monotonic
        self._clock_watch = None if monotonic is None else \
            clock_mod.StepWatch(clock, monotonic)
        self.metrics = metrics_mod.Metrics(conf.hostname)
        self.store = store_mod.Store(conf.state_path, clock,
                                     due_horizon=due_horizon(conf),
                                     on_withdrawn=self.metrics.withdrawn.inc)
        self.engine = engine_mod.Engine(settings_mod.engine(conf),
                                        self.store.restore())
        self.cloud = backends.Cloud(conf)
        intro = conf.introspectiveinstancemonitor
        self.pools = {"libvirt": threads.Pool(8, "libvirt"),
                      "ping": threads.Pool(intro.heartbeat_workers, "ping"),
                      "send": threads.Pool(8, "send"),
                      "forensics": threads.Pool(forensics_mod.WORKERS,
                                                "forensics"),
                      "fence": threads.Pool(fence_mod.WORKERS, "fence"),
                      "host": threads.Pool(1, "host"),
                      "nova": threads.Pool(1, "nova")}
        self.watcher = libvirt_watch.Watcher(
            conf.libvirt.connection_uri, self.observe, self.pools["libvirt"],
            (conf.libvirt.keepalive_interval, conf.libvirt.keepalive_count),
            max_backoff=conf.libvirt.reconnect_max_delay,
            sock_path_pattern=intro.qemu_guest_agent_sock_path,
            stats_deadline=conf.libvirt.stats_deadline)
        self.prober = prober_mod.Prober(
            self.watcher.domain, self.observe, self.pools["ping"],
            intro.guest_monitoring_interval, intro.guest_monitoring_timeout,
            self.metrics)
        self.forensics = forensics_mod.Forensics(
            conf.libvirt.connection_uri, self.store.path / "forensics",
            conf.forensics, self.pools["forensics"], self.observe, clock)
        self.delivery = delivery_mod.Delivery(
            self.store, send or backends.sender(conf, self.cloud), clock,
            self.metrics, self.pools["send"], conf.callback.retry_interval,
            conf.callback.retry_max_interval, self.overdue_after,
            peer=backends.PEERS[conf.recovery.backend], post=self.observe,
            enforcing=self.enforcing)
        self.fencer = fence_mod.Fencer(
            conf.libvirt.connection_uri, self.observe, self.pools["fence"],
            self.metrics, enforcing=self.enforcing)
        self.host_probe = host_probe.HostProbe(
            conf.libvirt.connection_uri, self.observe, self.pools["host"])
        self.nova = None
        if conf.recovery.backend != recovery_conf.LIBVIRT:
            self.nova = nova_servers.NovaServers(
                self.cloud, conf.hostname, self.observe, self.pools["nova"],
                intro.ha_enabled_refresh, clock=clock)
        self.reloaded_at = self.status_url = self.metrics_url = None
        self._carry = {fx.Watch: lambda e: self.prober.watch(e.uuid),
                       fx.Unwatch: lambda e: self.prober.unwatch(e.uuid),
                       fx.Capture: self.forensics.start,
                       fx.NoteIncident: self.forensics.note,
                       fx.Fence: self.fencer.start,
                       fx.Log: lambda e: LOG.log(e.level, e.message),
                       fx.Count: lambda e: self.metrics.count(e.metric,
                                                              e.label)}
        if self.nova is not None:
            self._carry[fx.ReadNova] = lambda e: self.nova.read_now()
        self._carry[fx.WatchQemu] = lambda e: self.host_probe.watch_qemu(
            e.on)

    @property
    def overdue_after(self):
        return self.conf.callback.retry_max * self.conf.callback.retry_interval

    def observe(self, observation):
        """Every adapter's way in: decide, commit, then carry out.  A step
        of the wall clock since the last observation goes first.  The
        commit does not raise when the disk refuses it: the store keeps
        the decision in memory and delivery goes on (``health``)."""
        if self._clock_watch is None:
            now = self.clock()
        else:
            now, stepped = self._clock_watch.read()
            if stepped is not None:
                self._decide(obs.ClockStepped(stepped), now)
        self._decide(observation, now)

    def _decide(self, observation, now):
        effects = self.engine.observe(observation, now)
        if self.store.apply(effects):
            self.delivery.wake()
        if isinstance(observation, obs.Lifecycle) and observation.seen:
            self.metrics.commit_latency.observe(
                time.perf_counter() - observation.seen)
        for effect in effects:
            carry = self._carry.get(type(effect))
            if carry is not None:
                carry(effect)

    def enforcing(self):
        """False in shadow mode: the edges (delivery, fence) send and end
        nothing, whatever reaches them (the engine asks for nothing
        then)."""
        return not self.engine.settings.shadow

    def pause_host(self, length):
        """The control socket's pause (``length``: e.g. "1h") or resume
        (None); the end time, or None.  PauseError, changing nothing,
        when the length is not one to honour."""
        seconds = None if length is None else pause.duration(
            length, self.engine.settings.max_pause)
        self.observe(obs.PauseHost(seconds))
        return self.engine.host_paused_until

    def clear_quarantine(self, uuid):
        if uuid not in self.engine.budget.quarantined:
            return False
        self.observe(obs.ClearQuarantine(uuid))
        return True

    def reload(self):
        """SIGHUP: re-read the config files and apply the options marked
        mutable.  A file that would not start the monitor changes nothing."""
        try:
            validate.check(self.conf, fresh=True)
        except validate.ConfigError as exc:
            LOG.error("Reload refused, the running config stays: %s", exc)
            return False
        self.conf.mutate_config_files()
        new = settings_mod.engine(self.conf)
        self.observe(obs.Reconfigured(new))
        self.prober.interval, self.prober.timeout = new.interval, new.timeout
        self.reloaded_at = notification.iso(self.clock())
        self.delivery.wake()  # enforce mode again: entries left are due
        LOG.warning("Config reloaded: mode %s, heartbeats every %s s, "
                    "timeout %s s, threshold %s, restart budget %s per %s s",
                    new.mode, new.interval, new.timeout, new.threshold,
                    new.max_recoveries, new.recovery_window)
        return True

    # -- what the monitor tells ----------------------------------------------
    def status(self):
        now = self.clock()
        state = status_mod.render(
            status_mod.header(self.conf, self.engine.settings,
                              self.reloaded_at, os.getpid()),
            self.engine.view(now), self.store, self.prober.issued, now,
            self.overdue_after)
        state["libvirt"]["uri"] = self.conf.libvirt.connection_uri
        return state

    def health(self):
        """/healthz: not ok (HTTP 503) while the store cannot commit."""
        store = self.store.health()
        return {"ok": store["writable"], "libvirt": self.engine.libvirt,
                "store": store}

    def render_metrics(self):
        self.metrics.refresh(self.store, self.engine, self.clock(),
                             self.overdue_after)
        return self.metrics.render()

    # -- the loop -------------------------------------------------------------
    async def run(self, stop):
        """Run until ``stop`` (an asyncio.Event) is set."""
        conf, intro = self.conf, self.conf.introspectiveinstancemonitor
        web = await status_http.serve(
            self.render_metrics, self.health, conf.status.listen,
            conf.status.port)
        listeners = [web]
        if conf.status.metrics_listen:
            scraped = await status_http.serve(
                self.render_metrics, self.health, conf.status.metrics_listen,
                conf.status.metrics_port, local=False)
            listeners.append(scraped)
            self.metrics_url = scraped.url
            private.write_text(self.store.path / "metrics.url", scraped.url)
        controls = await control.serve(self.store.path / control.SOCKET,
                                       self.clear_quarantine, self.status,
                                       self.pause_host)
        self.status_url = web.url
        private.write_text(self.store.path / "status.url", web.url)
        tasks = [self.delivery.run(), self.watcher.run(),
                 self.watcher.poll_stats(
                     lambda: settings_mod.stats_interval(conf)),
                 self.host_probe.run(lambda: (
                     settings_mod.stats_interval(conf) or
                     intro.guest_monitoring_interval / 2.0)),
                 self._housekeeping(), self._flush_store()]
        if conf.recovery.backend != "libvirt":
            tasks.append(backends.keep_warm(self.cloud, self.pools["send"]))
        if self.nova is not None:
            tasks.append(self.nova.run())
        if systemd.watchdog_interval():
            # fed while the store cannot commit too: a restart would lose
            # what it keeps in memory (STATUS says so)
            tasks.append(systemd.watchdog(
                systemd.watchdog_interval(),
                lambda: status_mod.watchdog_line(self.engine, self.store)))
        tasks = [asyncio.ensure_future(task) for task in tasks]
        LOG.info("instanceha-monitor running for host %s in %s mode; "
                 "status on %s", conf.hostname, self.engine.settings.mode,
                 web.url)
        systemd.notify("READY=1\nSTATUS=monitoring %s" % conf.hostname)
        try:
            waiter = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait(tasks + [waiter],
                                         return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not waiter and task.exception():
                    raise task.exception()
        finally:
            systemd.notify("STOPPING=1")
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.prober.close()
            await self.forensics.close()
            await self.fencer.close()
            self.watcher.close()
            for listener in listeners:
                await listener.close()
            await controls.cleanup()
            for pool in self.pools.values():
                pool.shutdown()
            self.store.close()
            LOG.info("instanceha-monitor stopped")

    async def _housekeeping(self):
        retention = self.conf.history_retention_days * 86400.0
        while True:
            pruned = self.store.prune(retention)
            if pruned:
                LOG.info("Removed %d delivered notifications older than %d "
                         "days", pruned, self.conf.history_retention_days)
            self.observe(obs.Tick())
            await asyncio.sleep(HOUSEKEEPING)

    async def _flush_store(self):
        """Write what the store keeps in memory as soon as the disk takes
        it again."""
        while True:
            await asyncio.sleep(STORE_FLUSH)
            if not self.store.health()["writable"]:
                self.store.flush()
