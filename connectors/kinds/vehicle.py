"""Vehicle offices: a batch API. Each chunk of legs the worker hands over is one call to the
office (up to its limit of 100 items); the legal basis (court, notice, credentials) is the batch's,
and each leg still gets its own answer."""

from __future__ import annotations

from typing import ClassVar

from connectors.contract.base import Answer, Found, NotFound, Permanent, Refused
from connectors.kinds.common import answers_by_leg, refuse_all
from connectors.kinds.control import post_control
from connectors.kinds.http_base import HttpConnector
from connectors.kinds.http_errors import check_status, refusal_reason, require_dict
from schemas.assets import Vehicle
from schemas.directory import Institution
from schemas.messages import LegBatch, new_id
from schemas.orders import OrderRequest

MAX_BATCH = 100  # the office's limit of items per batch query


class VehicleOfficeConnector(HttpConnector):
    kind: ClassVar[str] = "vehicle"
    max_batch: ClassVar[int] = MAX_BATCH

    async def query(self, institution: Institution, batch: LegBatch) -> dict[str, Answer]:
        body = {
            "batch_id": new_id(),
            "court": batch.court,
            "notice_number": batch.notice_number,
            "officer_credentials": batch.officer_credentials,
            "items": [
                {"item_id": leg.leg_id, "case_number": batch.case_number, "id_number": leg.debtor.id_number,
                 "name": leg.debtor.name}
                for leg in batch.legs
            ],
        }
        reply = await self.transport.send("POST", f"/{institution.id}/batch-queries", body)
        check_status(reply, institution.id)
        if reply.status == 403:
            return refuse_all(batch, refusal_reason(reply))
        data = require_dict(reply, institution.id)
        return answers_by_leg(institution, batch, data.get("items"), "item_id", lambda item, _: self._answer(institution, item))

    @staticmethod
    def _answer(institution: Institution, item: dict) -> Answer:
        status = item["status"]
        if status == "refused":
            return Refused(str(item.get("reason") or "refused by the vehicle office"))
        if status == "not_found":
            return NotFound("no registered vehicle")
        if status != "found":
            raise Permanent(f"{institution.id} reported unknown item status {status!r}")
        return Found([
            Vehicle(
                institution_id=institution.id,
                plate=v["plate"], vin=v["vin"], model=v["model"],
                registered_on=v["registered_on"], value_fen=v["value_fen"],
            )
            for v in item["vehicles"]
        ])

    async def control(self, institution: Institution, order: OrderRequest) -> dict:
        return await post_control(self.transport, institution, order)
