"""Alerts from the court's watches: the latest on the page, new ones as they arrive (the API's
server-sent events relayed as they are, under the officer's token)."""

from __future__ import annotations

import contextlib

from aiohttp import web

from gateway.console.api import GatewayApi
from gateway.console.guard import page
from gateway.console.render import render
from gateway.console.sessions import Session

RECENT = 100


@page
async def alerts(request: web.Request, session: Session, api: GatewayApi) -> web.Response:
    first = await api.get("/v1/alerts", limit=1000)
    listed = first["alerts"][-RECENT:][::-1]
    return render(request, "alerts.html", alerts=listed, after=first["next_after"])


@page
async def stream(request: web.Request, session: Session, api: GatewayApi) -> web.StreamResponse:
    resume = request.headers.get("Last-Event-ID") or request.query.get("after") or "0"
    upstream = await api.stream("/v1/alerts/stream", {"Last-Event-ID": resume})
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    try:
        await response.prepare(request)
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
    except ConnectionError:
        pass  # the officer closed the page
    finally:
        with contextlib.suppress(Exception):
            upstream.close()
    return response


def setup(app: web.Application) -> None:
    app.router.add_get("/console/alerts", alerts)
    app.router.add_get("/console/alerts/stream", stream)
