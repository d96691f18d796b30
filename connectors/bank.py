"""Banks: a synchronous JSON API — one request, one answer."""

from __future__ import annotations

from typing import ClassVar

from pydantic import ValidationError

from connectors.base import Answer, Found, NotFound, Refused, Retryable
from connectors.common import legal_basis, subject
from connectors.http_errors import check_status, refusal_reason, require_dict
from connectors.control import post_control
from connectors.transport import Transport
from schemas.assets import DepositAccount
from schemas.directory import Institution
from schemas.messages import LegRequest
from schemas.orders import OrderRequest


class BankConnector:
    kind: ClassVar[str] = "bank"

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def query(self, institution: Institution, leg: LegRequest) -> Answer:
        body = {"request_id": leg.leg_id, **legal_basis(leg), "subject": subject(leg)}
        reply = await self.transport.send("POST", f"/{institution.id}/api/v1/deposit-inquiries", body)
        check_status(reply, institution.id)
        if reply.status == 403:
            return Refused(refusal_reason(reply))
        data = require_dict(reply, institution.id)
        if not data.get("customer_found"):
            return NotFound("not a customer of this bank")
        try:
            accounts = [
                DepositAccount(
                    institution_id=institution.id,
                    account_no=a["account_no"],
                    account_type=a["account_type"],
                    currency=a.get("currency", "CNY"),
                    value_fen=a["balance_fen"],
                    co_owners=[h for h in a.get("holders", []) if h != leg.debtor.id_number],
                    protected=a.get("protected", False),
                    protected_reason=a.get("protected_reason"),
                )
                for a in data["accounts"]
            ]
        except (KeyError, TypeError, ValidationError) as exc:
            raise Retryable(f"{institution.id} sent an unreadable account list: {exc!r}"[:300]) from None
        return Found(accounts)

    async def control(self, institution: Institution, order: OrderRequest) -> dict:
        return await post_control(self.transport, institution, order)

    async def aclose(self) -> None:
        await self.transport.aclose()
