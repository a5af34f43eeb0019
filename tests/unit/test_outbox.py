"""The outbox: durable, idempotent, never gives up, final on 400/409."""
import pytest

from monitor import outbox


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


BODY = {"type": "VM", "hostname": "cmp-1",
        "generated_time": "2026-01-01T00:00:00",
        "payload": {"event": "LIFECYCLE", "instance_uuid": "u-1",
                    "vir_domain_event": "STOPPED_FAILED"}}


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def box(tmp_path, clock):
    box = outbox.Outbox(tmp_path / "outbox.sqlite", clock)
    yield box
    box.close()


@pytest.mark.parametrize("status,expected", [
    (200, outbox.ACCEPT), (202, outbox.ACCEPT),
    (400, outbox.REJECT), (409, outbox.REJECT),
    (None, outbox.RETRY), (401, outbox.RETRY), (403, outbox.RETRY),
    (404, outbox.RETRY), (408, outbox.RETRY), (429, outbox.RETRY),
    (500, outbox.RETRY), (502, outbox.RETRY), (503, outbox.RETRY),
])
def test_classify(status, expected):
    assert outbox.classify(status) == expected


@pytest.mark.parametrize("attempts,expected", [
    (0, 10), (1, 10), (2, 20), (3, 40), (5, 160), (6, 300), (60, 300),
])
def test_backoff_doubles_up_to_the_cap(attempts, expected):
    assert outbox.backoff(attempts, 10, 300, lambda: 1.0) == expected
    assert outbox.backoff(attempts, 10, 300, lambda: 0.0) == 0
    assert outbox.backoff(attempts, 10, 300, lambda: 0.5) == expected / 2


def test_same_key_is_stored_once(box):
    assert box.add("u-1/LIFECYCLE/1", BODY) is True
    assert box.add("u-1/LIFECYCLE/1", BODY) is False
    assert box.add("u-1/LIFECYCLE/2", BODY) is True
    assert box.depth() == 2


def test_retry_reschedules_and_keeps_the_error(box, clock):
    box.add("k", BODY)
    entry = box.due()[0]
    assert entry["body"] == BODY

    state = box.record(entry["id"], 503, "HTTP 503", delay=30)

    assert state == outbox.PENDING
    assert box.due() == []
    assert box.next_due_at() == clock.now + 30
    clock.now += 30
    retried = box.due()[0]
    assert (retried["attempts"], retried["last_error"]) == (1, "HTTP 503")


def test_accepted_is_never_due_again(box, clock):
    box.add("k", BODY)
    entry = box.due()[0]
    assert box.record(entry["id"], 202, "", 0, "n-uuid") == outbox.ACCEPTED
    clock.now += 10 ** 6
    assert box.due() == [] and box.depth() == 0
    done = box.entries(outbox.ACCEPTED)[0]
    assert done["notification_uuid"] == "n-uuid"
    assert done["finished_at"] == 1000.0


def test_rejection_is_final_and_keeps_masakari_reason(box):
    box.add("k", BODY)
    entry = box.due()[0]
    reason = "HTTP 409: Notification received from host cmp-1 of type VM " \
             "is ignored as the host is already under maintenance."
    assert box.record(entry["id"], 409, reason, 60) == outbox.REJECTED
    assert box.due() == []
    assert box.entries(outbox.REJECTED)[0]["last_error"] == reason


def test_pending_entries_survive_a_restart(tmp_path, clock):
    path = tmp_path / "outbox.sqlite"
    first = outbox.Outbox(path, clock)
    first.add("a", BODY)
    first.add("b", BODY)
    first.record(first.due()[0]["id"], 202, "", 0)
    del first  # no close: as after SIGKILL, only what was committed counts

    second = outbox.Outbox(path, clock)
    assert [e["key"] for e in second.due()] == ["b"]
    assert second.add("a", BODY) is False  # accepted before: not resent
    second.close()


def test_recent_final_keeps_the_newest_answers_only(box):
    for n in range(5):
        box.add("k%d" % n, BODY)
    for entry in box.due()[:4]:
        box.record(entry["id"], 202, "", 0)
    assert [e["key"] for e in box.recent_final(2)] == ["k2", "k3"]
    assert [e["key"] for e in box.entries(outbox.PENDING)] == ["k4"]


def test_held_entry_waits_until_released_or_the_hold_ends(box, clock):
    box.add("held", BODY, hold=10)
    box.add("other", BODY, hold=10)
    assert box.due() == [] and box.next_due_at() == clock.now + 10
    box.release("held")
    assert [e["key"] for e in box.due()] == ["held"]
    clock.now += 10  # never released (forensics hung, monitor died): due
    assert [e["key"] for e in box.due()] == ["held", "other"]


def test_release_never_advances_a_retry(box, clock):
    box.add("a", BODY)
    box.record(box.due()[0]["id"], None, "down", 30)
    box.release("a")  # a late forensics result
    assert box.due() == []
