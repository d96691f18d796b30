"""Opening the database and running transactions on it.

One connection for writing, used from the event loop thread: calls are short and batched (a large
batch is stored in parts), and SQLite has one writer anyway. A write from another thread would make
the loop's own writes wait inside SQLite's busy handler, blocking the loop. Large reads (reports)
run in worker threads on read-only connections of their own (``SqliteStore.reader``)."""

from __future__ import annotations

import sqlite3
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


def connect(path: Path) -> sqlite3.Connection:
    """Opens (creating it and its tables if need be) the database at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
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

    def __enter__(self) -> sqlite3.Connection:
        self.nested = self.db.in_transaction
        self.db.execute("SAVEPOINT step" if self.nested else "BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if not self.nested:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")
            return
        if exc_type:
            self.db.execute("ROLLBACK TO step")
        self.db.execute("RELEASE step")
