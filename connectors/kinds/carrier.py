"""What the airline and railway connectors share: carriers hold no assets (``HoldsNoAssets``), and
take only orders about a person — a restriction (限制高消费, 失信名单) or its lifting — each sent in
the carrier's own wire format and read back into the common control record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.contract.base import Permanent
from connectors.kinds.control import control_record
from schemas.directory import Institution
from schemas.orders import PERSON_ORDERS, OrderRequest
from schemas.restrictions import LEGAL_BASIS

HOLDS_NO_ASSETS = "a carrier holds no assets"


def check_person_order(institution: Institution, order: OrderRequest) -> None:
    if order.type not in PERSON_ORDERS:
        raise Permanent(f"{institution.id}: {HOLDS_NO_ASSETS}; it takes restrictions only, not {order.type} orders")


def legal_basis(order: OrderRequest) -> str:
    """The provisions a restriction rests on; a lifting names none of its own (its decision does)."""
    return LEGAL_BASIS[order.type].basis if order.type in LEGAL_BASIS else ""


def read_record(institution: Institution, order: OrderRequest, data: dict[str, Any], status_of: dict[str, str],
                field: Callable[[str], Any]) -> dict[str, Any]:
    """The common control record from a carrier's answer: ``status_of`` maps its result codes,
    ``field`` reads its answer by the common record's field names."""
    status = status_of.get(field("status"))
    if status is None:
        raise Permanent(f"{institution.id} answered an unknown result {field('status')!r}")
    return control_record({"order_id": field("order_id"), "status": status, "freeze_id": field("freeze_id"),
                           "start_date": field("start_date"), "end_date": field("end_date"), "reason": field("reason"),
                           "duplicate": bool(field("duplicate"))}, institution, order)
