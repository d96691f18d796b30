"""A PostgreSQL server for the stack and the tests, from PyPI (pgserver ships PostgreSQL 16 in its
wheel): no distribution package, no Docker. It listens on a Unix socket in its data directory
only. As root, pgserver runs the server as a user of its own (``pgserver``) and lets that user
traverse the path to its data directory; the files in it stay the server's own (0700)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.store.postgres.connection import create_database

DATABASE = "assetgw"


def start_postgres(data_dir: Path, cleanup_mode: str = "stop") -> Any:  # pgserver.PostgresServer (no stubs)
    """The server whose data is in ``data_dir`` (made on first use), started if it is not running;
    stopped (``cleanup_mode="delete"``: and its data deleted) when the last process that started
    it exits. The server's user must be able to reach ``data_dir`` for as long as it runs: keep it
    out of trees that something else makes private again (pytest does so to its base directory)."""
    import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    return pgserver.get_server(data_dir, cleanup_mode=cleanup_mode)


def database_url(server: Any, name: str = DATABASE, template: str | None = None) -> str:
    """The URL of database ``name`` on ``server``, created if missing (a copy of ``template``)."""
    return create_database(server.get_uri(), name, template)
