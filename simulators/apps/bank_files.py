"""A polling bank's answers to the requests of a batch file: the same answers its HTTP API gives
(``apps.bank``, ``apps.controls``, ``apps.control_status``, ``apps.event_feed``), from the same
ground truth and ledgers, so a debtor's report does not depend on how the bank talks.

A request is ``{"request_id", "method", "path", "body"}`` (``schemas.file_exchange``); its answer
``{"request_id", "status", "body"}`` with the status and body the HTTP route would answer, a bad
body included (400 naming every field at fault). Requests for another institution than the file's
are refused (403): a file speaks for one bank only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from simulators.apps.bank import answer_batch
from simulators.apps.common import BatchInquiryBody, BodyInvalid, SimContext, validate
from simulators.apps.control_status import StatusBody
from simulators.apps.event_feed import MAX_AFTER, MAX_LIMIT, feed_page, whole
from simulators.control_order import ControlOrder
from simulators.control_status import status_report

Answer = tuple[dict[str, Any], int]
Route = Callable[[SimContext, str, dict[str, str], Any], Answer]


def _inquiry(ctx: SimContext, inst: str, query: dict[str, str], body: Any) -> Answer:
    return answer_batch(ctx, inst, validate(BatchInquiryBody, body))


def _control(ctx: SimContext, inst: str, query: dict[str, str], body: Any) -> Answer:
    return ctx.ledgers.execute(inst, validate(ControlOrder, body)), 200


def _status(ctx: SimContext, inst: str, query: dict[str, str], body: Any) -> Answer:
    wanted = validate(StatusBody, body)
    return status_report(ctx.ledgers, inst, wanted.freeze_ids, wanted.asset_ids), 200


def _events(ctx: SimContext, inst: str, query: dict[str, str], body: Any) -> Answer:
    return feed_page(ctx, inst, whole(query, "after", 0, 0, MAX_AFTER), whole(query, "limit", 100, 1, MAX_LIMIT)), 200


ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "api/v1/deposit-inquiry-batches"): _inquiry,
    ("POST", "controls"): _control,
    ("POST", "controls/status"): _status,
    ("GET", "events"): _events,
}
_PATH = re.compile(r"/(?P<inst>[^/?]+)/(?P<route>[^?]*)(?:\?(?P<query>.*))?")


def answer(ctx: SimContext, bank: str, request: Any) -> dict[str, Any]:
    """One request of ``bank``'s file, answered; never raises for what the request holds."""
    rid = request.get("request_id") if isinstance(request, dict) else None
    if not isinstance(rid, str) or not rid:
        return {"request_id": rid, "status": 400, "body": {"error": "bad_request", "reason": "request_id: a non-empty string"}}
    match = _PATH.fullmatch(str(request.get("path") or ""))
    route = ROUTES.get((str(request.get("method")).upper(), match["route"])) if match else None
    if match is None or route is None:
        return {"request_id": rid, "status": 404, "body": {"error": "not_found", "reason": f"no such request: {request.get('path')!r}"}}
    if match["inst"] != bank:
        return {"request_id": rid, "status": 403, "body": {"error": "refused", "reason": f"a file of {bank} may not speak for {match['inst']}"}}
    try:
        body, status = route(ctx, bank, dict(parse_qsl(match["query"] or "")), request.get("body"))
    except BodyInvalid as exc:
        body, status = {"error": "bad_request", "reason": str(exc), "errors": exc.problems}, 400
    except web.HTTPException as exc:  # a bad query parameter, said as the HTTP route says it
        body, status = orjson.loads(exc.text or "{}"), exc.status
    return {"request_id": rid, "status": status, "body": body}
