"""Routes about the service itself: the institution directory, the OpenAPI document, health and
metrics."""

from __future__ import annotations

from aiohttp import web

from gateway.http.io import json_response
from gateway.http.keys import DIRECTORY, KAFKA_HEALTH
from gateway.http.openapi import openapi_document
from infra import metrics


async def institutions(request: web.Request) -> web.Response:
    return json_response([{"id": i.id, "kind": i.kind, "name": i.name} for i in request.app[DIRECTORY].institutions])


async def openapi(request: web.Request) -> web.Response:
    return json_response(openapi_document())


async def health(request: web.Request) -> web.Response:
    """503 with the reason while Kafka cannot be reached: the gateway then takes requests it cannot
    pass on, and a supervisor or load balancer should know."""
    kafka = request.app.get(KAFKA_HEALTH)
    problem = kafka.problem() if kafka is not None else None
    if problem:
        return json_response({"ok": False, "reason": problem}, status=503)
    return json_response({"ok": True})


def setup(app: web.Application) -> None:
    app.router.add_get("/v1/institutions", institutions)
    app.router.add_get("/healthz", health)
    app.router.add_get("/v1/openapi.json", openapi)
    app.router.add_get("/metrics", metrics.metrics_handler)
