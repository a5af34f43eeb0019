"""The monitor process: libvirt events → decisions → outbox → Masakari.

One asyncio loop carries libvirt's events, the delivery worker and the
status endpoint.  A decision is committed to the outbox inside the libvirt
callback, before anything touches the network.
"""
import asyncio
import datetime
import logging
import os
import time
from pathlib import Path

from monitor import delivery as _delivery
from monitor import events
from monitor import inventory as _inventory
from monitor import libvirt_watch
from monitor import masakari
from monitor import metrics as _metrics
from monitor import outbox as _outbox
from monitor import status_http

LOG = logging.getLogger(__name__)

RECENT_ENTRIES = 50


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
        if send is None:
            connection = masakari.connect(conf)
            send = lambda body: masakari.send(connection, body)  # noqa: E731
        self.delivery = _delivery.Delivery(
            self.outbox, send, clock, self.metrics,
            base_delay=conf.callback.retry_interval,
            max_delay=conf.callback.retry_max_interval)
        self.watcher = libvirt_watch.Watcher(
            conf.libvirt.connection_uri, self,
            keepalive_interval=conf.libvirt.keepalive_interval,
            keepalive_count=conf.libvirt.keepalive_count,
            max_backoff=conf.libvirt.reconnect_max_delay)
        self.libvirt_state = {"uri": conf.libvirt.connection_uri,
                              "connected": False, "since": None,
                              "last_error": None}
        self.status_url = None

    # -- lifecycle -----------------------------------------------------
    async def run(self, stop):
        """Run until ``stop`` (an asyncio.Event) is set."""
        server = await status_http.serve(self, self.conf.status.listen,
                                         self.conf.status.port)
        self.status_url = server.url
        (self.state_path / "status.url").write_text(server.url)
        tasks = [asyncio.ensure_future(self.delivery.run()),
                 asyncio.ensure_future(self.watcher.run())]
        LOG.info("instanceha-monitor running for host %s; status on %s",
                 self.conf.hostname, server.url)
        try:
            waiter = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait(
                tasks + [waiter], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not waiter and task.exception():
                    raise task.exception()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.watcher.close()
            await server.close()
            self.outbox.close()
            self.inventory.close()
            LOG.info("instanceha-monitor stopped")

    # -- handler for the watcher (on the loop) -------------------------
    def connection_changed(self, connected, error):
        if connected != self.libvirt_state["connected"]:
            self.libvirt_state["since"] = iso(self.clock())
        self.libvirt_state["connected"] = connected
        if error:
            self.libvirt_state["last_error"] = error
        self.metrics.libvirt_connected.set(1 if connected else 0)

    def reconciled(self, states):
        """After every (re)connect: report deaths missed while away."""
        for domain, boot, classified in events.deaths_while_away(
                self.inventory.known_running(), states):
            LOG.warning("Domain %s (%s) died while unobserved: %s",
                        domain.name, domain.uuid, classified.why)
            self._decide(domain.uuid, domain.name, boot, classified,
                         self.clock(), state=domain.state)
            self.inventory.mark_stopped(domain.uuid)
        for domain in states.values():
            if events.is_running(domain.state):
                self.inventory.mark_running(domain.uuid, domain.name,
                                            domain.dom_id)
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

    def io_error(self, dom, action):
        uuid, name = dom.UUIDString(), dom.name()
        classified = events.classify_io_error(action)
        self.metrics.events.labels(classified.name).inc()
        self._decide(uuid, name, self.inventory.boot_of(uuid), classified,
                     self.clock())

    def _decide(self, uuid, name, boot, classified, now, **view):
        payload = events.payload_for(classified,
                                     self.conf.forward_ignored_events)
        decision = "notify %s/%s" % payload if payload else "record only"
        if payload:
            body = {"type": "VM", "hostname": self.conf.hostname,
                    "generated_time": iso(now),
                    "payload": {"event": payload[0], "instance_uuid": uuid,
                                "vir_domain_event": payload[1]}}
            key = events.incident_key(uuid, boot, payload)
            if not classified.masakari:  # forwarded: each one is its own
                key += "/" + body["generated_time"]
            if self.outbox.add(key, body):
                LOG.log(logging.WARNING if classified.masakari
                        else logging.INFO, "%s (%s): %s -> %s", name, uuid,
                        classified.why, decision)
                self.delivery.wake()
            else:
                decision += " (already recorded)"
        self.inventory.observe(uuid, name, last_event=classified.name,
                               last_event_at=iso(now),
                               last_decision=decision,
                               reason=classified.why, **view)

    # -- status --------------------------------------------------------
    def status(self):
        entries = self.outbox.entries()
        pending = [e for e in entries if e["state"] == _outbox.PENDING]
        self.metrics.outbox_depth.set(len(pending))
        return {
            "hostname": self.conf.hostname,
            "pid": os.getpid(),
            "libvirt": dict(self.libvirt_state),
            "domains": self.inventory.view(),
            "outbox": {
                "pending": len(pending),
                "entries": [_entry_view(e) for e in
                            (pending + [e for e in entries
                                        if e["state"] != _outbox.PENDING]
                             [-RECENT_ENTRIES:])],
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
