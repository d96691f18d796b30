"""The command centre: the court's figures as cards, a per-institution table and charts over
time (uPlot, drawn by static/console.js from ``figures.json``), refreshed while it is open."""

from __future__ import annotations

from aiohttp import web

from gateway.console.api import GatewayApi
from gateway.console.guard import page
from gateway.console.render import render
from gateway.console.sessions import Session


@page
async def dashboard(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    return render(request, "dashboard.html", f=await api.get("/v1/figures"))


@page
async def cards(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    return render(request, "dashboard_cards.html", f=await api.get("/v1/figures"))


@page
async def figures_json(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    return web.json_response(await api.get("/v1/figures"))


def setup(app: web.Application) -> None:
    app.router.add_get("/console/dashboard", dashboard)
    app.router.add_get("/console/dashboard/cards", cards)
    app.router.add_get("/console/dashboard/figures.json", figures_json)
