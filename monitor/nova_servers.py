"""This host's servers as Nova sees them: HA_Enabled, vm_state and
task_state, read every ``refresh`` seconds and whenever the engine asks
(``fx.ReadNova``: a verdict waits on what Nova is doing to the server).

One listing per reading, ``GET /servers/detail?all_projects=True&host=H``
(openstacksdk's ``compute_host`` filter; the [api] credentials need to
list servers of all projects), consumed in a worker of the given pool and
posted as ``NovaServers``.  A failure or no answer within ``timeout`` posts
``NovaServers(None, why)``: the engine then knows it cannot tell, and
one warning says so until Nova answers again.  A reading stuck in its
worker past its timeout is not joined by another: the next one fails at
once with that reason.  Each reading says when its request was sent
(``read_at``), so that a fence waits for one begun after it asked.
"""
import asyncio
import logging
import time

from monitor import masakari
from monitor import observations as obs
from monitor import threads

LOG = logging.getLogger(__name__)
READ_TIMEOUT = 60.0


class NovaServers:
    """``await run()`` reads every ``refresh`` s; ``read_now()`` asks for
    a reading at once.  Requests while a reading runs are coalesced: they
    make one more reading after it, however many they are."""

    def __init__(self, connect, hostname, post, pool, refresh,
                 timeout=READ_TIMEOUT, clock=time.time):
        self._connect = connect
        self.hostname = hostname
        self._post = post
        self._pool = pool
        self.refresh = refresh
        self.timeout = timeout
        self._clock = clock
        self._wake = asyncio.Event()
        self._reading = None  # the listing in its worker
        self._failing = None  # the reason last warned about
        self.readings = 0

    def read_now(self):
        self._wake.set()

    async def run(self):
        while True:
            self._wake.clear()  # asked from now on: one more reading
            await self.read_once()
            try:
                await threads.within(self._wake.wait(), self.refresh)
            except asyncio.TimeoutError:
                pass

    def _read(self):
        return masakari.host_servers(self._connect(), self.hostname)

    async def read_once(self):
        self.readings += 1
        read_at = self._clock()
        if self._reading is not None and not self._reading.done():
            self._failed("the previous reading is still unanswered after "
                         "%g s" % self.timeout, read_at)
            return
        self._reading = self._pool.run(self._read)
        try:
            servers = await threads.within(asyncio.shield(self._reading),
                                           self.timeout)
        except asyncio.TimeoutError:
            self._failed("no answer within %g s" % self.timeout, read_at)
            return
        except Exception as exc:  # any failure: the engine cannot tell
            self._failed(masakari.describe(exc), read_at)
            return
        if self._failing is not None:
            LOG.warning("Nova's servers on %s are readable again",
                        self.hostname)
            self._failing = None
        self._post(obs.NovaServers(servers, None, read_at))

    def _failed(self, why, read_at):
        if self._failing != why:
            LOG.warning("Cannot read this host's servers from Nova: %s",
                        why)
            self._failing = why
        self._post(obs.NovaServers(None, why, read_at))
