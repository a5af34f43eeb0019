"""Heartbeats: honest deadlines, one call in flight per guest, and the
healthy guests' schedule kept while others hang (real threads, a ping
function standing in for qemuAgentCommand)."""
import asyncio
import time
import uuid as uuid_mod

from monitor import observations as obs
from monitor import prober as prober_mod
from monitor import threads

INTERVAL, TIMEOUT = 0.5, 0.3


def fake_ping(hung):
    def ping(dom, timeout):
        if dom in hung:
            time.sleep(5)  # libvirt holds a silent agent's calls ~5 s
            return obs.Heartbeat(dom, False, "Guest agent not available")
        return obs.Heartbeat(dom, True)
    return ping


def watch(guests, hung, workers, seconds):
    posted = []

    async def main():
        prober = prober_mod.Prober(lambda uuid: uuid, posted.append,
                                   threads.Pool(workers, "ping"), INTERVAL,
                                   TIMEOUT, ping=fake_ping(hung))
        for guest in guests:
            prober.watch(guest)
        await asyncio.sleep(seconds)
        issued = {u: list(prober.issued.get(u, ())) for u in guests}
        await prober.close()
        return issued

    issued = asyncio.run(main())
    return posted, issued


def guests(count):
    return [str(uuid_mod.uuid4()) for _ in range(count)]


def test_healthy_guests_stay_on_time_while_others_hang():
    hung, healthy = guests(6), guests(10)
    posted, issued = watch(hung + healthy, set(hung), workers=16,
                           seconds=3)
    for guest in healthy:
        beats = [b for b in posted if b.uuid == guest]
        assert len(beats) >= 4
        assert all(b.ok for b in beats), beats
        delays = [began - planned for planned, began in issued[guest]]
        assert max(delays) < 0.2  # a free worker took every ping at once
    for guest in hung:
        beats = [b for b in posted if b.uuid == guest]
        assert beats and not any(b.ok for b in beats)
        assert all(b.excuse is None for b in beats)  # counted failures


def test_defect_a_saturated_pool_never_counts_against_healthy_guests():
    """The deadline included time queued for a worker: with every worker
    held by a hung guest, healthy guests' pings timed out and counted
    as failures."""
    hung, healthy = guests(6), guests(6)
    posted, _ = watch(hung + healthy, set(hung), workers=4, seconds=3)
    for guest in healthy:
        for beat in (b for b in posted if b.uuid == guest):
            assert beat.ok or beat.excuse == prober_mod.NO_WORKER, beat


def test_one_call_in_flight_per_guest_and_each_slot_counts():
    hung = guests(1)
    posted, _ = watch(hung, set(hung), workers=4, seconds=2.6)
    details = [b.detail for b in posted]
    assert details[0] == "no answer within %.1f s" % TIMEOUT
    assert details[1:] and set(details[1:]) == {
        "the previous heartbeat is still unanswered"}


def test_a_late_answer_still_proves_life():
    slow = guests(1)

    def ping(dom, timeout):
        time.sleep(TIMEOUT + 0.7)  # beyond the timeout and its 0.5 s grace
        return obs.Heartbeat(dom, True)

    posted = []

    async def main():
        prober = prober_mod.Prober(lambda u: u, posted.append,
                                   threads.Pool(2, "ping"), 2.0, TIMEOUT,
                                   ping=ping)
        prober.watch(slow[0])
        await asyncio.sleep(2.0 + TIMEOUT + 1.5)  # phase + call + slack
        await prober.close()

    asyncio.run(main())
    assert [b.ok for b in posted][:2] == [False, True]


def test_no_ping_while_libvirt_is_away():
    posted = []

    async def main():
        prober = prober_mod.Prober(lambda u: None, posted.append,
                                   threads.Pool(2, "ping"), 0.1, 0.1,
                                   ping=fake_ping(set()))
        prober.watch(guests(1)[0])
        await asyncio.sleep(0.5)
        await prober.close()

    asyncio.run(main())
    assert posted == []


def test_unwatch_ends_the_task():
    async def main():
        prober = prober_mod.Prober(lambda u: u, lambda b: None,
                                   threads.Pool(2, "ping"), 0.1, 0.1,
                                   ping=fake_ping(set()))
        guest = guests(1)[0]
        prober.watch(guest)
        prober.watch(guest)  # idempotent
        assert prober.watching == 1
        task = prober.unwatch(guest)
        await asyncio.gather(task, return_exceptions=True)
        return prober.watching, task.cancelled()

    assert asyncio.run(main()) == (0, True)
