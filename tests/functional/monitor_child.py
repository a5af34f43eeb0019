"""The real ``instanceha-monitor start`` in a process of its own, with N
QEMU process deaths on libvirt's in-process test driver (which only this
process can see), for the tests that signal or kill the monitor.

    python -m tests.functional.monitor_child CONFIG N UNTIL

It prints ``READY ["uuid", ...]`` once every death is in the store and
UNTIL holds: ``attempted`` (each entry tried at least once) or
``in-flight`` (a send of each is under way), then runs until signalled.
The monitor itself runs exactly as the console script runs it: its
signal handlers, its loop, its exit.
"""
import asyncio
import json
import sys
import threading
import time

import libvirt

from monitor import cmd
from monitor import service
from tests import monitor_harness as harness


def _on_loop(monitor, func):
    async def call():
        return func()
    return asyncio.run_coroutine_threadsafe(
        call(), monitor.watcher._loop).result(10)


def _wait(monitor, predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if monitor.watcher._loop is not None and _on_loop(monitor, predicate):
            return
        time.sleep(0.05)
    raise SystemExit("condition not met within %s s" % timeout)


def _deaths(captured, count, until):
    while not captured:
        time.sleep(0.05)
    monitor = captured[0]
    _wait(monitor, lambda: monitor.engine.connected)
    doms = harness.TestDomains().create(count)
    uuids = [d.UUIDString() for d in doms]
    _wait(monitor, lambda: all(u in monitor.engine.guests and
                               monitor.engine.guests[u].boot for u in uuids))
    watcher = monitor.watcher
    for dom in doms:
        handle = watcher.conn.lookupByUUIDString(dom.UUIDString())
        watcher._on_lifecycle(watcher.conn, handle,
                              libvirt.VIR_DOMAIN_EVENT_STOPPED,
                              libvirt.VIR_DOMAIN_EVENT_STOPPED_FAILED, None)
    if until == "attempted":
        _wait(monitor, lambda: len(monitor.store.entries()) == count and all(
            e["attempts"] >= 1 for e in monitor.store.entries()))
    else:
        _wait(monitor, lambda: len(monitor.delivery._inflight) == count)
    print("READY " + json.dumps(uuids), flush=True)


def main():
    conf, count, until = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    captured = []
    original = service.Monitor.__init__

    def capture(self, *args, **kwargs):
        original(self, *args, **kwargs)
        captured.append(self)

    service.Monitor.__init__ = capture
    threading.Thread(target=_deaths, args=(captured, count, until),
                     daemon=True).start()
    sys.exit(cmd.main(["start", "--config-file", conf]))


if __name__ == "__main__":
    main()
