"""A case's money from its orders, the one rule both stores use, in SQL that SQLite and
PostgreSQL read alike (``p`` is the store's parameter marker, as in ``figures.py``)."""

from __future__ import annotations

from typing import Any

from gateway.orders.states import AWAITING_ANSWER, LIVE_FREEZE
from gateway.store.records import CaseMoney
from schemas.orders import MONEY_KINDS

_MONEY_IN = ", ".join(f"'{kind}'" for kind in MONEY_KINDS)  # constants of ours, not input


def case_money(db: Any, p: str, case_number: str) -> CaseMoney:
    deducted_from: dict[str, int] = {}
    for original, deducted_fen in db.execute(
        f"SELECT original_order_id, deducted_fen FROM orders WHERE case_number = {p} AND type = 'deduct'"
        " AND status = 'applied'", (case_number,),
    ):
        deducted_from[original] = deducted_from.get(original, 0) + (deducted_fen or 0)
    held = released = at_once = 0
    open_by_freeze: dict[str, int] = {}
    # Frozen and deducted in one order (control code 08): collected once answered, with no
    # freeze to follow; until then it covers its amount, as a freeze would.
    for order_id, status, amount, deducted_fen in db.execute(
        f"SELECT id, status, amount_fen, deducted_fen FROM orders WHERE case_number = {p} AND type = 'freeze_deduct'", (case_number,),
    ):
        if status in AWAITING_ANSWER:
            open_by_freeze[order_id] = amount or 0
        elif status in ("applied", "partially_applied"):
            at_once += deducted_fen or 0
    for order_id, status, amount, held_fen in db.execute(
        f"SELECT id, status, amount_fen, held_fen FROM orders WHERE case_number = {p} AND type = 'freeze'"
        f" AND asset_kind IN ({_MONEY_IN})", (case_number,),
    ):
        left = max((amount or 0) - deducted_from.get(order_id, 0), 0)  # what deductions did not take
        if status in LIVE_FREEZE:
            held += held_fen or 0
            open_by_freeze[order_id] = left
        elif status == "released":
            released += left
    return CaseMoney(held, sum(deducted_from.values()) + at_once, released, open_by_freeze)
