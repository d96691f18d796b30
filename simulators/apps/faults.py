"""Misbehaviour on the wire: what a request gets when its institution hangs, is down, or draws a
fault, and the latency of everything else.

Every handler calls ``misbehave`` after reading its body and before any ledger or answer work,
so an injected fault never changes state. Faults a front end produces (outage, reset,
throttling) come at once; faults of the institution itself (errors, broken bodies) and normal
answers come after the latency sample, as a slow back end's would.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable
from typing import NoReturn

import orjson
from aiohttp import web

from simulators.apps.common import SimContext, json_response


async def hang_if_told(ctx: SimContext, inst: str) -> None:
    """A hanging institution never answers; aiohttp cancels this when the client disconnects
    (the runner enables handler cancellation) and on shutdown."""
    if ctx.behaviours.get(inst).hang:
        await asyncio.Event().wait()


def http_unavailable(ctx: SimContext, inst: str) -> web.Response:
    """The HTTP-style injected failure (bank, land, vehicle)."""
    return json_response({"error": "unavailable"}, status=ctx.behaviours.get(inst).error_status)


async def misbehave(
    request: web.Request, ctx: SimContext, inst: str, *, latency: bool = True,
    error: Callable[[SimContext, str], web.Response] = http_unavailable,
) -> web.Response | None:
    """Hang, fail or wait as the institution's behaviour says; ``None`` means: answer normally.

    ``latency=False`` for APIs whose latency is modelled elsewhere (the land registry's
    processing time); ``error`` builds the kind's own failure answer (payment: code 20000).
    """
    await hang_if_told(ctx, inst)
    fault = ctx.behaviours.draw(inst)
    if fault == "reset":
        reset_connection(request)
    if fault == "outage":
        return json_response({"error": "unavailable", "reason": "scheduled outage"}, status=503)
    if fault == "throttle":
        return throttled(ctx, inst)
    if latency and (delay := ctx.behaviours.sample_latency_s(inst)) > 0:
        await asyncio.sleep(delay)
    if fault == "error":
        return error(ctx, inst)
    if fault == "malformed":
        # What a misconfigured proxy in front of the institution sends: a page, not JSON.
        return web.Response(status=200, text="<html><body><h1>Service Temporarily Unavailable</h1></body></html>",
                            content_type="text/html")
    if fault == "truncated":
        return truncated(inst)
    return None


def throttled(ctx: SimContext, inst: str) -> web.Response:
    retry_after = ctx.behaviours.get(inst).retry_after_s
    response = json_response({"error": "throttled", "reason": "too many requests"}, status=429)
    response.headers["Retry-After"] = f"{retry_after:g}"
    return response


def truncated(inst: str) -> web.Response:
    """200 with half a JSON document: a body cut off in transit, Content-Length matching the cut
    so the client reads it all and only decoding fails. The document is a stand-in; the real
    answer is never computed, so nothing (no ledger) moves."""
    whole = orjson.dumps({
        "institution_id": inst, "status": "ok",
        "records": [{"id": n, "state": "done", "note": "answer cut off in transit"} for n in range(4)],
    })
    return web.Response(status=200, body=whole[: len(whole) // 2], content_type="application/json")


def reset_connection(request: web.Request) -> NoReturn:
    """Drop the connection with a TCP reset and no answer at all, as a crashed peer or a
    middlebox does. Raising ``CancelledError`` makes aiohttp abandon the request quietly instead
    of logging an error and trying to write a 500 to a dead socket."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Linger 0: close() sends RST instead of FIN, so the client sees a reset, not an EOF.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    raise asyncio.CancelledError
