"""The durable outbox: a notification is on disk before it is sent.

SQLite in WAL mode under ``state_path``.  Each entry carries an idempotency
key (instance, event, incident), so a decision recorded twice is stored once
and a monitor restart never resends what Masakari already accepted.  The
delivery schedule (exponential backoff with full jitter, no give-up) and the
meaning of Masakari's answers are pure functions, tested apart from I/O.
"""
import json
import sqlite3

PENDING = "pending"
ACCEPTED = "accepted"
REJECTED = "rejected"

ACCEPT, REJECT, RETRY = "accept", "reject", "retry"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notification (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    created_at REAL NOT NULL,
    finished_at REAL,
    notification_uuid TEXT
)
"""


def classify(status_code):
    """What an HTTP answer from Masakari means for an outbox entry.

    2xx: accepted.  400 (unknown host, bad payload) and 409 (duplicate within
    Masakari's window, host on maintenance) are final: sending the same body
    again cannot succeed.  Everything else (5xx, 401/403 while credentials
    are fixed, 404 from a proxy, 408, 429, no answer at all: None) is
    retried, for as long as it takes.
    """
    if status_code is not None and 200 <= status_code < 300:
        return ACCEPT
    if status_code in (400, 409):
        return REJECT
    return RETRY


def backoff(attempts, base, cap, random):
    """Delay before the next attempt: full jitter over base * 2**n, capped.

    ``random`` returns a float in [0, 1); injected so tests are exact.
    """
    ceiling = min(cap, base * (2 ** max(attempts - 1, 0)))
    return ceiling * random()


class Outbox:
    def __init__(self, path, clock):
        self._clock = clock
        self._db = sqlite3.connect(str(path), isolation_level=None,
                                   check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)

    def close(self):
        self._db.close()

    def add(self, key, body, hold=0.0):
        """Store a notification; False when the key is already stored.

        ``hold``: seconds before its first attempt, unless ``release``d
        earlier (room for forensics; a crash meanwhile only delays it).
        """
        now = self._clock()
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO notification "
            "(key, body, state, next_attempt_at, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (key, json.dumps(body, sort_keys=True), PENDING, now + hold,
             now))
        return cursor.rowcount == 1

    def release(self, key):
        """Make a held entry due now (no effect once attempted)."""
        self._db.execute(
            "UPDATE notification SET next_attempt_at = MIN(next_attempt_at,"
            " ?) WHERE key = ? AND state = ? AND attempts = 0",
            (self._clock(), key, PENDING))

    def has(self, key):
        return self._db.execute("SELECT 1 FROM notification WHERE key = ?",
                                (key,)).fetchone() is not None

    def due(self, limit=100):
        rows = self._db.execute(
            "SELECT * FROM notification WHERE state = ? AND "
            "next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
            (PENDING, self._clock(), limit)).fetchall()
        return [_entry(row) for row in rows]

    def next_due_at(self):
        row = self._db.execute(
            "SELECT MIN(next_attempt_at) FROM notification WHERE state = ?",
            (PENDING,)).fetchone()
        return row[0]

    def record(self, entry_id, status_code, detail, delay,
               notification_uuid=None):
        """Apply one delivery attempt's outcome; returns the new state."""
        outcome = classify(status_code)
        now = self._clock()
        if outcome == RETRY:
            self._db.execute(
                "UPDATE notification SET attempts = attempts + 1, "
                "next_attempt_at = ?, last_error = ? WHERE id = ?",
                (now + delay, detail, entry_id))
            return PENDING
        state = ACCEPTED if outcome == ACCEPT else REJECTED
        self._db.execute(
            "UPDATE notification SET attempts = attempts + 1, state = ?, "
            "finished_at = ?, last_error = ?, notification_uuid = ? "
            "WHERE id = ?",
            (state, now, None if state == ACCEPTED else detail,
             notification_uuid, entry_id))
        return state

    def entries(self, state=None):
        query, args = "SELECT * FROM notification", ()
        if state:
            query, args = query + " WHERE state = ?", (state,)
        return [_entry(row) for row in
                self._db.execute(query + " ORDER BY id", args)]

    def recent_final(self, limit):
        """The last ``limit`` entries with a final answer, oldest first."""
        rows = self._db.execute(
            "SELECT * FROM notification WHERE state != ? ORDER BY id DESC "
            "LIMIT ?", (PENDING, limit)).fetchall()
        return [_entry(row) for row in reversed(rows)]

    def depth(self):
        return self._db.execute(
            "SELECT COUNT(*) FROM notification WHERE state = ?",
            (PENDING,)).fetchone()[0]


def _entry(row):
    entry = dict(row)
    entry["body"] = json.loads(entry["body"])
    return entry
