"""Guest-agent heartbeats: every watched guest on its own schedule.

Each guest gets a fixed phase inside the interval (from its UUID), so
pings are spread out instead of all firing together.  A ping runs the
blocking ``qemuAgentCommand`` in a bounded pool of worker threads, and its
deadline starts when a worker takes it, so time spent waiting for a worker
is never counted against the guest.  When no worker is free at a guest's
slot, the heartbeat is skipped and reported as excused, not as a failure.

A hung guest's call may stay blocked (libvirt holds later agent calls
about 5 s while the agent is silent): no second call is issued while one
is in flight, and each slot it spans is one more failed heartbeat, so a
hung guest costs one worker and never delays another guest.
"""
import asyncio
import collections
import json
import logging
import time
import uuid as _uuid

import libvirt
import libvirt_qemu

from monitor import observations as obs
from monitor import threads

LOG = logging.getLogger(__name__)

PING = json.dumps({"execute": "guest-ping"})
NO_WORKER = "no free heartbeat worker"


def ping_blocking(dom, timeout):
    """One heartbeat, as a ``Heartbeat`` observation.  After a failure it
    also reads what excuses it (paused, migrating) and the balloon's
    last-update, the kernel's own sign of life at that moment."""
    uuid, sent_at = dom.UUIDString(), time.time()
    try:
        libvirt_qemu.qemuAgentCommand(dom, PING, int(max(1, timeout)), 0)
        return obs.Heartbeat(uuid, True, sent_at=sent_at)
    except libvirt.libvirtError as exc:
        detail = exc.get_error_message() or str(exc)
    excuse = stamp = None
    try:
        state, _ = dom.state()
        if state == libvirt.VIR_DOMAIN_PAUSED:
            excuse = "paused"
        elif state != libvirt.VIR_DOMAIN_RUNNING:
            excuse = "not running"
        elif dom.jobInfo()[0] != libvirt.VIR_DOMAIN_JOB_NONE:
            excuse = "migrating or another libvirt job"
    except libvirt.libvirtError:
        pass
    try:
        stamp = dom.memoryStats().get("last_update")
    except libvirt.libvirtError:
        pass
    return obs.Heartbeat(uuid, False, detail, excuse, sent_at, stamp)


def phase(uuid, interval):
    """A stable offset in [0, interval) for this guest."""
    return (_uuid.UUID(uuid).int % 1000) / 1000.0 * interval


class Prober:
    """Posts ``Heartbeat`` observations for the guests it is told to watch.

    ``domain(uuid)``: the libvirt handle on the current connection, or
    None while disconnected (then nothing is sent).
    """

    def __init__(self, domain, post, pool, interval, timeout, metrics=None,
                 ping=ping_blocking):
        self._domain = domain
        self._post = post
        self._pool = pool
        self.interval = interval
        self.timeout = timeout
        self._metrics = metrics
        self._ping = ping
        self._tasks = {}
        # uuid -> (planned slot, loop time a worker took the ping), last 20
        self.issued = {}

    def watch(self, uuid):
        task = self._tasks.get(uuid)
        if task is None or task.done():
            self._tasks[uuid] = asyncio.ensure_future(self._run(uuid))

    def unwatch(self, uuid):
        self.issued.pop(uuid, None)
        task = self._tasks.pop(uuid, None)
        if task is not None:
            task.cancel()
        return task

    @property
    def watching(self):
        return len(self._tasks)

    async def close(self):
        tasks = [self.unwatch(uuid) for uuid in list(self._tasks)]
        await asyncio.gather(*tasks, return_exceptions=True)

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
            dom = self._domain(uuid)
            if dom is None:
                continue  # libvirt is away: nothing to ask
            if inflight is not None and not inflight.done():
                self._post(obs.Heartbeat(
                    uuid, False, "the previous heartbeat is still "
                    "unanswered"))
                continue
            if self._pool.idle < 1:
                self._post(obs.Heartbeat(uuid, False, NO_WORKER, NO_WORKER))
                continue
            started, inflight = self._pool.call(self._ping, dom,
                                                self.timeout)
            self._post(await self._answer(uuid, planned, started, inflight))

    async def _answer(self, uuid, planned, started, inflight):
        try:  # the worker is free (checked above): it starts at once
            began = await threads.within(asyncio.shield(started),
                                         self.interval)
        except asyncio.TimeoutError:
            return obs.Heartbeat(uuid, False, NO_WORKER, NO_WORKER)
        history = self.issued.setdefault(uuid, collections.deque(maxlen=20))
        history.append((planned, began))
        clock = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            beat = await threads.within(
                asyncio.shield(inflight),
                max(0.0, began + self.timeout + 0.5 - loop.time()))
        except asyncio.TimeoutError:
            inflight.add_done_callback(lambda f: self._late(uuid, f))
            return obs.Heartbeat(uuid, False, "no answer within %.1f s" % (
                self.timeout), sent_at=time.time() - (loop.time() - began))
        if self._metrics is not None:
            self._metrics.ping_latency.observe(time.perf_counter() - clock)
        return beat

    def _late(self, uuid, future):
        """A call that outlived its slot: a late answer still proves life."""
        if future.cancelled() or future.exception() is not None:
            return
        if future.result().ok and uuid in self._tasks:
            self._post(future.result())
