"""Prometheus metrics of one monitor process (own registry, no globals).

Every labelled counter starts at 0 for each label value it can take, so
an alert on ``increase()`` works from the first scrape.  Every sample
carries ``host``, the monitor's ``[DEFAULT] hostname`` (the name Nova and
Masakari know the host by), so the fleet view maps a monitor to its
compute host whatever address Prometheus scrapes.  No label names an
instance: the metrics can leave the host.
"""
import importlib.metadata

import prometheus_client as prom
from prometheus_client import metrics_core

from monitor import delivery
from monitor import engine
from monitor import events
from monitor import pause


def version():
    try:
        return importlib.metadata.version("osc-instanceha")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def event_labels():
    names = {events.event_name(event, detail)
             for event, details in events.DETAIL_NAMES.items()
             for detail in details}
    names.update(("IO_ERROR_REPORT", "IO_ERROR_NONE", "IO_ERROR_PAUSE",
                  "AGENT_CONNECTED", "AGENT_DISCONNECTED",
                  "AGENT_DISCONNECTED_CHANNEL", "REBOOT"))
    return sorted(names)


# how a domain's hang would be found now (engine.Engine.detection_counts)
DETECTION = ("agent", "kernel", "none", "off")


class HostLabelled:
    """A collector that gives every sample of ``registry`` the label
    ``host``."""

    def __init__(self, registry, host):
        self.registry, self.host = registry, host

    def collect(self):
        for family in self.registry.collect():
            labelled = metrics_core.Metric(family.name, family.documentation,
                                           family.type, family.unit)
            for sample in family.samples:
                labelled.add_sample(sample.name,
                                    dict(sample.labels, host=self.host),
                                    sample.value, sample.timestamp,
                                    sample.exemplar)
            yield labelled


class Metrics:
    def __init__(self, host=None):
        """``host``: the label every sample gets (None: none, for the
        tests of the registry alone)."""
        r = self.registry = prom.CollectorRegistry()
        self._exported = r if host is None else HostLabelled(r, host)
        self.build_info = prom.Gauge(
            "instanceha_build_info", "The monitor's version (always 1)",
            ["version"], registry=r)
        self.build_info.labels(version()).set(1)
        self.monitor_info = prom.Gauge(
            "instanceha_monitor_info", "The monitor's version and mode "
            "(enforce or shadow), always 1", ["version", "mode"],
            registry=r)
        self.paused_until = prom.Gauge(
            "instanceha_paused_until_timestamp_seconds",
            "Unix time at which the operator's pause of this host ends "
            "(0: not paused)", registry=r)
        self.would_recover = prom.Counter(
            "instanceha_would_recover",
            "Shadow mode: decisions that enforce mode would have sent, by "
            "kind (death, hang, io-error, forwarded)", ["kind"],
            registry=r)
        self.events = prom.Counter(
            "instanceha_libvirt_events", "libvirt events seen (and deaths "
            "found by a listing after a reconnect)", ["event"], registry=r)
        self.notifications = prom.Counter(
            "instanceha_notifications", "Delivery attempts by outcome",
            ["result"], registry=r)
        self.outbox_depth = prom.Gauge(
            "instanceha_outbox_depth", "Notifications not yet delivered",
            registry=r)
        self.oldest_pending = prom.Gauge(
            "instanceha_outbox_oldest_pending_seconds",
            "Age of the oldest notification not yet delivered (0: none)",
            registry=r)
        self.withdrawn = prom.Counter(
            "instanceha_notifications_withdrawn",
            "Pending notifications withdrawn, never sent: the failure no "
            "longer held (the guest answered again, runs again)",
            registry=r)
        self.store_writable = prom.Gauge(
            "instanceha_store_writable",
            "1 while the state store commits; 0: it keeps decisions and "
            "outcomes in memory (full, read-only or failing disk), which a "
            "restart would lose", registry=r)
        self.store_unwritten = prom.Gauge(
            "instanceha_store_unwritten",
            "Changes the state store keeps in memory, not yet on disk",
            registry=r)
        self.overdue = prom.Gauge(
            "instanceha_outbox_overdue",
            "Notifications pending longer than [callback] retry_max x "
            "retry_interval", registry=r)
        self.delivery_latency = prom.Histogram(
            "instanceha_delivery_latency_seconds",
            "From the decision to the backend's acceptance",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900,
                     3600), registry=r)
        self.commit_latency = prom.Histogram(
            "instanceha_event_commit_seconds",
            "From the libvirt callback to the store commit",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                     0.25), registry=r)
        self.ping_latency = prom.Histogram(
            "instanceha_heartbeat_seconds", "Guest-agent ping round trip",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
            registry=r)
        self.heartbeat_failures = prom.Counter(
            "instanceha_heartbeat_failures",
            "Failed heartbeats (excused: paused, migrating, not running, "
            "no free worker)", ["kind"], registry=r)
        self.decisions = prom.Counter(
            "instanceha_decisions", "Decisions by kind", ["action"],
            registry=r)
        self.libvirt_connected = prom.Gauge(
            "instanceha_libvirt_connected", "1 while connected to libvirt",
            registry=r)
        self.host_alert = prom.Gauge(
            "instanceha_host_alert",
            "1 while no guest is declared hung: the host is stalled or "
            "the storm guard holds it suspect", registry=r)
        self.host_stalled = prom.Gauge(
            "instanceha_host_stalled",
            "1 while host-level evidence (pressure stall information, the "
            "monitor's loop lag, a stuck libvirt, stopped QEMUs) shows "
            "the host stalled", registry=r)
        self.quarantined = prom.Gauge(
            "instanceha_quarantined",
            "VMs quarantined (restart budget exhausted)", registry=r)
        self.fences = prom.Counter(
            "instanceha_fences",
            "Hung guests whose recovery Masakari accepted, by what became "
            "of their fence: done (destroyed here), skipped (Nova busy or "
            "unreadable, the guest excused or answering again), failed",
            ["result"], registry=r)
        self.fence_seconds = prom.Histogram(
            "instanceha_fence_seconds",
            "How long destroying a hung guest took",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30),
            registry=r)
        self.domains = prom.Gauge(
            "instanceha_domains",
            "Domains the monitor knows, by what would find a hang of each "
            "now: agent (the guest agent, with the kernel heartbeat), "
            "kernel (the kernel heartbeat alone), none, off (not running "
            "or excused)", ["detection"], registry=r)
        self.scrape_time = prom.Gauge(
            "instanceha_scrape_timestamp_seconds",
            "The monitor's clock when this scrape was served: the fleet "
            "view's 'last seen' (max_over_time keeps it after the monitor "
            "stops)", registry=r)
        for counter, labels in (
                (self.domains, DETECTION),
                (self.events, event_labels()),
                (self.notifications, delivery.OUTCOMES),
                (self.decisions, engine.DECISIONS),
                (self.fences, engine.FENCES),
                (self.would_recover, engine.WOULD_RECOVER),
                (self.heartbeat_failures, ("counted", "excused"))):
            for label in labels:
                counter.labels(label)

    def count(self, metric, label):
        getattr(self, metric).labels(label).inc()

    def refresh(self, store, engine, now, overdue_after):
        """The gauges read at scrape time."""
        oldest = store.oldest_pending()
        health = store.health()
        self.store_writable.set(int(health["writable"]))
        self.store_unwritten.set(health["unwritten"])
        self.outbox_depth.set(store.depth())
        self.oldest_pending.set(0 if oldest is None else now - oldest)
        self.overdue.set(store.overdue(now - overdue_after))
        self.libvirt_connected.set(int(engine.connected))
        self.host_alert.set(int(engine.storm.active or bool(engine.stall)))
        self.host_stalled.set(int(bool(engine.stall)))
        self.quarantined.set(len(engine.budget.quarantined))
        counts = engine.detection_counts(now)
        for detection in DETECTION:
            self.domains.labels(detection).set(counts.get(detection, 0))
        self.scrape_time.set(now)
        self.monitor_info.clear()  # one series: the mode in use now
        self.monitor_info.labels(version(), engine.settings.mode).set(1)
        self.paused_until.set(
            engine.host_paused_until if pause.active(
                engine.host_paused_until, now) else 0)

    def render(self):
        return prom.generate_latest(self._exported)
