"""The railway (12306): one envelope ``{"httpstatus", "status", "messages", "data"}`` around every
answer, pinyin field names (``POST /{inst}/otn/courtRestriction/submit``, see
``simulators/apps/railway.py``). It holds no assets: inquiries are refused without a call, and the
only orders are restrictions on a person and their lifting. ``status`` false is a request the
railway cannot take as sent: asking again would not change it."""

from __future__ import annotations

from typing import Any, ClassVar

from connectors.contract.base import Permanent
from connectors.contract.transport import Reply
from connectors.kinds.carrier import CarrierConnector, legal_basis
from connectors.kinds.http_errors import require_dict
from schemas.directory import Institution
from schemas.orders import OrderRequest

MEASURES = {"restrict_consumption": "XG", "list_dishonest": "SX"}


class RailwayConnector(CarrierConnector):
    kind: ClassVar[str] = "railway"
    path: ClassVar[str] = "/otn/courtRestriction/submit"
    RESULTS: ClassVar[dict[str, str]] = {"YZX": "applied", "YJC": "released", "JJ": "refused"}
    FIELDS: ClassVar[dict[str, str]] = {"order_id": "sqdh", "status": "clzt", "freeze_id": "xzbh", "start_date": "sxrq",
                                        "end_date": "jcrq", "reason": "jjyy", "duplicate": "cf"}

    def request(self, order: OrderRequest, lift: bool) -> dict[str, Any]:
        return {
            "sqdh": order.order_id, "czlx": "JC" if lift else "XZ", "cslb": None if lift else MEASURES[order.type], "zjlx": "1",
            "zjhm": order.debtor_id_number, "fymc": order.court, "ah": order.case_number, "wsh": order.ruling_number,
            "tzsh": order.notice_number, "flyj": legal_basis(order), "zfzh": order.officer_credentials,
            "sdsj": order.served_at.isoformat(), "ysqdh": order.original_freeze_id,
        }

    def answer(self, institution: Institution, reply: Reply) -> dict[str, Any]:
        envelope = require_dict(reply, institution.id)
        if envelope.get("status") is not True:
            raise Permanent(f"{institution.id} did not take the request: {'; '.join(map(str, envelope.get('messages') or []))}"[:500])
        data = envelope.get("data")
        if not isinstance(data, dict):
            raise Permanent(f"{institution.id} answered status true without data")
        return data
