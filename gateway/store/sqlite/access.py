"""The access audit: every refused request, append-only (triggers refuse updates and deletes)."""

from __future__ import annotations

import sqlite3

from gateway.store import rows
from gateway.store.records import AccessEntry
from gateway.store.sqlite.connection import Transaction


class SqliteAccessAudit:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def record(self, entry: AccessEntry) -> None:
        with Transaction(self.db) as db:
            db.execute(
                f"INSERT INTO access_audit ({rows.ACCESS_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
                (entry.at, entry.officer, entry.court, entry.method, entry.path, entry.status, entry.reason, entry.client, entry.count),
            )

    def recent(self, limit: int = 200) -> list[AccessEntry]:
        return [rows.access_entry(r) for r in self.db.execute(
            f"SELECT {rows.ACCESS_COLUMNS} FROM access_audit ORDER BY seq DESC LIMIT ?", (limit,)
        )]
