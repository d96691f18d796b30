"""The railway (12306): one envelope ``{"httpstatus", "status", "messages", "data"}`` around every
answer, pinyin field names (``POST /{inst}/otn/courtRestriction/submit``, see
``simulators/apps/railway.py``). It holds no assets: inquiries are refused without a call, and the
only orders are restrictions on a person and their lifting. ``status`` false is a request the
railway cannot take as sent: asking again would not change it."""

from __future__ import annotations

from typing import ClassVar

from connectors.contract.base import Permanent
from connectors.kinds.assetless import HoldsNoAssets
from connectors.kinds.carrier import HOLDS_NO_ASSETS, check_person_order, legal_basis, read_record
from connectors.kinds.http_errors import check_status, require_dict
from schemas.directory import Institution
from schemas.orders import OrderRequest

MEASURES = {"restrict_consumption": "XG", "list_dishonest": "SX"}
STATES = {"YZX": "applied", "YJC": "released", "JJ": "refused"}
FIELDS = {"order_id": "sqdh", "status": "clzt", "freeze_id": "xzbh", "start_date": "sxrq", "end_date": "jcrq",
          "reason": "jjyy", "duplicate": "cf"}


class RailwayConnector(HoldsNoAssets):
    kind: ClassVar[str] = "railway"
    holds_no_assets: ClassVar[str] = HOLDS_NO_ASSETS

    async def control(self, institution: Institution, order: OrderRequest) -> dict:
        check_person_order(institution, order)
        lift = order.type == "lift_restriction"
        body = {
            "sqdh": order.order_id, "czlx": "JC" if lift else "XZ", "cslb": None if lift else MEASURES[order.type], "zjlx": "1",
            "zjhm": order.debtor_id_number, "fymc": order.court, "ah": order.case_number, "wsh": order.ruling_number,
            "tzsh": order.notice_number, "flyj": legal_basis(order), "zfzh": order.officer_credentials,
            "sdsj": order.served_at.isoformat(), "ysqdh": order.original_freeze_id,
        }
        reply = await self.transport.send("POST", f"/{institution.id}/otn/courtRestriction/submit", body)
        check_status(reply, institution.id)
        envelope = require_dict(reply, institution.id)
        if envelope.get("status") is not True:
            raise Permanent(f"{institution.id} did not take the request: {'; '.join(map(str, envelope.get('messages') or []))}"[:500])
        data = envelope.get("data")
        if not isinstance(data, dict):
            raise Permanent(f"{institution.id} answered status true without data")
        return read_record(institution, order, data, STATES, lambda name: data.get(FIELDS[name]))
