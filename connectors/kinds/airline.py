"""Airlines: REST resources with camelCase fields (``POST /{inst}/v1/passenger-restrictions``, see
``simulators/apps/airline.py``). An airline holds no assets: inquiries are refused without a call,
and the only orders are restrictions on a person and their lifting."""

from __future__ import annotations

from typing import ClassVar

from connectors.contract.base import Permanent
from connectors.kinds.assetless import HoldsNoAssets
from connectors.kinds.carrier import HOLDS_NO_ASSETS, check_person_order, legal_basis, read_record
from connectors.kinds.http_errors import check_status, require_dict
from schemas.directory import Institution
from schemas.orders import OrderRequest

RESULTS = {"ACCEPTED": "applied", "LIFTED": "released", "REJECTED": "refused"}
# The airline's answer by the control record's field names.
FIELDS = {"order_id": "requestNo", "status": "result", "freeze_id": "restrictionNo", "start_date": "effectiveFrom",
          "end_date": "liftedAt", "reason": "rejectReason", "duplicate": "duplicate"}


class AirlineConnector(HoldsNoAssets):
    kind: ClassVar[str] = "airline"
    holds_no_assets: ClassVar[str] = HOLDS_NO_ASSETS

    async def control(self, institution: Institution, order: OrderRequest) -> dict:
        check_person_order(institution, order)
        lift = order.type == "lift_restriction"
        body = {
            "requestNo": order.order_id, "action": "LIFT" if lift else "RESTRICT", "measure": None if lift else order.type,
            "passenger": {"idType": "NI", "idNo": order.debtor_id_number}, "court": order.court, "caseNo": order.case_number,
            "decisionNo": order.ruling_number, "noticeNo": order.notice_number, "legalBasis": legal_basis(order),
            "officerCredentials": order.officer_credentials, "servedAt": order.served_at.isoformat(),
            "originalRequestNo": order.original_freeze_id,
        }
        reply = await self.transport.send("POST", f"/{institution.id}/v1/passenger-restrictions", body)
        check_status(reply, institution.id)
        if reply.status == 403:
            raise Permanent(f"{institution.id} forbade the restriction request: {reply.body}")
        data = require_dict(reply, institution.id)
        return read_record(institution, order, data, RESULTS, lambda name: data.get(FIELDS[name]))
