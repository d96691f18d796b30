"""Routes for ops staff: what is waiting on which institution, and the access audit."""

from __future__ import annotations

from aiohttp import web

from gateway.http.io import json_response
from gateway.http.keys import STORE
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
         "status": e.status, "reason": e.reason}
        for e in request.app[STORE].access.recent()
    ])


def setup(app: web.Application) -> None:
    app.router.add_get("/v1/ops/pending-legs", pending_legs)
    app.router.add_get("/v1/ops/access-audit", access_audit)
