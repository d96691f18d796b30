"""Orders and their append-only audit trail (the SQL of gateway/store/sqlite/orders.py in
PostgreSQL's words; requested orders are claimed as legs are, gateway/store/postgres/legs.py).

Results move an order along the state machine in ``gateway/orders/states.py``; every change
appends an event (who, what, when, and the institution's answer) and no event is ever updated or
deleted (triggers refuse it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from gateway.orders.states import AWAITING_ANSWER, ENDED_FREEZE, LIVE_FREEZE, RELEASING, TRACKED_FREEZE, next_status
from gateway.store import money, rows
from gateway.store.deferral import queue_for_submission
from gateway.store.pages import before, page
from gateway.store.postgres.connection import Connection, retried, transaction
from gateway.store.postgres.schema import CLAIM_LEASE_MS
from gateway.store.records import CaseMoney, Difference, LiveFreeze, NewOrder, OrderEvent, OrderFilter, OrderRecord, Page
from infra.clock import now_ms
from schemas.events import FreezeState
from schemas.orders import DEDUCTING, DEFERRED, OrderResult

_NEW_COLUMNS = ("id", "idempotency_key", "request_digest", "type", "status", "case_number", "court", "institution_id",
                "institution_kind", "asset_kind", "asset_id", "debtor_id_number", "amount_fen", "term_days",
                "ruling_number", "notice_number", "officer_credentials", "operator", "original_order_id",
                "enforcement_account", "created_at", "deadline", "updated_at", "quantity")
_INSERT = f"INSERT INTO orders ({', '.join(_NEW_COLUMNS)}) VALUES ({', '.join(['%s'] * len(_NEW_COLUMNS))})"
_SELECT = f"SELECT {rows.ORDER_COLUMNS} FROM orders"
# A deduction (or freeze-and-deduct) placed but not yet approved by a second officer (it is not sent before).
_DEDUCTING = f"type IN ({', '.join(repr(t) for t in DEDUCTING)})"
_AWAITING_APPROVAL = f"({_DEDUCTING} AND status = 'requested' AND approved_at IS NULL)"


_CLAIM = (
    "UPDATE orders SET claimed_by = %(me)s, claimed_until = %(until)s WHERE id IN ("
    f" SELECT id FROM orders WHERE status = 'requested' AND (NOT {_DEDUCTING} OR approved_at IS NOT NULL)"
    "  AND (claimed_by IS NULL OR claimed_by = %(me)s OR claimed_until < %(now)s)"
    f"  ORDER BY seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED) RETURNING {rows.ORDER_COLUMNS}, seq"
)


class PgOrders:
    def __init__(self, db: Connection, owner: str = "") -> None:
        self.db = db
        self.owner = owner  # this store's name in claimed_by

    # -- placing and approving ------------------------------------------------------------------

    def place(self, order: NewOrder, actor: str) -> None:
        db = self.db
        with transaction(db):
            db.execute(_INSERT, (
                order.id, order.idempotency_key, order.request_digest, order.type, order.status, order.case_number,
                order.court, order.institution_id, order.institution_kind, order.asset_kind, order.asset_id,
                order.debtor_id_number, order.amount_fen, order.term_days, order.ruling_number, order.notice_number,
                rows.dump(list(order.officer_credentials)), order.operator, order.original_order_id,
                order.enforcement_account, order.created_at, order.deadline, order.created_at, order.quantity,
            ))
            _event(db, order.id, order.created_at, actor, "requested", "requested", {
                "type": order.type, "case_number": order.case_number, "court": order.court,
                "institution_id": order.institution_id, "asset": {"kind": order.asset_kind, "id": order.asset_id},
                "amount_fen": order.amount_fen, "term_days": order.term_days,
                **({"quantity": order.quantity} if order.quantity is not None else {}),
                "ruling_number": order.ruling_number, "notice_number": order.notice_number,
                "officer_credentials": list(order.officer_credentials),
                "original_order_id": order.original_order_id,
            })

    def approve(self, order_id: str, checker: str, now: int) -> None:
        db = self.db
        with transaction(db):
            db.execute("UPDATE orders SET checker = %s, approved_at = %s, updated_at = %s WHERE id = %s", (checker, now, now, order_id))
            _event(db, order_id, now, checker, "approved", "requested", {"checker": checker})

    def decline(self, order_id: str, checker: str, reason: str, now: int) -> None:
        db = self.db
        with transaction(db):
            db.execute("UPDATE orders SET status = 'declined', checker = %s, updated_at = %s WHERE id = %s"
                       " AND status = 'requested' AND approved_at IS NULL", (checker, now, order_id))
            _event(db, order_id, now, checker, "declined", "declined", {"checker": checker, "reason": reason})

    def note(self, order_id: str, now: int, actor: str, event: str, detail: dict[str, Any]) -> None:
        db = self.db
        with transaction(db):
            _event(db, order_id, now, actor, event, _status(db, order_id), detail)

    # -- outbox ---------------------------------------------------------------------------------

    def claim_sendable(self, limit: int) -> list[OrderRecord]:
        now = now_ms()
        claimed = self.db.execute(_CLAIM, {"me": self.owner, "until": now + CLAIM_LEASE_MS, "now": now, "limit": limit})
        return [rows.order(r[:-1]) for r in sorted(claimed, key=lambda r: r[-1])]  # in the order placed

    @retried
    def mark_sent(self, order_ids: Sequence[str], now: int) -> None:
        db = self.db
        with transaction(db):
            for order_id in sorted(order_ids):  # in id order, as apply_results locks them
                cur = db.execute(
                    "UPDATE orders SET status = 'sent', sent_at = %s, updated_at = %s, claimed_by = NULL, claimed_until = NULL"
                    " WHERE id = %s AND status = 'requested'",
                    (now, now, order_id),
                )
                if cur.rowcount:
                    _event(db, order_id, now, "gateway", "sent", "sent", {})

    def requeue_unanswered(self, now: int, older_than_ms: int) -> int:
        # Institutions dedupe on the order id, so sending again is safe.
        db = self.db
        with transaction(db):
            stale = [r[0] for r in db.execute(
                "SELECT id FROM orders WHERE status = 'sent' AND sent_at < %s AND deadline > %s FOR UPDATE SKIP LOCKED",
                (now - older_than_ms, now)
            )]
            for order_id in stale:
                db.execute("UPDATE orders SET status = 'requested', updated_at = %s WHERE id = %s", (now, order_id))
                _event(db, order_id, now, "gateway", "resend", "requested", {"reason": "no answer yet; sending again"})
        return len(stale)

    # -- results --------------------------------------------------------------------------------

    @retried
    def apply_results(self, results: Iterable[OrderResult], now: int) -> int:
        moved = 0
        db = self.db
        with transaction(db):
            for r in sorted(results, key=lambda r: r.order_id):  # in id order: two gateways never deadlock
                order = _get(db, r.order_id, lock=True)
                if order is None:
                    continue
                if r.status == DEFERRED:
                    if order.status in AWAITING_ANSWER:
                        queue_for_submission(db, "%s", r, now, _event)
                    continue
                if order.status not in AWAITING_ANSWER:
                    if order.state_seq is not None and not _answered(db, r.order_id):
                        # The institution's events overtook its answer: they hold the newer state.
                        _event(db, r.order_id, now, r.institution_id, "answered", order.status, r.model_dump(mode="json"))
                    continue  # already answered: a redelivery or replay changes nothing
                if order.status == "requested":
                    # The answer overtook the relay's own record of sending (it marks after the
                    # broker's ack): it was sent, so say so, then take the answer.
                    db.execute("UPDATE orders SET sent_at = %s WHERE id = %s", (now, r.order_id))
                    _event(db, r.order_id, now, "gateway", "sent", "sent", {})
                status = next_status(order.type, r.status)
                db.execute(
                    "UPDATE orders SET status = %s, held_fen = %s, deducted_fen = %s, queue_position = %s,"
                    " start_date = %s, end_date = %s, reason = %s, updated_at = %s WHERE id = %s",
                    (status, r.held_fen, r.deducted_fen, r.queue_position, r.start_date, r.end_date, r.reason, now, r.order_id),
                )
                _event(db, r.order_id, now, r.institution_id, "answered", status, r.model_dump(mode="json"))
                if status in ("applied", "released") and order.original_order_id:
                    _follow_up(db, order, r, now)
                elif status == "refused" and order.original_order_id and r.reason and "lapsed" in r.reason:
                    _set_original(db, order.original_order_id, now, r.institution_id, "lapsed", {"reason": r.reason})
                moved += 1
        return moved

    # -- reads ----------------------------------------------------------------------------------

    def get(self, order_id: str) -> OrderRecord | None:
        return _get(self.db, order_id)

    def by_key(self, idempotency_key: str) -> OrderRecord | None:
        row = self.db.execute(f"{_SELECT} WHERE idempotency_key = %s", (idempotency_key,)).fetchone()
        return rows.order(row) if row else None

    def with_key_prefix(self, prefix: str) -> list[OrderRecord]:
        return [rows.order(r) for r in self.db.execute(
            f"{_SELECT} WHERE starts_with(idempotency_key, %s) ORDER BY seq", (prefix,)
        )]

    def events(self, order_id: str) -> list[OrderEvent]:
        return [rows.event(r) for r in self.db.execute(
            f"SELECT {rows.EVENT_COLUMNS} FROM order_events WHERE order_id = %s ORDER BY seq", (order_id,)
        )]

    def freezes_on(self, assets: Iterable[tuple[str, str]]) -> list[OrderRecord]:
        out = []
        for institution_id, asset_id in sorted(set(assets)):
            out += [rows.order(r) for r in self.db.execute(
                f"{_SELECT} WHERE institution_id = %s AND asset_id = %s AND type = 'freeze'"
                f" AND status IN ({', '.join(['%s'] * len(TRACKED_FREEZE))}) ORDER BY seq",
                (institution_id, asset_id, *TRACKED_FREEZE),
            )]
        return out

    def case_money(self, case_number: str) -> CaseMoney:
        return money.case_money(self.db, "%s", case_number)

    def of_court(self, court: str, where: OrderFilter, limit: int, cursor: str | None = None) -> Page[OrderRecord]:
        terms, args = ["court = %s", "seq < %s"], [court, before(cursor)]
        for column in ("case_number", "status", "type"):
            if getattr(where, column) is not None:
                terms.append(f"{column} = %s")
                args.append(getattr(where, column))
        if where.awaiting_approval is not None:
            terms.append(("" if where.awaiting_approval else "NOT ") + _AWAITING_APPROVAL)
        return page(self.db.execute(
            f"SELECT seq, {rows.ORDER_COLUMNS} FROM orders WHERE {' AND '.join(terms)} ORDER BY seq DESC LIMIT %s",
            (*args, limit + 1)), limit, rows.order)

    def live_freezes_of_case(self, case_number: str) -> list[LiveFreeze]:
        return [LiveFreeze(*row) for row in self.db.execute(
            "SELECT id, institution_id, asset_kind, asset_id, debtor_id_number, amount_fen FROM orders"
            f" WHERE case_number = %s AND ((type = 'freeze' AND status IN ({', '.join(['%s'] * len(LIVE_FREEZE))}))"
            f" OR (type = 'freeze_deduct' AND status IN ({', '.join(['%s'] * len(AWAITING_ANSWER))})))",
            (case_number, *LIVE_FREEZE, *AWAITING_ANSWER),
        )]


def _get(db: Connection, order_id: str, lock: bool = False) -> OrderRecord | None:
    """``lock``: the row stays locked to the end of the transaction, so two gateways applying
    answers or events to one order take turns and each sees the other's change."""
    row = db.execute(f"{_SELECT} WHERE id = %s{' FOR UPDATE' if lock else ''}", (order_id,)).fetchone()
    return rows.order(row) if row else None


def _follow_up(db: Connection, order: OrderRecord, r: OrderResult, now: int) -> None:
    """What an applied continue, unfreeze (or lifting) or deduction does to the freeze (or restriction) it names."""
    original = order.original_order_id
    if order.type in RELEASING:
        _set_original(db, original, now, r.institution_id, "released", {"by_order": order.id})
    elif order.type == "continue":
        db.execute("UPDATE orders SET end_date = %s, updated_at = %s WHERE id = %s", (r.end_date, now, original))
        _event(db, original, now, r.institution_id, "continued", _status(db, original), {"by_order": order.id, "end_date": r.end_date})
    elif order.type == "deduct":
        # Once the institution's events keep the freeze's state they carry this deduction as well
        # (deduction_executed), so subtracting here too would count it twice.
        db.execute(
            "UPDATE orders SET held_fen = greatest(coalesce(held_fen, 0) - %s, 0), updated_at = %s WHERE id = %s AND state_seq IS NULL",
            (r.deducted_fen or 0, now, original),
        )
        _event(db, original, now, r.institution_id, "deducted", _status(db, original),
               {"by_order": order.id, "deducted_fen": r.deducted_fen})


# The fields of a freeze order that are its institution's state, as named in ``FreezeState``.
_STATE_FIELDS = ("status", "held_fen", "deducted_fen", "queue_position", "start_date", "end_date")


def set_freeze_state(db: Connection, state: FreezeState, institution_id: str, seq: int, now: int,
                     event: str, detail: dict[str, Any]) -> list[Difference]:
    """Sets a freeze order to its institution's state as of feed position ``seq`` — unless a later
    position already set it — and records the change in its audit trail. Returns what differed."""
    order = _get(db, state.freeze_id, lock=True)
    if order is None or order.type != "freeze" or order.institution_id != institution_id:
        return []
    if order.state_seq is not None and order.state_seq > seq:
        return []  # older than what the gateway already has
    # A freeze that ended holds nothing, whatever an institution's record still says it held.
    held = 0 if state.status in ENDED_FREEZE and state.held_fen is not None else state.held_fen
    new = {"status": state.status, "held_fen": held, "deducted_fen": state.deducted_fen or None,
           "queue_position": state.queue_position, "start_date": state.start_date, "end_date": state.end_date}
    old = {f: getattr(order, f) for f in _STATE_FIELDS}
    changed = {f: [old[f], new[f]] for f in _STATE_FIELDS if old[f] != new[f]}
    db.execute(
        "UPDATE orders SET status = %s, held_fen = %s, deducted_fen = %s, queue_position = %s, start_date = %s, end_date = %s,"
        " state_seq = %s, updated_at = %s WHERE id = %s",
        (*(new[f] for f in _STATE_FIELDS), seq, now, order.id),
    )
    if changed:
        _event(db, order.id, now, institution_id, event, state.status, {**detail, "seq": seq, "changes": changed})
    return [Difference(institution_id, order.id, f, before, after) for f, (before, after) in changed.items()]


def _answered(db: Connection, order_id: str) -> bool:
    return db.execute("SELECT 1 FROM order_events WHERE order_id = %s AND event = 'answered'", (order_id,)).fetchone() is not None


def _set_original(db: Connection, order_id: str, now: int, actor: str, status: str, detail: dict[str, Any]) -> None:
    cur = db.execute(
        # Released or lapsed, it holds nothing any more (property has no held amount: NULL stays).
        f"UPDATE orders SET status = %s, held_fen = CASE WHEN held_fen IS NULL THEN NULL ELSE 0 END, updated_at = %s"
        f" WHERE id = %s AND status IN ({', '.join(['%s'] * len(LIVE_FREEZE))})",
        (status, now, order_id, *LIVE_FREEZE),
    )
    if cur.rowcount:
        _event(db, order_id, now, actor, status, status, detail)


def _event(db: Connection, order_id: str, at: int, actor: str, event: str, status: str, detail: dict[str, Any]) -> None:
    db.execute(
        "INSERT INTO order_events (order_id, at, actor, event, status, detail) VALUES (%s,%s,%s,%s,%s,%s)",
        (order_id, at, actor, event, status, rows.dump(detail)),
    )


def _status(db: Connection, order_id: str) -> str:
    return db.execute("SELECT status FROM orders WHERE id = %s", (order_id,)).fetchone()[0]
