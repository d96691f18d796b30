"""An institution's answer when the network reconciles: the current state of the freezes and the
balances it asks about, stamped with the institution's feed position (``as_of_seq``).

The gateway applies events as they come; when it suspects it missed some (a gap in ``seq``, a
lost answer, a restart), it asks for the state outright. ``as_of_seq`` is read after the lapses
due by now have been settled (and emitted), so every event up to it is reflected in the answer
and none after it: an event with a higher seq is newer than the report, one with a lower seq
older. The answer's shape is ``schemas.events.ControlStatusReport``'s body, plus
``unknown_asset_ids`` for asked accounts this institution does not hold (or that hold no money).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from simulators.ledger_book import LedgerBook


def status_report(book: LedgerBook, institution_id: str, freeze_ids: Sequence[str], asset_ids: Sequence[str]) -> dict[str, Any]:
    book.sweep_all()
    freezes, unknown = [], []
    for freeze_id in dict.fromkeys(freeze_ids):  # each once, in the order asked
        ledger = book.freeze_ledger(institution_id, freeze_id)
        if ledger is None:
            unknown.append(freeze_id)
        else:
            freezes.append(ledger.freeze_state(ledger.freezes[freeze_id]))
    balances, unknown_assets = [], []
    for asset_id in dict.fromkeys(asset_ids):
        ledger = book.ledger(institution_id, asset_id)
        if ledger is None or not ledger.money:
            unknown_assets.append(asset_id)
        else:
            balances.append({"asset_id": asset_id, "balance_fen": ledger.balance_fen})
    return {"as_of_seq": book.events.last_seq(institution_id), "freezes": freezes, "unknown_freeze_ids": unknown,
            "balances": balances, "unknown_asset_ids": unknown_assets}
