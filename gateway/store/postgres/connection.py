"""Connections to the PostgreSQL server, and transactions on them.

As with SQLite, the event loop thread keeps one connection for the store's calls (they are short
and batched), and reports are read in worker threads on connections of their own, from a pool.
Connections are in autocommit; a write that is several statements runs in ``transaction(db)``,
which nests as a savepoint inside a unit of work, as SQLite's ``Transaction`` does."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from gateway.store.postgres.schema import REFUSE, SCHEMA_LOCK, TABLES, triggers

Connection = psycopg.Connection[tuple]  # type: ignore[type-arg]


def open_pool(url: str, max_size: int = 4) -> ConnectionPool:
    """A pool of autocommit connections to ``url``; the schema is made on the first."""
    pool = ConnectionPool(url, min_size=1, max_size=max_size, kwargs={"autocommit": True}, open=True,
                          name="assetgw-store")
    with pool.connection() as db:
        create_schema(db)
    return pool


def create_schema(db: Connection) -> None:
    """Tables, indexes and triggers, if missing; idempotent, and one gateway at a time."""
    with db.transaction():
        db.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        db.execute(TABLES)
        db.execute(REFUSE)
        for statement in triggers():
            db.execute(statement)


P = ParamSpec("P")
R = TypeVar("R")
_ATTEMPTS = 5


def retried(write: Callable[P, R]) -> Callable[P, R]:
    """A write that runs again when PostgreSQL aborted it for a deadlock with another gateway's
    (each rolled back whole, so running it again is safe) — unless it is part of a unit of work
    already open, which must then fail as a whole."""

    @functools.wraps(write)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        db: Connection = args[0].db  # type: ignore[attr-defined]
        for attempt in range(1, _ATTEMPTS + 1):
            inside = db.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
            try:
                return write(*args, **kwargs)
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
                if inside or attempt == _ATTEMPTS:
                    raise
                time.sleep(0.01 * attempt)
        raise AssertionError("unreachable")

    return run


def transaction(db: Connection) -> AbstractContextManager[psycopg.Transaction]:
    """BEGIN … COMMIT, rolled back on error; a savepoint inside one already open."""
    return db.transaction()


@contextmanager
def read_view(db: Connection) -> Iterator[None]:
    """Several reads in one REPEATABLE READ, READ ONLY transaction: one snapshot for them all.
    Inside a transaction already open, that transaction's view is kept."""
    if db.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        yield
        return
    with db.transaction():
        db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    """Database ``name`` on the server at ``server_url``, created if missing (a copy of
    ``template`` if given); its URL."""
    with psycopg.connect(server_url, autocommit=True) as db:
        if db.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            copy = sql.SQL(" TEMPLATE {}").format(sql.Identifier(template)) if template else sql.SQL("")
            db.execute(sql.SQL("CREATE DATABASE {}{}").format(sql.Identifier(name), copy))
    return urlsplit(server_url)._replace(path=f"/{name}").geturl()
