"""The local status endpoint: /healthz, /status (JSON), /metrics, and
POST /quarantine/<uuid>/clear for the operator (local by default)."""
from aiohttp import web
import prometheus_client


class Server:
    def __init__(self, runner, url):
        self._runner = runner
        self.url = url

    async def close(self):
        await self._runner.cleanup()


async def serve(monitor, host, port):
    async def healthz(_request):
        return web.json_response({"ok": True,
                                  "libvirt": monitor.libvirt_state})

    async def status(_request):
        return web.json_response(monitor.status())

    async def metrics(_request):
        monitor.metrics.outbox_depth.set(monitor.outbox.depth())
        return web.Response(body=monitor.metrics.render(), headers={
            "Content-Type": prometheus_client.CONTENT_TYPE_LATEST})

    async def clear_quarantine(request):
        uuid = request.match_info["uuid"]
        if uuid not in monitor.policy.quarantined:
            return web.json_response(
                {"error": "%s is not quarantined" % uuid}, status=404)
        monitor.clear_quarantine(uuid)
        return web.json_response({"cleared": uuid})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/status", status)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/quarantine/{uuid}/clear", clear_quarantine)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    return Server(runner, "http://%s:%d" % (bound[0], bound[1]))
