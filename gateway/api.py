"""The officers' HTTP API (aiohttp). Handlers validate, delegate to the intake or the store, and
render; every client error is JSON naming the field at fault."""

from __future__ import annotations

import orjson
import structlog
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway import metrics
from gateway.completions import Completions
from gateway.access import AUDIT, AUTHORITY, LIMITER, RateLimiter, authenticate, require_court
from gateway.auth import TokenAuthority
from gateway.bulk import BulkError, detect_format, parse_rows
from gateway.clock import now_ms, shown
from gateway.errors import ApiError, field_errors, invalid
from gateway.intake import Intake, ScopeError
from gateway.openapi import openapi_document
from gateway.orders import OrderDesk
from gateway.reports import debtor_report, group_legs, inquiry_view
from gateway.store import Store
from schemas.api import InquiryCreate
from schemas.directory import Directory

log = structlog.get_logger("api")

MAX_INQUIRY_BYTES = 1 << 20
MAX_BATCH_BYTES = 64 << 20
MAX_BATCH_ROWS = 100_000

M = TypeVar("M", bound=BaseModel)

STORE = web.AppKey("store", Store)
INTAKE = web.AppKey("intake", Intake)
DIRECTORY = web.AppKey("directory", Directory)
COMPLETIONS = web.AppKey("completions", Completions)


def json_response(data: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json", headers=headers)


async def read_limited(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "payload_too_large", f"the body exceeds {limit} bytes", [{"field": "body", "message": f"at most {limit} bytes"}])
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "payload_too_large", f"the body exceeds {limit} bytes", [{"field": "body", "message": f"at most {limit} bytes"}])
        chunks.append(chunk)
    return b"".join(chunks)


async def read_model(request: web.Request, model: type[M], limit: int = MAX_INQUIRY_BYTES) -> M:
    """The body as a validated model, or a 4xx that names the field at fault."""
    raw = await read_limited(request, limit)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"the body is not JSON: {exc}", [{"field": "body", "message": "not JSON"}]) from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object", [{"field": "body", "message": "not an object"}])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(field_errors(exc)) from None


async def create_inquiry(request: web.Request) -> web.Response:
    body = await read_model(request, InquiryCreate)
    require_court(request, body.court, body.case_number)
    try:
        accepted = request.app[INTAKE].submit(body)
    except ScopeError as exc:
        raise invalid([{"field": exc.field, "message": str(exc)}]) from None
    location = f"/v1/inquiries/{accepted.id}"
    metrics.ACCEPTED.labels("inquiry").inc()
    # The logger masks identifiers; the first debtor lets ops find an inquiry without exposing anyone.
    log.info("inquiry accepted", inquiry_id=accepted.id, debtors=accepted.debtors, legs=accepted.legs,
             first_debtor=body.debtors[0].id_number)
    return json_response(
        {"id": accepted.id, "debtors": accepted.debtors, "legs": accepted.legs, "location": location},
        status=202, headers={"Location": location},
    )


MAX_WAIT_S = 60.0


async def get_inquiry(request: web.Request) -> web.Response:
    store = request.app[STORE]
    inquiry_id = request.match_info["inquiry_id"]
    wait_s = _wait_seconds(request)
    inquiry = store.inquiry(inquiry_id)
    if inquiry is None:
        raise ApiError(404, "not_found", f"no inquiry {inquiry_id}", [{"field": "inquiry_id", "message": "unknown"}])
    require_court(request, inquiry["court"], field_name="inquiry_id")
    if wait_s and inquiry["completed_at"] is None:  # long-poll: answer once complete, or when the wait is up
        await request.app[COMPLETIONS].wait(inquiry_id, lambda: store.inquiry(inquiry_id)["completed_at"] is not None, wait_s)
        inquiry = store.inquiry(inquiry_id)
    return json_response(inquiry_view(inquiry, store.debtors(inquiry_id), store.legs(inquiry_id), request.app[DIRECTORY]))


def _wait_seconds(request: web.Request) -> float:
    raw = request.query.get("wait")
    if raw is None:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= MAX_WAIT_S:  # also rejects nan
        raise ApiError(400, "bad_parameter", f"wait must be seconds from 0 to {MAX_WAIT_S:g}",
                       [{"field": "wait", "message": f"not a number of seconds from 0 to {MAX_WAIT_S:g}: {raw!r}"}])
    return value


async def create_batch(request: web.Request) -> web.Response:
    raw = await read_limited(request, MAX_BATCH_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_encoding", "the body must be UTF-8", [{"field": "body", "message": "not UTF-8"}]) from None
    fmt = detect_format(request.content_type, text)
    try:
        rows, lines = parse_rows(text, fmt, MAX_BATCH_ROWS)
        for row, line in zip(rows, lines):
            require_court(request, row.court, row.case_number, field_name=f"line {line}: court")
        accepted = request.app[INTAKE].submit_batch(rows, fmt, lines)
    except BulkError as exc:
        raise invalid(exc.errors, str(exc)) from None
    except ScopeError as exc:
        raise invalid([{"line": exc.line, "field": exc.field, "message": str(exc)}]) from None
    location = f"/v1/inquiry-batches/{accepted.id}"
    metrics.ACCEPTED.labels("batch").inc()
    log.info("batch accepted", batch_id=accepted.id, inquiries=accepted.inquiries, legs=accepted.legs)
    return json_response(
        {"id": accepted.id, "inquiries": accepted.inquiries, "debtors": accepted.debtors, "legs": accepted.legs, "location": location},
        status=202, headers={"Location": location},
    )


def _batch_or_404(request: web.Request, batch_id: str):  # type: ignore[no-untyped-def]
    store = request.app[STORE]
    batch = store.batch(batch_id)
    if batch is None:
        raise ApiError(404, "not_found", f"no batch {batch_id}", [{"field": "batch_id", "message": "unknown"}])
    first = store.batch_inquiry_ids(batch_id)[:1]
    if first:
        require_court(request, store.inquiry(first[0])["court"], field_name="batch_id")
    return batch


async def get_batch(request: web.Request) -> web.Response:
    store = request.app[STORE]
    batch_id = request.match_info["batch_id"]
    batch = _batch_or_404(request, batch_id)
    p = store.batch_progress(batch_id)
    done = p["completed"] == p["inquiries"]
    return json_response({
        "id": batch_id,
        "status": "completed" if done else "running",
        "format": batch["format"],
        "rows": batch["rows"],
        "created_at": shown(batch["created_at"]),
        "completed_at": shown(p["last_completed_at"]) if done else None,
        "inquiries": {"total": p["inquiries"], "completed": p["completed"]},
        "legs": {"total": p["legs_total"], "done": p["legs_done"]},
        "reports": f"/v1/inquiry-batches/{batch_id}/reports",
    })


async def batch_reports(request: web.Request) -> web.StreamResponse:
    """One JSON line per debtor report, streamed inquiry by inquiry so memory stays flat."""
    store = request.app[STORE]
    directory = request.app[DIRECTORY]
    batch_id = request.match_info["batch_id"]
    _batch_or_404(request, batch_id)
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await response.prepare(request)
    for inquiry_id in store.batch_inquiry_ids(batch_id):
        inquiry = store.inquiry(inquiry_id)
        legs_by_debtor = group_legs(store.legs(inquiry_id))
        lines = []
        for debtor in store.debtors(inquiry_id):
            report = debtor_report(debtor, legs_by_debtor.get(debtor["seq"], []), directory)
            lines.append(orjson.dumps({"inquiry_id": inquiry_id, "case_number": inquiry["case_number"], **report}))
        await response.write(b"\n".join(lines) + b"\n")
    await response.write_eof()
    return response


async def institutions(request: web.Request) -> web.Response:
    return json_response([{"id": i.id, "kind": i.kind, "name": i.name} for i in request.app[DIRECTORY].institutions])


async def pending_legs(request: web.Request) -> web.Response:
    now = now_ms()
    return json_response([
        {"institution_id": r["institution_id"], "pending": r["pending"], "oldest_sent_at": shown(r["oldest_sent_at"]),
         "oldest_age_s": round((now - r["oldest_sent_at"]) / 1000, 1)}
        for r in request.app[STORE].pending_by_institution()
    ])


async def access_audit(request: web.Request) -> web.Response:
    return json_response([
        {"at": shown(r["at"]), "officer": r["officer"], "court": r["court"], "method": r["method"], "path": r["path"],
         "status": r["status"], "reason": r["reason"]}
        for r in request.app[STORE].access_audit()
    ])


async def openapi(request: web.Request) -> web.Response:
    return json_response(openapi_document())


async def health(request: web.Request) -> web.Response:
    return json_response({"ok": True})


@web.middleware
async def json_errors(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """Every error leaves as JSON: framework 404/405s included, and 500s without internals."""
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except ApiError as exc:
        status = exc.status
        raise
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        status = exc.status
        raise ApiError(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason) from None
    except Exception:
        log.exception("unhandled error", path=request.path)
        raise ApiError(500, "internal_error", "the gateway failed to handle this request") from None
    finally:
        metrics.HTTP.labels(request.method, route, str(status)).inc()


def create_app(store: Store, intake: Intake, desk: "OrderDesk", directory: Directory, authority: TokenAuthority,
               limiter: RateLimiter, completions: Completions | None = None) -> web.Application:
    from gateway import order_api

    # aiohttp's own body limit is set above ours so that read_limited answers with JSON.
    app = web.Application(middlewares=[json_errors, authenticate], client_max_size=MAX_BATCH_BYTES + 1)
    app[STORE], app[INTAKE], app[DIRECTORY] = store, intake, directory
    app[AUTHORITY], app[LIMITER], app[AUDIT] = authority, limiter, store
    app[COMPLETIONS] = completions or Completions()
    order_api.setup(app, desk)
    app.router.add_post("/v1/inquiries", create_inquiry)
    app.router.add_get("/v1/inquiries/{inquiry_id}", get_inquiry)
    app.router.add_post("/v1/inquiry-batches", create_batch)
    app.router.add_get("/v1/inquiry-batches/{batch_id}", get_batch)
    app.router.add_get("/v1/inquiry-batches/{batch_id}/reports", batch_reports)
    app.router.add_get("/v1/institutions", institutions)
    app.router.add_get("/v1/ops/pending-legs", pending_legs)
    app.router.add_get("/v1/ops/access-audit", access_audit)
    app.router.add_get("/healthz", health)
    app.router.add_get("/v1/openapi.json", openapi)
    app.router.add_get("/metrics", metrics.metrics_handler)
    return app
