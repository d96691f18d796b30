"""The institution's event feed, for every kind: ``GET /{inst}/events?after=SEQ&limit=N&wait=S``.

Signed like every partner request. Answers ``{"events": [...], "next": SEQ}`` oldest first, each
event a ``schemas.events.InstitutionEvent``; a client keeps ``next`` and asks again with
``after=next``, so it reads each event once (a repeat after a lost answer carries the same
``event_id``). With ``wait`` (0–30 s) and nothing after the cursor, the answer waits until the
institution has news or the time is up (a long poll): funds arriving reach the court within a
round trip, not a polling interval. Misbehaviour applies as to any other call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from simulators.apps.common import SimContext, http_error, institution, json_response
from simulators.apps.faults import misbehave

MAX_LIMIT = 1000
MAX_AFTER = 10**12
MAX_WAIT_S = 30


def whole(query: Mapping[str, str], name: str, default: int, lowest: int, highest: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not lowest <= int(raw) <= highest:
        raise http_error(web.HTTPBadRequest, "bad_parameter", f"{name}: a whole number from {lowest} to {highest}")
    return int(raw)


def _seconds(request: web.Request, name: str, highest: float) -> float:
    raw = request.query.get(name)
    if raw is None:
        return 0.0
    try:
        value = float(raw) if raw.isascii() and raw.replace(".", "", 1).isdigit() else -1.0
    except ValueError:
        value = -1.0
    if not 0 <= value <= highest:
        raise http_error(web.HTTPBadRequest, "bad_parameter", f"{name}: seconds from 0 to {highest:g}")
    return value


async def events(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    after = whole(request.query, "after", 0, 0, MAX_AFTER)
    limit = whole(request.query, "limit", 100, 1, MAX_LIMIT)
    wait = _seconds(request, "wait", MAX_WAIT_S)
    if (fault := await misbehave(request, ctx, inst)) is not None:
        return fault
    page = feed_page(ctx, inst, after, limit)
    if not page["events"] and wait > 0 and await ctx.ledgers.events.wait_after(inst, after, wait):
        page = feed_page(ctx, inst, after, limit)
    return json_response(page)


def feed_page(ctx: SimContext, inst: str, after: int, limit: int) -> dict[str, Any]:
    """The page after ``after`` as it stands now (a polling bank's file answer has no long-poll:
    its polling interval is the wait)."""
    ctx.ledgers.sweep_all()  # lapses due by now are events by now
    page = ctx.ledgers.events.after(inst, after, limit)
    return {"events": [e.model_dump(mode="json", exclude_none=True) for e in page], "next": page[-1].seq if page else after}


def add_routes(app: web.Application) -> None:
    app.router.add_get("/{inst}/events", events)
