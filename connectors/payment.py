"""Payment apps: an open-platform gateway — always HTTP 200, the outcome is a code in the body."""

from __future__ import annotations

from typing import ClassVar

from pydantic import ValidationError

from connectors.base import Answer, Found, NotFound, Permanent, Refused, Retryable
from connectors.common import legal_basis
from connectors.http_errors import check_status, require_dict
from connectors.control import control_record, control_request
from connectors.transport import Transport
from schemas.assets import PaymentWallet
from schemas.directory import Institution
from schemas.messages import LegRequest, utcnow
from schemas.orders import OrderRequest

SUCCESS, BUSY, NOT_A_USER, REFUSED = "10000", "20000", "40004", "40003"


class PaymentAppConnector:
    kind: ClassVar[str] = "payment"

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def query(self, institution: Institution, leg: LegRequest) -> Answer:
        body = {
            "method": "court.wallet.query",
            "request_id": leg.leg_id,
            "timestamp": utcnow().isoformat(),
            "biz_content": {
                **legal_basis(leg),
                "cert_type": "USCC" if leg.debtor.kind == "organisation" else "ID_CARD",
                "cert_no": leg.debtor.id_number,
                "name": leg.debtor.name,
            },
        }
        reply = await self.transport.send("POST", f"/{institution.id}/gateway", body)
        check_status(reply, institution.id)
        data = require_dict(reply, institution.id)
        code = str(data.get("code"))
        if code == BUSY:
            raise Retryable(f"{institution.id}: {data.get('msg') or 'service unavailable'}")
        if code == NOT_A_USER:
            return NotFound("not a user of this app")
        if code == REFUSED:
            return Refused(str(data.get("sub_msg") or data.get("msg") or "refused"))
        if code != SUCCESS:
            raise Permanent(f"{institution.id} answered code {code}: {data.get('msg')}")
        try:
            wallets = [
                PaymentWallet(institution_id=institution.id, wallet_id=w["wallet_id"], value_fen=w["balance_fen"])
                for w in data["data"]["wallets"]
            ]
        except (KeyError, TypeError, ValidationError) as exc:
            raise Retryable(f"{institution.id} sent an unreadable wallet list: {exc!r}"[:300]) from None
        return Found(wallets) if wallets else NotFound("no wallet")

    async def control(self, institution: Institution, order: OrderRequest) -> dict:
        body = {"method": "court.wallet.control", "request_id": order.order_id, "timestamp": utcnow().isoformat(),
                "biz_content": control_request(order)}
        reply = await self.transport.send("POST", f"/{institution.id}/gateway", body)
        check_status(reply, institution.id)
        data = require_dict(reply, institution.id)
        code = str(data.get("code"))
        if code == BUSY:
            raise Retryable(f"{institution.id}: {data.get('msg') or 'service unavailable'}")
        if code != SUCCESS:
            raise Permanent(f"{institution.id} answered code {code}: {data.get('sub_msg') or data.get('msg')}")
        return control_record(data.get("data"), institution, order)

    async def aclose(self) -> None:
        await self.transport.aclose()
