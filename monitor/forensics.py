"""Evidence kept before a recovery: the only moment it still exists.

A restart truncates a file-backed serial console and replaces the screen,
so a panic message or a hung kernel's last lines are gone once Nova or
Masakari acts.  One directory per incident under
``<state_path>/forensics``, each file bounded, the oldest incidents
removed; ``incident.json`` says what was kept and, for what was not, why.
Runs in a worker thread with a libvirt connection of its own.
"""
import datetime
import json
import shutil
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt

MANIFEST = "incident.json"
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
    path.write_bytes(bytes(data))
    return path.name, None


def capture(uri, uuid, directory, settings, facts):
    """Write what can be read now; returns the manifest.

    ``settings``: the [forensics] group; ``facts``: what the monitor
    itself knew (event, reason, heartbeat history), stored as given.
    """
    started = time.monotonic()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    manifest = {"instance_uuid": uuid, "files": {}, "not_kept": {},
                "monitor": facts}
    conn = None
    try:
        conn = libvirt.open(uri)
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
            (directory / "console.log").write_bytes(data)
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
        (directory / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest
