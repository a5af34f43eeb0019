"""Fencing: a hung guest ended here, so that Nova's stop finds it off.

Carries out the engine's ``Fence`` effects: ``virDomainDestroy`` of the
domain, only while it still runs as the QEMU process the engine judged
(its domain ID: a domain started again meanwhile is left alone).  Runs in
a worker of a pool of its own, with a libvirt connection of its own, as
forensics do: a destroy never waits behind the libvirt pool's listings
and statistics, and a destroy stuck on a hung QEMU or libvirtd takes no
worker from them.  Each destroy is waited for at most ``deadline``
seconds; when every worker is still held by an earlier one, a new fence
fails at once.  ``Fenced`` says how it went and how long it took.
"""
import asyncio
import logging
import time

import libvirt

from monitor import observations as obs
from monitor import threads

LOG = logging.getLogger(__name__)

WORKERS = 2  # the fence pool's size (service.Monitor makes it)
# libvirt's destroy sends SIGTERM, waits up to 10 s, sends SIGKILL and
# waits a few seconds more; a QEMU that outlives that is stuck in the
# kernel, and the deadline ends the wait for it
DEADLINE = 30.0


class NotFenced(Exception):
    """Nothing of the judged QEMU process is left to end."""


def destroy(uri, uuid, dom_id):
    """Destroy the domain ``uuid`` if it runs as ``dom_id``; the seconds
    it took (connection included).  Blocking: run in a worker."""
    started = time.monotonic()
    conn = libvirt.open(uri)
    try:
        try:  # a hung libvirtd then fails the calls instead of holding them
            conn.setKeepAlive(2, 3)
        except libvirt.libvirtError:
            pass  # in-process drivers (test:///) have no keepalive
        try:
            dom = conn.lookupByUUIDString(uuid)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                raise NotFenced("the domain is gone") from exc
            raise
        if not dom.isActive():
            raise NotFenced("the domain was off already")
        if dom.ID() != dom_id:
            raise NotFenced("the domain runs as another QEMU process (id %d,"
                            " not %d): started again meanwhile" % (
                                dom.ID(), dom_id))
        try:
            dom.destroy()
        except libvirt.libvirtError:
            if not dom.isActive():
                raise NotFenced("the domain stopped meanwhile") from None
            raise
    finally:
        conn.close()
    return time.monotonic() - started


class Fencer:
    """Runs a destroy for each ``Fence`` effect and posts ``Fenced``."""

    def __init__(self, uri, post, pool, metrics=None, deadline=DEADLINE,
                 enforcing=lambda: True):
        """``enforcing()``: False in shadow mode, where nothing is
        destroyed (the engine asks for no fence then either)."""
        self.enforcing = enforcing
        self._uri = uri
        self._post = post
        self._pool = pool
        self._metrics = metrics
        self.deadline = deadline
        self._tasks = set()

    def start(self, effect):
        task = asyncio.ensure_future(self._fence(effect))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fence(self, effect):
        took = error = skipped = None
        if not self.enforcing():
            skipped = "shadow mode: nothing is fenced"
        elif self._pool.idle < 1:
            error = ("no free fence worker: all %d are still held by "
                     "earlier destroys that outlived their deadline (a "
                     "hung QEMU or libvirtd)" % self._pool.size)
        else:
            try:
                took = await threads.within(self._pool.run(
                    destroy, self._uri, effect.uuid, effect.dom_id),
                    self.deadline)
            except asyncio.TimeoutError:
                error = "no answer from libvirt within %g s" % self.deadline
            except NotFenced as exc:
                skipped = str(exc)
            except libvirt.libvirtError as exc:
                error = "libvirt: %s" % (exc or "error")
            except Exception as exc:  # the recovery goes on regardless
                LOG.exception("Fence of %s failed", effect.uuid)
                error = "%s: %s" % (type(exc).__name__, exc)
        if took is not None and self._metrics is not None:
            self._metrics.fence_seconds.observe(took)
        self._post(obs.Fenced(effect.uuid, effect.key, took, error, skipped))

    async def close(self):
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
