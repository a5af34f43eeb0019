"""The store: one transaction per observation, durable, idempotent,
locked, private, pruned; and it hands the engine back what it kept."""
import json
import logging
import os
import sqlite3
import stat
import subprocess
import sys

import pytest

from monitor import effects as fx
from monitor import engine as engine_mod
from monitor import guest as gm
from monitor import private
from monitor import store as store_mod
from tests.unit.monitor import disk


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
def store(tmp_path, clock):
    store = store_mod.Store(tmp_path / "state", clock)
    yield store
    store.close()


def enqueue(store, *keys, hold=0.0):
    return store.apply([fx.Enqueue(key, BODY, hold) for key in keys])


def pending_keys(store):
    return [e["key"] for e in store.due()]


def test_same_key_is_stored_once(store):
    assert enqueue(store, "a") is True
    assert enqueue(store, "a") is False
    enqueue(store, "b")
    assert store.depth() == 2


def test_one_observation_is_one_transaction(store):
    """A failing effect leaves nothing of the others on disk."""
    boot = gm.Boot(7, 3, "hb")
    with pytest.raises(AttributeError):
        store.apply([fx.PutBoot("u-1", "i-1", boot),
                     fx.Enqueue("k", BODY), fx.PutBoot("u-2", "i-2", None)])
    assert store.depth() == 0
    assert store.restore().boots == {}


def test_retry_reschedules_and_keeps_the_error(store, clock):
    enqueue(store, "k")
    entry, = store.due()
    store.record(entry["id"], store_mod.PENDING, "HTTP 503", delay=30)
    assert store.due() == []
    assert store.next_due_at() == clock.now + 30
    clock.now += 30
    retried, = store.due()
    assert (retried["attempts"], retried["last_error"]) == (1, "HTTP 503")


def test_accepted_is_never_due_again(store, clock):
    enqueue(store, "k")
    entry, = store.due()
    store.record(entry["id"], store_mod.ACCEPTED, "", 0, "n-uuid")
    clock.now += 10 ** 6
    assert store.due() == [] and store.depth() == 0
    done, = store.entries(store_mod.ACCEPTED)
    assert (done["notification_uuid"], done["finished_at"]) == (
        "n-uuid", 1000.0)


def test_rejection_is_final_and_keeps_the_reason(store):
    enqueue(store, "k")
    entry, = store.due()
    reason = "HTTP 409: Notification received from host cmp-1 of type VM " \
             "is ignored as the host is already under maintenance."
    store.record(entry["id"], store_mod.REJECTED, reason, 60)
    assert store.due() == []
    assert store.entries(store_mod.REJECTED)[0]["last_error"] == reason


def test_pending_entries_survive_a_kill(tmp_path, clock):
    """Only what was committed counts: the process dies without close()
    (a second process opens the store, as after SIGKILL)."""
    first = store_mod.Store(tmp_path / "state", clock)
    enqueue(first, "a", "b")
    first.record(first.due()[0]["id"], store_mod.ACCEPTED, "", 0)
    os.close(first._lock_fd)  # what the kernel does when the process dies
    second = store_mod.Store(tmp_path / "state", clock)
    assert [e["key"] for e in second.due()] == ["b"]
    second.close()


def test_held_entry_waits_until_released_or_the_hold_ends(store, clock):
    assert enqueue(store, "held", "other", hold=10) is False
    assert store.due() == [] and store.next_due_at() == clock.now + 10
    assert store.apply([fx.Release("held")]) is True
    assert [e["key"] for e in store.due()] == ["held"]
    clock.now += 10  # never released (forensics hung, monitor died): due
    assert [e["key"] for e in store.due()] == ["held", "other"]


def test_release_never_advances_a_retry(store):
    enqueue(store, "a")
    store.record(store.due()[0]["id"], store_mod.PENDING, "down", 30)
    assert store.apply([fx.Release("a")]) is False
    assert store.due() == []


def test_wake_all_makes_failed_entries_due_but_not_held_ones(store, clock):
    enqueue(store, "a", "b")
    enqueue(store, "held", hold=10)
    for entry in store.due():
        store.record(entry["id"], store_mod.PENDING, "down", 300)
    assert store.wake_all() == 2
    assert [e["key"] for e in store.due()] == ["a", "b"]


def test_due_leaves_out_entries_in_flight(store):
    enqueue(store, "a", "b", "c")
    assert [e["key"] for e in store.due(2, {"a"})] == ["b", "c"]
    assert store.next_due_at({"a", "b", "c"}) is None


def test_prune_removes_old_final_entries_never_pending_ones(store, clock):
    enqueue(store, "old-done", "old-pending", "new-done")
    entries = {e["key"]: e for e in store.entries()}
    store.record(entries["old-done"]["id"], store_mod.ACCEPTED, "", 0)
    clock.now += 31 * 86400
    store.record(entries["new-done"]["id"], store_mod.REJECTED, "409", 0)
    assert store.prune(30 * 86400) == 1
    assert sorted(e["key"] for e in store.entries()) == [
        "new-done", "old-pending"]


def test_oldest_pending(store, clock):
    assert store.oldest_pending() is None
    enqueue(store, "a")
    clock.now += 5
    enqueue(store, "b")
    assert store.oldest_pending() == 1000.0


# -- what the engine gets back ------------------------------------------------

def test_boots_budgets_and_the_boot_counter_are_restored(tmp_path, clock):
    first = store_mod.Store(tmp_path / "state", clock)
    boot = gm.Boot(41, 3, "hb", frozenset({"LIFECYCLE/STOPPED_FAILED"}), 2,
                   True)
    first.apply([fx.PutBoot("u-1", "i-1", boot),
                 fx.PutBoot("u-2", "i-2", gm.Boot(42, 4)),
                 fx.DropBoot("u-2"),
                 fx.PutBudget("u-1", (900.0, 950.0), None),
                 fx.PutBudget("u-3", (), 800.0),
                 fx.PutBudget("u-4", (1.0,), None),
                 fx.PutBudget("u-4", (), None)])
    first.close()
    restored = store_mod.Store(tmp_path / "state", clock).restore()
    assert restored.boots == {"u-1": ("i-1", boot)}
    assert restored.next_boot == 43  # u-2's number is never reused
    assert restored.recoveries == {"u-1": [900.0, 950.0]}
    assert restored.quarantined == {"u-3": 800.0}


def test_a_restarted_engine_does_not_resend_a_death(tmp_path, clock):
    """The same crash before and after a monitor restart: one
    notification (the store keeps the boot's notified payloads)."""
    import libvirt

    from monitor import observations as obs

    def run(store, *observations):
        engine = engine_mod.Engine(engine_mod.Settings(), store.restore())
        for observation in observations:
            store.apply(engine.observe(observation, clock()))

    crashed = obs.Lifecycle("u", "i", libvirt.VIR_DOMAIN_EVENT_CRASHED,
                            libvirt.VIR_DOMAIN_EVENT_CRASHED_PANICKED, 3)
    first = store_mod.Store(tmp_path / "state", clock)
    run(first, obs.Connected((obs.Domain("u", "i", 3, 1, 1),), "hb"),
        crashed)
    first.close()
    second = store_mod.Store(tmp_path / "state", clock)
    run(second, obs.Connected((obs.Domain(
        "u", "i", 3, libvirt.VIR_DOMAIN_CRASHED, 1),), "hb"),
        obs.Lifecycle("u", "i", libvirt.VIR_DOMAIN_EVENT_STOPPED,
                      libvirt.VIR_DOMAIN_EVENT_STOPPED_CRASHED, 3))
    assert len(second.entries()) == 1
    second.close()


# -- lock and permissions -----------------------------------------------------

def test_defect_second_monitor_on_the_same_state_is_refused(tmp_path, clock):
    """Two monitors on one state_path both delivered the same entries."""
    first = store_mod.Store(tmp_path / "state", clock)
    with pytest.raises(store_mod.StateLocked) as refused:
        store_mod.Store(tmp_path / "state", clock)
    assert "pid %d" % os.getpid() in str(refused.value)
    assert str(tmp_path / "state") in str(refused.value)
    first.close()
    store_mod.Store(tmp_path / "state", clock).close()  # free again


def test_the_lock_is_held_against_another_process(tmp_path, clock):
    store = store_mod.Store(tmp_path / "state", clock)
    child = subprocess.run([sys.executable, "-c", (
        "import sys; from monitor import store\n"
        "try:\n"
        "    store.Store(sys.argv[1], lambda: 0)\n"
        "except store.StateLocked as exc:\n"
        "    print(exc); sys.exit(3)\n"), str(tmp_path / "state")],
        capture_output=True, text=True, cwd=os.getcwd())
    store.close()
    assert child.returncode == 3, child.stderr
    assert "pid %d" % os.getpid() in child.stdout


def test_defect_state_is_private_whatever_the_umask(tmp_path, clock):
    """The state directory and its files were created 0755/0644."""
    old = os.umask(0o022)
    try:
        (tmp_path / "state").mkdir(mode=0o755)
        store = store_mod.Store(tmp_path / "state", clock)
        enqueue(store, "a")
        store.close()
    finally:
        os.umask(old)
    state = tmp_path / "state"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    files = [p for p in state.iterdir()]
    assert {p.name for p in files} >= {store_mod.FILE, store_mod.LOCK}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_private_write_keeps_mode_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        private.write_text(tmp_path / "f", "secret")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o600


# -- the store of earlier versions -------------------------------------------

def test_an_earlier_outbox_is_taken_over_once(tmp_path, clock):
    state = tmp_path / "state"
    state.mkdir()
    old = sqlite3.connect(str(state / store_mod.LEGACY))
    old.executescript("""
        CREATE TABLE notification (id INTEGER PRIMARY KEY, key TEXT NOT NULL
            UNIQUE, body TEXT NOT NULL, state TEXT NOT NULL, attempts
            INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL,
            last_error TEXT, created_at REAL NOT NULL, finished_at REAL,
            notification_uuid TEXT);
        CREATE TABLE known_running (uuid TEXT PRIMARY KEY, name TEXT NOT
            NULL, boot INTEGER NOT NULL);
        CREATE TABLE recovery (uuid TEXT NOT NULL, at REAL NOT NULL);
        CREATE TABLE quarantine (uuid TEXT PRIMARY KEY, since REAL NOT NULL);
        INSERT INTO notification (key, body, state, next_attempt_at,
            created_at) VALUES ('u-1/3/LIFECYCLE/STOPPED_FAILED',
            '{"payload": {}}', 'pending', 5, 5);
        INSERT INTO known_running VALUES ('u-2', 'i-2', 4);
        INSERT INTO recovery VALUES ('u-2', 990.0);
        INSERT INTO quarantine VALUES ('u-3', 980.0);
    """)
    old.commit()
    old.close()

    store = store_mod.Store(state, clock)
    restored = store.restore()
    assert [e["key"] for e in store.due()] == [
        "u-1/3/LIFECYCLE/STOPPED_FAILED"]
    name, boot = restored.boots["u-2"]
    assert (name, boot.dom_id, boot.host_boot) == ("i-2", 4, None)
    assert restored.recoveries == {"u-2": [990.0]}
    assert restored.quarantined == {"u-3": 980.0}
    store.close()
    assert not (state / store_mod.LEGACY).exists()
    assert (state / (store_mod.LEGACY + ".imported")).exists()
    again = store_mod.Store(state, clock)  # not imported twice
    assert len(again.entries()) == 1
    again.close()


# -- a disk that refuses writes ----------------------------------------------

def test_defect_a_full_disk_keeps_a_death_and_writes_it_when_space_returns(
        tmp_path, clock):
    """A full state disk lost a death without a word: the commit raised,
    the notification was gone and /healthz stayed ok."""
    store = store_mod.Store(tmp_path / "state", clock)
    disk.fill(store)
    assert enqueue(store, "u-1/b3/LIFECYCLE/STOPPED_FAILED") is True

    health = store.health()
    assert (health["writable"], health["since"], health["unwritten"]) == (
        False, 1000.0, 1)
    assert "database or disk is full" in health["error"]
    entry, = store.due()  # delivered from memory
    assert (store.depth(), store.oldest_pending()) == (1, 1000.0)
    assert disk.on_disk(store, "SELECT * FROM notification WHERE key = ?",
                        (entry["key"],)) == []
    store.record(entry["id"], store_mod.ACCEPTED, "", 0, "n-1")
    assert store.due() == [] and store.depth() == 0
    assert store.flush() is False  # still full

    disk.free(store)
    assert store.flush() is True
    assert store.health() == {"writable": True, "since": None,
                              "error": None, "unwritten": 0}
    assert disk.on_disk(store, "SELECT state, notification_uuid, attempts "
                        "FROM notification WHERE key = ?", (
                            entry["key"],)) == [("accepted", "n-1", 1)]
    store.close()
    again = store_mod.Store(tmp_path / "state", clock)
    clock.now += 10 ** 6
    assert again.due() == []
    done, = disk.without_ballast(again.entries())
    assert (done["id"], done["state"]) == (entry["id"], "accepted")
    again.close()


def test_later_changes_wait_behind_unwritten_ones(store):
    """A budget fits on the full disk, the death before it did not: the
    budget is not written ahead of it, both go in one transaction."""
    disk.fill(store)
    enqueue(store, "death")
    store.apply([fx.PutBudget("u-1", (990.0,), None)])
    assert disk.on_disk(store, "SELECT * FROM budget") == []
    assert store.health()["unwritten"] == 2

    disk.free(store)
    store.apply([fx.PutBoot("u-1", "i-1", gm.Boot(4, 1))])  # flushes first
    assert store.health()["writable"] is True
    assert store.restore().recoveries == {"u-1": [990.0]}
    assert [k for k, in disk.on_disk(
        store, "SELECT key FROM notification WHERE key = 'death'")] == [
            "death"]


def test_a_read_only_database_is_kept_in_memory_too(store):
    enqueue(store, "written")
    disk.read_only(store)
    enqueue(store, "unwritten")
    written, unwritten = store.due()
    store.record(written["id"], store_mod.PENDING, "HTTP 503", 30)
    store.record(unwritten["id"], store_mod.REJECTED, "HTTP 409", 0)
    assert "readonly" in store.health()["error"]
    assert store.health()["unwritten"] == 3
    assert [e["state"] for e in store.entries()] == ["pending", "rejected"]
    assert [e["key"] for e in store.recent_final(10)] == ["unwritten"]

    disk.read_only(store, False)
    assert store.flush() is True
    assert disk.on_disk(store, "SELECT key, state, attempts, last_error "
                        "FROM notification ORDER BY id") == [
        ("written", "pending", 1, "HTTP 503"),
        ("unwritten", "rejected", 1, "HTTP 409")]


def test_a_store_that_cannot_write_says_so_once(store, caplog):
    caplog.set_level(logging.INFO, logger="monitor.store")
    disk.fill(store)
    for key in "abc":
        enqueue(store, key)
        store.flush()
    disk.free(store)
    store.flush()
    store.flush()
    enqueue(store, "d")
    (error, first), (warning, then) = [(r.levelname, r.getMessage())
                                       for r in caplog.records]
    assert (error, warning) == ("ERROR", "WARNING")
    assert first.startswith("The state store cannot commit to %s (database "
                            "or disk is full)" % (store.path /
                                                  store_mod.FILE))
    assert then.startswith("The state store writes again: 3 changes")


def test_a_faulty_change_is_not_kept_in_memory(store):
    disk.fill(store)
    with pytest.raises(AttributeError):
        store.apply([fx.PutBoot("u-1", "i-1", None)])
    assert store.health()["writable"] is True
    enqueue(store, "a")
    with pytest.raises(AttributeError):
        store.apply([fx.Enqueue("b", BODY), fx.PutBoot("u-2", "i-2", None)])
    assert pending_keys(store) == ["a"] and store.health()["unwritten"] == 1


def test_wake_all_reaches_entries_in_memory(store, clock):
    disk.fill(store)
    enqueue(store, "a")
    store.record(store.due()[0]["id"], store_mod.PENDING, "down", 300)
    assert store.due() == []
    assert store.wake_all() == 1
    assert pending_keys(store) == ["a"]
    assert store.health()["unwritten"] == 2  # the wake is not a change


def test_prune_waits_while_the_disk_refuses(store, clock):
    enqueue(store, "old")
    store.record(store.due()[0]["id"], store_mod.ACCEPTED, "", 0)
    disk.read_only(store)
    enqueue(store, "new")
    clock.now += 31 * 86400
    assert store.prune(30 * 86400) == 0
    disk.read_only(store, False)
    store.flush()
    assert store.prune(30 * 86400) == 1


# -- withdrawn entries --------------------------------------------------------

def test_withdraw_by_key_is_final_and_never_due(store, clock):
    enqueue(store, "u-1/b3/hang", "u-1/b3/other")
    clock.now += 5
    assert store.apply([fx.Withdraw("u-1", "the guest answers again",
                                    key="u-1/b3/hang")]) is False
    assert pending_keys(store) == ["u-1/b3/other"]
    gone, = store.recent_final(10)
    assert (gone["key"], gone["state"], gone["last_error"],
            gone["finished_at"]) == ("u-1/b3/hang", store_mod.WITHDRAWN,
                                     "the guest answers again", 1005.0)
    clock.now += 10 ** 6
    assert pending_keys(store) == ["u-1/b3/other"]


def test_withdraw_takes_only_pending_entries_of_earlier_boots(store):
    store.apply([fx.Enqueue("u-1/b3/LIFECYCLE/STOPPED_FAILED", BODY,
                            uuid="u-1", boot=3),
                 fx.Enqueue("u-1/b4/LIFECYCLE/STOPPED_FAILED", BODY,
                            uuid="u-1", boot=4),
                 fx.Enqueue("u-1/b5/LIFECYCLE/STOPPED_FAILED", BODY,
                            uuid="u-1", boot=5),
                 fx.Enqueue("u-2/b1/LIFECYCLE/STOPPED_FAILED", BODY,
                            uuid="u-2", boot=1)])
    accepted = store.due()[1]
    store.record(accepted["id"], store_mod.ACCEPTED, "", 0, "n-1")
    store.apply([fx.Withdraw("u-1", "runs again in boot 5",
                             before_boot=5)])
    assert {e["key"]: e["state"] for e in store.entries()} == {
        "u-1/b3/LIFECYCLE/STOPPED_FAILED": "withdrawn",
        "u-1/b4/LIFECYCLE/STOPPED_FAILED": "accepted",
        "u-1/b5/LIFECYCLE/STOPPED_FAILED": "pending",
        "u-2/b1/LIFECYCLE/STOPPED_FAILED": "pending"}


def test_a_withdrawn_entry_stays_withdrawn_after_a_failed_send(store):
    """Its send was under way when it was withdrawn: a retry answer does
    not make it pending again; an acceptance is what happened."""
    enqueue(store, "a", "b")
    a, b = store.due()
    store.apply([fx.Withdraw("u-1", "answers", key="a"),
                 fx.Withdraw("u-1", "answers", key="b")])
    assert not store.is_pending(a["id"])
    store.record(a["id"], store_mod.PENDING, "HTTP 503", 0)
    store.record(b["id"], store_mod.ACCEPTED, "", 0, "n-1")
    assert [(e["state"], e["last_error"]) for e in store.entries()] == [
        ("withdrawn", "answers"), ("accepted", None)]


def test_entries_in_memory_are_withdrawn_too(store):
    withdrawn = []
    store._on_withdrawn = withdrawn.append
    disk.fill(store)
    store.apply([fx.Enqueue("u-1/b3/x", BODY, uuid="u-1", boot=3)])
    entry, = store.due()
    store.apply([fx.Withdraw("u-1", "runs again", before_boot=4)])
    assert store.due() == [] and not store.is_pending(entry["id"])
    disk.free(store)
    assert store.flush()
    assert disk.on_disk(store, "SELECT state, last_error FROM notification "
                        "WHERE key = 'u-1/b3/x'") == [
        ("withdrawn", "runs again")]
    assert withdrawn == [1]  # counted once, not again when written


# -- the wall clock -----------------------------------------------------------

@pytest.mark.parametrize("step", [3600.0, -3600.0])
def test_a_retry_is_due_as_long_after_a_clock_step_as_before(store, clock,
                                                             step):
    enqueue(store, "a")
    store.record(store.due()[0]["id"], store_mod.PENDING, "down", 30)
    clock.now += 10 + step
    store.apply([fx.ShiftTimes(step)])
    assert store.due() == []
    assert store.next_due_at() == clock.now + 20
    assert store.oldest_pending() == 1000.0 + step
    clock.now += 19.9
    assert store.due() == []
    clock.now += 0.1
    assert pending_keys(store) == ["a"]


def test_clock_steps_reach_entries_in_memory(store, clock):
    disk.fill(store)
    enqueue(store, "a", hold=10)
    clock.now -= 600
    store.apply([fx.ShiftTimes(-600.0)])
    assert store.next_due_at() == clock.now + 10
    disk.free(store)
    store.flush()
    assert disk.on_disk(store, "SELECT next_attempt_at, created_at FROM "
                        "notification WHERE key = 'a'") == [(410.0, 400.0)]


def test_a_clock_stepped_back_while_down_does_not_delay_a_retry(store,
                                                                 clock):
    """No ShiftTimes for a step while the monitor was down: an entry due
    further ahead than the longest legitimate wait is due now."""
    store.due_horizon = 60
    enqueue(store, "retry")
    enqueue(store, "held", hold=10)
    store.record(store.due()[0]["id"], store_mod.PENDING, "down", 30)
    clock.now -= 86400
    assert pending_keys(store) == ["retry", "held"]
    assert store.next_due_at({"retry"}) == clock.now
    clock.now = 1000.0 - 30  # a step within the horizon: they wait
    assert store.due() == [] and store.next_due_at() == 1010.0


# -- schema versions ----------------------------------------------------------

VERSION_1 = """
CREATE TABLE notification (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL
    DEFAULT 0, next_attempt_at REAL NOT NULL, last_error TEXT, created_at
    REAL NOT NULL, finished_at REAL, notification_uuid TEXT);
CREATE INDEX notification_state ON notification (state, next_attempt_at);
CREATE TABLE boot (uuid TEXT PRIMARY KEY, name TEXT NOT NULL, seq INTEGER
    NOT NULL, dom_id INTEGER NOT NULL, host_boot TEXT, notified TEXT NOT
    NULL, hangs INTEGER NOT NULL, hang_open INTEGER NOT NULL);
CREATE TABLE budget (uuid TEXT PRIMARY KEY, recoveries TEXT NOT NULL,
    quarantined_since REAL);
CREATE TABLE meta (name TEXT PRIMARY KEY, value);
"""


def old_database(state, version=None):
    state.mkdir()
    db = sqlite3.connect(str(state / store_mod.FILE))
    db.executescript(VERSION_1)
    rows = [("u-1/b3/LIFECYCLE/STOPPED_FAILED", "pending"),
            ("u-2/b-/LIFECYCLE/STOPPED_DESTROYED/at-2026", "accepted"),
            ("u-3/7/LIFECYCLE/STOPPED_FAILED", "rejected")]
    for key, state_ in rows:
        db.execute("INSERT INTO notification (key, body, state, "
                   "next_attempt_at, created_at) VALUES (?, ?, ?, 5, 5)",
                   (key, json.dumps(BODY), state_))
    db.execute("INSERT INTO boot VALUES ('u-1', 'i-1', 3, 2, 'hb', '[]', 0, "
               "0)")
    db.execute("INSERT INTO meta VALUES ('next_boot', 4)")
    if version is not None:
        db.execute("PRAGMA user_version = %d" % version)
    db.commit()
    db.close()


def test_a_version_1_database_is_migrated_with_its_rows(tmp_path, clock):
    old_database(tmp_path / "state")
    store = store_mod.Store(tmp_path / "state", clock)
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == \
        store_mod.VERSION == len(store_mod.MIGRATIONS)
    assert store.would_recover() == []  # version 3: shadow decisions
    assert [(e["key"], e["state"], e["instance_uuid"], e["boot"])
            for e in store.entries()] == [
        ("u-1/b3/LIFECYCLE/STOPPED_FAILED", "pending", "u-1", 3),
        ("u-2/b-/LIFECYCLE/STOPPED_DESTROYED/at-2026", "accepted", "u-2",
         None),
        ("u-3/7/LIFECYCLE/STOPPED_FAILED", "rejected", "u-3", None)]
    assert store.restore().next_boot == 4
    assert store.restore().boots["u-1"][1].seq == 3
    store.apply([fx.Withdraw("u-1", "runs again", before_boot=4)])
    assert store.depth() == 0
    store.close()
    store_mod.Store(tmp_path / "state", clock).close()  # once only


def test_new_entries_carry_their_instance_and_boot(store):
    store.apply([fx.Enqueue("u-1/b7/x", BODY, uuid="u-1", boot=7),
                 fx.Enqueue("u-2/b9/y", BODY)])  # from its key
    assert [(e["instance_uuid"], e["boot"]) for e in store.entries()] == [
        ("u-1", 7), ("u-2", 9)]


def test_a_newer_schema_is_refused_in_one_clear_line(tmp_path, clock):
    old_database(tmp_path / "state", version=store_mod.VERSION + 1)
    for _ in range(2):  # the lock is released: refused again, not locked
        with pytest.raises(store_mod.StateTooNew) as refused:
            store_mod.Store(tmp_path / "state", clock)
    message = str(refused.value)
    assert "\n" not in message
    assert "schema version %d, newer than this instanceha-monitor knows " \
        "(%d)" % (store_mod.VERSION + 1, store_mod.VERSION) in message
    assert "upgrade osc-instanceha, or point [DEFAULT] state_path " \
        "elsewhere" in message
    assert str(tmp_path / "state" / store_mod.FILE) in message


# -- shadow mode's decisions and the host's pause -----------------------------

def would(key, uuid="u-1"):
    return fx.WouldRecover(key, BODY, "death", "QEMU died", uuid, 3, None)


def test_shadow_decisions_are_kept_apart_from_the_outbox(tmp_path, clock):
    store = store_mod.Store(tmp_path / "state", clock)
    assert store.apply([would("u-1/b3/x"), would("u-1/b3/x")]) is False
    assert store.entries() == [] and store.due() == [] and \
        store.next_due_at() is None  # delivery cannot see them
    store.close()
    store = store_mod.Store(tmp_path / "state", clock)  # kept on disk
    row, = store.would_recover()
    assert (row["key"], row["kind"], row["reason"], row["decided_at"],
            row["body"]) == ("u-1/b3/x", "death", "QEMU died", 1000.0, BODY)
    assert store.would_recover_count() == 1
    store.close()


def test_history_reads_shadow_decisions_while_the_monitor_holds_the_lock(
        store, clock, tmp_path):
    for index in range(3):
        clock.now = 1000.0 + index * 100
        store.apply([would("u-1/b3/%d" % index)])
    db = store_mod.open_read_only(tmp_path / "state")
    try:
        assert [r["key"] for r in store_mod.read_would_recover(db, 1100)] \
            == ["u-1/b3/1", "u-1/b3/2"]
        with pytest.raises(sqlite3.OperationalError):  # read only
            db.execute("DELETE FROM would_recover")
    finally:
        db.close()
    assert [r["key"] for r in store.would_recover(limit=1)] == ["u-1/b3/2"]


def test_history_refuses_a_state_it_does_not_know(tmp_path):
    with pytest.raises(FileNotFoundError):
        store_mod.open_read_only(tmp_path / "state")
    old_database(tmp_path / "state", version=store_mod.VERSION + 1)
    with pytest.raises(store_mod.StateTooNew, match="newer than this"):
        store_mod.open_read_only(tmp_path / "state")
    old_database(tmp_path / "old", version=1)
    with pytest.raises(store_mod.StateTooOld, match="start this version"):
        store_mod.open_read_only(tmp_path / "old")


def test_shadow_decisions_are_pruned_with_the_history(store, clock):
    store.apply([would("u-1/b3/old")])
    clock.now += 86400
    store.apply([would("u-1/b3/new")])
    store.prune(3600)
    assert [r["key"] for r in store.would_recover()] == ["u-1/b3/new"]


def test_the_host_pause_survives_a_restart_until_resumed(tmp_path, clock):
    store = store_mod.Store(tmp_path / "state", clock)
    assert store.restore().host_paused_until is None
    store.apply([fx.PutHostPause(4600.0)])
    store.close()
    store = store_mod.Store(tmp_path / "state", clock)
    assert store.restore().host_paused_until == 4600.0
    store.apply([fx.PutHostPause(None)])
    assert store.restore().host_paused_until is None
    store.close()


@pytest.mark.parametrize("version", range(1, store_mod.VERSION))
def test_every_older_schema_is_brought_forward_with_its_rows(tmp_path, clock,
                                                             version):
    """A store of each earlier version, with a pending notification and a
    boot, opens at the newest version with both kept and usable."""
    path = tmp_path / "state"
    path.mkdir()
    db = sqlite3.connect(str(path / store_mod.FILE))
    for number in range(1, version + 1):
        store_mod.MIGRATIONS[number - 1](db)
    db.execute("PRAGMA user_version = %d" % version)
    db.execute("INSERT INTO notification (key, body, state, "
               "next_attempt_at, created_at) VALUES ('u-1/b3/x', ?, "
               "'pending', 5, 5)", (json.dumps(BODY),))
    if version >= 2:  # as that version wrote its entries
        db.execute("UPDATE notification SET instance_uuid = 'u-1', boot = 3")
    db.execute("INSERT INTO boot VALUES ('u-1', 'i-1', 3, 2, 'hb', '[]', 0, "
               "0)")
    db.commit()
    db.close()
    store = store_mod.Store(path, clock)
    try:
        assert store._db.execute("PRAGMA user_version").fetchone()[0] == \
            store_mod.VERSION
        entry, = store.entries()
        assert (entry["key"], entry["instance_uuid"], entry["boot"]) == (
            "u-1/b3/x", "u-1", 3)
        assert store.restore().boots["u-1"][1].seq == 3
        store.apply([fx.WouldRecover("u-1/b3/y", BODY, "death", "r", "u-1",
                                     3)])
        assert store.would_recover_count() == 1
    finally:
        store.close()
