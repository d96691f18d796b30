"""Banks: a synchronous JSON API — one batch of debtors per request (the 总对总 batch interface),
one answer per debtor in the reply."""

from __future__ import annotations

from typing import ClassVar

from connectors.contract.base import Answer, EventPage, Found, NotFound
from connectors.contract.transport import Transport
from connectors.kinds.common import answers_by_leg, batch_key, legal_basis, refuse_all, subject
from connectors.kinds.control import post_control
from connectors.kinds.feed import read_feed
from connectors.kinds.http_errors import check_status, refusal_reason, require_dict
from connectors.kinds.status import post_status
from schemas.assets import DepositAccount
from schemas.directory import Institution
from schemas.events import ControlStatusQuery, ControlStatusReport
from schemas.messages import LegBatch
from schemas.orders import OrderRequest

MAX_BATCH = 500  # the banks' limit of subjects per batch inquiry


class BankConnector:
    kind: ClassVar[str] = "bank"
    max_batch: ClassVar[int] = MAX_BATCH

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def query(self, institution: Institution, batch: LegBatch) -> dict[str, Answer]:
        body = {"batch_id": batch_key(batch), **legal_basis(batch), "subjects": [subject(leg) for leg in batch.legs]}
        reply = await self.transport.send("POST", f"/{institution.id}/api/v1/deposit-inquiry-batches", body)
        check_status(reply, institution.id)
        if reply.status == 403:
            return refuse_all(batch, refusal_reason(reply))
        data = require_dict(reply, institution.id)
        return answers_by_leg(institution, batch, data.get("results"), "request_id",
                              lambda result, leg: self._answer(institution, result, leg.debtor.id_number))

    @staticmethod
    def _answer(institution: Institution, result: dict, holder: str) -> Answer:
        if not result.get("customer_found"):
            return NotFound("not a customer of this bank")
        return Found([
            DepositAccount(
                institution_id=institution.id,
                account_no=a["account_no"],
                account_type=a["account_type"],
                currency=a.get("currency", "CNY"),
                value_fen=a["balance_fen"],
                co_owners=[h for h in a.get("holders", []) if h != holder],
                protected=a.get("protected", False),
                protected_reason=a.get("protected_reason"),
            )
            for a in result["accounts"]
        ])

    async def control(self, institution: Institution, order: OrderRequest) -> dict:
        return await post_control(self.transport, institution, order)

    async def events(self, institution: Institution, after: int, wait_s: float, limit: int) -> EventPage:
        return await read_feed(self.transport, institution, after, wait_s, limit)

    async def control_status(self, institution: Institution, query: ControlStatusQuery) -> ControlStatusReport:
        return await post_status(self.transport, institution, query)

    async def aclose(self) -> None:
        await self.transport.aclose()
