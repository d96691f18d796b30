"""Routes for ops staff: what is waiting on which institution, the access audit, and
reconciliation with the institutions' ledgers."""

from __future__ import annotations

from aiohttp import web

from gateway.events.reconcile import run_view
from gateway.http.access import officer_of
from gateway.http.errors import ApiError
from gateway.http.io import json_response
from gateway.http.keys import RECONCILER, STORE
from infra.clock import now_ms, shown


async def pending_legs(request: web.Request) -> web.Response:
    now = now_ms()
    return json_response([
        {"institution_id": b.institution_id, "pending": b.pending, "oldest_sent_at": shown(b.oldest_sent_at),
         "oldest_age_s": round((now - b.oldest_sent_at) / 1000, 1)}
        for b in request.app[STORE].legs.backlog()
    ])


async def access_audit(request: web.Request) -> web.Response:
    return json_response([
        {"at": shown(e.at), "officer": e.officer, "court": e.court, "method": e.method, "path": e.path,
         "status": e.status, "reason": e.reason, "client": e.client, "count": e.count}
        for e in request.app[STORE].access.recent()
    ])


async def start_reconciliation(request: web.Request) -> web.Response:
    run = await request.app[RECONCILER].start(officer_of(request).id)
    location = f"/v1/ops/reconciliations/{run.run_id}"
    return json_response({**run_view(run), "location": location}, status=202, headers={"Location": location})


async def reconciliation(request: web.Request) -> web.Response:
    run_id = request.match_info["run_id"]
    run = request.app[STORE].reconciliations.get(run_id)
    if run is None:
        raise ApiError(404, "not_found", f"no reconciliation {run_id}", [{"field": "run_id", "message": "unknown"}])
    return json_response(run_view(run))


async def reconciliations(request: web.Request) -> web.Response:
    return json_response([run_view(r) for r in request.app[STORE].reconciliations.recent()])


def setup(app: web.Application) -> None:
    app.router.add_get("/v1/ops/pending-legs", pending_legs)
    app.router.add_get("/v1/ops/access-audit", access_audit)
    app.router.add_post("/v1/ops/reconciliations", start_reconciliation)
    app.router.add_get("/v1/ops/reconciliations", reconciliations)
    app.router.add_get("/v1/ops/reconciliations/{run_id}", reconciliation)
