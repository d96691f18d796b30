"""Admin triggers of institution events, on every kind's app (not signed, no injected faults: the
operator's and the tests' levers, on loopback like the rest of ``/admin``).

``POST /admin/institutions/{inst}/sightings {"plate", "place", "region"?}`` — a camera saw a
vehicle (vehicle offices); ``POST /admin/institutions/{inst}/check-ins {"id_number", "hotel",
"city"}`` — a person checked in (lodging registries); ``POST /admin/institutions/{inst}/events/lose
{"count"}`` — a fault: the next ``count`` events of the institution happen (ledgers change, seqs
are spent) but are never served, so the feed shows a gap; ``GET /admin/institutions/{inst}/events``
— the feed's position (``last_seq``) and the losses still pending. Each answers 200 with what
happened; a bad body is a 400 naming the field, an unknown vehicle or person a 404 naming it.
Credits, debits and the clock are in ``admin_ledgers``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from simulators.apps.common import context, http_error, institution, json_response, read_object
from simulators.observations import NotObservable, check_in, sight_vehicle

MAX_LOSE = 10_000


def _text(body: dict[str, Any], name: str, longest: int, required: bool = True) -> Any:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > longest:
        raise http_error(web.HTTPBadRequest, "bad_request", f"{name}: a non-empty string of at most {longest} characters")
    return value.strip()


def _of_kind(request: web.Request, kind: str, what: str) -> str:
    ctx, inst = institution(request)
    if ctx.kind != kind:
        raise http_error(web.HTTPBadRequest, "bad_request", f"{inst} is a {ctx.kind}; only a {kind} institution records {what}")
    return inst


def _observed(event: Any) -> web.Response:
    return json_response({"event": None if event is None else event.model_dump(mode="json", exclude_none=True)})


async def sighting(request: web.Request) -> web.Response:
    """The event, or ``{"event": null}`` for a vehicle the network does not know of (no news)."""
    inst = _of_kind(request, "vehicle", "vehicle sightings")
    body = await read_object(request)
    plate, place, region = _text(body, "plate", 32), _text(body, "place", 200), _text(body, "region", 64, required=False)
    try:
        return _observed(sight_vehicle(context(request).ledgers, inst, plate, place, region))
    except NotObservable as exc:
        raise http_error(web.HTTPNotFound, "unknown_asset", f"{exc.field}: {exc.reason}") from None


async def guest_check_in(request: web.Request) -> web.Response:
    inst = _of_kind(request, "lodging", "hotel check-ins")
    body = await read_object(request)
    id_number, hotel, city = _text(body, "id_number", 64), _text(body, "hotel", 200), _text(body, "city", 64)
    try:
        return _observed(check_in(context(request).ledgers, inst, id_number, hotel, city))
    except NotObservable as exc:
        raise http_error(web.HTTPNotFound, "unknown_person", f"{exc.field}: {exc.reason}") from None


async def lose_events(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    count = (await read_object(request)).get("count")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_LOSE:
        raise http_error(web.HTTPBadRequest, "bad_request", f"count: a whole number from 1 to {MAX_LOSE}")
    ctx.ledgers.events.lose_next(inst, count)
    return _position(ctx.ledgers.events, inst)


async def position(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    ctx.ledgers.sweep_all()
    return _position(ctx.ledgers.events, inst)


def _position(events: Any, inst: str) -> web.Response:
    return json_response({"institution_id": inst, "last_seq": events.last_seq(inst), "pending_loss": events.pending_loss(inst)})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/admin/institutions/{inst}/sightings", sighting)
    app.router.add_post("/admin/institutions/{inst}/check-ins", guest_check_in)
    app.router.add_post("/admin/institutions/{inst}/events/lose", lose_events)
    app.router.add_get("/admin/institutions/{inst}/events", position)
