"""Evidence kept before a recovery: the only moment it still exists.

A restart truncates a file-backed serial console and replaces the screen,
so a panic message or a hung kernel's last lines are gone once Nova or
Masakari acts.  One directory per incident under
``<state_path>/forensics``, each file bounded, the oldest incidents
removed; ``incident.json`` says what was kept and, for what was not, why.
Runs in a worker thread with a libvirt connection of its own, in a pool
of its own (``WORKERS``): a capture stuck on a hung QEMU or libvirtd never
takes a worker from the reconnects, listings and statistics of the libvirt
pool.  Each capture is waited for at most ``[forensics] timeout``; when
every worker is still held by an earlier capture, a new one is skipped at
once and its ``Captured`` says why.  What happens to the guest after the
capture (its fence) is added to the incident's manifest (``note``).
Everything is written 0600 in 0700 directories: a console tail can hold
what cloud-init printed, passwords included.
"""
import asyncio
import datetime
import json
import logging
import os
import shutil
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt

from monitor import observations as obs
from monitor import private
from monitor import threads

LOG = logging.getLogger(__name__)

MANIFEST = "incident.json"
WORKERS = 2  # the forensics pool's size (service.Monitor makes it)
_EXTENSIONS = {"image/png": "png", "image/x-portable-pixmap": "ppm"}


def console_logs(xml):
    """Files a domain writes its console to: a file-backed serial or
    console device, or the log file of a pty one (Nova uses both)."""
    devices = ET.fromstring(xml).find("devices")
    paths = []
    for device in list(devices.findall("serial")) + list(
            devices.findall("console")):
        source, log = device.find("source"), device.find("log")
        if device.get("type") == "file" and source is not None:
            paths.append(source.get("path"))
        if log is not None and log.get("file"):
            paths.append(log.get("file"))
    return list(dict.fromkeys(p for p in paths if p))


def has_graphics(xml):
    return ET.fromstring(xml).find("devices/graphics") is not None


def tail(path, limit):
    with open(path, "rb") as source:
        source.seek(0, 2)
        size = source.tell()
        source.seek(max(0, size - limit))
        return source.read(), size


def incident_dir(root, uuid, when):
    stamp = datetime.datetime.fromtimestamp(
        when, datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    return Path(root) / ("%s-%s" % (stamp, uuid))


def find_manifest(root, uuid, key):
    """The manifest of incident ``key`` of ``uuid`` (its capture's facts
    name the key), newest first; None when there is none."""
    for directory in sorted(Path(root).glob("*-%s" % uuid), reverse=True):
        path = directory / MANIFEST
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if (manifest.get("monitor") or {}).get("key") == key:
            return path
    return None


def note(root, uuid, key, facts):
    """Merge ``facts`` into the manifest of incident ``key``, replacing
    it whole (a crash leaves the old one or the new one); the path, or
    None when the incident has no manifest (forensics were off, the
    capture never finished or was pruned)."""
    path = find_manifest(root, uuid, key)
    if path is None:
        return None
    manifest = json.loads(path.read_text())
    manifest.update(facts)
    partial = path.with_name(MANIFEST + ".new")
    private.write_text(partial, json.dumps(manifest, indent=2))
    os.replace(partial, path)
    return path


def prune(root, keep):
    """Keep the newest ``keep`` incidents (names sort by time)."""
    incidents = sorted(p for p in Path(root).iterdir() if p.is_dir())
    for old in incidents[:max(0, len(incidents) - keep)]:
        shutil.rmtree(old, ignore_errors=True)


def _screenshot(conn, dom, target, limit):
    stream = conn.newStream(0)
    mime = dom.screenshot(stream, 0)
    data = bytearray()
    try:
        while True:
            chunk = stream.recv(262144)
            if not chunk:
                break
            data += chunk
            if len(data) > limit:
                stream.abort()
                return None, "larger than screenshot_max_bytes (%d)" % limit
        stream.finish()
    except libvirt.libvirtError:
        stream.abort()
        raise
    path = target.with_suffix("." + _EXTENSIONS.get(mime, "bin"))
    private.write_bytes(path, bytes(data))
    return path.name, None


def capture(uri, uuid, directory, settings, facts):
    """Write what can be read now; returns the manifest.

    ``settings``: the [forensics] group; ``facts``: what the monitor
    itself knew (event, reason, heartbeat history), stored as given.
    """
    started = time.monotonic()
    directory = private.make_dir(directory)
    manifest = {"instance_uuid": uuid, "files": {}, "not_kept": {},
                "monitor": facts}
    conn = None
    try:
        conn = libvirt.open(uri)
        try:  # a hung libvirtd then fails the calls instead of holding them
            conn.setKeepAlive(2, 3)
        except libvirt.libvirtError:
            pass  # in-process drivers (test:///) have no keepalive
        dom = conn.lookupByUUIDString(uuid)
        xml = dom.XMLDesc(0)
        state, reason = dom.state()
        manifest["domain"] = {"name": dom.name(), "state": state,
                              "reason": reason}
        logs = console_logs(xml)
        manifest["not_kept"]["console"] = "no file-backed console"
        for path in logs:
            try:
                data, size = tail(path, settings.console_tail_bytes)
            except OSError as exc:
                manifest["not_kept"]["console"] = "%s: %s" % (path, exc)
                continue
            private.write_bytes(directory / "console.log", data)
            manifest["files"]["console"] = {
                "file": "console.log", "source": path, "source_bytes": size,
                "kept_bytes": len(data)}
            del manifest["not_kept"]["console"]
            break
        if not has_graphics(xml):
            manifest["not_kept"]["screenshot"] = "no graphics device"
        elif settings.screenshot_max_bytes == 0:
            manifest["not_kept"]["screenshot"] = "screenshots turned off"
        elif not dom.isActive():
            manifest["not_kept"]["screenshot"] = "domain not running"
        else:
            try:
                name, why = _screenshot(conn, dom, directory / "screenshot",
                                        settings.screenshot_max_bytes)
            except libvirt.libvirtError as exc:
                name, why = None, str(exc)
            if name:
                manifest["files"]["screenshot"] = {"file": name}
            else:
                manifest["not_kept"]["screenshot"] = why
    except libvirt.libvirtError as exc:
        manifest["not_kept"]["domain"] = str(exc)
    finally:
        if conn is not None:
            conn.close()
        manifest["capture_seconds"] = round(time.monotonic() - started, 3)
        private.write_text(directory / MANIFEST,
                           json.dumps(manifest, indent=2))
    return manifest


class Forensics:
    """Runs captures for ``Capture`` effects and posts ``Captured`` when
    each is done or its time ran out (the held recovery is then sent)."""

    def __init__(self, uri, root, settings, pool, post, clock=time.time):
        self._uri = uri
        self.root = Path(root)
        self.settings = settings  # the [forensics] group
        self._pool = pool
        self._post = post
        self._clock = clock
        self._tasks = set()

    def start(self, effect):
        task = asyncio.ensure_future(self._capture(effect))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _capture(self, effect):
        settings = self.settings
        if self._pool.idle < 1:
            why = ("skipped: all %d forensics workers are still held by "
                   "earlier captures that outlived [forensics] timeout "
                   "(a hung QEMU or libvirtd)" % self._pool.size)
            LOG.warning("%s (%s): forensics %s", effect.name, effect.uuid,
                        why)
            self._post(obs.Captured(effect.uuid, effect.key, None, why))
            return
        directory = incident_dir(self.root, effect.uuid, self._clock())
        kept = why = None
        try:
            private.make_dir(self.root)
            manifest = await threads.within(self._pool.run(
                capture, self._uri, effect.uuid, directory, settings,
                effect.facts), settings.timeout)
            kept = str(directory)
            LOG.info("%s (%s): forensics kept in %s in %.3f s (%s)",
                     effect.name, effect.uuid, directory,
                     manifest["capture_seconds"],
                     ", ".join(manifest["files"]) or "nothing")
        except Exception as exc:  # the recovery goes out regardless
            why = str(exc) or type(exc).__name__
            LOG.warning("%s (%s): forensics not kept: %s", effect.name,
                        effect.uuid, why)
        self._post(obs.Captured(effect.uuid, effect.key, kept, why))
        if self._pool.idle < 1:
            return  # the next capture prunes
        try:
            await self._pool.run(prune, self.root, settings.max_incidents)
        except OSError as exc:
            LOG.warning("Old forensics not pruned: %s", exc)

    def note(self, effect):
        """``NoteIncident``: on the loop, a few small files."""
        try:
            path = note(self.root, effect.uuid, effect.key, effect.facts)
        except (OSError, ValueError) as exc:
            LOG.warning("%s: %s not added to its forensics: %s",
                        effect.key, ", ".join(effect.facts), exc)
            return
        if path is None:
            LOG.info("%s: no forensics manifest to add %s to", effect.key,
                     ", ".join(effect.facts))

    async def close(self):
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
