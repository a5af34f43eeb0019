"""A Masakari that hangs on request: an HTTP proxy in front of the real one.

It accepts every connection and reads every request; a request it is told
to hang gets no answer at all (the connection stays open, as with an API
worker stuck on its database), the others are passed to the real Masakari
and its answer back.  Runs its own asyncio loop in a thread of the caller.

    proxy = HungProxy(cloud.masakari_url).start()
    proxy.hang_all = True            # every request hangs
    proxy.hang_matching = {uuid}     # requests whose body names one of these
    proxy.url                        # endpoint_override for the monitor
    proxy.stop()
"""
import asyncio
import threading

import aiohttp
from aiohttp import web

_SKIPPED = {"host", "content-length", "transfer-encoding", "connection"}


class HungProxy:
    def __init__(self, target):
        self.target = target.rstrip("/")
        self.hang_all = False
        self.hang_matching = set()
        self.hung = 0  # requests held without an answer
        self.url = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever,
                                        daemon=True)
        self._runner = self._session = None

    def start(self):
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self):
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    async def _start(self):
        self._released = asyncio.Event()  # set at stop: hung requests end
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = "http://%s:%d" % (host, port)

    async def _stop(self):
        self._released.set()
        await self._session.close()
        await self._runner.cleanup()

    async def _handle(self, request):
        body = await request.read()
        text = body.decode(errors="replace")
        if self.hang_all or any(m in text for m in self.hang_matching):
            self.hung += 1
            await self._released.wait()  # no answer until the proxy stops
            return web.Response(status=503)
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in _SKIPPED}
        async with self._session.request(
                request.method, self.target + request.path_qs,
                headers=headers, data=body) as answer:
            payload = await answer.read()
            return web.Response(
                status=answer.status, body=payload, headers={
                    k: v for k, v in answer.headers.items()
                    if k.lower() not in _SKIPPED})
