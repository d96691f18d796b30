"""The institution's event feed, for every kind: ``GET /{inst}/events?after=SEQ&limit=N&wait=S``.

Signed like every partner request. Answers ``{"events": [...], "next": SEQ}`` oldest first, each
event a ``schemas.events.InstitutionEvent``; a client keeps ``next`` and asks again with
``after=next``, so it reads each event once (a repeat after a lost answer carries the same
``event_id``). With ``wait`` (0–30 s) and nothing after the cursor, the answer waits until the
institution has news or the time is up (a long poll): funds arriving reach the court within a
round trip, not a polling interval. Misbehaviour applies as to any other call.
"""

from __future__ import annotations

from aiohttp import web

from simulators.apps.common import http_error, institution, json_response
from simulators.apps.faults import misbehave

MAX_LIMIT = 1000
MAX_WAIT_S = 30


def _whole(request: web.Request, name: str, default: int, lowest: int, highest: int) -> int:
    raw = request.query.get(name)
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
    after = _whole(request, "after", 0, 0, 10**12)
    limit = _whole(request, "limit", 100, 1, MAX_LIMIT)
    wait = _seconds(request, "wait", MAX_WAIT_S)
    if (fault := await misbehave(request, ctx, inst)) is not None:
        return fault
    ctx.ledgers.sweep_all()  # lapses due by now are events by now
    page = ctx.ledgers.events.after(inst, after, limit)
    if not page and wait > 0 and await ctx.ledgers.events.wait_after(inst, after, wait):
        page = ctx.ledgers.events.after(inst, after, limit)
    return json_response({"events": [e.model_dump(mode="json", exclude_none=True) for e in page],
                          "next": page[-1].seq if page else after})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/{inst}/events", events)
