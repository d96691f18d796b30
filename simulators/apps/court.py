"""Courts as institutions: the cross-court case association service (跨域执行协作, 案件关联检索).

Another court answers whether a debtor of the asking court is the applicant (申请执行人) in its own
enforcement cases, and holds or hands over what it collects for him when asked by letter:

- ``POST /{inst}/association/v1/party-searches`` ``{"search_no", "requesting_court",
  "requesting_case", "notice_number", "officer_credentials", "parties": [{"ref", "party_type"
  ("natural_person" | "legal_person"), "id_number", "name"}]}`` (up to 500 parties) → 200
  ``{"search_no", "hits": [{"ref", "role": "申请执行人", "cases": [{"claim_no", "case_number",
  "amount_due_fen", "collected_fen", "pending_payout_fen"}]}]}``: only parties found as applicants
  have a hit; a party without one is in none of this court's cases. 403 when the credentials are
  not registered here.
- ``POST /{inst}/association/v1/assistance-letters`` (协助执行函) ``{"letter_no", "measure"
  ("withhold" 扣留 | "extend" 续行扣留 | "release" 解除扣留 | "transfer" 划拨 |
  "withhold_and_transfer"), "requesting_court", "requesting_case", "claim_no",
  "applicant_id_number", "amount_fen", "term_days", "ruling_number", "notice_number",
  "officer_credentials", "withholding_no" (the withholding an extend, release or transfer
  concerns), "enforcement_account" (the asking court's 执行款专户, for a transfer), "served_at"}``
  → 200 ``{"letter_no", "outcome" ("done" | "partly_done" | "queued" | "refused" | "released"),
  "withholding_no", "withheld_fen", "requested_fen", "transferred_fen", "queue_position",
  "start_date", "end_date", "reason", "duplicate"}``. A letter number answered before gets the
  same answer again (``duplicate``), whatever the body.

The claim's ledger is a money ledger (``simulators.ledger``): its balance is what the court holds
for him and has not paid out; a withholding holds an exact amount, at most what is there, and
captures later collections until it is reached; only what no withholding holds is paid out to
him. ``POST /admin/institutions/{inst}/claims/{claim_no}/payout {"collected_fen"}`` is the court's
own cashier: what its debtor paid in arrives (``collected_fen`` ≥ 0), then everything free is paid
out to the applicant; the answer says what was paid out and what stays withheld.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import Field

from schemas.assets import CourtClaim
from schemas.court_letters import ORDER_OF_MEASURE, OUTCOME_OF_ANSWER
from simulators.apps.common import (
    REFUSAL_UNREGISTERED,
    WireModel,
    holdings,
    http_error,
    institution,
    json_response,
    read_body,
    read_object,
)
from simulators.apps.faults import misbehave
from simulators.control_order import ControlOrder, StrictInt
from simulators.ledger import Refused
from simulators.ledger_book import NO_SUCH_ASSET

MAX_PARTIES = 500
PARTY_KIND = {"natural_person": "person", "legal_person": "organisation"}
APPLICANT = "申请执行人"


class Party(WireModel):
    ref: str = Field(min_length=1, max_length=128, description="the caller's id for this party, echoed in its hit")
    party_type: Literal["natural_person", "legal_person"]
    id_number: str = Field(min_length=1, max_length=64, description="resident ID or unified social credit code")
    name: str


class PartySearch(WireModel):
    search_no: str = Field(min_length=1, max_length=128)
    requesting_court: str = Field(min_length=1)
    requesting_case: str
    notice_number: str
    officer_credentials: list[str]
    parties: list[Party] = Field(min_length=1, max_length=MAX_PARTIES)


class Letter(WireModel):
    letter_no: str = Field(min_length=1, max_length=128, description="the asking court's number for this letter; answers are kept by it")
    measure: Literal["withhold", "extend", "release", "transfer", "withhold_and_transfer"]
    requesting_court: str = Field(min_length=1)
    requesting_case: str
    claim_no: str = Field(min_length=1, max_length=128)
    applicant_id_number: str
    amount_fen: StrictInt | None = None
    term_days: StrictInt | None = None
    ruling_number: str
    notice_number: str
    officer_credentials: list[str]
    withholding_no: str | None = None
    enforcement_account: str | None = None
    served_at: datetime


async def party_search(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    body = await read_body(request, PartySearch)
    if (fault := await misbehave(request, ctx, inst)) is not None:
        return fault
    if not ctx.population.is_registered(body.officer_credentials):
        return json_response({"error": "refused", "reason": REFUSAL_UNREGISTERED}, status=403)
    hits = []
    for party in body.parties:
        claims = [a for a in holdings(ctx, inst, party.id_number, PARTY_KIND[party.party_type]) if isinstance(a, CourtClaim)]
        if claims:
            hits.append({"ref": party.ref, "role": APPLICANT, "cases": [_case(c) for c in claims]})
    return json_response({"search_no": body.search_no, "hits": hits})


async def assistance_letter(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    letter = await read_body(request, Letter)
    if (fault := await misbehave(request, ctx, inst)) is not None:
        return fault
    order = ControlOrder(
        order_id=letter.letter_no, type=ORDER_OF_MEASURE[letter.measure], court=letter.requesting_court,  # type: ignore[arg-type]
        case_number=letter.requesting_case, asset={"kind": "court_claim", "id": letter.claim_no},  # type: ignore[arg-type]
        debtor_id_number=letter.applicant_id_number, amount_fen=letter.amount_fen, term_days=letter.term_days,
        ruling_number=letter.ruling_number, notice_number=letter.notice_number, officer_credentials=letter.officer_credentials,
        original_freeze_id=letter.withholding_no, enforcement_account=letter.enforcement_account, served_at=letter.served_at,
    )
    record = ctx.ledgers.execute(inst, order)  # the book keeps every answer by letter number
    return json_response({
        "letter_no": letter.letter_no, "outcome": OUTCOME_OF_ANSWER[record["status"]], "withholding_no": record["freeze_id"],
        "withheld_fen": record["held_fen"], "requested_fen": record["requested_fen"], "transferred_fen": record["deducted_fen"],
        "queue_position": record["queue_position"], "start_date": record["start_date"], "end_date": record["end_date"],
        "reason": record["reason"], "duplicate": record["duplicate"],
    })


async def payout(request: web.Request) -> web.Response:
    """The court's cashier (admin): money its debtor paid in arrives for the applicant, then all
    that no withholding holds is paid out to him. The withheld part stays at the court."""
    ctx, inst = institution(request)
    collected = (await read_object(request)).get("collected_fen", 0)
    if isinstance(collected, bool) or not isinstance(collected, int) or collected < 0:
        raise http_error(web.HTTPBadRequest, "bad_request", "collected_fen must be a whole number of fen, 0 or more")
    claim_no = request.match_info["claim_no"]
    ledger = ctx.ledgers.ledger(inst, claim_no)
    if ledger is None or ledger.kind != "court_claim":
        raise http_error(web.HTTPNotFound, "unknown_claim", NO_SUCH_ASSET)
    try:
        if collected:
            ctx.ledgers.credit(inst, claim_no, collected)
        paid = ledger.available_fen
        if paid:
            ctx.ledgers.debit(inst, claim_no, paid)
    except Refused as refusal:  # not reached for a valid amount; kept so a rule change answers 400, not 500
        raise http_error(web.HTTPBadRequest, "bad_request", refusal.reason) from None
    return json_response({"claim_no": claim_no, "collected_fen": collected, "paid_out_fen": paid,
                          "withheld_fen": ledger.held_fen, "ledger": ledger.view()})


def _case(c: CourtClaim) -> dict[str, Any]:
    return {"claim_no": c.claim_no, "case_number": c.case_number, "amount_due_fen": c.amount_due_fen,
            "collected_fen": c.collected_fen, "pending_payout_fen": c.value_fen}


def add_routes(app: web.Application) -> None:
    app.router.add_post("/{inst}/association/v1/party-searches", party_search)
    app.router.add_post("/{inst}/association/v1/assistance-letters", assistance_letter)
    app.router.add_post("/admin/institutions/{inst}/claims/{claim_no}/payout", payout)

