"""Prometheus metrics of one monitor process (own registry, no globals)."""
import prometheus_client as prom


class Metrics:
    def __init__(self):
        self.registry = prom.CollectorRegistry()
        self.events = prom.Counter(
            "instanceha_libvirt_events", "libvirt events seen",
            ["event"], registry=self.registry)
        self.notifications = prom.Counter(
            "instanceha_notifications", "Delivery attempts by outcome",
            ["result"], registry=self.registry)
        self.outbox_depth = prom.Gauge(
            "instanceha_outbox_depth", "Notifications not yet delivered",
            registry=self.registry)
        self.delivery_latency = prom.Histogram(
            "instanceha_delivery_latency_seconds",
            "From the decision to Masakari's final answer",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900,
                     3600), registry=self.registry)
        self.commit_latency = prom.Histogram(
            "instanceha_event_commit_seconds",
            "From the libvirt callback to the outbox commit",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                     0.25), registry=self.registry)
        self.ping_latency = prom.Histogram(
            "instanceha_heartbeat_seconds", "Guest-agent ping round trip",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
            registry=self.registry)
        self.heartbeat_failures = prom.Counter(
            "instanceha_heartbeat_failures",
            "Failed heartbeats (excused: paused, migrating, not running)",
            ["kind"], registry=self.registry)
        self.decisions = prom.Counter(
            "instanceha_decisions", "Policy decisions by action",
            ["action"], registry=self.registry)
        self.libvirt_connected = prom.Gauge(
            "instanceha_libvirt_connected", "1 while connected to libvirt",
            registry=self.registry)

    def render(self):
        return prom.generate_latest(self.registry)
