"""The freeze-plan policy as a pure function (docs/officers.md describes it; the tests check its
properties): cover what is due without over-freezing.

Money comes first (deposits, wallets, then money other courts hold for the debtor as an
applicant, withheld there), largest first, each account frozen for exactly what remains (protected accounts
skipped, and the fund centres' balances always listed as skipped; a natural person keeps his
living allowance free across his deposit accounts). Property (vehicles, real estate, equity)
is indivisible, so freezing it may exceed what remains; the law (超标的) allows that only when
nothing smaller covers it: while something remains, the property that covers the
remainder with the least excess is chosen, and when no single one covers it, the most valuable
(it helps most, so fewer assets are frozen), and the next round looks again. Every planned order
says why it was chosen, in words for the officer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from schemas.assets import asset_id, attributable_fen
from schemas.money import yuan
from schemas.orders import MAX_TERM_DAYS, MONEY_KINDS, PROTECTED_KINDS

MONEY_ORDER = ("deposit", "wallet", "court_claim")  # a court claim last: it is withheld at another court, slower to collect
PROPERTY_KINDS = ("vehicle", "real_estate", "equity")

Found = tuple[str, dict[str, Any]]  # (debtor id number, asset as reported)


@dataclass
class Plan:
    orders: list[dict[str, Any]] = field(default_factory=list)
    skipped_protected: list[dict[str, Any]] = field(default_factory=list)
    kept_for_living: list[dict[str, Any]] = field(default_factory=list)
    remaining_fen: int = 0


def plan_freezes(found: Iterable[Found], already_frozen: set[tuple[str, str]], needed_fen: int,
                 deposit_caps: dict[str, int] | None = None, living_allowance_fen: int = 0) -> Plan:
    """``found``: (debtor id, asset) from the case's reports; ``already_frozen``: (institution,
    asset id) the case has live freezes on; ``needed_fen``: due plus costs minus what is collected
    and covered; ``deposit_caps``: per natural person, the most of his deposits that may still be
    frozen with ``living_allowance_fen`` left free (``deposit_cap`` computes it)."""
    plan = Plan(remaining_fen=needed_fen)
    open_ = [(d, a) for d, a in found if (a["institution_id"], asset_id(a)) not in already_frozen and attributable_fen(a) > 0]
    money = sorted((da for da in open_ if da[1]["kind"] in MONEY_KINDS),
                   key=lambda da: (MONEY_ORDER.index(da[1]["kind"]), -attributable_fen(da[1]), da[1]["institution_id"], asset_id(da[1])))
    freezable = dict(deposit_caps or {})
    limited: list[str] = []  # persons whose allowance held a planned freeze back
    for debtor, asset in money:
        if plan.remaining_fen <= 0:
            break
        if asset.get("protected"):
            _skip(plan, asset)
            continue
        amount = min(attributable_fen(asset), plan.remaining_fen)
        if asset["kind"] == "deposit" and debtor in freezable:
            if freezable[debtor] < amount and debtor not in limited:
                limited.append(debtor)
            amount = min(amount, freezable[debtor])
            freezable[debtor] -= amount
            if amount == 0:
                continue
        if asset["kind"] == "court_claim":  # money another court holds for him: withheld there (扣留), not frozen
            _add(plan, debtor, asset, amount, f"他案执行款：扣留 {yuan(amount)}（待发放案款与尚需金额 {yuan(plan.remaining_fen)} 中的较小者）")
        else:
            _add(plan, debtor, asset, amount, f"资金优先：冻结 {yuan(amount)}（余额与尚需金额 {yuan(plan.remaining_fen)} 中的较小者）")
    for debtor in limited:
        plan.kept_for_living.append({"debtor_id_number": debtor, "kept_fen": living_allowance_fen,
                                     "reason": f"被执行人及其所扶养家属的生活必需费用：存款中保留 {yuan(living_allowance_fen)}"})
    for _, asset in open_:  # the fund centres' balances: always reported, never frozen, so always listed
        if asset["kind"] in PROTECTED_KINDS:
            _skip(plan, asset)
    property_ = [da for da in open_ if da[1]["kind"] in PROPERTY_KINDS]
    while plan.remaining_fen > 0 and property_:
        debtor, asset, why = _next_property(property_, plan.remaining_fen)
        property_.remove((debtor, asset))
        _add(plan, debtor, asset, None, why)
    return plan


def deposit_cap(found: Iterable[Found], debtor: str, frozen_fen: int, living_allowance_fen: int) -> int:
    """The most of a natural person's deposits that may still be frozen: his unprotected balances,
    less what live freezes already hold of them, less the living allowance that stays free."""
    balances = sum(attributable_fen(a) for d, a in found if d == debtor and a["kind"] == "deposit" and not a.get("protected"))
    return max(balances - frozen_fen - living_allowance_fen, 0)


def _next_property(candidates: list[Found], remaining: int) -> tuple[str, dict[str, Any], str]:
    """The least excess over ``remaining`` among those that cover it; else the most valuable."""
    def tie(da: Found) -> tuple[str, str, str]:
        return (da[1]["kind"], da[1]["institution_id"], asset_id(da[1]))

    covering = [da for da in candidates if attributable_fen(da[1]) >= remaining]
    if covering:
        debtor, asset = min(covering, key=lambda da: (attributable_fen(da[1]), tie(da)))
        excess = attributable_fen(asset) - remaining
        return debtor, asset, f"超标的最少：可覆盖尚需金额 {yuan(remaining)} 的财产中价值最低（超出 {yuan(excess)}）"
    debtor, asset = max(candidates, key=lambda da: (attributable_fen(da[1]), tie(da)))
    return debtor, asset, f"没有单件财产可覆盖尚需金额 {yuan(remaining)}：先冻结价值最高的一件（{yuan(attributable_fen(asset))}）"


def _add(plan: Plan, debtor: str, asset: dict[str, Any], amount: int | None, reason: str) -> None:
    value = attributable_fen(asset)
    plan.remaining_fen -= amount if amount is not None else value
    plan.orders.append({
        "institution_id": asset["institution_id"], "asset": _ref(asset), "debtor_id_number": debtor,
        "amount_fen": amount, "value_fen": value, "term_days": MAX_TERM_DAYS[asset["kind"]], "reason": reason,
    })


def _skip(plan: Plan, asset: dict[str, Any]) -> None:
    plan.skipped_protected.append({"institution_id": asset["institution_id"], "asset": _ref(asset), "reason": asset.get("protected_reason")})


def _ref(asset: dict[str, Any]) -> dict[str, str]:
    return {"kind": asset["kind"], "id": asset_id(asset)}
