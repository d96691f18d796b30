"""What the airlines and the railway share beyond their partner APIs: the ticket counter (a person
buying a ticket, the test's and the operator's lever, as check-ins are the lodging registry's) and
the restriction ledger's admin view. Unsigned, on loopback like the rest of ``/admin``, no faults.

``POST /admin/institutions/{inst}/ticket-purchases {"id_number", "service", "route", "seat"}`` —
``service`` a flight (``CA1501``) or train (``G1``) number, ``seat`` a cabin (economy, business,
first …) or a seat class (硬座, 二等座, 一等座, 软卧 …). 200 ``{"sold": true, "ticket_no"}``, or
``{"sold": false, "reason", "restriction_ids", "event"}`` when a restriction in force refuses it
(the refusal is on the carrier's event feed). A bad field is a 400 naming it.

``GET /admin/institutions/{inst}/restrictions/{id_number}`` — the carrier's record of the person:
each restriction (court, case, decision, placed, lifted and by which order), every answer, and how
many purchases were refused.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from aiohttp import web

from schemas.restrictions import LEGAL_BASIS, REFUSED_FARES
from simulators.apps.common import http_error, institution, json_response, read_object
from simulators.control_order import ControlOrder
from simulators.restrictions import AIRLINE_CABINS, RAIL_SEATS, valid_service

SEATS = {"airline": AIRLINE_CABINS, "railway": RAIL_SEATS}


def _field(body: dict[str, Any], name: str, longest: int, allowed: tuple[str, ...] | None = None) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > longest:
        raise http_error(web.HTTPBadRequest, "bad_request", f"{name}: a non-empty string of at most {longest} characters",
                         [{"field": name, "message": f"a non-empty string of at most {longest} characters"}])
    if allowed is not None and value not in allowed:
        raise http_error(web.HTTPBadRequest, "bad_request", f"{name}: one of {', '.join(allowed)}",
                         [{"field": name, "message": f"one of {', '.join(allowed)}"}])
    return value.strip()


async def ticket_purchase(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    body = await read_object(request)
    id_number, route = _field(body, "id_number", 64), _field(body, "route", 100)
    service, seat = _field(body, "service", 16), _field(body, "seat", 16, SEATS[ctx.kind])
    if not valid_service(ctx.kind, service):
        what = "a flight number such as CA1501" if ctx.kind == "airline" else "a train number such as G1 or K1511"
        raise http_error(web.HTTPBadRequest, "bad_request", f"service: {what}", [{"field": "service", "message": what}])
    blocking, event = ctx.ledgers.restrictions.purchase(inst, ctx.kind, id_number, service, seat, route)
    if not blocking:
        return json_response({"sold": True, "ticket_no": uuid.uuid4().hex[:12].upper()})
    reason = ("；".join(f"{LEGAL_BASIS[r.measure].title}（{r.court} {r.case_number}，{r.decision_number}）" for r in blocking)
              + f"：不得{REFUSED_FARES}")
    return json_response({"sold": False, "reason": reason, "restriction_ids": [r.order_id for r in blocking],
                          "event": event.model_dump(mode="json", exclude_none=True) if event is not None else None})


async def restriction_ledger(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    id_number = request.match_info["id_number"]
    person = ctx.ledgers.restrictions.passenger(inst, id_number)
    state = person.dump()
    for r in state["restrictions"]:
        r["in_force"] = r["lifted_at"] is None
    return json_response({"institution_id": inst, "id_number": id_number, **state})


def execute(request: web.Request, order_id: str, measure: str | None, id_number: str, court: str, case_number: str,
            decision_number: str, notice_number: str, credentials: list[str], original: str | None, served_at: datetime) -> dict[str, Any]:
    """The carrier's control record for a restriction (``measure``) or its lifting (``measure``
    None, naming the ``original`` restriction), as its own API read it."""
    ctx, inst = institution(request)
    order = ControlOrder(order_id=order_id, type=measure or "lift_restriction", court=court, case_number=case_number,  # type: ignore[arg-type]
                         asset={"kind": "person", "id": id_number}, debtor_id_number=id_number,  # type: ignore[arg-type]
                         ruling_number=decision_number, notice_number=notice_number, officer_credentials=credentials,
                         original_freeze_id=original, served_at=served_at)
    return ctx.ledgers.restrictions.execute(inst, order)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/admin/institutions/{inst}/ticket-purchases", ticket_purchase)
    app.router.add_get("/admin/institutions/{inst}/restrictions/{id_number}", restriction_ledger)
