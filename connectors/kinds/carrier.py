"""What the airline and railway connectors share: carriers hold no assets (``HoldsNoAssets``), and
take only orders about a person — a restriction (限制高消费, 失信名单) or its lifting — each sent in
the carrier's own wire format (``request``, ``answer``) and read back into the common control
record by the carrier's names for its fields (``FIELDS``) and results (``RESULTS``)."""

from __future__ import annotations

from typing import Any, ClassVar

from connectors.contract.base import Permanent
from connectors.contract.transport import Reply
from connectors.kinds.assetless import HoldsNoAssets
from connectors.kinds.control import control_record
from connectors.kinds.http_errors import check_status
from schemas.directory import Institution
from schemas.orders import PERSON_ORDERS, OrderRequest
from schemas.restrictions import LEGAL_BASIS

HOLDS_NO_ASSETS = "a carrier holds no assets"
RECORD_FIELDS = ("order_id", "status", "freeze_id", "start_date", "end_date", "reason", "duplicate")


class CarrierConnector(HoldsNoAssets):
    holds_no_assets: ClassVar[str] = HOLDS_NO_ASSETS
    path: ClassVar[str]  # under /{institution}
    RESULTS: ClassVar[dict[str, str]]  # the carrier's result code → the control record's status
    FIELDS: ClassVar[dict[str, str]]  # the control record's field → the carrier's name for it

    def request(self, order: OrderRequest, lift: bool) -> dict[str, Any]:
        raise NotImplementedError

    def answer(self, institution: Institution, reply: Reply) -> dict[str, Any]:
        """The carrier's answer proper, out of whatever wraps it; raises what is not one."""
        raise NotImplementedError

    async def control(self, institution: Institution, order: OrderRequest) -> dict:
        if order.type not in PERSON_ORDERS:
            raise Permanent(f"{institution.id}: {HOLDS_NO_ASSETS}; it takes restrictions only, not {order.type} orders")
        reply = await self.transport.send("POST", f"/{institution.id}{self.path}", self.request(order, order.type == "lift_restriction"))
        check_status(reply, institution.id)
        data = self.answer(institution, reply)
        record = {field: data.get(self.FIELDS[field]) for field in RECORD_FIELDS}
        status = self.RESULTS.get(record["status"])
        if status is None:
            raise Permanent(f"{institution.id} answered an unknown result {record['status']!r}")
        return control_record({**record, "status": status, "duplicate": bool(record["duplicate"])}, institution, order)


def legal_basis(order: OrderRequest) -> str:
    """The provisions a restriction rests on; a lifting names none of its own (its decision does)."""
    return LEGAL_BASIS[order.type].basis if order.type in LEGAL_BASIS else ""
