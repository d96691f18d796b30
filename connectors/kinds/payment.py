"""Payment apps: an open-platform gateway — always HTTP 200, the outcome is a code in the body;
queries go as ``court.wallet.batch_query``, a batch of debtors per call with a code per debtor."""

from __future__ import annotations

from typing import ClassVar

from connectors.contract.base import Answer, EventPage, Found, NotFound, Permanent, Refused, Retryable
from connectors.contract.transport import Transport
from connectors.kinds.common import answers_by_leg, legal_basis, refuse_all
from connectors.kinds.control import control_record, control_request
from connectors.kinds.feed import read_feed
from connectors.kinds.http_errors import check_status, require_dict
from connectors.kinds.status import status_report, status_request
from schemas.assets import PaymentWallet
from schemas.directory import Institution
from schemas.events import ControlStatusQuery, ControlStatusReport
from schemas.messages import LegBatch, new_id, utcnow
from schemas.orders import OrderRequest

SUCCESS, BUSY, NOT_A_USER, REFUSED = "10000", "20000", "40004", "40003"
MAX_BATCH = 500  # the apps' limit of subjects per batch query
STATUS_METHOD = "court.wallet.control_status"  # connectors/kinds/status.py's body, as biz_content


class PaymentAppConnector:
    kind: ClassVar[str] = "payment"
    max_batch: ClassVar[int] = MAX_BATCH

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

    async def query(self, institution: Institution, batch: LegBatch) -> dict[str, Answer]:
        code, data = await self._gateway(institution, "court.wallet.batch_query", new_id(), {
            **legal_basis(batch),
            "subjects": [
                {
                    "request_id": leg.leg_id,
                    "cert_type": "USCC" if leg.debtor.kind == "organisation" else "ID_CARD",
                    "cert_no": leg.debtor.id_number,
                    "name": leg.debtor.name,
                }
                for leg in batch.legs
            ],
        })
        if code == REFUSED:
            return refuse_all(batch, str(data.get("sub_msg") or data.get("msg") or "refused"))
        if code != SUCCESS:
            raise Permanent(f"{institution.id} answered code {code}: {data.get('sub_msg') or data.get('msg')}")
        payload = data.get("data")
        results = payload.get("results") if isinstance(payload, dict) else None
        return answers_by_leg(institution, batch, results, "request_id", lambda result, _: self._answer(institution, result))

    @staticmethod
    def _answer(institution: Institution, result: dict) -> Answer:
        code = str(result["code"])
        if code == NOT_A_USER:
            return NotFound("not a user of this app")
        if code == REFUSED:
            return Refused(str(result.get("sub_msg") or result.get("msg") or "refused"))
        if code != SUCCESS:
            raise Permanent(f"{institution.id} answered code {code} for {result['request_id']}: {result.get('msg')}")
        wallets = [
            PaymentWallet(institution_id=institution.id, wallet_id=w["wallet_id"], value_fen=w["balance_fen"])
            for w in result["wallets"]
        ]
        return Found(wallets) if wallets else NotFound("no wallet")

    async def control(self, institution: Institution, order: OrderRequest) -> dict:
        code, data = await self._gateway(institution, "court.wallet.control", order.order_id, control_request(order))
        if code != SUCCESS:
            raise Permanent(f"{institution.id} answered code {code}: {data.get('sub_msg') or data.get('msg')}")
        return control_record(data.get("data"), institution, order)

    async def events(self, institution: Institution, after: int, wait_s: float, limit: int) -> EventPage:
        return await read_feed(self.transport, institution, after, wait_s, limit)  # the feed is outside the envelope

    async def control_status(self, institution: Institution, query: ControlStatusQuery) -> ControlStatusReport:
        code, data = await self._gateway(institution, STATUS_METHOD, query.run_id, status_request(query))
        if code != SUCCESS:
            raise Permanent(f"{institution.id} answered code {code}: {data.get('sub_msg') or data.get('msg')}")
        return status_report(data.get("data"), institution, query)

    async def aclose(self) -> None:
        await self.transport.aclose()
