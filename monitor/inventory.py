"""What the monitor knows about each domain.

Two kinds of knowledge: a live view for status (state, last event, last
decision), and the boots it saw running, kept on disk, so that after a
libvirtd reconnect or a monitor restart a domain that died unseen is found.
"""
import sqlite3

import libvirt

_SCHEMA = ["""
CREATE TABLE IF NOT EXISTS known_running (
    uuid TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    boot INTEGER NOT NULL
)""", """
CREATE TABLE IF NOT EXISTS recovery (uuid TEXT NOT NULL, at REAL NOT NULL)
""", """
CREATE TABLE IF NOT EXISTS quarantine (
    uuid TEXT PRIMARY KEY,
    since REAL NOT NULL
)"""]

STATE_NAMES = {
    getattr(libvirt, attr): attr[len("VIR_DOMAIN_"):].lower()
    for attr in ("VIR_DOMAIN_NOSTATE", "VIR_DOMAIN_RUNNING",
                 "VIR_DOMAIN_BLOCKED", "VIR_DOMAIN_PAUSED",
                 "VIR_DOMAIN_SHUTDOWN", "VIR_DOMAIN_SHUTOFF",
                 "VIR_DOMAIN_CRASHED", "VIR_DOMAIN_PMSUSPENDED")
}


class Inventory:
    def __init__(self, path):
        self._db = sqlite3.connect(str(path), isolation_level=None,
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        for statement in _SCHEMA:
            self._db.execute(statement)
        self.domains = {}

    def close(self):
        self._db.close()

    def known_running(self):
        return dict(self._db.execute("SELECT uuid, boot FROM known_running"))

    def mark_running(self, uuid, name, boot):
        self._db.execute(
            "INSERT OR REPLACE INTO known_running (uuid, name, boot) "
            "VALUES (?, ?, ?)", (uuid, name, boot))

    def mark_stopped(self, uuid):
        self._db.execute("DELETE FROM known_running WHERE uuid = ?", (uuid,))

    def boot_of(self, uuid):
        row = self._db.execute("SELECT boot FROM known_running WHERE uuid = ?",
                               (uuid,)).fetchone()
        return row[0] if row else None

    def budgets(self):
        """(uuid -> recovery times, uuid -> quarantined since)."""
        recoveries = {}
        for uuid, at in self._db.execute(
                "SELECT uuid, at FROM recovery ORDER BY at"):
            recoveries.setdefault(uuid, []).append(at)
        quarantined = dict(self._db.execute(
            "SELECT uuid, since FROM quarantine"))
        return recoveries, quarantined

    def save_budget(self, uuid, times, quarantined_since):
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM recovery WHERE uuid = ?", (uuid,))
            self._db.executemany("INSERT INTO recovery VALUES (?, ?)",
                                 [(uuid, at) for at in times])
            self._db.execute("DELETE FROM quarantine WHERE uuid = ?",
                             (uuid,))
            if quarantined_since is not None:
                self._db.execute("INSERT INTO quarantine VALUES (?, ?)",
                                 (uuid, quarantined_since))

    def observe(self, uuid, name, **fields):
        view = self.domains.setdefault(uuid, {"uuid": uuid, "name": name})
        view["name"] = name
        if "state" in fields:
            fields["state"] = STATE_NAMES.get(fields["state"],
                                              str(fields["state"]))
        view.update(fields)
        return view

    def view(self):
        return [self.domains[uuid] for uuid in sorted(self.domains)]
