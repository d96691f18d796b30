"""Land registry: asynchronous, submit then poll, as registries that process requests in queues.

``POST /{inst}/requests`` → 202 ``{"ticket"}``; ``GET /{inst}/requests/{ticket}`` →
``{"state": "processing"}`` until the sampled processing time has passed, then ``done`` (with the
units) or ``refused``. The answer and the refusal are fixed at submission; only their release
waits. Injected faults and hanging apply to every call, submit and poll alike.

Batches (the 总对总 interface), up to 500 subjects: ``POST /{inst}/request-batches`` → 202
``{"ticket"}``; ``GET /{inst}/request-batches/{ticket}`` → ``processing``, then ``{"state":
"done", "results": [{"request_id", "found", "units"}]}`` (one per subject, in request order) or
``{"state": "refused", "reason"}`` for the whole batch (its legal basis is the batch's). One
processing-time sample per batch. Batch tickets and single tickets are separate: neither is found
under the other's path.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from schemas.assets import RealEstate
from simulators.apps.common import (
    ID_TYPE_KIND,
    REFUSAL_UNREGISTERED,
    BatchInquiryBody,
    InquiryBody,
    SimContext,
    holdings,
    http_error,
    institution,
    json_response,
    read_body,
)
from simulators.apps.faults import misbehave

TICKET_TTL_S = 3600.0  # answered tickets are kept an hour for late or repeated polls


@dataclass(frozen=True, slots=True)
class Ticket:
    institution_id: str
    created_at: float
    ready_at: float
    answer: bytes  # the JSON answer, encoded at submission: compact to keep, nothing to redo per poll


class TicketDesk:
    """Submitted requests by ticket, oldest first so expiry is a pop from the front."""

    def __init__(self) -> None:
        self.tickets: OrderedDict[str, Ticket] = OrderedDict()

    def add(self, ticket: Ticket) -> str:
        self._expire(ticket.created_at)
        key = uuid.uuid4().hex
        self.tickets[key] = ticket
        return key

    def get(self, key: str) -> Ticket | None:
        return self.tickets.get(key)

    def _expire(self, now: float) -> None:
        while self.tickets:
            first = next(iter(self.tickets.values()))
            if first.created_at >= now - TICKET_TTL_S:
                break
            self.tickets.popitem(last=False)


DESK = web.AppKey("land_ticket_desk", TicketDesk)
BATCH_DESK = web.AppKey("land_batch_ticket_desk", TicketDesk)

_REFUSED: dict[str, Any] = {"state": "refused", "reason": REFUSAL_UNREGISTERED}


async def submit(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    body = await read_body(request, InquiryBody)
    # The registry's latency is its processing time, released by polling: no wait here.
    if (fault := await misbehave(request, ctx, inst, latency=False)) is not None:
        return fault
    if not ctx.population.is_registered(body.officer_credentials):
        answer = _REFUSED
    else:
        answer = {"state": "done", **_lookup(ctx, inst, body.subject.id_type, body.subject.id_number)}
    return _issue(request, DESK, ctx, inst, answer)


async def submit_batch(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    body = await read_body(request, BatchInquiryBody)
    if (fault := await misbehave(request, ctx, inst, latency=False)) is not None:
        return fault
    if not ctx.population.is_registered(body.officer_credentials):
        answer = _REFUSED
    else:
        answer = {"state": "done", "results": [
            {"request_id": s.request_id, **_lookup(ctx, inst, s.id_type, s.id_number)} for s in body.subjects
        ]}
    return _issue(request, BATCH_DESK, ctx, inst, answer)


def _lookup(ctx: SimContext, inst: str, id_type: str, id_number: str) -> dict[str, Any]:
    """One subject's answer: whether the registry holds real estate of theirs, and the units."""
    units = [_unit(a) for a in holdings(ctx, inst, id_number, ID_TYPE_KIND[id_type]) if isinstance(a, RealEstate)]
    return {"found": bool(units), "units": units}


def _issue(request: web.Request, desk: web.AppKey[TicketDesk], ctx: SimContext, inst: str,
           answer: dict[str, Any]) -> web.Response:
    """File the answer, to be released after one sampled processing time; 202 with the ticket."""
    now = asyncio.get_running_loop().time()
    ticket = Ticket(inst, now, now + ctx.behaviours.sample_latency_s(inst), orjson.dumps(answer))
    return json_response({"ticket": request.app[desk].add(ticket)}, status=202)


async def poll(request: web.Request) -> web.Response:
    return await _poll(request, DESK)


async def poll_batch(request: web.Request) -> web.Response:
    return await _poll(request, BATCH_DESK)


async def _poll(request: web.Request, desk: web.AppKey[TicketDesk]) -> web.Response:
    ctx, inst = institution(request)
    if (fault := await misbehave(request, ctx, inst, latency=False)) is not None:
        return fault
    ticket = request.app[desk].get(request.match_info["ticket"])
    if ticket is None or ticket.institution_id != inst:
        raise http_error(web.HTTPNotFound, "unknown_ticket", "no such ticket at this registry")
    if asyncio.get_running_loop().time() < ticket.ready_at:
        return json_response({"state": "processing"})
    return web.Response(body=ticket.answer, content_type="application/json")


def _unit(u: RealEstate) -> dict[str, Any]:
    return {
        "unit_no": u.unit_no,
        "certificate_no": u.certificate_no,
        "address": u.address,
        "floor_area_dm2": u.floor_area_dm2,
        "value_fen": u.value_fen,
        "share_percent": u.share_percent,
        "co_owners": list(u.co_owners),
    }


def add_routes(app: web.Application) -> None:
    app[DESK] = TicketDesk()
    app[BATCH_DESK] = TicketDesk()
    app.router.add_post("/{inst}/requests", submit)
    app.router.add_get("/{inst}/requests/{ticket}", poll)
    app.router.add_post("/{inst}/request-batches", submit_batch)
    app.router.add_get("/{inst}/request-batches/{ticket}", poll_batch)
