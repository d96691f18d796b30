"""Opening a store: SQLite in a file (the embedded default, one gateway process) or PostgreSQL at a
URL (several gateway processes may share it). Callers get the contract
(gateway/store/interfaces.py), never the implementation."""

from __future__ import annotations

from pathlib import Path

from gateway.store.interfaces import Snapshot, Store
from gateway.store.sqlite.store import SqliteSnapshot, SqliteStore
from infra.settings import Settings

Location = Path | str  # a SQLite file, or a postgresql:// URL


def store_path(data_dir: Path) -> Path:
    """Where a gateway keeps its SQLite store in its data directory."""
    return data_dir / "gateway.sqlite3"


def store_location(settings: Settings) -> Location:
    """The store the settings name (``ASSETGW_STORE``, ``ASSETGW_DATABASE_URL``)."""
    return settings.database_url if settings.store == "postgres" else store_path(settings.data_dir)


def _is_url(location: Location) -> bool:
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def open_store(location: Location) -> Store:
    """The store at ``location``, created with its tables if missing."""
    if _is_url(location):
        from gateway.store.postgres.store import PgStore  # psycopg only where PostgreSQL is used

        return PgStore(str(location))
    return SqliteStore(Path(location))


def open_snapshot(location: Location) -> Snapshot:
    """A read-only view of the store at ``location``; it may be in use by a running gateway."""
    if _is_url(location):
        from gateway.store.postgres.store import PgSnapshot

        return PgSnapshot(str(location))
    return SqliteSnapshot(Path(location))
