"""Connections to the PostgreSQL server, and transactions on them.

As with SQLite, the event loop thread keeps one connection for the store's calls (they are short
and batched), and reports are read in worker threads on connections of their own, from a pool.
Connections are in autocommit; a write that is several statements runs in ``transaction(db)``,
which nests as a savepoint inside a unit of work, as SQLite's ``Transaction`` does."""

from __future__ import annotations

from contextlib import AbstractContextManager
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


def transaction(db: Connection) -> AbstractContextManager[psycopg.Transaction]:
    """BEGIN … COMMIT, rolled back on error; a savepoint inside one already open."""
    return db.transaction()


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    """Database ``name`` on the server at ``server_url``, created if missing (a copy of
    ``template`` if given); its URL."""
    with psycopg.connect(server_url, autocommit=True) as db:
        if db.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            copy = sql.SQL(" TEMPLATE {}").format(sql.Identifier(template)) if template else sql.SQL("")
            db.execute(sql.SQL("CREATE DATABASE {}{}").format(sql.Identifier(name), copy))
    return urlsplit(server_url)._replace(path=f"/{name}").geturl()
