"""Assets as they stand now, not as the inquiry found them: a money asset's balance as its
institution last told (events, reconciliation), and every freeze on the asset in effect or in line
— whose, how much, until when, in which place of the 轮候 queue. Reports, the freeze plan and the
order desk read found assets through this, so all of them see the same live values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.store.interfaces import InstitutionEvents, OrderRepository
from gateway.store.records import AssetBalance, OrderRecord
from infra.clock import shown_iso
from schemas.assets import asset_id
from schemas.orders import MONEY_KINDS

Key = tuple[str, str]  # (institution_id, asset_id)


@dataclass(frozen=True, slots=True)
class LiveAssets:
    balances: Mapping[Key, AssetBalance]
    controls: Mapping[Key, Sequence[OrderRecord]]

    @classmethod
    def read(cls, events: InstitutionEvents, orders: OrderRepository, assets: Iterable[Mapping[str, Any]],
             controls: bool = True) -> LiveAssets:
        keys = {(a["institution_id"], asset_id(a)) for a in assets}
        by_asset: dict[Key, list[OrderRecord]] = {}
        if controls:
            for order in orders.freezes_on(keys):
                by_asset.setdefault((order.institution_id, order.asset_id), []).append(order)
        return cls(events.balances(keys), by_asset)

    def asset(self, asset: Mapping[str, Any]) -> dict[str, Any]:
        """The reported asset with its live balance (``value_fen``; what the inquiry found stays
        in ``reported_value_fen``) and its freezes (``control``)."""
        key = (asset["institution_id"], asset_id(asset))
        out = dict(asset)
        balance = self.balances.get(key)
        if balance is not None and asset["kind"] in MONEY_KINDS:
            out["reported_value_fen"] = asset["value_fen"]
            out["value_fen"] = balance.balance_fen
            out["balance_as_of"] = shown_iso(balance.at)
        controls = self.controls.get(key)
        if controls:
            out["control"] = [control_view(o) for o in sorted(controls, key=_in_effect_first)]
        return out


NOTHING = LiveAssets({}, {})


def control_view(order: OrderRecord) -> dict[str, Any]:
    return {"order_id": order.id, "court": order.court, "case_number": order.case_number, "status": order.status,
            "held_fen": order.held_fen, "start_date": shown_iso(order.start_date), "end_date": shown_iso(order.end_date),
            "queue_position": order.queue_position}


def _in_effect_first(order: OrderRecord) -> tuple[int, int]:
    return (order.status == "queued", order.queue_position or 0)
