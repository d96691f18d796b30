"""Land registries: asynchronous — submit a batch of debtors, get a ticket, poll until it is done."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from connectors.contract.base import Answer, Found, NotFound, Permanent, Retryable
from connectors.kinds.common import answers_by_leg, legal_basis, refuse_all, subject
from connectors.kinds.control import post_control
from connectors.kinds.http_base import HttpConnector
from connectors.kinds.http_errors import check_status, refusal_reason, require_dict
from schemas.assets import RealEstate
from schemas.directory import Institution
from schemas.messages import LegBatch, new_id
from schemas.orders import OrderRequest

MAX_BATCH = 500  # the registries' limit of subjects per batch request
FIRST_POLL_S = 0.02
MAX_POLL_S = 1.0


class LandRegistryConnector(HttpConnector):
    kind: ClassVar[str] = "land"
    max_batch: ClassVar[int] = MAX_BATCH

    async def query(self, institution: Institution, batch: LegBatch) -> dict[str, Answer]:
        body = {"batch_id": new_id(), **legal_basis(batch), "subjects": [subject(leg) for leg in batch.legs]}
        reply = await self.transport.send("POST", f"/{institution.id}/request-batches", body)
        check_status(reply, institution.id)
        if reply.status == 403:
            return refuse_all(batch, refusal_reason(reply))
        ticket = require_dict(reply, institution.id).get("ticket")
        if not ticket:
            raise Retryable(f"{institution.id} accepted the batch but gave no ticket")
        # The worker's deadline bounds this loop; polling backs off so slow registries cost little.
        delay = FIRST_POLL_S
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, MAX_POLL_S)
            reply = await self.transport.send("GET", f"/{institution.id}/request-batches/{ticket}")
            if reply.status == 404:
                raise Retryable(f"{institution.id} lost ticket {ticket}")
            check_status(reply, institution.id)
            state = require_dict(reply, institution.id)
            if state.get("state") == "processing":
                continue
            if state.get("state") == "refused":
                return refuse_all(batch, str(state.get("reason") or refusal_reason(reply)))
            if state.get("state") != "done":
                raise Permanent(f"{institution.id} reported unknown state {state.get('state')!r}")
            return answers_by_leg(institution, batch, state.get("results"), "request_id",
                                  lambda result, _: self._answer(institution, result))

    @staticmethod
    def _answer(institution: Institution, result: dict) -> Answer:
        if not result.get("found"):
            return NotFound("no registered real estate")
        return Found([
            RealEstate(
                institution_id=institution.id,
                unit_no=u["unit_no"],
                certificate_no=u["certificate_no"],
                address=u["address"],
                floor_area_dm2=u["floor_area_dm2"],
                value_fen=u["value_fen"],
                share_percent=u.get("share_percent", 100),
                co_owners=u.get("co_owners", []),
            )
            for u in result["units"]
        ])

    async def control(self, institution: Institution, order: OrderRequest) -> dict:
        return await post_control(self.transport, institution, order)
