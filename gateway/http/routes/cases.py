"""Routes for case records: a case with its money totals and history, and amendments of what it
may take."""

from __future__ import annotations

import orjson
import structlog
from aiohttp import web

from gateway.cases.desk import CaseRejected
from gateway.http.access import officer_of, require_case, require_self
from gateway.http.errors import ApiError
from gateway.http.io import case_number_param, json_response, read_model
from gateway.http.keys import CASES, DIRECTORY, STORE
from gateway.http.listing import bad, cursor_param, limit_param
from gateway.http.threads import ThreadReader
from gateway.inquiries.live import LiveAssets
from gateway.inquiries.reports import debtor_report, group_legs
from gateway.store.interfaces import Reader
from schemas.api import CaseAmendmentRequest

log = structlog.get_logger("cases")


def _rejected(exc: CaseRejected) -> ApiError:
    code = {404: "not_found"}.get(exc.status, "validation_failed")
    return ApiError(exc.status, code, f"{exc.field}: {exc.message}", [{"field": exc.field, "message": exc.message}])


async def list_cases(request: web.Request) -> web.Response:
    """The officer's court's cases, the most recently opened first, a page at a time."""
    try:
        return json_response(request.app[CASES].of_court(officer_of(request).court, limit_param(request), cursor_param(request)))
    except ValueError as exc:
        raise bad("cursor", str(exc)) from None


async def get_case(request: web.Request) -> web.Response:
    case_number = case_number_param(request)
    require_case(request, case_number)
    try:
        return json_response(request.app[CASES].view(case_number))
    except CaseRejected as exc:
        raise _rejected(exc) from None


async def case_reports(request: web.Request) -> web.Response:
    """Every debtor of the case with his merged report from the case's latest inquiry about him
    (``inquiry_id`` and ``seq`` name the debtor without his id number): the case's workspace."""
    case_number = case_number_param(request)
    require_case(request, case_number)
    directory = request.app[DIRECTORY]

    def build(reader: Reader) -> bytes:
        latest: dict[str, dict] = {}
        for inquiry_id in reader.inquiries.case_inquiry_ids(case_number):
            legs = reader.inquiries.legs(inquiry_id)
            by_debtor = group_legs(legs)
            live = LiveAssets.read(reader.events, reader.orders, (a for leg in legs for a in (*leg.assets, *leg.late_assets)))
            for debtor in reader.inquiries.debtors(inquiry_id):
                latest[debtor.id_number] = {"inquiry_id": inquiry_id, "seq": debtor.seq,
                                            **debtor_report(debtor, by_debtor.get(debtor.seq, []), directory, live)}
        return orjson.dumps({"case_number": case_number, "reports": list(latest.values())})

    with ThreadReader(request.app[STORE]) as reader:
        body = await reader.run(build)
    return web.Response(body=body, content_type="application/json")


async def amend_case(request: web.Request) -> web.Response:
    body = await read_model(request, CaseAmendmentRequest)
    case_number = case_number_param(request)
    require_case(request, case_number, court=body.court)
    actor = require_self(request, body.operator, "operator")
    try:
        case = request.app[CASES].amend(case_number, body, actor)
    except CaseRejected as exc:
        raise _rejected(exc) from None
    log.info("case amended", case_number=case_number, amount_due_fen=case["amount_due_fen"], costs_fen=case["costs_fen"],
             ruling_number=body.ruling_number, officer=actor)
    return json_response(case)


def setup(app: web.Application) -> None:
    app.router.add_get("/v1/cases", list_cases)
    app.router.add_get("/v1/cases/{case_number}", get_case)
    app.router.add_get("/v1/cases/{case_number}/reports", case_reports)
    app.router.add_post("/v1/cases/{case_number}/amendments", amend_case)
