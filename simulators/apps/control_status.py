"""Control status for reconciliation: ``POST /{inst}/controls/status`` with ``{"freeze_ids": [...],
"asset_ids": [...]}`` → 200 ``{"as_of_seq", "freezes", "unknown_freeze_ids", "balances",
"unknown_asset_ids"}`` (``simulators.control_status``). Signed like ``/controls``; a malformed body
is a 400 naming the field. Served by every kind that holds assets; the payment app also takes it
as its gateway method ``court.wallet.control_status`` (``simulators.apps.payment``).
"""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field

from simulators.apps.common import WireModel, institution, json_response, read_body
from simulators.apps.faults import misbehave
from simulators.control_status import status_report

MAX_IDS = 1000
Id = Annotated[str, Field(min_length=1, max_length=128)]


class StatusBody(WireModel):
    freeze_ids: list[Id] = Field(default_factory=list, max_length=MAX_IDS)
    asset_ids: list[Id] = Field(default_factory=list, max_length=MAX_IDS)


async def control_status(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    body = await read_body(request, StatusBody)
    if (fault := await misbehave(request, ctx, inst)) is not None:
        return fault
    return json_response(status_report(ctx.ledgers, inst, body.freeze_ids, body.asset_ids))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/{inst}/controls/status", control_status)
