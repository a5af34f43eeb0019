"""The local status endpoint: /healthz, /status (JSON) and /metrics.

Read-only and on 127.0.0.1 by default.  What changes the monitor's
decisions (clearing a quarantine) is not here but on the control socket,
which only root reaches (``control``).
"""
from aiohttp import web
import prometheus_client


class Server:
    def __init__(self, runner, url):
        self._runner = runner
        self.url = url

    async def close(self):
        await self._runner.cleanup()


async def serve(status, metrics, health, host, port):
    """``status()`` and ``health()`` return JSON-able dicts, ``metrics()``
    Prometheus' text format.  /healthz answers 503 when ``health()`` says
    ``"ok": false``, so a plain HTTP check sees it."""
    async def healthz(_request):
        state = health()
        return web.json_response(state,
                                 status=200 if state.get("ok", True) else 503)

    async def status_page(_request):
        return web.json_response(status())

    async def metrics_page(_request):
        return web.Response(body=metrics(), headers={
            "Content-Type": prometheus_client.CONTENT_TYPE_LATEST})

    async def moved(_request):
        return web.json_response(
            {"error": "not here: run 'instanceha-monitor clear-quarantine "
                      "UUID' as root on the host (local control socket)"},
            status=403)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/status", status_page)
    app.router.add_get("/metrics", metrics_page)
    app.router.add_post("/quarantine/{uuid}/clear", moved)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    return Server(runner, "http://%s:%d" % (bound[0], bound[1]))
