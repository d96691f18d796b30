"""Opening a store. SQLite is the only implementation so far; callers get the contract
(gateway/store/interfaces.py), never the implementation."""

from __future__ import annotations

from pathlib import Path

from gateway.store.interfaces import Snapshot, Store
from gateway.store.sqlite.store import SqliteSnapshot, SqliteStore


def store_path(data_dir: Path) -> Path:
    """Where a gateway keeps its store in its data directory."""
    return data_dir / "gateway.sqlite3"


def open_store(path: Path) -> Store:
    """The store in the database file at ``path``, created with its tables if missing."""
    return SqliteStore(path)


def open_snapshot(path: Path) -> Snapshot:
    """A read-only view of the store at ``path``; it may be in use by a running gateway."""
    return SqliteSnapshot(path)
