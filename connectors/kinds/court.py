"""Other courts, through the cross-court case association service (simulators/apps/court.py): one
party search per batch, answered sparsely (only parties found as applicants have a hit), and
assistance letters for withholding (扣留), its extension and release, and the transfer of what was
withheld. The network's control orders map one to one onto the letters' measures
(schemas/court_letters.py), so the gateway's rules for money freezes and deductions apply as they are."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ValidationError

from connectors.contract.base import Answer, EventPage, Found, NotFound, Permanent, Retryable
from connectors.contract.transport import Transport
from connectors.kinds.common import refuse_all
from connectors.kinds.control import control_record
from connectors.kinds.feed import read_feed
from connectors.kinds.http_errors import check_status, refusal_reason, require_dict
from connectors.kinds.status import post_status
from schemas.assets import CourtClaim
from schemas.court_letters import ANSWER_OF_OUTCOME, MEASURE_OF_ORDER
from schemas.directory import Institution
from schemas.events import ControlStatusQuery, ControlStatusReport
from schemas.messages import LegBatch, new_id
from schemas.orders import OrderRequest

MAX_BATCH = 500  # parties per search
PARTY_TYPE = {"person": "natural_person", "organisation": "legal_person"}
NOT_APPLICANT = "not an applicant in this court's cases"


class CourtConnector:
    kind: ClassVar[str] = "court"
    max_batch: ClassVar[int] = MAX_BATCH

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def query(self, institution: Institution, batch: LegBatch) -> dict[str, Answer]:
        body = {
            "search_no": new_id(), "requesting_court": batch.court, "requesting_case": batch.case_number,
            "notice_number": batch.notice_number, "officer_credentials": batch.officer_credentials,
            "parties": [{"ref": leg.leg_id, "party_type": PARTY_TYPE[leg.debtor.kind], "id_number": leg.debtor.id_number,
                         "name": leg.debtor.name} for leg in batch.legs],
        }
        reply = await self.transport.send("POST", f"/{institution.id}/association/v1/party-searches", body)
        check_status(reply, institution.id)
        if reply.status == 403:
            return refuse_all(batch, refusal_reason(reply))
        answers: dict[str, Answer] = {leg.leg_id: NotFound(NOT_APPLICANT) for leg in batch.legs}
        try:
            for hit in require_dict(reply, institution.id)["hits"]:
                if hit["ref"] in answers:
                    answers[hit["ref"]] = Found([_claim(institution, case) for case in hit["cases"]])
        except (KeyError, TypeError, ValidationError) as exc:
            raise Retryable(f"{institution.id} sent an unreadable search answer: {exc!r}"[:300]) from None
        return answers

    async def control(self, institution: Institution, order: OrderRequest) -> dict:
        reply = await self.transport.send("POST", f"/{institution.id}/association/v1/assistance-letters", _letter(order))
        check_status(reply, institution.id)
        if reply.status == 403:
            raise Permanent(f"{institution.id} forbade the letter: {reply.body}")
        answer = require_dict(reply, institution.id)
        return control_record({
            "order_id": answer.get("letter_no"), "status": ANSWER_OF_OUTCOME.get(answer.get("outcome")),  # type: ignore[arg-type]
            "freeze_id": answer.get("withholding_no"), "held_fen": answer.get("withheld_fen"),
            "requested_fen": answer.get("requested_fen"), "deducted_fen": answer.get("transferred_fen"),
            "queue_position": answer.get("queue_position"), "start_date": answer.get("start_date"),
            "end_date": answer.get("end_date"), "reason": answer.get("reason"), "duplicate": bool(answer.get("duplicate")),
        }, institution, order)

    async def events(self, institution: Institution, after: int, wait_s: float, limit: int) -> EventPage:
        return await read_feed(self.transport, institution, after, wait_s, limit)

    async def control_status(self, institution: Institution, query: ControlStatusQuery) -> ControlStatusReport:
        return await post_status(self.transport, institution, query)

    async def aclose(self) -> None:
        await self.transport.aclose()


def _claim(institution: Institution, case: dict[str, Any]) -> CourtClaim:
    return CourtClaim(institution_id=institution.id, claim_no=case["claim_no"], case_number=case["case_number"],
                      amount_due_fen=case["amount_due_fen"], collected_fen=case["collected_fen"], value_fen=case["pending_payout_fen"])


def _letter(order: OrderRequest) -> dict[str, Any]:
    return {
        "letter_no": order.order_id, "measure": MEASURE_OF_ORDER[order.type], "requesting_court": order.court,
        "requesting_case": order.case_number, "claim_no": order.asset.id, "applicant_id_number": order.debtor_id_number,
        "amount_fen": order.amount_fen, "term_days": order.term_days, "ruling_number": order.ruling_number,
        "notice_number": order.notice_number, "officer_credentials": order.officer_credentials,
        "withholding_no": order.original_freeze_id, "enforcement_account": order.enforcement_account,
        "served_at": order.served_at.isoformat(),
    }
