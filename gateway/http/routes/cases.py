"""Routes for case records: a case with its money totals and history, and amendments of what it
may take."""

from __future__ import annotations

import structlog
from aiohttp import web

from gateway.cases.desk import CaseRejected
from gateway.http.access import officer_of, require_case, require_self
from gateway.http.errors import ApiError
from gateway.http.io import case_number_param, json_response, read_model
from gateway.http.keys import CASES
from gateway.http.listing import bad, cursor_param, limit_param
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
    app.router.add_post("/v1/cases/{case_number}/amendments", amend_case)
