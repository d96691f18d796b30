"""The access audit (append-only: triggers refuse updates and deletes), and the officers' rate
limits, shared by every gateway on the database."""

from __future__ import annotations

from gateway.store import rows
from gateway.store.postgres.connection import Connection, transaction
from gateway.store.records import AccessEntry


class PgAccessAudit:
    def __init__(self, db: Connection) -> None:
        self.db = db

    def record(self, entry: AccessEntry) -> None:
        self.db.execute(
            f"INSERT INTO access_audit ({rows.ACCESS_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (entry.at, entry.officer, entry.court, entry.method, entry.path, entry.status, entry.reason, entry.client, entry.count))

    def recent(self, limit: int = 200) -> list[AccessEntry]:
        return [rows.access_entry(r) for r in self.db.execute(
            f"SELECT {rows.ACCESS_COLUMNS} FROM access_audit ORDER BY seq DESC LIMIT %s", (limit,))]


class PgRateBuckets:
    """Token buckets in one table: a request takes a token under the row's lock, so two gateways
    serving one officer give him ``rate`` a second between them, not each."""

    def __init__(self, db: Connection) -> None:
        self.db = db

    def take(self, key: str, rate: float, burst: float, now: float) -> float:
        with transaction(self.db):
            row = self.db.execute("SELECT tokens, at FROM rate_buckets WHERE key = %s FOR UPDATE", (key,)).fetchone()
            tokens, last = row if row else (burst, now)
            tokens = min(burst, tokens + max(now - last, 0.0) * rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / rate
            self.db.execute(
                "INSERT INTO rate_buckets (key, tokens, at) VALUES (%s, %s, %s)"
                " ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, at = excluded.at",
                (key, tokens - 1 if wait == 0 else tokens, now))
        return wait

    def prune(self, prefix: str, rate: float, burst: float, now: float) -> None:
        """Forgets the buckets under ``prefix`` that have filled up again (they would start full)."""
        self.db.execute("DELETE FROM rate_buckets WHERE starts_with(key, %s) AND at < %s", (prefix, now - burst / rate))
