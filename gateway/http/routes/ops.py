"""Routes for ops staff: what is waiting on which institution, and the access audit."""

from __future__ import annotations

from aiohttp import web

from gateway.http.io import json_response
from gateway.http.keys import STORE
from infra.clock import now_ms, shown


async def pending_legs(request: web.Request) -> web.Response:
    now = now_ms()
    return json_response([
        {"institution_id": r["institution_id"], "pending": r["pending"], "oldest_sent_at": shown(r["oldest_sent_at"]),
         "oldest_age_s": round((now - r["oldest_sent_at"]) / 1000, 1)}
        for r in request.app[STORE].pending_by_institution()
    ])


async def access_audit(request: web.Request) -> web.Response:
    return json_response([
        {"at": shown(r["at"]), "officer": r["officer"], "court": r["court"], "method": r["method"], "path": r["path"],
         "status": r["status"], "reason": r["reason"]}
        for r in request.app[STORE].access_audit()
    ])


def setup(app: web.Application) -> None:
    app.router.add_get("/v1/ops/pending-legs", pending_legs)
    app.router.add_get("/v1/ops/access-audit", access_audit)
