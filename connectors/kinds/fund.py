"""Fund centres (housing provident fund, social insurance): one data-exchange envelope for every
call (``POST /{inst}/exchange``, ``head``/``body`` with a transaction code and a return code; see
simulators/apps/fund.py). Balances are reported, marked protected with the legal reason; the
centres refuse every control order (the order desk already refuses them before sending), so
there are no freezes to follow and nothing to reconcile."""

from __future__ import annotations

from typing import Any, ClassVar

from connectors.contract.base import Answer, EventPage, Found, NotFound, Permanent
from connectors.contract.transport import Transport
from connectors.kinds.common import answers_by_leg, refuse_all
from connectors.kinds.control import control_record, control_request
from connectors.kinds.feed import read_feed
from connectors.kinds.http_errors import check_status, require_dict
from schemas.assets import FundAccount
from schemas.directory import Institution
from schemas.events import ControlStatusQuery, ControlStatusReport
from schemas.messages import LegBatch, new_id
from schemas.orders import OrderRequest

MAX_BATCH = 200  # the centres' limit of subjects per query
OK, REFUSED = "0000", "1001"
FUND_TYPE = {"GJJ": "housing_provident_fund", "SB": "social_insurance"}


class FundCentreConnector:
    kind: ClassVar[str] = "fund"
    max_batch: ClassVar[int] = MAX_BATCH

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def _exchange(self, institution: Institution, code: str, serial: str, court: str, body: dict[str, Any]) -> tuple[str, str, Any]:
        """One envelope call: (return code, message, answer body)."""
        reply = await self.transport.send("POST", f"/{institution.id}/exchange",
                                          {"head": {"jylsh": serial, "jydm": code, "fydm": court}, "body": body})
        check_status(reply, institution.id)
        head = require_dict(reply, institution.id).get("head")
        if not isinstance(head, dict):
            raise Permanent(f"{institution.id} answered without a head")
        return str(head.get("fhdm")), str(head.get("fhxx") or ""), reply.body.get("body")

    async def query(self, institution: Institution, batch: LegBatch) -> dict[str, Answer]:
        code, message, body = await self._exchange(institution, "CX01", new_id(), batch.court, {
            "ah": batch.case_number, "tzsh": batch.notice_number, "zfzh": batch.officer_credentials,
            "cxdx": [{"xh": leg.leg_id, "zjlx": "B" if leg.debtor.kind == "organisation" else "A",
                      "zjhm": leg.debtor.id_number, "xm": leg.debtor.name} for leg in batch.legs],
        })
        if code == REFUSED:
            return refuse_all(batch, message or "refused by the centre")
        if code != OK:
            raise Permanent(f"{institution.id} answered {code}: {message}")
        results = body.get("cxjg") if isinstance(body, dict) else None
        return answers_by_leg(institution, batch, results, "xh", lambda item, _: self._answer(institution, item))

    @staticmethod
    def _answer(institution: Institution, item: dict) -> Answer:
        if item["cxzt"] != "1":
            return NotFound("no account at this centre")
        return Found([
            FundAccount(institution_id=institution.id, account_no=a["grzh"], fund_type=FUND_TYPE[a["xzlx"]],  # type: ignore[arg-type]
                        account_status=a["zhzt"], value_fen=a["zhye"], protected_reason=a["bhyy"])
            for a in item["zhxx"]
        ])

    async def control(self, institution: Institution, order: OrderRequest) -> dict:
        code, message, body = await self._exchange(institution, "KZ01", order.order_id, order.court, control_request(order))
        if code != OK:
            raise Permanent(f"{institution.id} answered {code}: {message}")
        return control_record(body, institution, order)

    async def events(self, institution: Institution, after: int, wait_s: float, limit: int) -> EventPage:
        return await read_feed(self.transport, institution, after, wait_s, limit)

    async def control_status(self, institution: Institution, query: ControlStatusQuery) -> ControlStatusReport:
        raise Permanent(f"{institution.id}: a fund centre takes no freezes, so it has none to report")

    async def aclose(self) -> None:
        await self.transport.aclose()

