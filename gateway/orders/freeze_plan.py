"""The freeze-plan policy as a pure function (docs/officers.md describes it; the tests check its
properties): cover what is due without over-freezing money — money first, largest first, protected
accounts skipped — then vehicles, then real estate, each whole, stopping once covered."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from schemas.assets import asset_id, attributable_fen
from schemas.orders import MAX_TERM_DAYS, MONEY_KINDS

PLAN_ORDER = ("deposit", "wallet", "vehicle", "real_estate")


@dataclass
class Plan:
    orders: list[dict[str, Any]] = field(default_factory=list)
    skipped_protected: list[dict[str, Any]] = field(default_factory=list)
    remaining_fen: int = 0


def plan_freezes(found: Iterable[tuple[str, dict[str, Any]]], already_frozen: set[tuple[str, str]], needed_fen: int) -> Plan:
    """``found``: (debtor id, asset) from the case's reports; ``already_frozen``: (institution,
    asset id) the case has live freezes on; ``needed_fen``: due plus costs minus what is covered."""
    plan = Plan(remaining_fen=needed_fen)
    ranked = sorted(found, key=lambda da: (PLAN_ORDER.index(da[1]["kind"]), -attributable_fen(da[1]), da[1]["institution_id"], asset_id(da[1])))
    for debtor, asset in ranked:
        if plan.remaining_fen <= 0:
            break
        ref = (asset["institution_id"], asset_id(asset))
        if ref in already_frozen or attributable_fen(asset) == 0:
            continue
        if asset.get("protected"):
            plan.skipped_protected.append({"institution_id": ref[0], "asset": {"kind": asset["kind"], "id": ref[1]},
                                           "reason": asset.get("protected_reason")})
            continue
        money = asset["kind"] in MONEY_KINDS
        amount = min(attributable_fen(asset), plan.remaining_fen) if money else None
        plan.remaining_fen -= amount if amount is not None else attributable_fen(asset)
        plan.orders.append({
            "institution_id": ref[0], "asset": {"kind": asset["kind"], "id": ref[1]}, "debtor_id_number": debtor,
            "amount_fen": amount, "value_fen": attributable_fen(asset), "term_days": MAX_TERM_DAYS[asset["kind"]],
        })
    return plan
