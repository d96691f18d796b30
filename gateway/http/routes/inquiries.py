"""Routes for inquiries and bulk batches: submit, follow (with long-polling), read reports."""

from __future__ import annotations

import asyncio

import orjson
import structlog
from aiohttp import web

from gateway.http.access import officer_of, require_case, require_credentials
from gateway.http.errors import ApiError, invalid
from gateway.http.io import json_response, read_limited, read_model, wait_seconds
from gateway.http.keys import COMPLETIONS, DIRECTORY, INTAKE, STORE
from gateway.http.threads import ThreadReader
from gateway.inquiries import batch_keys
from gateway.inquiries.batch_plan import BatchPlan, EncodingError, plan_batch
from gateway.inquiries.bulk import BulkError
from gateway.inquiries.intake import ScopeError
from gateway.inquiries.live import LiveAssets
from gateway.inquiries.reports import debtor_report, group_legs, inquiry_view
from gateway.store.interfaces import InquiryRepository, Reader
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
        accepted = await request.app[INTAKE].submit(body, officer_of(request).id)
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
    # Up to 1,000 debtors × 28 legs: built in a worker thread on a reader of its own (reports.py
    # is pure), so the loop answers others meanwhile.
    directory = request.app[DIRECTORY]

    def build(reader: Reader) -> bytes:
        legs = reader.inquiries.legs(inquiry_id)
        return orjson.dumps(inquiry_view(inquiry, reader.inquiries.debtors(inquiry_id), legs, directory, _live(reader, legs)))

    with ThreadReader(request.app[STORE]) as reader:
        body = await reader.run(build)
    return web.Response(body=body, content_type="application/json")


def _live(reader: Reader, legs: list[LegRecord]) -> LiveAssets:
    return LiveAssets.read(reader.events, reader.orders, (a for leg in legs for a in (*leg.assets, *leg.late_assets)))


def _completed(inquiries: InquiryRepository, inquiry_id: str) -> bool:
    inquiry = inquiries.get(inquiry_id)
    return inquiry is not None and inquiry.completed_at is not None


async def create_batch(request: web.Request) -> web.Response:
    batch_id = _keyed_batch_id(request)
    raw = await read_limited(request, MAX_BATCH_BYTES)
    try:
        # Decoding, parsing and validating 100,000 rows takes seconds of CPU: in a worker thread,
        # over the body and the directory only (batch_plan.py), while the loop serves others.
        plan = await asyncio.to_thread(plan_batch, raw, request.content_type, request.app[DIRECTORY], MAX_BATCH_ROWS)
        del raw
        for line, row in plan.authority:  # each distinct case, court and credentials once, in line order
            require_case(request, row.case_number, court=row.court, case_field=f"line {line}: case_number",
                         court_field=f"line {line}: court")
            require_credentials(request, row.officer_credentials, f"line {line}: officer_credentials")
        if batch_id is not None and (first := request.app[STORE].inquiries.batch(batch_id)) is not None:
            return _replay(request, first, plan)
        accepted = await request.app[INTAKE].submit_batch(plan, officer_of(request).id, batch_id)
    except EncodingError as exc:
        raise ApiError(400, "invalid_encoding", str(exc), [{"line": exc.line, "field": "body", "message": str(exc)}]) from None
    except BulkError as exc:
        raise invalid(exc.errors, str(exc)) from None
    except ScopeError as exc:
        raise _refused(exc) from None
    location = f"/v1/inquiry-batches/{accepted.id}"
    metrics.ACCEPTED.labels("batch").inc()
    log.info("batch accepted", batch_id=accepted.id, inquiries=accepted.inquiries, legs=accepted.legs,
             encoding=plan.encoding, repeats=plan.repeats)
    return json_response(
        {"id": accepted.id, "inquiries": accepted.inquiries, "debtors": accepted.debtors, "legs": accepted.legs,
         "encoding": plan.encoding, "warnings": plan.warnings, "warnings_total": plan.repeats, "location": location},
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


def _replay(request: web.Request, first: BatchRecord, plan: BatchPlan) -> web.Response:
    """The same key again: the first batch's acceptance, if it is the same request (a key whose
    batch is still being stored is refused by the intake). The same body reads the same way, so
    its encoding and warnings are this request's."""
    if (first.format, first.rows) != (plan.format, plan.rows):
        raise ApiError(409, "conflict", f"{batch_keys.HEADER} already names a different batch",
                       [{"field": batch_keys.HEADER, "message": f"names batch {first.id} of {first.rows} {first.format} rows"}])
    body = {**batch_keys.replayed_acceptance(request.app[STORE].inquiries, first),
            "encoding": plan.encoding, "warnings": plan.warnings, "warnings_total": plan.repeats}
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
    """One JSON line per debtor report, streamed inquiry by inquiry (at most 1,000 debtors each):
    each inquiry's lines are built in a worker thread on a reader of its own and written before the
    next is read, so the gateway holds one inquiry's reports at a time and the loop stays free."""
    inquiries = request.app[STORE].inquiries
    directory = request.app[DIRECTORY]
    batch_id = request.match_info["batch_id"]
    _batch_or_404(request, batch_id)
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await response.prepare(request)

    def lines_of(reader: Reader, inquiry_id: str) -> bytes:
        inquiry = reader.inquiries.get(inquiry_id)
        assert inquiry is not None
        legs = reader.inquiries.legs(inquiry_id)
        legs_by_debtor, live = group_legs(legs), _live(reader, legs)
        lines = [orjson.dumps({"inquiry_id": inquiry_id, "case_number": inquiry.case_number,
                               **debtor_report(debtor, legs_by_debtor.get(debtor.seq, []), directory, live)})
                 for debtor in reader.inquiries.debtors(inquiry_id)]
        return b"\n".join(lines) + b"\n"

    try:
        with ThreadReader(request.app[STORE]) as reader:
            for inquiry_id in inquiries.batch_inquiry_ids(batch_id):
                await response.write(await reader.run(lines_of, inquiry_id))  # waits while the client reads
        await response.write_eof()
    except ConnectionResetError:  # the client went away mid-stream: nothing to answer
        log.info("batch reports abandoned by the client", batch_id=batch_id)
    return response


def setup(app: web.Application) -> None:
    app.router.add_post("/v1/inquiries", create_inquiry)
    app.router.add_get("/v1/inquiries/{inquiry_id}", get_inquiry)
    app.router.add_post("/v1/inquiry-batches", create_batch)
    app.router.add_get("/v1/inquiry-batches/{batch_id}", get_batch)
    app.router.add_get("/v1/inquiry-batches/{batch_id}/reports", batch_reports)
