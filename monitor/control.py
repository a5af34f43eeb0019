"""The control socket: the status document and operator actions, for
root and the monitor's user only.

A unix socket in the state directory (0700, so only root reaches it at
all), and each request's peer checked with SO_PEERCRED: only root or the
monitor's own user may read the status (it names every instance on the
host) or act.  The kernel tells the peer's uid of a unix socket; a TCP
listener on loopback could only guess it from /proc/net/tcp, which a
process in another network namespace or a proxy defeats.
"""
import os
import socket
import struct

from aiohttp import web

from monitor import control_client
from monitor import pause as pause_mod
from monitor import private

SOCKET = control_client.SOCKET
_CRED = struct.Struct("3i")  # pid, uid, gid


def peer_uid(request):
    sock = request.transport.get_extra_info("socket")
    _, uid, _ = _CRED.unpack(sock.getsockopt(
        socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size))
    return uid


async def serve(path, clear_quarantine, status, pause_host=None):
    """``clear_quarantine(uuid)`` -> True when it was quarantined;
    ``status()`` -> the status document (GET /status);
    ``pause_host(length or None)`` -> the end time of the host's pause
    (None: resumed), or PauseError for a length not to honour."""
    allowed = {0, os.geteuid()}

    def refused(request, what):
        uid = peer_uid(request)
        if uid in allowed:
            return None
        return web.json_response(
            {"error": "uid %d may not %s: run as root" % (uid, what)},
            status=403)

    async def status_page(request):
        denied = refused(request, "read the status")
        if denied is not None:
            return denied
        return web.json_response(status())

    async def clear(request):
        denied = refused(request, "clear a quarantine")
        if denied is not None:
            return denied
        uuid = request.match_info["uuid"]
        if not clear_quarantine(uuid):
            return web.json_response(
                {"error": "%s is not quarantined" % uuid}, status=404)
        return web.json_response({"cleared": uuid})

    async def pause(request):
        denied = refused(request, "pause the monitor")
        if denied is not None:
            return denied
        length = request.query.get("for")
        if length is None:
            return web.json_response(
                {"error": "say for how long: --for, e.g. 1h"}, status=400)
        try:
            until = pause_host(length)
        except pause_mod.PauseError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"paused_until": pause_mod.iso(until)})

    async def resume(request):
        denied = refused(request, "resume the monitor")
        if denied is not None:
            return denied
        pause_host(None)
        return web.json_response({"paused_until": None})

    app = web.Application()
    app.router.add_post("/quarantine/{uuid}/clear", clear)
    app.router.add_get("/status", status_page)
    if pause_host is not None:
        app.router.add_post("/pause", pause)
        app.router.add_post("/resume", resume)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    if os.path.exists(path):
        os.unlink(path)  # left by a monitor that was killed
    site = web.UnixSite(runner, str(path))
    await site.start()
    os.chmod(path, private.FILE_MODE)
    return runner
