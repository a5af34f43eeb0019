"""Real SQLite failures of the store's disk, without mocks.

``PRAGMA max_page_count`` set to the current size keeps the database from
growing by one page: a write that needs one fails with SQLITE_FULL
("database or disk is full"), exactly what a full file system gives.  A
write that fits in a page's free room still succeeds, as it does on a
full disk, so ``fill`` also takes the outbox's free room with history
entries, as a disk fills with what was written before.  ``PRAGMA
query_only`` makes the database refuse every write (SQLITE_READONLY, as a
file system remounted read-only).  Both are settings of the store's own
connection.
"""
import json
import sqlite3

from monitor import store as store_mod

UNLIMITED = 1073741823  # SQLite's default max_page_count
BALLAST = "ballast/"  # keys of the history entries that fill the disk


def fill(store):
    """The disk is full: no room for one more notification."""
    db = store._db
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute("PRAGMA max_page_count = %d" % pages)
    count = 0
    for pad in (2000, 400, 80, 16, 0):
        while True:
            body = {"type": "VM", "hostname": "ballast",
                    "generated_time": "2026-01-01T00:00:00",
                    "payload": {"event": "LIFECYCLE",
                                "instance_uuid": "ballast",
                                "vir_domain_event": "STOPPED_FAILED"},
                    "pad": "x" * pad}
            try:
                db.execute(
                    "INSERT INTO notification (key, body, state, "
                    "next_attempt_at, created_at, finished_at) VALUES "
                    "(?, ?, 'accepted', 0, 0, 0)",
                    (BALLAST + str(count), json.dumps(body)))
            except sqlite3.OperationalError as exc:
                assert "full" in str(exc), exc
                break
            count += 1


def free(store):
    """Space returns."""
    store._db.execute("PRAGMA max_page_count = %d" % UNLIMITED)


def read_only(store, on=True):
    store._db.execute("PRAGMA query_only = %d" % on)


def without_ballast(entries):
    return [e for e in entries if not e["key"].startswith(BALLAST)]


def on_disk(store, query, args=()):
    """What another process reads in the database file: only what was
    committed."""
    db = sqlite3.connect("file:%s?mode=ro" % (store.path / store_mod.FILE),
                         uri=True)
    try:
        return db.execute(query, args).fetchall()
    finally:
        db.close()
