"""Land registries: asynchronous — submit a request, get a ticket, poll until it is done."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from pydantic import ValidationError

from connectors.base import Answer, Found, NotFound, Permanent, Refused, Retryable
from connectors.common import legal_basis, subject
from connectors.http_errors import check_status, refusal_reason, require_dict
from connectors.control import post_control
from connectors.transport import Transport
from schemas.assets import RealEstate
from schemas.directory import Institution
from schemas.messages import LegRequest
from schemas.orders import OrderRequest

FIRST_POLL_S = 0.02
MAX_POLL_S = 1.0


class LandRegistryConnector:
    kind: ClassVar[str] = "land"

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def query(self, institution: Institution, leg: LegRequest) -> Answer:
        body = {"request_id": leg.leg_id, **legal_basis(leg), "subject": subject(leg)}
        reply = await self.transport.send("POST", f"/{institution.id}/requests", body)
        check_status(reply, institution.id)
        if reply.status == 403:
            return Refused(refusal_reason(reply))
        ticket = require_dict(reply, institution.id).get("ticket")
        if not ticket:
            raise Retryable(f"{institution.id} accepted the request but gave no ticket")
        # The worker's deadline bounds this loop; polling backs off so slow registries cost little.
        delay = FIRST_POLL_S
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, MAX_POLL_S)
            reply = await self.transport.send("GET", f"/{institution.id}/requests/{ticket}")
            if reply.status == 404:
                raise Retryable(f"{institution.id} lost ticket {ticket}")
            check_status(reply, institution.id)
            state = require_dict(reply, institution.id)
            if state.get("state") == "processing":
                continue
            if state.get("state") == "refused":
                return Refused(str(state.get("reason") or refusal_reason(reply)))
            if state.get("state") != "done":
                raise Permanent(f"{institution.id} reported unknown state {state.get('state')!r}")
            return self._answer(institution, state)

    @staticmethod
    def _answer(institution: Institution, state: dict) -> Answer:
        if not state.get("found"):
            return NotFound("no registered real estate")
        try:
            units = [
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
                for u in state["units"]
            ]
        except (KeyError, TypeError, ValidationError) as exc:
            raise Retryable(f"{institution.id} sent an unreadable unit list: {exc!r}"[:300]) from None
        return Found(units)

    async def control(self, institution: Institution, order: OrderRequest) -> dict:
        return await post_control(self.transport, institution, order)

    async def aclose(self) -> None:
        await self.transport.aclose()
