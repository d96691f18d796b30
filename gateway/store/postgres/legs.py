"""Legs as work, shared by several gateways: a relay claims pending legs for a lease
(``FOR UPDATE SKIP LOCKED``, so two relays never wait on or take the same rows), results and
deadlines end them. Times are epoch milliseconds (UTC)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from gateway.store import rows
from gateway.store.postgres.connection import Connection, retried, transaction
from gateway.store.postgres.events import remember_assets
from gateway.store.postgres.schema import CLAIM_LEASE_MS, OPEN_LEG, OPEN_LEG_STATUSES
from gateway.store.records import InquiryRecord, InstitutionBacklog, PendingLeg
from infra.clock import now_ms
from schemas.messages import LegBatchResult, LegResult

# Pending legs this relay may take: unclaimed, its own, or claimed by a relay whose lease ran out.
_CLAIM = (
    "UPDATE legs SET claimed_by = %(me)s, claimed_until = %(until)s WHERE id IN ("
    f" SELECT id FROM legs WHERE status = 'pending' AND {OPEN_LEG}"
    "  AND (claimed_by IS NULL OR claimed_by = %(me)s OR claimed_until < %(now)s)"
    "  LIMIT %(limit)s FOR UPDATE SKIP LOCKED) RETURNING id"
)
_PENDING = (
    f"SELECT l.id, l.institution_id, l.institution_kind, d.kind, d.id_number, d.name, {rows.prefixed(rows.INQUIRY_COLUMNS, 'q')}"
    " FROM legs l JOIN inquiries q ON q.id = l.inquiry_id"
    " JOIN debtors d ON d.inquiry_id = l.inquiry_id AND d.seq = l.debtor_seq"
    " WHERE l.id = ANY(%s)"
)


# A batch's answers as rows: one array per column.
_ANSWERS = ("SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::int[], %s::int[], %s::text[])"
            " AS a(id, status, reason, attempts, latency_ms, assets)")


class PgLegQueue:
    def __init__(self, db: Connection, owner: str) -> None:
        self.db = db
        self.owner = owner  # this store's name in claimed_by

    # -- outbox -------------------------------------------------------------------------------

    def claim_pending(self, limit: int) -> list[PendingLeg]:
        now = now_ms()
        with transaction(self.db):
            ids = [r[0] for r in self.db.execute(_CLAIM, {"me": self.owner, "until": now + CLAIM_LEASE_MS, "now": now,
                                                          "limit": limit})]
        inquiries: dict[str, InquiryRecord] = {}
        out = []
        for row in self.db.execute(_PENDING, (ids,)) if ids else ():
            inquiry = inquiries.get(row[6])
            if inquiry is None:
                inquiry = inquiries[row[6]] = rows.inquiry(row[6:])
            out.append(PendingLeg(*row[:6], inquiry))
        return out

    @retried
    def mark_sent(self, leg_ids: Sequence[str], now: int) -> None:
        # Rows locked in id order, as apply_results locks them: another gateway applying answers
        # to the same legs (an answer may overtake the record of sending) waits, never deadlocks.
        # Two statements, each reaching the rows by primary key: as one UPDATE … FROM (locked ids)
        # the planner hashed every pending leg to join them (stale statistics say there are few),
        # so each page marked sent cost a scan of the whole outbox while a big batch waited in it.
        ids = list(leg_ids)
        with transaction(self.db):
            self.db.execute("SELECT 1 FROM legs WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (ids,))
            self.db.execute("UPDATE legs SET status = 'sent', sent_at = %s, claimed_by = NULL, claimed_until = NULL"
                            " WHERE id = ANY(%s) AND status = 'pending'", (now, ids))

    # -- results ------------------------------------------------------------------------------

    @retried
    def apply_results(self, batches: Sequence[LegBatchResult], now: int) -> int:
        # Set-based: a fetched batch may hold 25,000 answers, and a round trip per answer would
        # hold the event loop (and the rows) for seconds. A leg's first answer in the batch counts.
        first: dict[str, tuple[str, LegResult, str | None]] = {}
        found: list[dict[str, Any]] = []
        for batch in batches:
            for r in batch.results:
                if r.leg_id not in first:
                    assets = [a.model_dump(mode="json") for a in r.assets]
                    found += assets
                    first[r.leg_id] = (batch.inquiry_id, r, orjson.dumps(assets).decode() if assets else None)
        ids = sorted(first)
        columns = [ids, [first[i][1].status for i in ids], [first[i][1].reason for i in ids],
                   [first[i][1].attempts for i in ids], [first[i][1].latency_ms for i in ids], [first[i][2] for i in ids]]
        ended: dict[str, int] = {}
        with transaction(self.db):
            if found:
                remember_assets(self.db, found)  # events about them are now expected
            # Locked in id order (see mark_sent), then the inquiries in id order (_count_ended). Which
            # are open is read from the locked rows: a status term in the UPDATE let the planner scan
            # the whole open-legs index for each batch (a BitmapAnd), slower as a big batch waits.
            locked = self.db.execute("SELECT id, status, late_status FROM legs WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
                                     (ids,)).fetchall()
            open_ids = [leg for leg, status, _ in locked if status in OPEN_LEG_STATUSES]
            late_ids = [leg for leg, status, late in locked if status == "timed_out" and late is None]
            if open_ids:
                self.db.execute(
                    "UPDATE legs SET status = v.status, reason = v.reason, attempts = v.attempts, latency_ms = v.latency_ms,"
                    f" assets = v.assets, finished_at = %s FROM ({_ANSWERS}) v WHERE legs.id = v.id AND legs.id = ANY(%s)",
                    (now, *columns, open_ids))
            for leg in open_ids:
                ended[first[leg][0]] = ended.get(first[leg][0], 0) + 1
            if late_ids:  # answers to legs that timed out are kept beside the timeout
                self.db.execute(
                    "UPDATE legs SET late_status = v.status, late_reason = v.reason, late_assets = v.assets, late_at = %s"
                    f" FROM ({_ANSWERS}) v WHERE legs.id = v.id AND legs.id = ANY(%s)", (now, *columns, late_ids))
            _count_ended(self.db, ended, now)
        return sum(ended.values())

    def requeue_unanswered(self, now: int, older_than_ms: int) -> int:
        # The broker may have lost them or their result; answering a leg twice is harmless.
        return self.db.execute(
            f"UPDATE legs SET status = 'pending' WHERE status = 'sent' AND {OPEN_LEG} AND sent_at < %s"
            " AND inquiry_id IN (SELECT id FROM inquiries WHERE completed_at IS NULL)", (now - older_than_ms,)).rowcount

    # -- deadlines ----------------------------------------------------------------------------

    def next_open_deadline(self) -> int | None:
        return self.db.execute("SELECT min(deadline) FROM inquiries WHERE completed_at IS NULL").fetchone()[0]  # type: ignore[index]

    def expire_overdue(self, now: int) -> list[str]:
        with transaction(self.db):
            # Locked, so a second gateway's sweep waits and then finds them completed.
            overdue = [r[0] for r in self.db.execute(
                "SELECT id FROM inquiries WHERE completed_at IS NULL AND deadline <= %s ORDER BY id FOR UPDATE", (now,))]
            ended = {}
            for inquiry_id in overdue:
                ended[inquiry_id] = self.db.execute(
                    "UPDATE legs SET status = 'timed_out', reason = 'no answer before the inquiry deadline',"
                    f" finished_at = %s WHERE inquiry_id = %s AND {OPEN_LEG}", (now, inquiry_id)).rowcount
            _count_ended(self.db, ended, now)
        return overdue

    # -- ops ----------------------------------------------------------------------------------

    def backlog(self) -> list[InstitutionBacklog]:
        return [InstitutionBacklog(*r) for r in self.db.execute(
            "SELECT institution_id, count(*), min(sent_at) AS oldest_sent_at FROM legs"
            f" WHERE status = 'sent' AND {OPEN_LEG} GROUP BY institution_id ORDER BY oldest_sent_at")]


def _count_ended(db: Connection, ended: dict[str, int], now: int) -> None:
    # In id order, so two gateways ending legs of the same inquiries lock them in one order.
    with db.cursor() as cur:
        cur.executemany(
            "UPDATE inquiries SET legs_done = legs_done + %s,"
            " completed_at = CASE WHEN legs_done + %s >= legs_total THEN %s ELSE completed_at END"
            " WHERE id = %s AND completed_at IS NULL",
            [(n, n, now, i) for i, n in sorted(ended.items())])
