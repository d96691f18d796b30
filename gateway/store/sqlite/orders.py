"""Orders and their append-only audit trail, in the gateway's SQLite database.

Like legs, an order row is its own outbox entry: ``requested`` (and, for a deduction, approved)
orders are published by the relay and become ``sent``. Results move an order along the state
machine in ``gateway/order_states.py``; every change appends an event (who, what, when, and the
institution's answer) and no event is ever updated or deleted.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Iterable, Sequence

import orjson

from gateway.orders.states import AWAITING_ANSWER, LIVE_FREEZE, next_status
from gateway.store.sqlite.inquiries import Transaction
from schemas.orders import OrderResult

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE, request_digest TEXT NOT NULL,
    type TEXT NOT NULL, status TEXT NOT NULL, case_number TEXT NOT NULL, court TEXT NOT NULL,
    institution_id TEXT NOT NULL, institution_kind TEXT NOT NULL, asset_kind TEXT NOT NULL,
    asset_id TEXT NOT NULL, debtor_id_number TEXT NOT NULL, amount_fen INTEGER, term_days INTEGER,
    ruling_number TEXT NOT NULL, notice_number TEXT NOT NULL, officer_credentials TEXT NOT NULL,
    operator TEXT NOT NULL, checker TEXT, approved_at INTEGER, original_order_id TEXT,
    enforcement_account TEXT, created_at INTEGER NOT NULL, deadline INTEGER NOT NULL,
    sent_at INTEGER, updated_at INTEGER NOT NULL, held_fen INTEGER, deducted_fen INTEGER,
    queue_position INTEGER, start_date TEXT, end_date TEXT, reason TEXT);
CREATE INDEX IF NOT EXISTS orders_unsent ON orders(status) WHERE status = 'requested';
CREATE INDEX IF NOT EXISTS orders_case ON orders(case_number);
CREATE INDEX IF NOT EXISTS orders_asset ON orders(institution_id, asset_id);
CREATE TABLE IF NOT EXISTS order_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, order_id TEXT NOT NULL, at INTEGER NOT NULL,
    actor TEXT NOT NULL, event TEXT NOT NULL, status TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS order_events_by_order ON order_events(order_id, seq);
CREATE TRIGGER IF NOT EXISTS order_events_append_only_u BEFORE UPDATE ON order_events
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS order_events_append_only_d BEFORE DELETE ON order_events
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""

_COLUMNS = ("id", "idempotency_key", "request_digest", "type", "status", "case_number", "court", "institution_id",
            "institution_kind", "asset_kind", "asset_id", "debtor_id_number", "amount_fen", "term_days",
            "ruling_number", "notice_number", "officer_credentials", "operator", "original_order_id",
            "enforcement_account", "created_at", "deadline", "updated_at")


class OrderStore:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        db.executescript(_SCHEMA)

    # -- writes (each inside the caller's transaction) ------------------------------------------

    def insert(self, db: sqlite3.Connection, order: dict[str, Any], actor: str) -> None:
        db.execute(
            f"INSERT INTO orders ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
            [order[c] for c in _COLUMNS],
        )
        self._event(db, order["id"], order["created_at"], actor, "requested", "requested", {
            "type": order["type"], "case_number": order["case_number"], "court": order["court"],
            "institution_id": order["institution_id"], "asset": {"kind": order["asset_kind"], "id": order["asset_id"]},
            "amount_fen": order["amount_fen"], "term_days": order["term_days"],
            "ruling_number": order["ruling_number"], "notice_number": order["notice_number"],
            "officer_credentials": orjson.loads(order["officer_credentials"]),
            "original_order_id": order["original_order_id"],
        })

    def approve(self, db: sqlite3.Connection, order_id: str, checker: str, now: int) -> None:
        db.execute("UPDATE orders SET checker = ?, approved_at = ?, updated_at = ? WHERE id = ?", (checker, now, now, order_id))
        self._event(db, order_id, now, checker, "approved", "requested", {"checker": checker})

    def audit(self, db: sqlite3.Connection, order_id: str, now: int, actor: str, event: str, detail: dict[str, Any]) -> None:
        """An event that changes no state, e.g. a refused attempt to approve."""
        status = db.execute("SELECT status FROM orders WHERE id = ?", (order_id,)).fetchone()[0]
        self._event(db, order_id, now, actor, event, status, detail)

    def mark_sent(self, order_ids: Sequence[str], now: int) -> None:
        with Transaction(self.db) as db:
            for order_id in order_ids:
                cur = db.execute(
                    "UPDATE orders SET status = 'sent', sent_at = ?, updated_at = ? WHERE id = ? AND status = 'requested'",
                    (now, now, order_id),
                )
                if cur.rowcount:
                    self._event(db, order_id, now, "gateway", "sent", "sent", {})

    def requeue_unanswered(self, now: int, older_than_ms: int) -> int:
        """Sent orders unanswered for long go out again; institutions dedupe on the order id."""
        with Transaction(self.db) as db:
            stale = [r[0] for r in db.execute(
                "SELECT id FROM orders WHERE status = 'sent' AND sent_at < ? AND deadline > ?", (now - older_than_ms, now)
            )]
            for order_id in stale:
                db.execute("UPDATE orders SET status = 'requested', updated_at = ? WHERE id = ?", (now, order_id))
                self._event(db, order_id, now, "gateway", "resend", "requested", {"reason": "no answer yet; sending again"})
        return len(stale)

    def apply_results(self, results: Iterable[OrderResult], now: int) -> int:
        """Move orders by their institutions' answers. The first answer to a sent order decides
        it; repeats (redelivery, replay) change nothing. Returns how many orders moved."""
        moved = 0
        with Transaction(self.db) as db:
            for r in results:
                row = db.execute("SELECT * FROM orders WHERE id = ?", (r.order_id,)).fetchone()
                if row is None or row["status"] not in AWAITING_ANSWER:
                    continue  # already answered: a redelivery or replay changes nothing
                if row["status"] == "requested":
                    # The answer overtook the relay's own record of sending (it marks after the
                    # broker's ack): it was sent, so say so, then take the answer.
                    db.execute("UPDATE orders SET sent_at = ? WHERE id = ?", (now, r.order_id))
                    self._event(db, r.order_id, now, "gateway", "sent", "sent", {})
                status = next_status(row["type"], r.status)
                db.execute(
                    "UPDATE orders SET status = ?, held_fen = ?, deducted_fen = ?, queue_position = ?,"
                    " start_date = ?, end_date = ?, reason = ?, updated_at = ? WHERE id = ?",
                    (status, r.held_fen, r.deducted_fen, r.queue_position, r.start_date, r.end_date, r.reason, now, r.order_id),
                )
                self._event(db, r.order_id, now, r.institution_id, "answered", status, r.model_dump(mode="json"))
                if status in ("applied", "released") and row["original_order_id"]:
                    self._follow_up(db, row, r, now)
                elif status == "refused" and row["original_order_id"] and r.reason and "lapsed" in r.reason:
                    self._set_original(db, row["original_order_id"], now, r.institution_id, "lapsed", {"reason": r.reason})
                moved += 1
        return moved

    def _follow_up(self, db: sqlite3.Connection, order: sqlite3.Row, r: OrderResult, now: int) -> None:
        """What an applied continue, unfreeze or deduction does to the freeze it names."""
        original = order["original_order_id"]
        if order["type"] == "unfreeze":
            self._set_original(db, original, now, r.institution_id, "released", {"by_order": order["id"]})
        elif order["type"] == "continue":
            db.execute("UPDATE orders SET end_date = ?, updated_at = ? WHERE id = ?", (r.end_date, now, original))
            self._event(db, original, now, r.institution_id, "continued", _status(db, original), {"by_order": order["id"], "end_date": r.end_date})
        elif order["type"] == "deduct":
            db.execute(
                "UPDATE orders SET held_fen = max(coalesce(held_fen, 0) - ?, 0), updated_at = ? WHERE id = ?",
                (r.deducted_fen or 0, now, original),
            )
            self._event(db, original, now, r.institution_id, "deducted", _status(db, original),
                        {"by_order": order["id"], "deducted_fen": r.deducted_fen})

    def _set_original(self, db: sqlite3.Connection, order_id: str, now: int, actor: str, status: str, detail: dict[str, Any]) -> None:
        cur = db.execute(
            f"UPDATE orders SET status = ?, updated_at = ? WHERE id = ? AND status IN ({', '.join('?' * len(LIVE_FREEZE))})",
            (status, now, order_id, *LIVE_FREEZE),
        )
        if cur.rowcount:
            self._event(db, order_id, now, actor, status, status, detail)

    @staticmethod
    def _event(db: sqlite3.Connection, order_id: str, at: int, actor: str, event: str, status: str, detail: dict[str, Any]) -> None:
        db.execute(
            "INSERT INTO order_events (order_id, at, actor, event, status, detail) VALUES (?,?,?,?,?,?)",
            (order_id, at, actor, event, status, orjson.dumps(detail).decode()),
        )

    # -- reads ------------------------------------------------------------------------------------

    def get(self, order_id: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()

    def by_key(self, key: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM orders WHERE idempotency_key = ?", (key,)).fetchone()

    def events(self, order_id: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM order_events WHERE order_id = ? ORDER BY seq", (order_id,)).fetchall()

    def live_freezes_of_case(self, case_number: str) -> list[sqlite3.Row]:
        return self.db.execute(
            f"SELECT * FROM orders WHERE case_number = ? AND type = 'freeze' AND status IN ({', '.join('?' * len(LIVE_FREEZE))})",
            (case_number, *LIVE_FREEZE),
        ).fetchall()

    def with_key_prefix(self, prefix: str) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT * FROM orders WHERE substr(idempotency_key, 1, ?) = ? ORDER BY rowid", (len(prefix), prefix)
        ).fetchall()

    def sendable(self, limit: int) -> list[sqlite3.Row]:
        """Requested orders ready to go: a deduction only once a second officer approved it."""
        return self.db.execute(
            "SELECT * FROM orders WHERE status = 'requested' AND (type != 'deduct' OR approved_at IS NOT NULL) LIMIT ?",
            (limit,),
        ).fetchall()


def _status(db: sqlite3.Connection, order_id: str) -> str:
    return db.execute("SELECT status FROM orders WHERE id = ?", (order_id,)).fetchone()[0]
