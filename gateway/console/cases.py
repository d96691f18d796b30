"""The court's cases, and a case's workspace: its money, its debtors with their merged reports
(assets by kind, live balances, each asset's freezes, each institution's answer), its orders."""

from __future__ import annotations

import secrets
from urllib.parse import quote

from aiohttp import web

from gateway.console.api import GatewayApi
from gateway.console.guard import page
from gateway.console.render import render
from gateway.console.sessions import Session
from schemas.orders import PERSON_ORDERS, RESTRICTING
from schemas.restrictions import LEGAL_BASIS


def case_path(case_number: str, rest: str = "") -> str:
    return f"/console/cases/{quote(case_number, safe='')}{rest}"


@page
async def cases(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    listed = await api.get("/v1/cases", limit=500, cursor=request.query.get("cursor"))
    return render(request, "cases.html", cases=listed["cases"], next_cursor=listed["next_cursor"])


@page
async def workspace(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    case_number = request.match_info["case_number"]
    case = await api.get(f"/v1/cases/{quote(case_number, safe='')}")
    reports = (await api.get(f"/v1/cases/{quote(case_number, safe='')}/reports"))["reports"]
    orders = (await api.get("/v1/orders", case_number=case_number, limit=500))["orders"]
    reports.sort(key=lambda r: -r["totals_fen"].get("all", 0))
    return render(request, "workspace.html", case=case, reports=reports, orders=orders, person_orders=PERSON_ORDERS,
                  measures={m: LEGAL_BASIS[m].title for m in RESTRICTING}, idempotency_key=f"console-restrict-{secrets.token_hex(8)}")


def setup(app: web.Application) -> None:
    app.router.add_get("/console/cases", cases)
    app.router.add_get("/console/cases/{case_number}", workspace)
