"""The monitor's HTTP listeners: the local status endpoint (/healthz,
/metrics) and the optional metrics listener (/metrics, /healthz) that
Prometheus scrapes from another host.

Neither tells which instances run here: the status document (/status)
names them and is served on the control socket alone, to root and the
monitor's user (``control``).  What changes the monitor's decisions
(clearing a quarantine) is there too.
"""
from aiohttp import web
import prometheus_client

MOVED = ("not here: run 'instanceha-monitor status' as root on the host "
         "(the status document names the instances; it is on the local "
         "control socket)")


class ListenError(OSError):
    """A listener could not bind; ``options`` names the two options that
    set its address and port."""

    def __init__(self, exc, host, port, options):
        super().__init__(exc.errno, exc.strerror)
        self.host, self.port, self.options = host, port, options


class Server:
    def __init__(self, runner, url):
        self._runner = runner
        self.url = url

    async def close(self):
        await self._runner.cleanup()


def healthy(state, require=()):
    """Whether /healthz answers 200: ``state["ok"]`` (the loop answers,
    the store commits) and, for each name in ``require``, that part
    connected.  ``require=libvirt`` is for checks that should also fail
    while libvirt is away (a readiness probe, a container's health check):
    the monitor itself keeps running and reconnects, so a liveness check
    that restarted it for that would fix nothing."""
    if not state.get("ok", True):
        return False
    return all((state.get(name) or {}).get("connected", False)
               for name in require)


class UnknownRequirement(ValueError):
    pass


REQUIRABLE = ("libvirt",)


def requirements(query):
    """The names of ``?require=a,b`` (repeatable), each one of
    REQUIRABLE."""
    names = [name for value in query.getall("require", [])
             for name in value.split(",") if name]
    unknown = sorted(set(names) - set(REQUIRABLE))
    if unknown:
        raise UnknownRequirement(
            "unknown require=%s: one of %s" % (",".join(unknown),
                                               ", ".join(REQUIRABLE)))
    return names


def routes(metrics, health):
    """/healthz and /metrics.  ``health()`` returns a JSON-able dict,
    /healthz answers 503 when it says ``"ok": false`` (a plain HTTP check
    sees it), and with ``?require=libvirt`` also while libvirt is not
    connected; ``metrics()`` Prometheus' text format."""
    async def healthz(request):
        try:
            require = requirements(request.query)
        except UnknownRequirement as exc:
            return web.json_response({"error": str(exc)}, status=400)
        state = health()
        return web.json_response(
            state, status=200 if healthy(state, require) else 503)

    async def metrics_page(_request):
        return web.Response(body=metrics(), headers={
            "Content-Type": prometheus_client.CONTENT_TYPE_LATEST})

    return [web.get("/healthz", healthz), web.get("/metrics", metrics_page)]


async def serve(metrics, health, host, port, local=True):
    """A listener on ``host:port``; ``local``: the status endpoint, which
    also tells where /status and the quarantine went."""
    async def moved(_request):
        return web.json_response({"error": MOVED}, status=403)

    async def quarantine_moved(_request):
        return web.json_response(
            {"error": "not here: run 'instanceha-monitor clear-quarantine "
                      "UUID' as root on the host (local control socket)"},
            status=403)

    app = web.Application()
    app.add_routes(routes(metrics, health))
    if local:
        app.add_routes([web.get("/status", moved),
                        web.post("/quarantine/{uuid}/clear",
                                 quarantine_moved)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ListenError(exc, host, port, ("listen", "port") if local else
                          ("metrics_listen", "metrics_port")) from exc
    bound = runner.addresses[0]
    host = bound[0] if ":" not in bound[0] else "[%s]" % bound[0]
    return Server(runner, "http://%s:%d" % (host, bound[1]))
