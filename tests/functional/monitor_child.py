"""A monitor process for the SIGKILL test: records N process deaths while
Masakari is away, says READY, and waits to be killed.

Usage: python -m tests.functional.monitor_child CONFIG N
"""
import json
import sys
import time


from tests import monitor_harness as harness


def main():
    conf = harness.load_conf(sys.argv[1])
    count = int(sys.argv[2])
    monitor = harness.RunningMonitor(conf)
    doms = harness.TestDomains().create(count)
    monitor.process_dies(*doms)
    monitor.wait_for(lambda: all(
        e["attempts"] >= 1 for e in monitor.monitor.outbox.entries())
        and len(monitor.monitor.outbox.entries()) == count, timeout=60)
    print("READY " + json.dumps([d.UUIDString() for d in doms]), flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
