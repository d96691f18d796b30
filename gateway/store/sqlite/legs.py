"""Legs as work: the outbox reads the pending ones, results and deadlines end them.

Times are epoch milliseconds (UTC)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import orjson

from gateway.store import rows
from gateway.store.records import InquiryRecord, InstitutionBacklog, PendingLeg
from gateway.store.sqlite.connection import Transaction
from gateway.store.sqlite.events import remember_assets
from gateway.store.sqlite.schema import OPEN_LEG
from schemas.messages import LegBatchResult

_PENDING = (
    f"SELECT l.id, l.institution_id, l.institution_kind, d.kind, d.id_number, d.name, {rows.prefixed(rows.INQUIRY_COLUMNS, 'q')}"
    " FROM legs l JOIN inquiries q ON q.id = l.inquiry_id"
    " JOIN debtors d ON d.inquiry_id = l.inquiry_id AND d.seq = l.debtor_seq"
    f" WHERE l.status = 'pending' AND l.{OPEN_LEG} LIMIT ?"
)


class SqliteLegQueue:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    # -- outbox -------------------------------------------------------------------------------

    def claim_pending(self, limit: int) -> list[PendingLeg]:
        # One writer, one relay: reading is claiming. Each inquiry is decoded once per page.
        inquiries: dict[str, InquiryRecord] = {}
        out = []
        for row in self.db.execute(_PENDING, (limit,)):
            inquiry = inquiries.get(row[6])
            if inquiry is None:
                inquiry = inquiries[row[6]] = rows.inquiry(row[6:])
            out.append(PendingLeg(*row[:6], inquiry))
        return out

    def mark_sent(self, leg_ids: Sequence[str], now: int) -> None:
        with Transaction(self.db) as db:
            db.executemany(
                "UPDATE legs SET status = 'sent', sent_at = ? WHERE id = ? AND status = 'pending'",
                [(now, i) for i in leg_ids],
            )

    # -- results ------------------------------------------------------------------------------

    def apply_results(self, batches: Sequence[LegBatchResult], now: int) -> int:
        ended: dict[str, int] = {}
        with Transaction(self.db) as db:
            for batch in batches:
                for r in batch.results:
                    found = [a.model_dump(mode="json") for a in r.assets]
                    assets = orjson.dumps(found).decode() if found else None
                    if found:
                        remember_assets(db, found)  # events about them are now expected
                    cur = db.execute(
                        "UPDATE legs SET status = ?, reason = ?, attempts = ?, latency_ms = ?, assets = ?, finished_at = ?"
                        f" WHERE id = ? AND {OPEN_LEG}",
                        (r.status, r.reason, r.attempts, r.latency_ms, assets, now, r.leg_id),
                    )
                    if cur.rowcount:
                        ended[batch.inquiry_id] = ended.get(batch.inquiry_id, 0) + 1
                    else:
                        db.execute(
                            "UPDATE legs SET late_status = ?, late_reason = ?, late_assets = ?, late_at = ?"
                            " WHERE id = ? AND status = 'timed_out' AND late_status IS NULL",
                            (r.status, r.reason, assets, now, r.leg_id),
                        )
            _count_ended(db, ended, now)
        return sum(ended.values())

    def requeue_unanswered(self, now: int, older_than_ms: int) -> int:
        # The broker may have lost them (noida-db loses acknowledged messages on kill -9) or their
        # result; answering a leg twice is harmless, losing it is not. Asked every second: look
        # first, and take the write lock only when there is work.
        stale = f"status = 'sent' AND {OPEN_LEG} AND sent_at < ? AND inquiry_id IN (SELECT id FROM inquiries WHERE completed_at IS NULL)"
        if self.db.execute(f"SELECT 1 FROM legs WHERE {stale} LIMIT 1", (now - older_than_ms,)).fetchone() is None:
            return 0
        with Transaction(self.db) as db:
            return db.execute(f"UPDATE legs SET status = 'pending' WHERE {stale}", (now - older_than_ms,)).rowcount

    # -- deadlines ----------------------------------------------------------------------------

    def next_open_deadline(self) -> int | None:
        return self.db.execute("SELECT min(deadline) FROM inquiries WHERE completed_at IS NULL").fetchone()[0]

    def expire_overdue(self, now: int) -> list[str]:
        # Asked twice a second: look first, and take the write lock only when there is work.
        if self.db.execute("SELECT 1 FROM inquiries WHERE completed_at IS NULL AND deadline <= ? LIMIT 1", (now,)).fetchone() is None:
            return []
        with Transaction(self.db) as db:
            overdue = [r[0] for r in db.execute(
                "SELECT id FROM inquiries WHERE completed_at IS NULL AND deadline <= ?", (now,)
            )]
            ended = {}
            for inquiry_id in overdue:
                cur = db.execute(
                    "UPDATE legs SET status = 'timed_out', reason = 'no answer before the inquiry deadline',"
                    f" finished_at = ? WHERE inquiry_id = ? AND {OPEN_LEG}",
                    (now, inquiry_id),
                )
                ended[inquiry_id] = cur.rowcount
            _count_ended(db, ended, now)
        return overdue

    # -- ops ----------------------------------------------------------------------------------

    def backlog(self) -> list[InstitutionBacklog]:
        return [InstitutionBacklog(*r) for r in self.db.execute(
            "SELECT institution_id, count(*) AS pending, min(sent_at) AS oldest_sent_at FROM legs"
            f" WHERE status = 'sent' AND {OPEN_LEG} GROUP BY institution_id ORDER BY oldest_sent_at"
        )]


def _count_ended(db: sqlite3.Connection, ended: dict[str, int], now: int) -> None:
    db.executemany(
        "UPDATE inquiries SET legs_done = legs_done + ?,"
        " completed_at = CASE WHEN legs_done + ? >= legs_total THEN ? ELSE completed_at END"
        " WHERE id = ? AND completed_at IS NULL",
        [(n, n, now, i) for i, n in ended.items()],
    )
