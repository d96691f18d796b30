"""Vehicle office: batched queries, up to 100 debtors per call, as the traffic-police platform.

``POST /{inst}/batch-queries`` → 200 with one result per item. Court, notice and credentials
belong to the batch, so an unregistered credential refuses every item. One latency sample per
batch: the office answers the batch as a whole.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from schemas.assets import Vehicle
from simulators.apps.common import (
    REFUSAL_UNREGISTERED,
    WireModel,
    holdings,
    institution,
    json_response,
    read_body,
)
from simulators.apps.faults import misbehave

MAX_ITEMS = 100


class BatchItem(WireModel):
    item_id: str = Field(min_length=1, max_length=128)
    case_number: str
    id_number: str = Field(min_length=1, max_length=64)
    name: str


class BatchBody(WireModel):
    batch_id: str = Field(min_length=1, max_length=128)
    court: str
    notice_number: str
    officer_credentials: list[str]
    items: list[BatchItem] = Field(min_length=1, max_length=MAX_ITEMS)


async def batch_query(request: web.Request) -> web.Response:
    ctx, inst = institution(request)
    body = await read_body(request, BatchBody)
    if (fault := await misbehave(request, ctx, inst)) is not None:
        return fault
    registered = ctx.population.is_registered(body.officer_credentials)
    items: list[dict[str, Any]] = []
    for item in body.items:
        if not registered:
            items.append({"item_id": item.item_id, "status": "refused", "vehicles": [], "reason": REFUSAL_UNREGISTERED})
            continue
        # The office keys records by ID number alone; the row carries no document type.
        found = [a for a in holdings(ctx, inst, item.id_number, None) if isinstance(a, Vehicle)]
        items.append({
            "item_id": item.item_id,
            "status": "found" if found else "not_found",
            "vehicles": [_vehicle(v) for v in found],
            "reason": None,
        })
    return json_response({"batch_id": body.batch_id, "items": items})


def _vehicle(v: Vehicle) -> dict[str, Any]:
    return {"plate": v.plate, "vin": v.vin, "model": v.model, "registered_on": v.registered_on, "value_fen": v.value_fen}


def add_routes(app: web.Application) -> None:
    app.router.add_post("/{inst}/batch-queries", batch_query)
