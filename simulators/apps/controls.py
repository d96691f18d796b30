"""Control orders over HTTP for the bank, land registry and vehicle office: one synchronous call.

``POST /{inst}/controls`` with a ``ControlOrder`` → 200 with the control record. Refusals are
business answers (200, status "refused"); only a malformed body is a 400. Misbehaviour (hang,
latency, injected faults) comes first, so an injected fault never touches a ledger.
"""

from __future__ import annotations

from aiohttp import web

from simulators.apps.common import institution, json_response, read_body
from simulators.apps.faults import misbehave
from simulators.control_order import ControlOrder


async def control(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    order = await read_body(request, ControlOrder)
    if (fault := await misbehave(request, ctx, inst)) is not None:
        return fault
    return json_response(ctx.ledgers.execute(inst, order))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/{inst}/controls", control)
