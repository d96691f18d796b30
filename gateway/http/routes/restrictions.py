"""Routes for consumption restrictions at the carriers (限制高消费, 失信被执行人名单): place one on a
debtor of the officer's case at every airline and the railway, and lift it (解除限制). Both answer
202 with one order per carrier (each then followed at ``/v1/orders/{id}``, its trail included);
a repeat of the same key answers 200 with the same orders."""

from __future__ import annotations

from aiohttp import web

from gateway.http.access import require_case, require_credentials, require_self
from gateway.http.io import json_response, read_model
from gateway.http.keys import RESTRICTIONS
from gateway.http.routes.orders import rejected
from gateway.orders.desk import OrderRejected
from gateway.orders.restrictions import restriction_view
from infra import metrics
from schemas.restrictions import RestrictionCreate, RestrictionLift


async def _act(request: web.Request, model: type[RestrictionCreate] | type[RestrictionLift]) -> web.Response:
    body = await read_model(request, model)
    require_case(request, body.case_number, court=body.court)
    require_credentials(request, body.officer_credentials)
    body = body.model_copy(update={"operator": require_self(request, body.operator, "operator")})
    desk = request.app[RESTRICTIONS]
    try:
        orders, replayed = desk.place(body) if isinstance(body, RestrictionCreate) else desk.lift(body)
    except OrderRejected as exc:
        raise rejected(exc) from None
    if not replayed:
        metrics.ACCEPTED.labels("order").inc(len(orders))
    return json_response(restriction_view(orders, replayed), status=200 if replayed else 202)


async def place_restriction(request: web.Request) -> web.Response:
    return await _act(request, RestrictionCreate)


async def lift_restriction(request: web.Request) -> web.Response:
    return await _act(request, RestrictionLift)


def setup(app: web.Application) -> None:
    app.router.add_post("/v1/restrictions", place_restriction)
    app.router.add_post("/v1/restrictions/lift", lift_restriction)
