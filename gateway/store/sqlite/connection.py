"""Opening the database and running transactions on it.

A gateway opens two writing connections: the event loop's, and the store thread's for the bulk
writes (gateway/store/thread.py). SQLite has one writer per file; left to itself, a writer that
finds the file locked sleeps in SQLite's busy handler in steps of up to 100 ms, and can lose the
race again and again to a thread that writes all the time. So every connection of a process to one
file takes the same lock around each write transaction (``WRITE_LOCKS``): waiters get their turn
as soon as the transaction ahead commits, and the event loop's thread before any other (a request
waiting for the lock holds up every request, /healthz too: it waits for at most the one bulk
transaction already under way, not for a queue of them). Large reads (reports) run in worker
threads on read-only connections of their own (``SqliteStore.reader``)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from types import TracebackType

from gateway.store.sqlite.schema import (
    ADDED_COLUMNS,
    CASE_BACKFILL,
    CASE_SCHEMA,
    ENDED_FREEZE_BACKFILL,
    EVENT_SCHEMA,
    INQUIRY_SCHEMA,
    INQUIRY_TRIGGERS,
    ORDER_SCHEMA,
    WATCH_SCHEMA,
)


class WriteLock:
    """One writer at a time, the main thread (the event loop's) first: a writer on another thread
    does not take the lock while the main thread waits for it. (A plain lock lets the thread that
    just released it take it again at once, and the store thread writes back to back.)"""

    def __init__(self) -> None:
        self._state = threading.Condition(threading.Lock())
        self._held = False
        self._loop_waiting = 0

    def acquire(self) -> None:
        first = threading.current_thread() is threading.main_thread()
        with self._state:
            self._loop_waiting += first
            try:
                while self._held or (not first and self._loop_waiting):
                    self._state.wait()
            finally:
                self._loop_waiting -= first
            self._held = True

    def release(self) -> None:
        with self._state:
            self._held = False
            self._state.notify_all()


class WritingConnection(sqlite3.Connection):
    """A connection that knows its file's process-wide write lock."""

    write_lock: WriteLock


WRITE_LOCKS: dict[Path, WriteLock] = {}
_registry = threading.Lock()


def write_lock(path: Path) -> WriteLock:
    with _registry:
        return WRITE_LOCKS.setdefault(path.resolve(), WriteLock())


def connect(path: Path) -> sqlite3.Connection:
    """Opens (creating it and its tables if need be) the database at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, factory=WritingConnection)
    db.write_lock = write_lock(path)
    db.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode survives a process crash (kill -9); only power loss could drop a commit.
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(INQUIRY_SCHEMA)
    db.executescript(ORDER_SCHEMA)
    add_missing_columns(db)
    db.executescript(INQUIRY_TRIGGERS)
    db.executescript(CASE_SCHEMA)
    db.executescript(CASE_BACKFILL)
    db.executescript(ENDED_FREEZE_BACKFILL)
    db.executescript(EVENT_SCHEMA)
    db.executescript(WATCH_SCHEMA)
    return db


def add_missing_columns(db: sqlite3.Connection) -> None:
    """Brings a database made by an older version up to the current tables; idempotent. Under the
    write lock, so two processes opening one old database do not both add a column."""
    with Transaction(db):
        for table, column, declaration in ADDED_COLUMNS:
            if column not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")


def connect_read_only(path: Path, check_same_thread: bool = True) -> sqlite3.Connection:
    """A connection that cannot write, e.g. to a live gateway's database (WAL lets it read along)."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=check_same_thread)


class Transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back on error so nothing is half-applied. Inside a
    transaction already open (a unit of work) it is a savepoint: the step is still all or
    nothing, and the outer transaction decides whether it stays."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.nested = False
        self.lock: WriteLock | None = getattr(db, "write_lock", None)

    def __enter__(self) -> sqlite3.Connection:
        self.nested = self.db.in_transaction
        if self.nested:
            self.db.execute("SAVEPOINT step")
            return self.db
        if self.lock:
            self.lock.acquire()
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._release()
            raise
        return self.db

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if not self.nested:
            try:
                self.db.execute("ROLLBACK" if exc_type else "COMMIT")
            finally:
                self._release()
            return
        if exc_type:
            self.db.execute("ROLLBACK TO step")
        self.db.execute("RELEASE step")

    def _release(self) -> None:
        if self.lock:
            self.lock.release()


class ReadView:
    """BEGIN (deferred) … COMMIT around several reads: in WAL mode the first read fixes the
    snapshot they all see, and no lock is taken. Inside a transaction already open it does nothing."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.began = False

    def __enter__(self) -> None:
        if not self.db.in_transaction:
            self.db.execute("BEGIN")
            self.began = True

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.began:
            self.began = False
            self.db.execute("COMMIT")
