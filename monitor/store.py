"""The monitor's one durable store, under ``state_path``.

One SQLite database (stdlib ``sqlite3``, WAL, ``synchronous=FULL``) holds
the outbox of notifications, the boots of the running domains and the
restart budgets.  The effects of one observation are written in one
transaction, before any of them reaches the network, so a crash leaves
either all of a decision on disk or none of it.

When the disk refuses a write (full, read-only, I/O error), nothing is
dropped: the change goes to a journal in memory, in order, and an
in-memory copy of the outbox (the shadow) carries it, so the death is
still delivered and its outcome still known.  Every later change joins
the journal behind it; ``flush`` writes the whole journal in one
transaction once the disk takes writes again.  Only a restart while the
journal is not empty loses it, which ``health`` says.

An exclusive lock on the state directory keeps a second monitor from
delivering the same outbox.  Final outbox entries are kept for
``retention`` seconds for status and post-mortems; pending ones are never
pruned.  Deduplication does not rely on old entries: an incident key
contains a boot number that is never reused.
"""
import errno
import fcntl
import json
import logging
import os
import re
import sqlite3

from monitor import effects as fx
from monitor import engine
from monitor import guest as gm
from monitor import private

LOG = logging.getLogger(__name__)

FILE = "state.sqlite"
LEGACY = "outbox.sqlite"  # the outbox and inventory before this store
LOCK = "monitor.lock"

PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"
WITHDRAWN = "withdrawn"  # final: the failure no longer holds, never sent
# An entry due later than this is the mark of a wall clock stepped back
# while the monitor was down (a running monitor shifts the times with the
# clock): it is due now rather than in days.  The longest legitimate wait
# is a retry (retry_max_interval) after a hold (forensics timeout).
DUE_HORIZON = 3600.0

_V1 = ["""
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
)""", """
CREATE INDEX IF NOT EXISTS notification_state
    ON notification (state, next_attempt_at)""", """
CREATE TABLE IF NOT EXISTS boot (
    uuid TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    seq INTEGER NOT NULL,
    dom_id INTEGER NOT NULL,
    host_boot TEXT,
    notified TEXT NOT NULL,
    hangs INTEGER NOT NULL,
    hang_open INTEGER NOT NULL
)""", """
CREATE TABLE IF NOT EXISTS budget (
    uuid TEXT PRIMARY KEY,
    recoveries TEXT NOT NULL,
    quarantined_since REAL
)""", """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value)
"""]

# Primary SQLite result codes that blame the disk or the file rather than
# the statement: PERM, BUSY, LOCKED, NOMEM, READONLY, IOERR, CORRUPT,
# FULL, CANTOPEN, PROTOCOL, NOLFS, NOTADB.
_DISK_CODES = frozenset((3, 5, 6, 7, 8, 10, 11, 13, 14, 15, 22, 26))


class StateLocked(Exception):
    """Another monitor holds the state directory."""


class StateTooNew(Exception):
    """The state was written by a newer version of the monitor."""


class StateTooOld(Exception):
    """The state was not yet upgraded by this version of the monitor."""


def _migrate_v1(db):
    """The layout before schema versions."""
    for statement in _V1:
        db.execute(statement)


def _migrate_v2(db):
    """The instance and boot of each notification, so that a withdrawal
    finds the pending entries of an instance's earlier boots."""
    db.execute("ALTER TABLE notification ADD COLUMN instance_uuid TEXT")
    db.execute("ALTER TABLE notification ADD COLUMN boot INTEGER")
    db.execute("CREATE INDEX notification_instance ON notification "
               "(instance_uuid, state, boot)")
    _fill_incidents(db)


def _migrate_v3(db):
    """Shadow mode's decisions, apart from the outbox: delivery reads the
    outbox only, so none of them can ever be sent."""
    db.execute("""
CREATE TABLE would_recover (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    instance_uuid TEXT NOT NULL,
    boot INTEGER,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    reason TEXT NOT NULL,
    fence TEXT,
    decided_at REAL NOT NULL
)""")
    db.execute("CREATE INDEX would_recover_time ON would_recover "
               "(decided_at)")


# MIGRATIONS[n - 1] brings a database of version n - 1 to version n
# (PRAGMA user_version); only ever append.
MIGRATIONS = (_migrate_v1, _migrate_v2, _migrate_v3)
VERSION = len(MIGRATIONS)


def incident(key, body=None):
    """(instance uuid, boot or None) of an incident key
    ``"<uuid>/b<N>/..."`` (``b-``: no boot; keys of earlier versions carry
    a domain ID, not a boot)."""
    parts = key.split("/")
    uuid = parts[0] if len(parts) > 1 else None
    if not uuid and body:
        uuid = body.get("payload", {}).get("instance_uuid")
    boot = None
    if len(parts) > 1 and re.fullmatch(r"b\d+", parts[1]):
        boot = int(parts[1][1:])
    return uuid, boot


def _fill_incidents(db):
    rows = db.execute("SELECT id, key, body FROM notification WHERE "
                      "instance_uuid IS NULL").fetchall()
    for entry_id, key, body in rows:
        uuid, boot = incident(key, json.loads(body))
        db.execute("UPDATE notification SET instance_uuid = ?, boot = ? "
                   "WHERE id = ?", (uuid, boot, entry_id))


def _disk_side(exc):
    """True for SQLite's errors of the disk (full, read-only, I/O), which
    a later attempt may overcome; False for a faulty statement."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return type(exc) in (sqlite3.OperationalError, sqlite3.DatabaseError)
    return code & 0xff in _DISK_CODES


def _lock(path):
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                 private.FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES):
            os.close(fd)
            raise
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise StateLocked(
            "another instanceha-monitor (pid %s) uses the state directory "
            "%s: stop it first, or give this one its own [DEFAULT] "
            "state_path" % (holder, path.parent)) from None
    os.ftruncate(fd, 0)
    os.write(fd, b"%d\n" % os.getpid())
    return fd


def _upgrade(db, database):
    """Bring the schema to VERSION, one transaction per step; refuse a
    database of a newer version (its layout is unknown here)."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version == 0 and db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = "
            "'notification'").fetchone():
        version = 1  # written before schema versions
    if version > VERSION:
        raise StateTooNew(
            "the state database %s has schema version %d, newer than this "
            "instanceha-monitor knows (%d): upgrade osc-instanceha, or "
            "point [DEFAULT] state_path elsewhere" % (database, version,
                                                      VERSION))
    for number in range(version + 1, VERSION + 1):
        _transaction(db, _migrate, None, number)


def _migrate(db, _now, number):
    MIGRATIONS[number - 1](db)
    db.execute("PRAGMA user_version = %d" % number)  # in the transaction


def _transaction(db, write, now, *args):
    """``write(db, now, *args)`` in one transaction; rolled back when it
    raises."""
    db.execute("BEGIN IMMEDIATE")
    try:
        result = write(db, now, *args)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:  # SQLite has rolled back already
                pass
        raise
    return result


class Store:
    def __init__(self, state_path, clock, due_horizon=DUE_HORIZON,
                 on_withdrawn=None):
        """``due_horizon``: see DUE_HORIZON; ``on_withdrawn(n)``: told of
        entries withdrawn (for a counter)."""
        self._clock = clock
        self.due_horizon = due_horizon
        self._on_withdrawn = on_withdrawn or (lambda count: None)
        self._journal = []  # (write, now, args, counted): not on disk yet
        self._shadow = None  # the outbox with the journal, in memory
        self._failure = None  # [since, error] while the disk refuses
        self.path = private.make_dir(state_path)
        self._lock_fd = _lock(self.path / LOCK)
        database = self.path / FILE
        private.touch(database)  # WAL and SHM files take its mode
        for suffix in ("-wal", "-shm"):
            if (self.path / (FILE + suffix)).exists():
                os.chmod(self.path / (FILE + suffix), private.FILE_MODE)
        self._db = sqlite3.connect(str(database), isolation_level=None,
                                   check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            _upgrade(self._db, database)
            self._import_legacy()
        except BaseException:
            self.close()
            raise

    def close(self):
        if not self.flush():
            LOG.error("Stopping with %d changes the state store could not "
                      "write (%s): they are lost", self.unwritten,
                      self._failure[1])
        if self._shadow is not None:
            self._shadow.close()
        self._db.close()
        os.close(self._lock_fd)  # releases the lock

    # -- the engine's durable state -------------------------------------------
    def restore(self):
        paused = self._meta("host_paused_until")
        restored = engine.Restored(
            next_boot=int(self._meta("next_boot", 1)),
            host_paused_until=None if paused is None else float(paused))
        for row in self._db.execute("SELECT * FROM boot"):
            restored.boots[row["uuid"]] = (row["name"], gm.Boot(
                row["seq"], row["dom_id"], row["host_boot"],
                frozenset(json.loads(row["notified"])), row["hangs"],
                bool(row["hang_open"])))
        for row in self._db.execute("SELECT * FROM budget"):
            if json.loads(row["recoveries"]):
                restored.recoveries[row["uuid"]] = json.loads(
                    row["recoveries"])
            if row["quarantined_since"] is not None:
                restored.quarantined[row["uuid"]] = row["quarantined_since"]
        return restored

    def apply(self, effects):
        """Write the durable effects of one observation in one
        transaction; returns True when an entry became due or was added
        (the delivery worker has something to look at).  A disk that
        refuses the write does not lose them (see the module's doc)."""
        durable = tuple(e for e in effects if isinstance(e, fx.DURABLE))
        if not durable:
            return False
        wake, withdrawn = self._change(_apply, durable)
        if withdrawn:
            self._on_withdrawn(withdrawn)
        return wake

    def _meta(self, name, default=None):
        row = self._db.execute("SELECT value FROM meta WHERE name = ?",
                               (name,)).fetchone()
        return default if row is None else row[0]

    # -- when the disk refuses ------------------------------------------------
    def _change(self, write, *args, counted=True):
        """``write(db, now, *args)`` on disk in one transaction, or, when
        the disk refuses it or older changes still wait, on the shadow and
        into the journal behind them."""
        now = self._clock()
        if self._journal:
            self.flush()
        if not self._journal:
            try:
                return _transaction(self._db, write, now, *args)
            except sqlite3.DatabaseError as exc:
                if not _disk_side(exc):
                    raise
                self._start_failing(exc)
        try:
            result = _transaction(self._shadow, write, now, *args)
        except BaseException:  # a faulty change: kept nowhere, as on disk
            if not self._journal:
                self._stop_failing()
            raise
        self._journal.append((write, now, args, counted))
        return result

    def _start_failing(self, exc):
        self._failure = [self._clock(), str(exc)]
        self._shadow = self._copy()
        LOG.error("The state store cannot commit to %s (%s): decisions and "
                  "delivery outcomes are kept in memory and written when it "
                  "can again; a restart before then loses them. Free space "
                  "or fix the file system under [DEFAULT] state_path.",
                  self.path / FILE, exc)

    def _copy(self):
        """The database as on disk, in memory; rows keep their ids (new
        entries get the same ids in memory as on disk later)."""
        shadow = sqlite3.connect(":memory:", isolation_level=None,
                                 check_same_thread=False)
        shadow.row_factory = sqlite3.Row
        try:
            self._db.backup(shadow)
        except sqlite3.Error as exc:
            LOG.error("The state store cannot even be read (%s): pending "
                      "notifications on disk are not seen until it can", exc)
            for migrate in MIGRATIONS:
                migrate(shadow)
        return shadow

    def flush(self):
        """Write the journal, in order, in one transaction; True when
        nothing is left in memory."""
        if not self._journal:
            return True

        def replay(db, _now):
            for write, now, args, _counted in self._journal:
                write(db, now, *args)

        try:
            _transaction(self._db, replay, None)
        except sqlite3.Error as exc:
            self._failure[1] = str(exc)
            return False
        LOG.warning("The state store writes again: %d changes kept in "
                    "memory for %.0f s are on disk", self.unwritten,
                    self._clock() - self._failure[0])
        self._stop_failing()
        return True

    def _stop_failing(self):
        self._journal, self._failure = [], None
        self._shadow.close()
        self._shadow = None

    @property
    def unwritten(self):
        """Changes (observations, delivery outcomes) not on disk."""
        return sum(counted for _, _, _, counted in self._journal)

    def health(self):
        """writable: the last change reached the disk; since: wall time
        of the first refusal; error: the last one; unwritten: see
        ``unwritten``."""
        since, error = self._failure or (None, None)
        return {"writable": not self._journal, "since": since,
                "error": error, "unwritten": self.unwritten}

    @property
    def _reader(self):
        return self._db if self._shadow is None else self._shadow

    # -- the outbox, for delivery and status ----------------------------------
    def _times(self):
        """Query parameters of the effective due time, ``_AT``."""
        now = self._clock()
        return {"now": now, "far": now + self.due_horizon,
                "pending": PENDING}

    def due(self, limit=100, exclude=()):
        args = dict(self._times(), limit=limit + len(exclude))
        rows = self._reader.execute(
            "SELECT * FROM notification WHERE state = :pending AND %s <= "
            ":now ORDER BY %s, id LIMIT :limit" % (_AT, _AT), args).fetchall()
        return [e for e in map(_entry, rows) if e["key"] not in exclude][
            :limit]

    def next_due_at(self, exclude=()):
        args = dict(self._times(), limit=len(exclude) + 1)
        rows = self._reader.execute(
            "SELECT key, %s FROM notification WHERE state = :pending ORDER "
            "BY %s LIMIT :limit" % (_AT, _AT), args).fetchall()
        times = [at for key, at in rows if key not in exclude]
        return times[0] if times else None

    def is_pending(self, entry_id):
        """Still to be sent: not answered, not withdrawn (asked right
        before a send)."""
        row = self._reader.execute(
            "SELECT state FROM notification WHERE id = ?",
            (entry_id,)).fetchone()
        return row is not None and row[0] == PENDING

    def record(self, entry_id, state, detail, delay=0.0,
               notification_uuid=None):
        """One attempt's outcome: ``state`` PENDING (retry after
        ``delay``), ACCEPTED or REJECTED.  Kept in memory when the disk
        refuses it: an accepted entry is never due again either way."""
        self._change(_record, entry_id, state, detail, delay,
                     notification_uuid)

    def wake_all(self):
        """Every pending entry that already failed once is due now: the
        peer answers again (held entries keep waiting for forensics)."""
        return self._change(_wake_all, counted=False)

    def entries(self, state=None):
        query, args = "SELECT * FROM notification", ()
        if state:
            query, args = query + " WHERE state = ?", (state,)
        return [_entry(row) for row in
                self._reader.execute(query + " ORDER BY id", args)]

    def recent_final(self, limit):
        """The last ``limit`` entries with a final answer (withdrawn ones
        too), oldest first."""
        rows = self._reader.execute(
            "SELECT * FROM notification WHERE state != ? ORDER BY id DESC "
            "LIMIT ?", (PENDING, limit)).fetchall()
        return [_entry(row) for row in reversed(rows)]

    def depth(self):
        return self._reader.execute(
            "SELECT COUNT(*) FROM notification WHERE state = ?",
            (PENDING,)).fetchone()[0]

    def overdue(self, created_before):
        """Pending entries created before this time."""
        return self._reader.execute(
            "SELECT COUNT(*) FROM notification WHERE state = ? AND "
            "created_at < ?", (PENDING, created_before)).fetchone()[0]

    def oldest_pending(self):
        """created_at of the oldest pending entry, or None."""
        return self._reader.execute(
            "SELECT MIN(created_at) FROM notification WHERE state = ?",
            (PENDING,)).fetchone()[0]

    def would_recover(self, since=None, limit=None):
        """Shadow mode's decisions since ``since`` (all: None), oldest
        first (the last ``limit`` of them when given)."""
        return read_would_recover(self._reader, since, limit)

    def would_recover_count(self):
        return self._reader.execute(
            "SELECT COUNT(*) FROM would_recover").fetchone()[0]

    def prune(self, retention):
        """Remove final entries and shadow decisions older than
        ``retention`` seconds (not while the disk refuses writes: they
        wait, nothing is lost)."""
        if self._journal:
            return 0
        try:
            before = self._clock() - retention
            self._db.execute("DELETE FROM would_recover WHERE decided_at < "
                             "?", (before,))
            return self._db.execute(
                "DELETE FROM notification WHERE state != ? AND "
                "finished_at < ?", (PENDING, before)).rowcount
        except sqlite3.DatabaseError as exc:
            if not _disk_side(exc):
                raise
            return 0

    # -- the store of earlier versions ----------------------------------------
    def _import_legacy(self):
        """Take over an earlier version's outbox.sqlite once: pending and
        final notifications as they are, budgets, and the domains it saw
        running (as boots without a host boot id)."""
        legacy = self.path / LEGACY
        if not legacy.exists():
            return
        old = sqlite3.connect(str(legacy))
        old.row_factory = sqlite3.Row
        tables = {row[0] for row in old.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        seq = int(self._meta("next_boot", 1))
        self._db.execute("BEGIN IMMEDIATE")
        if "notification" in tables:
            for row in old.execute("SELECT * FROM notification"):
                values = dict(row)
                values.pop("id")
                self._db.execute(
                    "INSERT OR IGNORE INTO notification (%s) VALUES (%s)" % (
                        ", ".join(values), ", ".join("?" * len(values))),
                    tuple(values.values()))
            _fill_incidents(self._db)
        budgets = {}
        if "recovery" in tables:
            for uuid, at in old.execute("SELECT uuid, at FROM recovery"):
                budgets.setdefault(uuid, [[], None])[0].append(at)
        if "quarantine" in tables:
            for uuid, since in old.execute("SELECT uuid, since FROM "
                                           "quarantine"):
                budgets.setdefault(uuid, [[], None])[1] = since
        for uuid, (times, since) in budgets.items():
            self._db.execute("INSERT OR REPLACE INTO budget VALUES (?, ?, ?)",
                             (uuid, json.dumps(sorted(times)), since))
        if "known_running" in tables:
            for row in old.execute("SELECT uuid, name, boot FROM "
                                   "known_running"):
                self._db.execute(
                    "INSERT OR IGNORE INTO boot VALUES (?, ?, ?, ?, NULL, "
                    "'[]', 0, 0)", (row["uuid"], row["name"], seq,
                                    row["boot"]))
                seq += 1
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('next_boot', "
                         "?)", (seq,))
        self._db.execute("COMMIT")
        old.close()
        for suffix in ("", "-wal", "-shm"):
            path = self.path / (LEGACY + suffix)
            if path.exists():
                target = self.path / (LEGACY + suffix + ".imported")
                path.rename(target)
                os.chmod(target, private.FILE_MODE)


# The time an entry is due at: when it is due further ahead than the
# horizon, now (see DUE_HORIZON).
_AT = ("(CASE WHEN next_attempt_at > :far THEN :now ELSE next_attempt_at "
       "END)")


# -- the changes, the same on disk, in memory and when the journal is
# written (``now``: the time of the change, not of its writing) ----------
def _apply(db, now, durable):
    """(an entry became due or was added, entries withdrawn)."""
    wake, withdrawn = False, 0
    for effect in durable:
        if isinstance(effect, fx.Withdraw):
            withdrawn += _withdraw(db, now, effect)
        else:
            wake |= _write(db, effect, now)
    return wake, withdrawn


def _write(db, effect, now):
    if isinstance(effect, fx.PutBoot):
        boot = effect.boot
        db.execute(
            "INSERT OR REPLACE INTO boot VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (effect.uuid, effect.name, boot.seq, boot.dom_id,
             boot.host_boot, json.dumps(sorted(boot.notified)),
             boot.hangs, int(boot.hang_open)))
        db.execute(
            "INSERT INTO meta VALUES ('next_boot', ?) ON CONFLICT(name) "
            "DO UPDATE SET value = MAX(value, excluded.value)",
            (boot.seq + 1,))
    elif isinstance(effect, fx.DropBoot):
        db.execute("DELETE FROM boot WHERE uuid = ?", (effect.uuid,))
    elif isinstance(effect, fx.PutBudget):
        if effect.recoveries or effect.quarantined_since is not None:
            db.execute(
                "INSERT OR REPLACE INTO budget VALUES (?, ?, ?)",
                (effect.uuid, json.dumps(list(effect.recoveries)),
                 effect.quarantined_since))
        else:
            db.execute("DELETE FROM budget WHERE uuid = ?", (effect.uuid,))
    elif isinstance(effect, fx.Enqueue):
        return _enqueue(db, effect, now)
    elif isinstance(effect, fx.WouldRecover):
        db.execute(
            "INSERT OR IGNORE INTO would_recover (key, instance_uuid, boot, "
            "kind, body, reason, fence, decided_at) VALUES (?, ?, ?, ?, ?, "
            "?, ?, ?)", (effect.key, effect.uuid, effect.boot, effect.kind,
                         json.dumps(effect.body, sort_keys=True),
                         effect.reason, effect.fence, now))
    elif isinstance(effect, fx.PutHostPause):
        if effect.until is None:
            db.execute("DELETE FROM meta WHERE name = 'host_paused_until'")
        else:
            db.execute("INSERT OR REPLACE INTO meta VALUES "
                       "('host_paused_until', ?)", (effect.until,))
    elif isinstance(effect, fx.Release):
        cursor = db.execute(
            "UPDATE notification SET next_attempt_at = MIN("
            "next_attempt_at, ?) WHERE key = ? AND state = ? AND "
            "attempts = 0", (now, effect.key, PENDING))
        return cursor.rowcount == 1
    elif isinstance(effect, fx.ShiftTimes):
        db.execute(
            "UPDATE notification SET next_attempt_at = next_attempt_at + ?, "
            "created_at = created_at + ?, finished_at = finished_at + ?",
            (effect.delta,) * 3)
    return False


def _enqueue(db, effect, now):
    """The id is the next one after the largest, so an entry added in
    memory has the same id when the journal is written."""
    uuid, boot = (effect.uuid, effect.boot) if effect.uuid else incident(
        effect.key, effect.body)
    cursor = db.execute(
        "INSERT OR IGNORE INTO notification (id, key, body, state, "
        "next_attempt_at, created_at, instance_uuid, boot) SELECT "
        "IFNULL(MAX(id), 0) + 1, ?, ?, ?, ?, ?, ?, ? FROM notification",
        (effect.key, json.dumps(effect.body, sort_keys=True), PENDING,
         now + effect.hold, now, uuid, boot))
    return cursor.rowcount == 1 and not effect.hold


def _withdraw(db, now, effect):
    """Pending entries that no longer hold become final, never sent."""
    query = ("UPDATE notification SET state = ?, last_error = ?, "
             "finished_at = ? WHERE state = ? AND ")
    args = [WITHDRAWN, effect.reason, now, PENDING]
    if effect.key is not None:
        query += "key = ?"
        args.append(effect.key)
    else:
        query += "instance_uuid = ?"
        args.append(effect.uuid)
        if effect.before_boot is not None:
            query += " AND boot < ?"
            args.append(effect.before_boot)
    return db.execute(query, args).rowcount


def _record(db, now, entry_id, state, detail, delay, notification_uuid):
    if state == PENDING:  # a withdrawn entry stays withdrawn
        db.execute(
            "UPDATE notification SET attempts = attempts + 1, "
            "next_attempt_at = ?, last_error = ? WHERE id = ? AND state = ?",
            (now + delay, detail, entry_id, PENDING))
    else:  # what the peer said, even of an entry withdrawn meanwhile
        db.execute(
            "UPDATE notification SET attempts = attempts + 1, state = ?, "
            "finished_at = ?, last_error = ?, notification_uuid = ? "
            "WHERE id = ?", (state, now, None if state == ACCEPTED
                             else detail, notification_uuid, entry_id))


def _wake_all(db, now):
    return db.execute(
        "UPDATE notification SET next_attempt_at = ? WHERE state = ? "
        "AND attempts > 0 AND next_attempt_at > ?",
        (now, PENDING, now)).rowcount


def read_would_recover(db, since=None, limit=None):
    """Rows of the would_recover table as dicts (the body decoded)."""
    query, args = "SELECT * FROM would_recover", []
    if since is not None:
        query += " WHERE decided_at >= ?"
        args.append(since)
    query += " ORDER BY id DESC"
    if limit is not None:
        query += " LIMIT ?"
        args.append(limit)
    return [_entry(row) for row in reversed(db.execute(query,
                                                       args).fetchall())]


def open_read_only(state_path):
    """The state database for reading only, while a monitor may run (it
    holds the lock, not the database): for the history command.  Raises
    OSError when there is none; StateTooNew when its schema is newer."""
    database = os.path.join(str(state_path), FILE)
    if not os.path.exists(database):
        raise FileNotFoundError(errno.ENOENT, "no state database", database)
    db = sqlite3.connect("file:%s?mode=ro" % database, uri=True)
    db.row_factory = sqlite3.Row
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > VERSION:
        db.close()
        raise StateTooNew(
            "the state database %s has schema version %d, newer than this "
            "instanceha-monitor knows (%d): upgrade osc-instanceha" % (
                database, version, VERSION))
    if version < VERSION:
        db.close()
        raise StateTooOld(
            "the state database %s has schema version %d: start this "
            "version of instanceha-monitor once to upgrade it" % (
                database, version))
    return db


def _entry(row):
    entry = dict(row)
    entry["body"] = json.loads(entry["body"])
    return entry
