"""libvirt event → store commit → the send leaves, on the test driver.

With forward_ignored_events every lifecycle event becomes an outbox entry,
so real events (suspend/resume of a test-driver domain) are each committed
(WAL, synchronous=FULL) and sent.  Two latencies: what the monitor's own
``instanceha_event_commit_seconds`` histogram observes (libvirt's callback
→ end of the commit), and from the API call that causes the event to the
moment the backend's send function is called in its worker thread (the
POST leaving).  Run by hand:

    python -m bench.event_commit [EVENTS]
"""
import statistics
import sys
import tempfile
import time
from pathlib import Path

from monitor import delivery
from tests import monitor_harness as harness

SENT = []


def accept(body):
    SENT.append(time.perf_counter())
    return delivery.accepted("", "n")


def summary(name, values):
    values = sorted(v * 1000 for v in values)
    return "%s ms: p50 %.3f  p99 %.3f  max %.3f  mean %.3f" % (
        name, statistics.median(values), values[int(len(values) * 0.99) - 1],
        values[-1], statistics.mean(values))


def main(events=500):
    with tempfile.TemporaryDirectory() as tmp:
        conf = harness.load_conf(harness.write_conf(Path(tmp), """\
[DEFAULT]
hostname = bench
state_path = {state}
forward_ignored_events = true
[libvirt]
connection_uri = test:///default
[status]
port = 0
[forensics]
enabled = false
""".format(state=Path(tmp) / "state")))
        monitor = harness.RunningMonitor(conf, send=accept)
        samples = []
        histogram = monitor.monitor.metrics.commit_latency
        observe = histogram.observe
        histogram.observe = lambda value: (samples.append(value),
                                           observe(value))
        doms = harness.TestDomains()
        dom, = doms.create()
        monitor.wait_for(lambda: samples and SENT)
        to_send = []
        for index in range(events):
            before, sent = len(samples), len(SENT)
            caused = time.perf_counter()
            (dom.resume if index % 2 else dom.suspend)()
            monitor.wait_for(lambda n=before, m=sent: len(samples) > n and
                             len(SENT) > m)
            to_send.append(SENT[sent] - caused)
        monitor.stop()
        doms.cleanup()
    print("events: %d  %s\n%s" % (
        len(to_send), summary("event->commit", samples[1:]),
        summary("API call->send leaves", to_send)))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
