"""Admin routes for the ledgers and the simulated clock, on every kind's app.

``GET /admin/clock``; ``POST /admin/clock/advance {"days"}`` (the clock is shared by the whole
process, so advancing it through any app advances all); ``GET /admin/institutions/{inst}/assets
/{asset_id}/ledger``; ``POST .../credit {"amount_fen"}`` (funds arriving: what lets a short
freeze capture and a queue move); ``POST .../debit {"amount_fen"}`` (the holder spending: only
what no freeze holds); ``GET /admin/ledgers/summary`` (this kind's totals).
Admin calls bypass misbehaviour: they are the operator's view, not the institution's API.
"""

from __future__ import annotations

from aiohttp import web

from simulators.apps.common import context, http_error, institution, json_response, read_object
from simulators.ledger import Refused
from simulators.ledger_book import NO_SUCH_ASSET


async def get_clock(request: web.Request) -> web.Response:
    clock = context(request).ledgers.clock
    return json_response({"now": clock.now().isoformat(), "offset_days": clock.offset_days})


async def advance_clock(request: web.Request) -> web.Response:
    days = (await read_object(request)).get("days")
    try:
        now = context(request).ledgers.advance(days)  # type: ignore[arg-type]
    except ValueError as exc:
        raise http_error(web.HTTPBadRequest, "bad_request", str(exc)) from None
    return json_response({"now": now.isoformat()})


async def get_ledger(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    ledger = ctx.ledgers.ledger(inst, request.match_info["asset_id"])
    if ledger is None:
        raise http_error(web.HTTPNotFound, "unknown_asset", NO_SUCH_ASSET)
    return json_response(ledger.view())


async def credit(request: web.Request) -> web.Response:
    return await _move(request, "credit")


async def debit(request: web.Request) -> web.Response:
    return await _move(request, "debit")


async def _move(request: web.Request, direction: str) -> web.Response:
    ctx, inst = institution(request)
    amount = (await read_object(request)).get("amount_fen")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise http_error(web.HTTPBadRequest, "bad_request", "amount_fen must be a positive integer (fen)")
    move = ctx.ledgers.credit if direction == "credit" else ctx.ledgers.debit
    try:
        ledger = move(inst, request.match_info["asset_id"], amount)
    except LookupError:
        raise http_error(web.HTTPNotFound, "unknown_asset", NO_SUCH_ASSET) from None
    except Refused as refusal:
        raise http_error(web.HTTPBadRequest, "bad_request", refusal.reason) from None
    return json_response(ledger.view())


async def summary(request: web.Request) -> web.Response:
    ctx = context(request)
    return json_response({"kind": ctx.kind, **ctx.ledgers.summary(ctx.institutions)})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/clock", get_clock)
    app.router.add_post("/admin/clock/advance", advance_clock)
    app.router.add_get("/admin/institutions/{inst}/assets/{asset_id}/ledger", get_ledger)
    app.router.add_post("/admin/institutions/{inst}/assets/{asset_id}/credit", credit)
    app.router.add_post("/admin/institutions/{inst}/assets/{asset_id}/debit", debit)
    app.router.add_get("/admin/ledgers/summary", summary)
