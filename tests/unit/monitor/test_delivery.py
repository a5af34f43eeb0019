"""Delivery: every entry on its own, bounded, prompt after an outage, and
a hung send never holds another one or the process."""
import asyncio
import logging
import threading
import time

import pytest

from monitor import delivery
from monitor import effects as fx
from monitor import metrics as metrics_mod
from monitor import store as store_mod
from monitor import threads


def body(uuid):
    return {"type": "VM", "hostname": "cmp-1",
            "generated_time": "2026-01-01T00:00:00",
            "payload": {"event": "LIFECYCLE", "instance_uuid": uuid,
                        "vir_domain_event": "STOPPED_FAILED"}}


@pytest.mark.parametrize("attempts,expected", [
    (0, 10), (1, 10), (2, 20), (3, 40), (5, 160), (6, 300), (60, 300),
])
def test_backoff_doubles_up_to_the_cap(attempts, expected):
    assert delivery.backoff(attempts, 10, 300, lambda: 1.0) == expected
    assert delivery.backoff(attempts, 10, 300, lambda: 0.0) == 0
    assert delivery.backoff(attempts, 10, 300, lambda: 0.5) == expected / 2


class Bench:
    """A store, a delivery worker with real threads, and a send function
    the test controls per instance."""

    def __init__(self, tmp_path, send, base=0.1, cap=0.5, overdue=3600,
                 size=8):
        self.store = store_mod.Store(tmp_path / "state", time.time)
        self.metrics = metrics_mod.Metrics()
        self.delivery = delivery.Delivery(
            self.store, send, time.time, self.metrics,
            threads.Pool(size, "send"), base, cap, overdue,
            random=lambda: 1.0)

    def add(self, *uuids):
        if self.store.apply([fx.Enqueue(uuid, body(uuid)) for uuid in uuids]):
            self.delivery.wake()

    def states(self):
        return {e["key"]: e["state"] for e in self.store.entries()}


async def until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not within %s s" % timeout
        await asyncio.sleep(0.01)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_defect_a_hung_send_does_not_delay_the_others(tmp_path):
    """Delivery.run awaited the whole batch: one request that never
    answered held back every later notification."""
    released, hanging = threading.Event(), threading.Event()
    sent = {}

    def send(body):
        uuid = body["payload"]["instance_uuid"]
        if uuid == "hung":
            hanging.set()
            released.wait(30)
        sent[uuid] = time.monotonic()
        return delivery.accepted("ok")

    async def main():
        bench = Bench(tmp_path, send)
        worker = asyncio.ensure_future(bench.delivery.run())
        bench.add("hung")
        await until(hanging.is_set)  # its send is under way, and hangs
        added = time.monotonic()
        bench.add("a", "b", "c")
        await until(lambda: {"a", "b", "c"} <= set(sent))
        delays = [sent[u] - added for u in "abc"]
        assert "hung" not in sent
        released.set()
        await until(lambda: "hung" in sent)
        worker.cancel()
        return delays

    delays = run(main())
    print("\nhealthy entries delivered while another send hangs: max "
          "%.1f ms" % (max(delays) * 1000))
    assert max(delays) < 2.0


def test_sends_are_bounded(tmp_path):
    release = threading.Event()
    running = []
    peak = []

    def send(body):
        running.append(1)
        peak.append(len(running))
        release.wait(30)
        running.pop()
        return delivery.accepted("ok")

    async def main():
        bench = Bench(tmp_path, send, size=3)
        worker = asyncio.ensure_future(bench.delivery.run())
        bench.add(*("vm%d" % n for n in range(10)))
        await until(lambda: len(running) == 3)
        await asyncio.sleep(0.3)
        assert len(running) == 3
        release.set()
        await until(lambda: set(bench.states().values()) == {"accepted"})
        worker.cancel()

    run(main())
    assert max(peak) == 3


def test_defect_an_outage_ends_with_every_entry_sent_at_once(tmp_path):
    """Each entry backed off on its own for minutes; now the first answer
    from the peer makes every waiting entry due."""
    state = {"up": False, "attempts": 0}

    def send(body):
        state["attempts"] += 1
        if state["up"]:
            return delivery.accepted("ok")
        return delivery.retry("ConnectFailure: refused")

    async def main():
        bench = Bench(tmp_path, send, base=0.2, cap=60)
        worker = asyncio.ensure_future(bench.delivery.run())
        bench.add(*("vm%d" % n for n in range(5)))
        # 6 attempts each: the next backoff of every entry is 6.4 s
        await until(lambda: state["attempts"] >= 30, timeout=30)
        state["up"] = True
        back = time.monotonic()
        # the next retry of one entry comes within its backoff; that
        # answer wakes the others, whose backoff had grown much longer
        bench.store.apply([fx.Enqueue("probe", body("probe"))])
        bench.delivery.wake()
        await until(lambda: set(bench.states().values()) == {"accepted"})
        worker.cancel()
        return time.monotonic() - back

    elapsed = run(main())
    assert elapsed < 3.0


def test_a_final_refusal_also_wakes_the_waiting(tmp_path):
    answers = {"vm0": delivery.retry("503"), "vm1": delivery.retry("503")}

    def send(body):
        uuid = body["payload"]["instance_uuid"]
        return answers.get(uuid, delivery.rejected("HTTP 409: duplicate"))

    async def main():
        bench = Bench(tmp_path, send, base=30, cap=60)
        worker = asyncio.ensure_future(bench.delivery.run())
        bench.add("vm0", "vm1")
        await until(lambda: all(e["attempts"] for e in
                                bench.store.entries()))
        answers.clear()  # answering again; vm0/vm1 wait up to 30 s more
        bench.add("vm2")
        await until(lambda: set(bench.states().values()) == {"rejected"},
                    timeout=5)
        worker.cancel()

    run(main())


def test_a_cancelled_worker_leaves_hung_entries_pending(tmp_path):
    """SIGTERM during a hung send: the worker stops at once, the entry is
    still pending on disk (sent after the restart)."""
    async def main():
        bench = Bench(tmp_path, lambda body: time.sleep(60))
        worker = asyncio.ensure_future(bench.delivery.run())
        bench.add("hung")
        await until(lambda: bench.delivery._inflight)
        worker.cancel()
        started = time.monotonic()
        outcome, = await asyncio.gather(worker, return_exceptions=True)
        assert isinstance(outcome, asyncio.CancelledError), outcome
        return time.monotonic() - started, bench.store.entries()

    took, entries = run(main())
    assert took < 1.0
    assert [(e["state"], e["attempts"]) for e in entries] == [("pending", 0)]


def test_overdue_entries_are_reported_once(tmp_path, caplog):
    caplog.set_level(logging.WARNING)

    async def main():
        bench = Bench(tmp_path, lambda body: delivery.retry("HTTP 503"),
                      base=0.05, cap=0.1, overdue=0.3)
        worker = asyncio.ensure_future(bench.delivery.run())
        bench.add("late")
        await asyncio.sleep(1.0)
        worker.cancel()

    run(main())
    overdue = [r for r in caplog.records if "is overdue" in r.message]
    assert len(overdue) == 1
    assert "HTTP 503" in overdue[0].message


def test_a_backend_that_raises_is_retried(tmp_path, caplog):
    calls = []

    def send(body):
        calls.append(1)
        if len(calls) == 1:
            raise KeyError("bug")
        return delivery.accepted("ok")

    async def main():
        bench = Bench(tmp_path, send)
        worker = asyncio.ensure_future(bench.delivery.run())
        bench.add("vm")
        await until(lambda: bench.states() == {"vm": "accepted"})
        worker.cancel()

    run(main())
    assert "Recovery backend failed" in caplog.text
