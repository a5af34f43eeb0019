"""libvirt event → outbox commit latency, on the in-process test driver.

With forward_ignored_events every lifecycle event becomes an outbox entry,
so real events (suspend/resume of a test-driver domain) can be timed from
the API call that causes them to the committed row.  Run by hand:

    python -m bench.event_commit [EVENTS]
"""
import statistics
import sys
import tempfile
import time
from pathlib import Path

from monitor import delivery
from tests import monitor_harness as harness


def main(events=200):
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
""".format(state=Path(tmp) / "state")))
        monitor = harness.RunningMonitor(
            conf, send=lambda body: delivery.Answer(202, "", "n"))
        doms = harness.TestDomains()
        dom, = doms.create()
        outbox = monitor.monitor.outbox
        monitor.wait_for(lambda: len(outbox.entries()) >= 1)
        latencies = []
        for index in range(events):
            before = len(monitor.loop.call(outbox.entries))
            started = time.time()
            (dom.resume if index % 2 else dom.suspend)()
            monitor.wait_for(lambda n=before: len(outbox.entries()) > n)
            created = monitor.loop.call(outbox.entries)[-1]["created_at"]
            latencies.append((created - started) * 1000)
        monitor.stop()
        doms.cleanup()
    latencies.sort()
    print("events: %d  event->commit ms: p50 %.3f  p99 %.3f  max %.3f  "
          "mean %.3f" % (len(latencies), statistics.median(latencies),
                         latencies[int(len(latencies) * 0.99) - 1],
                         latencies[-1], statistics.mean(latencies)))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
