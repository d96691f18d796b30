"""Routes for watches: place one on a debtor of the officer's case, list, read and end them.

Ending is ``POST /v1/watches/{id}/end``, not DELETE: a watch is never deleted, ending it is an act
recorded with who and when."""

from __future__ import annotations

import structlog
from aiohttp import web

from gateway.http.access import officer_of, require_case, require_credentials, require_self
from gateway.http.errors import ApiError, invalid
from gateway.http.io import json_response, read_model
from gateway.http.keys import WATCHES
from gateway.store.records import WatchRecord
from gateway.watches.desk import WatchRejected, watch_view
from infra import metrics
from schemas.identifiers import check_case_number
from schemas.watches import WatchCreate

log = structlog.get_logger("watches")


def _rejected(exc: WatchRejected) -> ApiError:
    code = {404: "not_found", 409: "conflict"}.get(exc.status, "validation_failed")
    return ApiError(exc.status, code, f"{exc.field}: {exc.message}", [{"field": exc.field, "message": exc.message}])


def case_number_query(request: web.Request) -> str | None:
    """``?case_number=``, normalised like any case number, and the officer's court's own."""
    raw = request.query.get("case_number")
    if raw is None:
        return None
    try:
        case_number = check_case_number(raw)
    except ValueError as exc:
        raise invalid([{"field": "case_number", "message": str(exc)}]) from None
    require_case(request, case_number)
    return case_number


def _own_watch(request: web.Request) -> WatchRecord:
    try:
        watch = request.app[WATCHES].desk.get(request.match_info["watch_id"])
    except WatchRejected as exc:
        raise _rejected(exc) from None
    require_case(request, watch.case_number, case_field="watch_id")
    return watch


async def create_watch(request: web.Request) -> web.Response:
    body = await read_model(request, WatchCreate)
    require_case(request, body.case_number, court=body.court)
    if body.auto_freeze is not None:
        require_credentials(request, body.auto_freeze.officer_credentials, "auto_freeze.officer_credentials")
    body = body.model_copy(update={"operator": require_self(request, body.operator, "operator")})
    try:
        watch, replayed = request.app[WATCHES].desk.place(body)
    except WatchRejected as exc:
        raise _rejected(exc) from None
    if not replayed:
        metrics.ACCEPTED.labels("watch").inc()
        log.info("watch placed", watch_id=watch.id, case_number=watch.case_number, kinds=list(watch.kinds),
                 auto_freeze=watch.auto_freeze is not None)
    return json_response({**watch_view(watch), "replayed": replayed}, status=200 if replayed else 202,
                         headers={"Location": f"/v1/watches/{watch.id}"})


async def list_watches(request: web.Request) -> web.Response:
    case_number = case_number_query(request)
    watches = request.app[WATCHES].desk.of_court(officer_of(request).court, case_number)
    return json_response({"watches": [watch_view(w) for w in watches]})


async def get_watch(request: web.Request) -> web.Response:
    return json_response(watch_view(_own_watch(request)))


async def end_watch(request: web.Request) -> web.Response:
    watch = _own_watch(request)
    watch, ended = request.app[WATCHES].desk.end(watch.id, officer_of(request).id)
    if ended:
        log.info("watch ended", watch_id=watch.id, officer=watch.ended_by)
    return json_response({**watch_view(watch), "ended_now": ended})


def setup(app: web.Application) -> None:
    app.router.add_post("/v1/watches", create_watch)
    app.router.add_get("/v1/watches", list_watches)
    app.router.add_get("/v1/watches/{watch_id}", get_watch)
    app.router.add_post("/v1/watches/{watch_id}/end", end_watch)
