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

    async def _gateway(self, institution: Institution, method: str, request_id: str, biz_content: dict) -> tuple[str, dict]:
        """One call through the app's open-platform gateway: (business code, whole answer)."""
        body = {"method": method, "request_id": request_id, "timestamp": utcnow().isoformat(), "biz_content": biz_content}
        reply = await self.transport.send("POST", f"/{institution.id}/gateway", body)
        check_status(reply, institution.id)
        data = require_dict(reply, institution.id)
        code = str(data.get("code"))
        if code == BUSY:
            raise Retryable(f"{institution.id}: {data.get('msg') or 'service unavailable'}")
        return code, data

    async def query(self, institution: Institution, leg: LegRequest) -> Answer:
        code, data = await self._gateway(institution, "court.wallet.query", leg.leg_id, {
            **legal_basis(leg),
            "cert_type": "USCC" if leg.debtor.kind == "organisation" else "ID_CARD",
            "cert_no": leg.debtor.id_number,
            "name": leg.debtor.name,
        })
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
        code, data = await self._gateway(institution, "court.wallet.control", order.order_id, control_request(order))
        if code != SUCCESS:
            raise Permanent(f"{institution.id} answered code {code}: {data.get('sub_msg') or data.get('msg')}")
        return control_record(data.get("data"), institution, order)

    async def aclose(self) -> None:
        await self.transport.aclose()
