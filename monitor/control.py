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
from monitor import private

SOCKET = control_client.SOCKET
_CRED = struct.Struct("3i")  # pid, uid, gid


def peer_uid(request):
    sock = request.transport.get_extra_info("socket")
    _, uid, _ = _CRED.unpack(sock.getsockopt(
        socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size))
    return uid


async def serve(path, clear_quarantine, status):
    """``clear_quarantine(uuid)`` -> True when it was quarantined;
    ``status()`` -> the status document (GET /status)."""
    allowed = {0, os.geteuid()}

    async def status_page(request):
        uid = peer_uid(request)
        if uid not in allowed:
            return web.json_response(
                {"error": "uid %d may not read the status: run as root"
                          % uid}, status=403)
        return web.json_response(status())

    async def clear(request):
        uid = peer_uid(request)
        if uid not in allowed:
            return web.json_response(
                {"error": "uid %d may not clear a quarantine: run as root"
                          % uid}, status=403)
        uuid = request.match_info["uuid"]
        if not clear_quarantine(uuid):
            return web.json_response(
                {"error": "%s is not quarantined" % uuid}, status=404)
        return web.json_response({"cleared": uuid})

    app = web.Application()
    app.router.add_post("/quarantine/{uuid}/clear", clear)
    app.router.add_get("/status", status_page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    if os.path.exists(path):
        os.unlink(path)  # left by a monitor that was killed
    site = web.UnixSite(runner, str(path))
    await site.start()
    os.chmod(path, private.FILE_MODE)
    return runner
