"""libvirt event → store commit latency, on the in-process test driver.

With forward_ignored_events every lifecycle event becomes an outbox entry,
so real events (suspend/resume of a test-driver domain) are each committed
(WAL, synchronous=FULL).  The latency is what the monitor's own
``instanceha_event_commit_seconds`` histogram observes: from libvirt's
callback to the end of the commit.  Run by hand:

    python -m bench.event_commit [EVENTS]
"""
import statistics
import sys
import tempfile
from pathlib import Path

from monitor import delivery
from tests import monitor_harness as harness


def accept(body):
    return delivery.accepted("", "n")


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
        monitor.wait_for(lambda: samples)
        for index in range(events):
            before = len(samples)
            (dom.resume if index % 2 else dom.suspend)()
            monitor.wait_for(lambda n=before: len(samples) > n)
        monitor.stop()
        doms.cleanup()
    latencies = sorted(s * 1000 for s in samples[1:])
    print("events: %d  event->commit ms: p50 %.3f  p99 %.3f  max %.3f  "
          "mean %.3f" % (len(latencies), statistics.median(latencies),
                         latencies[int(len(latencies) * 0.99) - 1],
                         latencies[-1], statistics.mean(latencies)))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
