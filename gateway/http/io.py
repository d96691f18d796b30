"""Request and response helpers shared by the route modules: JSON out, bounded bodies in, and
validation that names the field at fault."""

from __future__ import annotations

import asyncio
from typing import TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.http.errors import ApiError, invalid
from schemas.identifiers import check_case_number
from schemas.validation import field_errors

MAX_INQUIRY_BYTES = 1 << 20
MAX_WAIT_S = 60.0
DEFAULT_BODY_TIMEOUT_S = 60.0
# How long a whole body may take to arrive: a client trickling it in holds a connection and a
# handler, so it is cut off with a 408 (ASSETGW_BODY_TIMEOUT).
BODY_TIMEOUT = web.AppKey("body_timeout", float)

M = TypeVar("M", bound=BaseModel)


def json_response(data: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json", headers=headers)


async def read_limited(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "payload_too_large", f"the body exceeds {limit} bytes", [{"field": "body", "message": f"at most {limit} bytes"}])
    timeout = request.app.get(BODY_TIMEOUT, DEFAULT_BODY_TIMEOUT_S)
    chunks, size = [], 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.content.iter_chunked(1 << 16):
                size += len(chunk)
                if size > limit:
                    raise ApiError(413, "payload_too_large", f"the body exceeds {limit} bytes",
                                   [{"field": "body", "message": f"at most {limit} bytes"}])
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(408, "request_timeout", f"the body did not arrive within {timeout:g} s",
                       [{"field": "body", "message": f"not complete within {timeout:g} s"}]) from None
    return b"".join(chunks)


async def read_model(request: web.Request, model: type[M], limit: int = MAX_INQUIRY_BYTES) -> M:
    """The body as a validated model, or a 4xx that names the field at fault."""
    raw = await read_limited(request, limit)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"the body is not JSON: {exc}", [{"field": "body", "message": "not JSON"}]) from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object", [{"field": "body", "message": "not an object"}])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(field_errors(exc)) from None


def wait_seconds(request: web.Request) -> float:
    raw = request.query.get("wait")
    if raw is None:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= MAX_WAIT_S:  # also rejects nan
        raise ApiError(400, "bad_parameter", f"wait must be seconds from 0 to {MAX_WAIT_S:g}",
                       [{"field": "wait", "message": f"not a number of seconds from 0 to {MAX_WAIT_S:g}: {raw!r}"}])
    return value


def case_number_param(request: web.Request) -> str:
    """The case number in the URL, normalised like any other (full-width brackets and digits)."""
    raw = request.match_info["case_number"]
    try:
        return check_case_number(raw)
    except ValueError as exc:
        raise invalid([{"field": "case_number", "message": str(exc)}]) from None
