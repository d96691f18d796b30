"""Routes for inquiries and bulk batches: submit, follow (with long-polling), read reports."""

from __future__ import annotations

import orjson
import structlog
from aiohttp import web

from gateway.http.access import officer_of, require_case, require_credentials
from gateway.http.errors import ApiError, invalid
from gateway.http.io import json_response, read_limited, read_model, wait_seconds
from gateway.http.keys import COMPLETIONS, DIRECTORY, INTAKE, STORE
from gateway.inquiries import batch_keys
from gateway.inquiries.bulk import BulkError, detect_format, parse_rows
from gateway.inquiries.intake import ScopeError
from gateway.inquiries.live import LiveAssets
from gateway.inquiries.reports import debtor_report, group_legs, inquiry_view
from gateway.store.interfaces import InquiryRepository
from gateway.store.records import BatchRecord, LegRecord
from infra import metrics
from infra.clock import shown
from schemas.api import InquiryCreate

log = structlog.get_logger("api")

MAX_BATCH_BYTES = 64 << 20
MAX_BATCH_ROWS = 100_000


async def create_inquiry(request: web.Request) -> web.Response:
    body = await read_model(request, InquiryCreate)
    require_case(request, body.case_number, court=body.court)
    require_credentials(request, body.officer_credentials)
    try:
        accepted = request.app[INTAKE].submit(body, officer_of(request).id)
    except ScopeError as exc:
        raise _refused(exc) from None
    location = f"/v1/inquiries/{accepted.id}"
    metrics.ACCEPTED.labels("inquiry").inc()
    # The logger masks identifiers; the first debtor lets ops find an inquiry without exposing anyone.
    log.info("inquiry accepted", inquiry_id=accepted.id, debtors=accepted.debtors, legs=accepted.legs,
             first_debtor=body.debtors[0].id_number)
    return json_response(
        {"id": accepted.id, "debtors": accepted.debtors, "legs": accepted.legs, "location": location},
        status=202, headers={"Location": location},
    )


async def get_inquiry(request: web.Request) -> web.Response:
    inquiries = request.app[STORE].inquiries
    inquiry_id = request.match_info["inquiry_id"]
    wait_s = wait_seconds(request)
    inquiry = inquiries.get(inquiry_id)
    if inquiry is None:
        raise ApiError(404, "not_found", f"no inquiry {inquiry_id}", [{"field": "inquiry_id", "message": "unknown"}])
    require_case(request, inquiry.case_number, case_field="inquiry_id")
    if wait_s and inquiry.completed_at is None:  # long-poll: answer once complete, or when the wait is up
        await request.app[COMPLETIONS].wait(inquiry_id, lambda: _completed(inquiries, inquiry_id), wait_s)
        inquiry = inquiries.get(inquiry_id)
    legs = inquiries.legs(inquiry_id)
    return json_response(inquiry_view(inquiry, inquiries.debtors(inquiry_id), legs, request.app[DIRECTORY], _live(request, legs)))


def _live(request: web.Request, legs: list[LegRecord]) -> LiveAssets:
    store = request.app[STORE]
    return LiveAssets.read(store.events, store.orders, (a for leg in legs for a in (*leg.assets, *leg.late_assets)))


def _completed(inquiries: InquiryRepository, inquiry_id: str) -> bool:
    inquiry = inquiries.get(inquiry_id)
    return inquiry is not None and inquiry.completed_at is not None


async def create_batch(request: web.Request) -> web.Response:
    batch_id = _keyed_batch_id(request)
    raw = await read_limited(request, MAX_BATCH_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_encoding", "the body must be UTF-8", [{"field": "body", "message": "not UTF-8"}]) from None
    fmt = detect_format(request.content_type, text)
    try:
        rows, lines = parse_rows(text, fmt, MAX_BATCH_ROWS)
        for row, line in zip(rows, lines, strict=False):
            require_case(request, row.case_number, court=row.court, case_field=f"line {line}: case_number",
                         court_field=f"line {line}: court")
            require_credentials(request, row.officer_credentials, f"line {line}: officer_credentials")
        if batch_id is not None and (first := request.app[STORE].inquiries.batch(batch_id)) is not None:
            return _replay(request, first, fmt, len(rows))
        accepted = request.app[INTAKE].submit_batch(rows, fmt, lines, officer_of(request).id, batch_id)
    except BulkError as exc:
        raise invalid(exc.errors, str(exc)) from None
    except ScopeError as exc:
        raise _refused(exc) from None
    location = f"/v1/inquiry-batches/{accepted.id}"
    metrics.ACCEPTED.labels("batch").inc()
    log.info("batch accepted", batch_id=accepted.id, inquiries=accepted.inquiries, legs=accepted.legs)
    return json_response(
        {"id": accepted.id, "inquiries": accepted.inquiries, "debtors": accepted.debtors, "legs": accepted.legs, "location": location},
        status=202, headers={"Location": location},
    )


def _keyed_batch_id(request: web.Request) -> str | None:
    """The batch id an ``Idempotency-Key`` header names (gateway/inquiries/batch_keys.py), if one is given."""
    key = request.headers.get(batch_keys.HEADER)
    if key is None:
        return None
    if problem := batch_keys.key_problem(key):
        raise invalid([{"field": batch_keys.HEADER, "message": problem}])
    return batch_keys.batch_id_for(officer_of(request).id, key)


def _replay(request: web.Request, first: BatchRecord, fmt: str, rows: int) -> web.Response:
    """The same key again (no check or write between the lookup and the insert awaits, so two such
    requests cannot both insert): the first batch's acceptance, if it is the same request."""
    if (first.format, first.rows) != (fmt, rows):
        raise ApiError(409, "conflict", f"{batch_keys.HEADER} already names a different batch",
                       [{"field": batch_keys.HEADER, "message": f"names batch {first.id} of {first.rows} {first.format} rows"}])
    body = batch_keys.replayed_acceptance(request.app[STORE].inquiries, first)
    return json_response(body, status=200, headers={"Location": str(body["location"])})


def _refused(exc: ScopeError) -> ApiError:
    error = {"field": exc.field, "message": str(exc), **({"line": exc.line} if exc.line is not None else {})}
    if exc.status == 409:
        return ApiError(409, "conflict", f"{exc.field}: {exc}", [error])
    return invalid([error])


def _batch_or_404(request: web.Request, batch_id: str) -> BatchRecord:
    inquiries = request.app[STORE].inquiries
    batch = inquiries.batch(batch_id)
    if batch is None:
        raise ApiError(404, "not_found", f"no batch {batch_id}", [{"field": "batch_id", "message": "unknown"}])
    first = inquiries.batch_inquiry_ids(batch_id)[:1]
    if first:
        require_case(request, inquiries.get(first[0]).case_number, case_field="batch_id")  # type: ignore[union-attr]
    return batch


async def get_batch(request: web.Request) -> web.Response:
    batch_id = request.match_info["batch_id"]
    batch = _batch_or_404(request, batch_id)
    p = request.app[STORE].inquiries.batch_progress(batch_id)
    done = p.completed == p.inquiries
    return json_response({
        "id": batch_id,
        "status": "completed" if done else "running",
        "format": batch.format,
        "rows": batch.rows,
        "created_at": shown(batch.created_at),
        "completed_at": shown(p.last_completed_at) if done else None,
        "inquiries": {"total": p.inquiries, "completed": p.completed},
        "legs": {"total": p.legs_total, "done": p.legs_done},
        "reports": f"/v1/inquiry-batches/{batch_id}/reports",
    })


async def batch_reports(request: web.Request) -> web.StreamResponse:
    """One JSON line per debtor report, streamed inquiry by inquiry so memory stays flat."""
    inquiries = request.app[STORE].inquiries
    directory = request.app[DIRECTORY]
    batch_id = request.match_info["batch_id"]
    _batch_or_404(request, batch_id)
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await response.prepare(request)
    for inquiry_id in inquiries.batch_inquiry_ids(batch_id):
        inquiry = inquiries.get(inquiry_id)
        legs = inquiries.legs(inquiry_id)
        legs_by_debtor, live = group_legs(legs), _live(request, legs)
        lines = []
        for debtor in inquiries.debtors(inquiry_id):
            report = debtor_report(debtor, legs_by_debtor.get(debtor.seq, []), directory, live)
            lines.append(orjson.dumps({"inquiry_id": inquiry_id, "case_number": inquiry.case_number, **report}))
        await response.write(b"\n".join(lines) + b"\n")
    await response.write_eof()
    return response


def setup(app: web.Application) -> None:
    app.router.add_post("/v1/inquiries", create_inquiry)
    app.router.add_get("/v1/inquiries/{inquiry_id}", get_inquiry)
    app.router.add_post("/v1/inquiry-batches", create_batch)
    app.router.add_get("/v1/inquiry-batches/{batch_id}", get_batch)
    app.router.add_get("/v1/inquiry-batches/{batch_id}/reports", batch_reports)
