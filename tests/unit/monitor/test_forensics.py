"""Forensics captures on a pool of their own: bounded in time, and
skipped, never queued, while every worker is held by a stuck one."""
import asyncio
import threading
import time
import types

from monitor import effects as fx
from monitor import forensics
from monitor import observations as obs
from monitor import threads


def settings(timeout=0.3):
    return types.SimpleNamespace(console_tail_bytes=1024,
                                 screenshot_max_bytes=0, max_incidents=50,
                                 timeout=timeout)


def capture_effect(n):
    return fx.Capture("uuid-%d" % n, "instance-%d" % n, "key-%d" % n, {})


def test_stuck_captures_hold_their_workers_and_a_third_is_skipped(
        tmp_path, monkeypatch):
    """Two captures stuck on a hung QEMU: each is given up after its
    timeout, their workers stay held; a third is skipped at once with
    the reason; once the stuck ones end, captures run again."""
    release = threading.Event()
    started = []

    def stuck(uri, uuid, directory, settings, facts):
        started.append(uuid)
        release.wait(10)
        return {"capture_seconds": 0.0, "files": {}}
    monkeypatch.setattr(forensics, "capture", stuck)
    posted = []
    pool = threads.Pool(forensics.WORKERS, "forensics")
    keeper = forensics.Forensics("test:///default", tmp_path, settings(),
                                 pool, posted.append)

    async def run():
        keeper.start(capture_effect(1))
        keeper.start(capture_effect(2))
        while len(posted) < 2:
            await asyncio.sleep(0.01)
        skipped_at = time.monotonic()
        keeper.start(capture_effect(3))
        while len(posted) < 3:
            await asyncio.sleep(0.01)
        skipped_in = time.monotonic() - skipped_at
        release.set()
        while pool.idle < pool.size:
            await asyncio.sleep(0.01)
        keeper.start(capture_effect(4))
        while len(posted) < 4:
            await asyncio.sleep(0.01)
        await keeper.close()
        return skipped_in
    skipped_in = asyncio.run(run())

    first, second, third, fourth = posted
    assert {first.uuid, second.uuid} == {"uuid-1", "uuid-2"}
    assert first.directory is None and first.error == "TimeoutError"
    assert third == obs.Captured(
        "uuid-3", "key-3", None,
        "skipped: all 2 forensics workers are still held by earlier "
        "captures that outlived [forensics] timeout (a hung QEMU or "
        "libvirtd)")
    assert skipped_in < 0.1
    assert started == ["uuid-1", "uuid-2", "uuid-4"]
    assert fourth.uuid == "uuid-4" and fourth.error is None


def test_a_capture_on_the_test_driver_keeps_its_manifest(domains, tmp_path):
    dom, = domains.create()
    posted = []
    keeper = forensics.Forensics("test:///default", tmp_path, settings(5),
                                 threads.Pool(2, "forensics"), posted.append)

    async def run():
        keeper.start(fx.Capture(dom.UUIDString(), dom.name(), "k", {}))
        while not posted:
            await asyncio.sleep(0.01)
        await keeper.close()
    asyncio.run(run())
    captured, = posted
    assert captured.error is None
    assert (tmp_path / captured.directory / forensics.MANIFEST).exists()


def test_a_fence_is_added_to_its_incidents_manifest(domains, tmp_path):
    """NoteIncident finds the incident by its key among the guest's
    incidents and adds the facts; the capture's own facts stay."""
    import json

    dom, = domains.create()
    posted = []
    keeper = forensics.Forensics("test:///default", tmp_path, settings(5),
                                 threads.Pool(2, "forensics"), posted.append)
    uuid = dom.UUIDString()

    async def run():
        for n, key in enumerate(("hang-1", "hang-2")):
            keeper._clock = lambda n=n: 1000.0 + n  # two directories
            keeper.start(fx.Capture(uuid, dom.name(), key,
                                    {"key": key, "reason": key}))
            while len(posted) < n + 1:
                await asyncio.sleep(0.01)
        await keeper.close()
    asyncio.run(run())
    fence = {"fence": {"result": "done", "at": "t", "seconds": 0.2}}
    keeper.note(fx.NoteIncident(uuid, "hang-1", fence))
    keeper.note(fx.NoteIncident(uuid, "no-such-incident", fence))
    first, second = (json.loads((tmp_path / p.directory /
                                 forensics.MANIFEST).read_text())
                     for p in posted)
    assert first["fence"] == fence["fence"]
    assert first["monitor"] == {"key": "hang-1", "reason": "hang-1"}
    assert "fence" not in second
    assert sorted(p.name for p in (tmp_path / posted[0].directory).iterdir()
                  ) == [forensics.MANIFEST]
