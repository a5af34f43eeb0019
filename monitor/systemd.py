"""systemd's notify protocol: READY, STATUS, WATCHDOG, STOPPING.

The watchdog ping is sent from the event loop itself, so a wedged loop —
the failure that left masakari-instancemonitor running but deaf — stops the
pings and systemd restarts the service (``WatchdogSec=`` in the unit).
Without ``NOTIFY_SOCKET`` (not under systemd) every call does nothing.
"""
import asyncio
import os
import socket


def notify(message):
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # abstract namespace
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.sendall(message.encode())
    return True


def watchdog_interval():
    """Seconds between two WATCHDOG=1, half of systemd's timeout; None
    when no watchdog is asked of this process."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and int(pid) != os.getpid()):
        return None
    return int(usec) / 2e6


async def watchdog(interval, status_line):
    """WATCHDOG=1 from the event loop, with a one-line STATUS."""
    while True:
        notify("WATCHDOG=1\nSTATUS=" + status_line())
        await asyncio.sleep(interval)
