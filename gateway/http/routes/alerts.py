"""Routes for alerts: the officer's court's alerts by cursor, and the same as a live stream of
server-sent events.

The stream's event ids are the alerts' ``seq``: a client that reconnects with ``Last-Event-ID``
gets what it missed from the store, then new alerts as the listener stores them. Comment lines
keep an idle stream open through proxies; the stream ends when the gateway stops."""

from __future__ import annotations

import orjson
import structlog
from aiohttp import web

from gateway.http.access import officer_of
from gateway.http.errors import ApiError
from gateway.http.io import json_response
from gateway.http.keys import WATCHES
from gateway.http.routes.watches import case_number_query
from gateway.store.records import AlertRecord
from gateway.watches.alerts import alert_view

log = structlog.get_logger("alerts")

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
RETRY_MS = 3000  # how long a disconnected EventSource waits before it reconnects
_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _whole_number(request: web.Request, name: str, raw: str | None, default: int, low: int, high: int) -> int:
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ApiError(400, "bad_parameter", f"{name} must be a whole number from {low} to {high}",
                       [{"field": name, "message": f"not a whole number from {low} to {high}: {raw!r}"}])
    return int(raw)


async def list_alerts(request: web.Request) -> web.Response:
    case_number = case_number_query(request)
    after = _whole_number(request, "after", request.query.get("after"), 0, 0, 2**62)
    limit = _whole_number(request, "limit", request.query.get("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT)
    alerts = request.app[WATCHES].alerts.after(officer_of(request).court, after, limit, case_number)
    return json_response({"alerts": [alert_view(a) for a in alerts], "next_after": alerts[-1].seq if alerts else after})


def _event(alert: AlertRecord) -> bytes:
    return b"id: %d\nevent: alert\ndata: %s\n\n" % (alert.seq, orjson.dumps(alert_view(alert)))


async def stream_alerts(request: web.Request) -> web.StreamResponse:
    case_number = case_number_query(request)
    resume = request.headers.get("Last-Event-ID")
    cursor = _whole_number(request, "Last-Event-ID" if resume is not None else "after",
                           resume if resume is not None else request.query.get("after"), 0, 0, 2**62)
    court = officer_of(request).court
    parts = request.app[WATCHES]
    subscription = parts.broadcaster.subscribe()  # before reading the store, so nothing falls between
    response = web.StreamResponse(headers=_SSE_HEADERS)
    try:
        await response.prepare(request)
        await response.write(b"retry: %d\n: alerts of %s\n\n" % (RETRY_MS, court.encode()))
        from_store = True
        while not subscription.closed:
            if from_store:  # on opening, and whenever this stream fell too far behind the broadcaster
                while batch := parts.alerts.after(court, cursor, MAX_LIMIT, case_number):
                    await response.write(b"".join(map(_event, batch)))
                    cursor = batch[-1].seq
            if not await subscription.wait(parts.broadcaster.heartbeat_s):
                await response.write(b": keep-alive\n\n")
                continue
            pushed, from_store = subscription.take()
            fresh = [a for a in pushed if a.seq > cursor and a.court == court and case_number in (None, a.case_number)]
            if fresh:
                await response.write(b"".join(map(_event, fresh)))
                cursor = max(a.seq for a in fresh)
    except ConnectionError:
        pass  # the client went away
    finally:
        parts.broadcaster.unsubscribe(subscription)
    return response


async def _close_streams(app: web.Application) -> None:
    app[WATCHES].broadcaster.close()


def setup(app: web.Application) -> None:
    app.router.add_get("/v1/alerts", list_alerts)
    app.router.add_get("/v1/alerts/stream", stream_alerts)
    app.on_shutdown.append(_close_streams)
