"""The gateway's durable state in SQLite: inquiries, their debtors, one row per leg, and batches.

The legs table doubles as the outbox: a leg is written ``pending`` in the same transaction that
acknowledges the inquiry, and the relay marks it ``sent`` once Kafka has it. So an acknowledged
inquiry survives any crash, and an unsent leg is sent after restart. Times are epoch milliseconds
(UTC). Calls are short and batched, so they run on the event loop thread.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import orjson

from gateway.inquiries.states import OPEN_LEG as OPEN_LEG_STATUSES
from schemas.assets import asset_id
from schemas.debtor import Debtor
from schemas.directory import Institution
from schemas.messages import LegBatchResult, leg_id

# SQLite uses a partial index only for a query that repeats the index's WHERE term word for word
# (``status = 'pending'`` alone does not count as implying it), so queries for open legs add
# ``AND {OPEN_LEG}``; tests/test_store_plans.py checks that they search the index.
OPEN_LEG = f"status IN ({', '.join(repr(s) for s in OPEN_LEG_STATUSES)})"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, format TEXT NOT NULL,
    rows INTEGER NOT NULL, inquiries INTEGER NOT NULL, legs INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS inquiries (
    id TEXT PRIMARY KEY, batch_id TEXT, case_number TEXT NOT NULL, court TEXT NOT NULL,
    amount_due_fen INTEGER NOT NULL, costs_fen INTEGER NOT NULL, notice_number TEXT NOT NULL,
    officer_credentials TEXT NOT NULL, created_at INTEGER NOT NULL, deadline INTEGER NOT NULL,
    legs_total INTEGER NOT NULL, legs_done INTEGER NOT NULL DEFAULT 0, completed_at INTEGER);
CREATE INDEX IF NOT EXISTS inquiries_open ON inquiries(deadline) WHERE completed_at IS NULL;
CREATE INDEX IF NOT EXISTS inquiries_batch ON inquiries(batch_id);
CREATE INDEX IF NOT EXISTS inquiries_case ON inquiries(case_number);
CREATE TABLE IF NOT EXISTS debtors (
    inquiry_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, id_number TEXT NOT NULL,
    name TEXT NOT NULL, PRIMARY KEY (inquiry_id, seq));
CREATE TABLE IF NOT EXISTS legs (
    id TEXT PRIMARY KEY, inquiry_id TEXT NOT NULL, debtor_seq INTEGER NOT NULL,
    institution_id TEXT NOT NULL, institution_kind TEXT NOT NULL, status TEXT NOT NULL,
    sent_at INTEGER, finished_at INTEGER, reason TEXT, attempts INTEGER, latency_ms INTEGER,
    assets TEXT, late_status TEXT, late_reason TEXT, late_assets TEXT, late_at INTEGER);
CREATE INDEX IF NOT EXISTS legs_by_inquiry ON legs(inquiry_id);
-- Open legs only: the outbox reads 'pending', the re-send of unanswered work reads 'sent' by age.
DROP INDEX IF EXISTS legs_unsent;
CREATE INDEX IF NOT EXISTS legs_open ON legs(status, sent_at) WHERE {OPEN_LEG};
CREATE TABLE IF NOT EXISTS access_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, officer TEXT, court TEXT,
    method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL, reason TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS access_audit_append_only_u BEFORE UPDATE ON access_audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS access_audit_append_only_d BEFORE DELETE ON access_audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""


@dataclass(frozen=True)
class NewInquiry:
    id: str
    batch_id: str | None
    case_number: str
    court: str
    amount_due_fen: int
    costs_fen: int
    notice_number: str
    officer_credentials: list[str]
    created_at: int
    deadline: int
    debtors: Sequence[Debtor]
    institutions: Sequence[Institution]

    def leg_rows(self) -> Iterator[tuple]:
        for seq in range(len(self.debtors)):
            for inst in self.institutions:
                yield (leg_id(self.id, seq, inst.id), self.id, seq, inst.id, inst.kind, "pending")

    @property
    def legs_total(self) -> int:
        return len(self.debtors) * len(self.institutions)


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process crash (kill -9); only power loss could drop a commit.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def _tx(self) -> "Transaction":
        return Transaction(self.db)

    # -- intake -------------------------------------------------------------------------------

    def add_inquiries(self, inquiries: Iterable[NewInquiry], batch: tuple[str, int, str, int] | None = None) -> int:
        """Persist inquiries with all their legs in one transaction; returns the number of legs."""
        legs = 0
        with self._tx() as db:
            for q in inquiries:
                db.execute(
                    "INSERT INTO inquiries (id, batch_id, case_number, court, amount_due_fen, costs_fen, notice_number,"
                    " officer_credentials, created_at, deadline, legs_total) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (q.id, q.batch_id, q.case_number, q.court, q.amount_due_fen, q.costs_fen, q.notice_number,
                     orjson.dumps(q.officer_credentials).decode(), q.created_at, q.deadline, q.legs_total),
                )
                db.executemany(
                    "INSERT INTO debtors (inquiry_id, seq, kind, id_number, name) VALUES (?,?,?,?,?)",
                    [(q.id, seq, d.kind, d.id_number, d.name) for seq, d in enumerate(q.debtors)],
                )
                db.executemany(
                    "INSERT INTO legs (id, inquiry_id, debtor_seq, institution_id, institution_kind, status)"
                    " VALUES (?,?,?,?,?,?)",
                    q.leg_rows(),
                )
                legs += q.legs_total
            if batch is not None:
                batch_id, created_at, fmt, rows = batch
                count = db.execute("SELECT count(*) FROM inquiries WHERE batch_id = ?", (batch_id,)).fetchone()[0]
                db.execute(
                    "INSERT INTO batches (id, created_at, format, rows, inquiries, legs) VALUES (?,?,?,?,?,?)",
                    (batch_id, created_at, fmt, rows, count, legs),
                )
        return legs

    # -- outbox -------------------------------------------------------------------------------

    def pending_legs(self, limit: int) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT l.id, l.inquiry_id, l.institution_id, l.institution_kind, d.kind AS debtor_kind,"
            " d.id_number, d.name, q.batch_id, q.case_number, q.court, q.notice_number, q.amount_due_fen, q.costs_fen,"
            " q.officer_credentials, q.deadline"
            " FROM legs l JOIN inquiries q ON q.id = l.inquiry_id"
            " JOIN debtors d ON d.inquiry_id = l.inquiry_id AND d.seq = l.debtor_seq"
            f" WHERE l.status = 'pending' AND l.{OPEN_LEG} LIMIT ?",
            (limit,),
        ).fetchall()

    def mark_sent(self, leg_ids: Sequence[str], now: int) -> None:
        with self._tx() as db:
            db.executemany(
                "UPDATE legs SET status = 'sent', sent_at = ? WHERE id = ? AND status = 'pending'",
                [(now, i) for i in leg_ids],
            )

    # -- results ------------------------------------------------------------------------------

    def apply_results(self, batches: Sequence[LegBatchResult], now: int) -> int:
        """Record results idempotently: the first terminal result of a leg wins; a result for a
        leg that already timed out is kept as its late result. Returns how many legs it ended."""
        ended: dict[str, int] = {}
        with self._tx() as db:
            for batch in batches:
                for r in batch.results:
                    assets = orjson.dumps([a.model_dump(mode="json") for a in r.assets]).decode() if r.assets else None
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
            self._count_ended(db, ended, now)
        return sum(ended.values())

    def requeue_unanswered(self, now: int, older_than_ms: int) -> int:
        """Legs published long ago and still unanswered go back to the outbox. The broker may have
        lost them (noida-db loses acknowledged messages on kill -9) or their result; answering a
        leg twice is harmless, losing it is not."""
        with self._tx() as db:
            return db.execute(
                f"UPDATE legs SET status = 'pending' WHERE status = 'sent' AND {OPEN_LEG} AND sent_at < ?"
                " AND inquiry_id IN (SELECT id FROM inquiries WHERE completed_at IS NULL)",
                (now - older_than_ms,),
            ).rowcount

    def next_open_deadline(self) -> int | None:
        return self.db.execute("SELECT min(deadline) FROM inquiries WHERE completed_at IS NULL").fetchone()[0]

    def expire_overdue(self, now: int) -> list[str]:
        """Legs still open when their inquiry's deadline passed become ``timed_out``."""
        with self._tx() as db:
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
            self._count_ended(db, ended, now)
        return overdue

    @staticmethod
    def _count_ended(db: sqlite3.Connection, ended: dict[str, int], now: int) -> None:
        db.executemany(
            "UPDATE inquiries SET legs_done = legs_done + ?,"
            " completed_at = CASE WHEN legs_done + ? >= legs_total THEN ? ELSE completed_at END"
            " WHERE id = ? AND completed_at IS NULL",
            [(n, n, now, i) for i, n in ended.items()],
        )

    # -- access audit ------------------------------------------------------------------------------

    def audit_access(self, at: int, officer: str | None, court: str | None, method: str, path: str, status: int, reason: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO access_audit (at, officer, court, method, path, status, reason) VALUES (?,?,?,?,?,?,?)",
                (at, officer, court, method, path, status, reason),
            )

    def access_audit(self, limit: int = 200) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM access_audit ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()

    # -- reads --------------------------------------------------------------------------------

    def inquiry(self, inquiry_id: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM inquiries WHERE id = ?", (inquiry_id,)).fetchone()

    def debtors(self, inquiry_id: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM debtors WHERE inquiry_id = ? ORDER BY seq", (inquiry_id,)).fetchall()

    def legs(self, inquiry_id: str) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT * FROM legs WHERE inquiry_id = ? ORDER BY debtor_seq, institution_id", (inquiry_id,)
        ).fetchall()

    def case(self, case_number: str) -> sqlite3.Row | None:
        """The case as last inquired: its court and the amount due plus costs."""
        return self.db.execute(
            "SELECT case_number, court, amount_due_fen, costs_fen FROM inquiries WHERE case_number = ?"
            " ORDER BY created_at DESC LIMIT 1",
            (case_number,),
        ).fetchone()

    def case_assets(self, case_number: str) -> list[tuple[str, dict]]:
        """(debtor id number, asset) for every asset any inquiry of the case found, once each."""
        seen: dict[tuple[str, str, str], tuple[str, dict]] = {}
        for row in self.db.execute(
            "SELECT d.id_number, l.assets FROM legs l JOIN inquiries q ON q.id = l.inquiry_id"
            " JOIN debtors d ON d.inquiry_id = l.inquiry_id AND d.seq = l.debtor_seq"
            " WHERE q.case_number = ? AND l.assets IS NOT NULL ORDER BY q.created_at",
            (case_number,),
        ):
            for asset in orjson.loads(row["assets"]):
                seen[(row["id_number"], asset["institution_id"], asset_id(asset))] = (row["id_number"], asset)
        return list(seen.values())

    def pending_by_institution(self) -> list[sqlite3.Row]:
        """Legs published but not answered, per institution, with the oldest send time."""
        return self.db.execute(
            "SELECT institution_id, count(*) AS pending, min(sent_at) AS oldest_sent_at FROM legs"
            f" WHERE status = 'sent' AND {OPEN_LEG} GROUP BY institution_id ORDER BY oldest_sent_at"
        ).fetchall()

    def batch(self, batch_id: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM batches WHERE id = ?", (batch_id,)).fetchone()

    def batch_progress(self, batch_id: str) -> sqlite3.Row:
        return self.db.execute(
            "SELECT count(*) AS inquiries, count(completed_at) AS completed,"
            " coalesce(sum(legs_total), 0) AS legs_total, coalesce(sum(legs_done), 0) AS legs_done,"
            " max(completed_at) AS last_completed_at FROM inquiries WHERE batch_id = ?",
            (batch_id,),
        ).fetchone()

    def batch_inquiry_ids(self, batch_id: str) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT id FROM inquiries WHERE batch_id = ? ORDER BY rowid", (batch_id,)
        )]


class Transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back on error so nothing is half-applied."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:  # type: ignore[no-untyped-def]
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
