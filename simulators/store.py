"""A simulator process's own storage: one SQLite file, so a kill -9 and a restart lose nothing
the institutions told anyone and change nothing.

It holds what the process cannot regenerate from the seed: each changed ledger (whole, as
``ledger_state`` has it), each carrier's record of a restricted person (``restrictions``), every
order answer (dedupe: a repeated order_id gets the first answer),
the assets the network knows of, the served events and each feed's position and pending losses,
the clock's offset, and the partner link's nonces until they could no longer be replayed. The
population is generated from the seed and never stored; the file remembers which population it
belongs to and will not load into another.

``SqliteJournal`` is the ``Journal`` the in-memory state tells its changes to; ``flush`` writes
them in one transaction (nothing pending: no write at all, so a query that changes nothing costs
nothing here). The file is opened in exclusive locking mode: a second process on the same file
fails at start rather than both keeping diverging copies in memory.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from schemas.events import InstitutionEvent
from simulators import ledger_state
from simulators.journal import JournalError
from simulators.ledger_book import Key, Saved

if TYPE_CHECKING:
    from simulators.ledger import AssetLedger

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledgers (institution_id TEXT, asset_id TEXT, state BLOB NOT NULL,
                                    PRIMARY KEY (institution_id, asset_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS answers (institution_id TEXT, order_id TEXT, record BLOB NOT NULL, changed INTEGER NOT NULL,
                                    PRIMARY KEY (institution_id, order_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS known (n INTEGER PRIMARY KEY, institution_id TEXT NOT NULL, asset_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (institution_id TEXT, seq INTEGER, body BLOB NOT NULL,
                                   PRIMARY KEY (institution_id, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS restrictions (institution_id TEXT, id_number TEXT, state BLOB NOT NULL,
                                         PRIMARY KEY (institution_id, id_number)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS feeds (institution_id TEXT PRIMARY KEY, last_seq INTEGER NOT NULL, to_lose INTEGER NOT NULL);
-- No index on seen_at: every signed request adds a nonce, and the prune scans a few minutes' worth.
CREATE TABLE IF NOT EXISTS nonces (key_id TEXT, nonce TEXT, seen_at REAL NOT NULL, PRIMARY KEY (key_id, nonce)) WITHOUT ROWID;
"""
PRUNE_EVERY_S = 60.0  # nonces past their window are deleted at most this often


class StoreError(RuntimeError):
    """The file cannot serve this process: another population's, or held by another process."""


class SqliteJournal:
    def __init__(self, db: sqlite3.Connection, nonce_ttl_s: float) -> None:
        self._db = db
        self._nonce_ttl_s = nonce_ttl_s
        self._pruned_at = 0.0
        self._ledgers: dict[Key, AssetLedger] = {}  # the latest state is written, once per flush
        self._answers: list[tuple[str, str, bytes, int]] = []
        self._known: list[Key] = []
        self._events: list[tuple[str, int, bytes]] = []
        self._feeds: dict[str, tuple[int, int]] = {}
        self._clock: timedelta | None = None
        self._nonces: list[tuple[str, str, float]] = []
        self._restrictions: dict[Key, bytes] = {}  # the latest state per (carrier, person)
        self.commits = 0  # transactions written (tests check that what changes nothing writes nothing)

    # --- the Journal ---------------------------------------------------------------------------------
    def ledger_changed(self, ledger: AssetLedger) -> None:
        self._ledgers[(ledger.institution_id, ledger.asset_id)] = ledger

    def answered(self, institution_id: str, order_id: str, record: dict[str, Any], changed: bool) -> None:
        self._answers.append((institution_id, order_id, orjson.dumps(record), int(changed)))

    def asset_known(self, institution_id: str, asset_id: str) -> None:
        self._known.append((institution_id, asset_id))

    def event_served(self, event: InstitutionEvent) -> None:
        body = orjson.dumps(event.model_dump(mode="json", exclude_none=True))
        self._events.append((event.institution_id, event.seq, body))

    def feed_moved(self, institution_id: str, last_seq: int, to_lose: int) -> None:
        self._feeds[institution_id] = (last_seq, to_lose)

    def clock_moved(self, offset: timedelta) -> None:
        self._clock = offset

    def nonce_seen(self, key_id: str, nonce: str, at: float) -> None:
        self._nonces.append((key_id, nonce, at))

    def restrictions_changed(self, institution_id: str, id_number: str, state: dict[str, Any]) -> None:
        self._restrictions[(institution_id, id_number)] = orjson.dumps(state)

    def flush(self) -> None:
        if not (self._ledgers or self._restrictions or self._answers or self._known or self._events or self._feeds or self._nonces
                or self._clock is not None):
            return
        db = self._db
        try:
            db.execute("BEGIN")
            # Only what has rows: a statement costs tens of microseconds even with nothing to do.
            if self._ledgers:
                db.executemany("INSERT OR REPLACE INTO ledgers VALUES (?, ?, ?)",
                               [(i, a, orjson.dumps(ledger_state.dump(ledger))) for (i, a), ledger in self._ledgers.items()])
            if self._restrictions:
                db.executemany("INSERT OR REPLACE INTO restrictions VALUES (?, ?, ?)",
                               [(i, p, state) for (i, p), state in self._restrictions.items()])
            if self._answers:
                db.executemany("INSERT OR IGNORE INTO answers VALUES (?, ?, ?, ?)", self._answers)
            if self._known:
                db.executemany("INSERT INTO known (institution_id, asset_id) VALUES (?, ?)", self._known)
            if self._events:
                db.executemany("INSERT OR REPLACE INTO events VALUES (?, ?, ?)", self._events)
            if self._feeds:
                db.executemany("INSERT OR REPLACE INTO feeds VALUES (?, ?, ?)", [(i, *f) for i, f in self._feeds.items()])
            if self._nonces:
                db.executemany("INSERT OR IGNORE INTO nonces VALUES (?, ?, ?)", self._nonces)
            if self._clock is not None:
                db.execute("INSERT OR REPLACE INTO meta VALUES ('clock_offset_us', ?)", (str(self._clock // timedelta(microseconds=1)),))
            now = time.time()
            if now - self._pruned_at > PRUNE_EVERY_S:  # a nonce older than its window is refused as stale anyway
                db.execute("DELETE FROM nonces WHERE seen_at < ?", (now - self._nonce_ttl_s,))
                self._pruned_at = now
            db.execute("COMMIT")
            self.commits += 1
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            # Kept pending: the next flush writes them, and nothing is answered until one succeeds.
            raise JournalError(f"the simulator could not store its changes: {exc}") from exc
        self._ledgers.clear()
        self._restrictions.clear()
        self._answers.clear()
        self._known.clear()
        self._events.clear()
        self._feeds.clear()
        self._nonces.clear()
        self._clock = None

    def close(self) -> None:
        self._db.close()


def open_store(path: Path, population_id: str, nonce_ttl_s: float) -> tuple[SqliteJournal, Saved, list[tuple[str, str, float]]]:
    """The journal over ``path`` (made if new), what it holds, and the nonces still inside their window
    (oldest first). ``StoreError`` if the file belongs to another population or another process."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, timeout=2.0)
    try:
        # Exclusive: no other process may open the file while this one lives (the lock dies with it).
        db.execute("PRAGMA locking_mode=EXCLUSIVE")
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode writes each commit to the log without an fsync: a killed process loses
        # nothing committed (the OS holds the written pages), only a power cut or kernel crash could
        # lose the last commits. That is the failure the simulators must survive, at a fraction of
        # FULL's cost per answer.
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
        db.execute("BEGIN IMMEDIATE")  # the write lock now, not at the first answer; exclusive mode keeps it
        row = db.execute("SELECT value FROM meta WHERE key = 'population'").fetchone()
        if row is None:
            db.execute("INSERT INTO meta VALUES ('population', ?)", (population_id,))
        elif row[0] != population_id:
            raise StoreError(f"{path} holds the state of another population ({row[0]}), not {population_id}; "
                             "start with the same seed and sizes, or another data directory")
        db.execute("COMMIT")
        saved = _load(db)
        nonces = db.execute("SELECT key_id, nonce, seen_at FROM nonces WHERE seen_at >= ? ORDER BY seen_at",
                            (time.time() - nonce_ttl_s,)).fetchall()
    except sqlite3.OperationalError as exc:
        db.close()
        raise StoreError(f"cannot open {path}: {exc} (is another simulator using this data directory?)") from exc
    except BaseException:
        db.close()
        raise
    return SqliteJournal(db, nonce_ttl_s), saved, nonces


def _load(db: sqlite3.Connection) -> Saved:
    saved = Saved()
    row = db.execute("SELECT value FROM meta WHERE key = 'clock_offset_us'").fetchone()
    if row is not None:
        saved.clock_offset = timedelta(microseconds=int(row[0]))
    saved.ledgers = {(i, a): orjson.loads(state) for i, a, state in db.execute("SELECT * FROM ledgers")}
    saved.restrictions = {(i, p): orjson.loads(state) for i, p, state in db.execute("SELECT * FROM restrictions")}
    saved.answers = {(i, o): (orjson.loads(record), bool(changed)) for i, o, record, changed in db.execute("SELECT * FROM answers")}
    saved.known = [(i, a) for i, a in db.execute("SELECT institution_id, asset_id FROM known ORDER BY n")]
    saved.events = [InstitutionEvent.model_validate_json(body)
                    for (body,) in db.execute("SELECT body FROM events ORDER BY institution_id, seq")]
    saved.feeds = {i: (last, lose) for i, last, lose in db.execute("SELECT * FROM feeds")}
    return saved
