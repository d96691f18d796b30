"""An asset ledger's state as plain JSON data and back, for storage (``simulators.store``).

Only what the ledger cannot rebuild: the balance (money assets), every freeze and every deduction.
Kind, protection and the opening balance come from the population, which is generated from the
seed and never stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from simulators.ledger import AssetLedger, Deduction, Freeze, iso


def _at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def dump(ledger: AssetLedger) -> dict[str, Any]:
    return {
        "balance_fen": ledger.balance_fen,
        "freezes": [
            [f.freeze_id, f.court, f.case_number, iso(f.served_at), f.seq, f.term_days, f.requested_fen, f.held_fen,
             f.state, iso(f.start), iso(f.end)]
            for f in ledger.freezes.values()
        ],
        "deductions": [[d.order_id, d.freeze_id, d.court, d.amount_fen, d.enforcement_account, iso(d.at)]
                       for d in ledger.deductions],
    }


def load(ledger: AssetLedger, state: dict[str, Any]) -> None:
    """Give a fresh ledger the stored state (in arrival order, as ``freezes`` keeps it)."""
    ledger.balance_fen = state["balance_fen"]
    ledger.freezes = {}
    for freeze_id, court, case, served, seq, term, requested, held, status, start, end in state["freezes"]:
        ledger.freezes[freeze_id] = Freeze(freeze_id, court, case, _at(served), seq, term, requested,  # type: ignore[arg-type]
                                           held, status, _at(start), _at(end))
    ledger.deductions = [Deduction(order_id, freeze_id, court, amount, account, _at(at))  # type: ignore[arg-type]
                         for order_id, freeze_id, court, amount, account, at in state["deductions"]]
