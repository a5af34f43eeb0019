"""The fence adapter on libvirt's test:///default driver: a destroy that
really stops the domain, only the QEMU process the engine judged, within
a deadline, on a pool of its own; every way it ends is a Fenced."""
import asyncio
import threading
import uuid

import libvirt

from monitor import effects as fx
from monitor import fence
from monitor import metrics as metrics_mod
from monitor import observations as obs
from monitor import threads

URI = "test:///default"


def run_fences(*effects, uri=URI, deadline=5.0, pool=None, metrics=None):
    """Fence each effect, one after another; what was posted."""
    posted = []
    fencer = fence.Fencer(uri, posted.append,
                          pool or threads.Pool(fence.WORKERS, "fence"),
                          metrics, deadline)

    async def main():
        for effect in effects:
            fencer.start(effect)
            while len(posted) < effects.index(effect) + 1:
                await asyncio.sleep(0.01)
        await fencer.close()
    asyncio.run(asyncio.wait_for(main(), 30))
    return posted


def test_a_fence_destroys_the_domain(domains):
    dom, = domains.create()
    metrics = metrics_mod.Metrics()
    fenced, = run_fences(fx.Fence(dom.UUIDString(), "k", dom.ID()),
                         metrics=metrics)
    assert (fenced.uuid, fenced.key, fenced.error, fenced.skipped) == (
        dom.UUIDString(), "k", None, None)
    assert 0 < fenced.took < 5
    assert not dom.isActive()
    assert dom.state()[1] == libvirt.VIR_DOMAIN_SHUTOFF_DESTROYED
    assert metrics.registry.get_sample_value(
        "instanceha_fence_seconds_count") == 1


def test_a_domain_started_again_meanwhile_is_left_alone(domains):
    """The engine judged one QEMU process; the domain runs as another
    (Nova's stop and start came first): not fenced."""
    dom, = domains.create()
    judged = dom.ID()
    dom.destroy()
    dom.create()
    fenced, = run_fences(fx.Fence(dom.UUIDString(), "k", judged))
    assert fenced.took is None and fenced.error is None
    assert fenced.skipped == (
        "the domain runs as another QEMU process (id %d, not %d): started "
        "again meanwhile" % (dom.ID(), judged))
    assert dom.isActive()


def test_nothing_to_fence_is_said(domains):
    dom, = domains.create()
    dom_id = dom.ID()
    dom.destroy()
    off, gone = run_fences(fx.Fence(dom.UUIDString(), "k", dom_id),
                           fx.Fence(str(uuid.uuid4()), "k2", 7))
    assert off.skipped == "the domain was off already"
    assert gone.skipped == "the domain is gone"
    assert off.error is None and gone.error is None


def test_a_libvirt_error_becomes_a_failed_fence():
    fenced, = run_fences(fx.Fence(str(uuid.uuid4()), "k", 1),
                         uri="qemu+tcp://127.0.0.1:9/system")
    assert fenced.took is None and fenced.skipped is None
    assert fenced.error.startswith("libvirt: ")
    assert "Connection refused" in fenced.error


def test_a_destroy_past_its_deadline_fails_and_holds_its_worker(
        monkeypatch):
    """A destroy stuck on a hung QEMU or libvirtd: the fence fails at its
    deadline; while every worker of the fence pool is held, the next one
    fails at once, and the pools of the other adapters are not touched."""
    release = threading.Event()
    monkeypatch.setattr(fence, "destroy",
                        lambda uri, uuid, dom_id: release.wait(10) and 0.1)
    pool = threads.Pool(1, "fence")
    try:
        first, second = run_fences(fx.Fence("u1", "k1", 1),
                                   fx.Fence("u2", "k2", 2), deadline=0.2,
                                   pool=pool)
    finally:
        release.set()
    assert first == obs.Fenced("u1", "k1", None,
                               "no answer from libvirt within 0.2 s")
    assert second == obs.Fenced(
        "u2", "k2", None, "no free fence worker: all 1 are still held by "
        "earlier destroys that outlived their deadline (a hung QEMU or "
        "libvirtd)")
