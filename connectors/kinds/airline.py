"""Airlines: REST resources with camelCase fields (``POST /{inst}/v1/passenger-restrictions``, see
``simulators/apps/airline.py``). An airline holds no assets: inquiries are refused without a call,
and the only orders are restrictions on a person and their lifting."""

from __future__ import annotations

from typing import Any, ClassVar

from connectors.contract.base import Permanent
from connectors.contract.transport import Reply
from connectors.kinds.carrier import CarrierConnector, legal_basis
from connectors.kinds.http_errors import require_dict
from schemas.directory import Institution
from schemas.orders import OrderRequest


class AirlineConnector(CarrierConnector):
    kind: ClassVar[str] = "airline"
    path: ClassVar[str] = "/v1/passenger-restrictions"
    RESULTS: ClassVar[dict[str, str]] = {"ACCEPTED": "applied", "LIFTED": "released", "REJECTED": "refused"}
    FIELDS: ClassVar[dict[str, str]] = {"order_id": "requestNo", "status": "result", "freeze_id": "restrictionNo",
                                        "start_date": "effectiveFrom", "end_date": "liftedAt", "reason": "rejectReason",
                                        "duplicate": "duplicate"}

    def request(self, order: OrderRequest, lift: bool) -> dict[str, Any]:
        return {
            "requestNo": order.order_id, "action": "LIFT" if lift else "RESTRICT", "measure": None if lift else order.type,
            "passenger": {"idType": "NI", "idNo": order.debtor_id_number}, "court": order.court, "caseNo": order.case_number,
            "decisionNo": order.ruling_number, "noticeNo": order.notice_number, "legalBasis": legal_basis(order),
            "officerCredentials": order.officer_credentials, "servedAt": order.served_at.isoformat(),
            "originalRequestNo": order.original_freeze_id,
        }

    def answer(self, institution: Institution, reply: Reply) -> dict[str, Any]:
        if reply.status == 403:
            raise Permanent(f"{institution.id} forbade the restriction request: {reply.body}")
        return require_dict(reply, institution.id)
