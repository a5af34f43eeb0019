"""Guest-agent heartbeats: every guest on its own schedule, concurrently.

Each guest gets a fixed phase inside the interval (from its UUID), so pings
are spread out instead of all firing together.  A ping runs the blocking
``qemuAgentCommand`` in a bounded thread pool; the loop waits at most the
timeout for it.  A hung guest's call may stay blocked (libvirt holds later
calls ≈ 5 s while the agent is silent): no second call is issued while one
is in flight, and each slot it spans counts as one more failed heartbeat, so
a hung guest costs one worker and never delays any other guest's schedule.
"""
import asyncio
import concurrent.futures
import json
import logging
import time
import uuid as _uuid

import libvirt
import libvirt_qemu

LOG = logging.getLogger(__name__)

PING = json.dumps({"execute": "guest-ping"})


def ping_blocking(dom, timeout):
    """(ok, detail, busy): busy names a state that excuses a failure."""
    try:
        libvirt_qemu.qemuAgentCommand(dom, PING, int(max(1, timeout)), 0)
        return True, "", None
    except libvirt.libvirtError as exc:
        detail = exc.get_error_message() or str(exc)
    busy = None
    try:
        state, reason = dom.state()
        if state == libvirt.VIR_DOMAIN_PAUSED:
            busy = "paused"
        elif state != libvirt.VIR_DOMAIN_RUNNING:
            busy = "not running"
        elif dom.jobInfo()[0] != libvirt.VIR_DOMAIN_JOB_NONE:
            busy = "migrating or another libvirt job"
    except libvirt.libvirtError:
        pass
    return False, detail, busy


def phase(uuid, interval):
    """A stable offset in [0, interval) for this guest."""
    return (_uuid.UUID(uuid).int % 1000) / 1000.0 * interval


class Prober:
    """Feeds ``handler.heartbeat(uuid, ok, detail, busy, latency)`` and asks
    ``handler.wants_heartbeat(uuid)`` before each ping."""

    def __init__(self, handler, interval, timeout, workers):
        self._handler = handler
        self.interval = interval
        self.timeout = timeout
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="guest-ping")
        self._tasks = {}
        self._doms = {}  # uuid -> handle; a reconnect brings new ones
        self.schedule = {}  # uuid -> planned times of the last pings (status)

    def watch(self, uuid, dom):
        self._doms[uuid] = dom
        task = self._tasks.get(uuid)
        if task is None or task.done():
            self._tasks[uuid] = asyncio.ensure_future(self._run(uuid))

    def unwatch(self, uuid):
        self._doms.pop(uuid, None)
        task = self._tasks.pop(uuid, None)
        if task is not None:
            task.cancel()
        return task

    async def close(self):
        tasks = [self.unwatch(uuid) for uuid in list(self._tasks)]
        await asyncio.gather(*tasks, return_exceptions=True)
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _run(self, uuid):
        while True:
            try:
                await self._beat(uuid)
            except asyncio.CancelledError:
                raise
            except Exception:  # loud, and the schedule goes on
                LOG.exception("Heartbeat of %s failed unexpectedly; "
                              "resuming its schedule", uuid)
                await asyncio.sleep(self.interval)

    async def _beat(self, uuid):
        loop = asyncio.get_running_loop()
        next_at = loop.time() + phase(uuid, self.interval)
        inflight = None
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            planned = next_at
            next_at += self.interval
            while next_at <= loop.time():  # never bunch up after a stall
                next_at += self.interval
            if not self._handler.wants_heartbeat(uuid):
                continue
            self.schedule.setdefault(uuid, []).append(
                (planned, loop.time()))
            del self.schedule[uuid][:-20]
            if inflight is not None and not inflight.done():
                self._handler.heartbeat(uuid, False, "the previous "
                                        "heartbeat is still unanswered",
                                        None, None)
                continue
            started = time.perf_counter()
            inflight = loop.run_in_executor(self._pool, ping_blocking,
                                            self._doms[uuid], self.timeout)
            try:
                ok, detail, busy = await asyncio.wait_for(
                    asyncio.shield(inflight), self.timeout + 0.5)
            except asyncio.TimeoutError:
                ok, detail, busy = False, "no answer within %.1f s" % (
                    self.timeout), None
                inflight.add_done_callback(
                    lambda f, u=uuid: self._late(u, f))
            self._handler.heartbeat(uuid, ok, detail, busy,
                                    time.perf_counter() - started)

    def _late(self, uuid, future):
        """A call that outlived its slot: a late answer still proves life."""
        if future.cancelled() or future.exception() is not None:
            return
        if future.result()[0]:
            self._handler.heartbeat(uuid, True, "late answer", None, None)
