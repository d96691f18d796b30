"""Land registry: asynchronous, submit then poll, as registries that process requests in queues.

``POST /{inst}/requests`` → 202 ``{"ticket"}``; ``GET /{inst}/requests/{ticket}`` →
``{"state": "processing"}`` until the sampled processing time has passed, then ``done`` (with the
units) or ``refused``. The answer and the refusal are fixed at submission; only their release
waits. Injected faults and hanging apply to every call, submit and poll alike.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from schemas.assets import RealEstate
from simulators.apps.common import (
    ID_TYPE_KIND,
    REFUSAL_UNREGISTERED,
    InquiryBody,
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
    answer: dict[str, Any]


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


async def submit(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    body = await read_body(request, InquiryBody)
    # The registry's latency is its processing time, released by polling: no wait here.
    if (fault := await misbehave(request, ctx, inst, latency=False)) is not None:
        return fault
    if not ctx.population.is_registered(body.officer_credentials):
        answer: dict[str, Any] = {"state": "refused", "reason": REFUSAL_UNREGISTERED}
    else:
        units = [a for a in holdings(ctx, inst, body.subject.id_number, ID_TYPE_KIND[body.subject.id_type])
                 if isinstance(a, RealEstate)]
        answer = {"state": "done", "found": bool(units), "units": [_unit(u) for u in units]}
    now = asyncio.get_running_loop().time()
    ticket = Ticket(inst, now, now + ctx.behaviours.sample_latency_s(inst), answer)
    return json_response({"ticket": request.app[DESK].add(ticket)}, status=202)


async def poll(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    if (fault := await misbehave(request, ctx, inst, latency=False)) is not None:
        return fault
    ticket = request.app[DESK].get(request.match_info["ticket"])
    if ticket is None or ticket.institution_id != inst:
        raise http_error(web.HTTPNotFound, "unknown_ticket", "no such ticket at this registry")
    if asyncio.get_running_loop().time() < ticket.ready_at:
        return json_response({"state": "processing"})
    return json_response(ticket.answer)


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
    app.router.add_post("/{inst}/requests", submit)
    app.router.add_get("/{inst}/requests/{ticket}", poll)
