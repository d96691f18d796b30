"""Control orders over HTTP for the bank, land registry and vehicle office: one synchronous call.

``POST /{inst}/controls`` with a ``ControlOrder`` → 200 with the control record. Refusals are
business answers (200, status "refused"); only a malformed body is a 400. Misbehaviour (hang,
latency, injected errors) comes first, so an injected failure never touches a ledger.
"""

from __future__ import annotations

from aiohttp import web

from simulators.apps.common import injected_failure, institution, json_response, read_body, stall
from simulators.orders import ControlOrder


async def control(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    order = await read_body(request, ControlOrder)
    await stall(ctx, inst)
    if (failure := injected_failure(ctx, inst)) is not None:
        return failure
    return json_response(ctx.ledgers.execute(inst, order))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/{inst}/controls", control)
