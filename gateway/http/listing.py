"""Query parameters of the list routes (cases, orders): a page size, the cursor of the previous
page, and filters from a fixed set of values — each refused with 400 naming the parameter."""

from __future__ import annotations

from collections.abc import Collection

from aiohttp import web

from gateway.http.errors import ApiError

DEFAULT_LIMIT, MAX_LIMIT = 100, 500


def bad(name: str, message: str) -> ApiError:
    return ApiError(400, "bad_parameter", f"{name}: {message}", [{"field": name, "message": message}])


def limit_param(request: web.Request) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise bad("limit", f"a whole number from 1 to {MAX_LIMIT}, not {raw[:40]!r}")
    return int(raw)


def cursor_param(request: web.Request) -> str | None:
    """``next_cursor`` of the previous page, as given; the store says whether it is one of its own."""
    return request.query.get("cursor") or None


def choice_param(request: web.Request, name: str, allowed: Collection[str]) -> str | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if raw not in allowed:
        raise bad(name, f"one of {', '.join(sorted(allowed))}, not {raw[:40]!r}")
    return raw


def flag_param(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise bad(name, f"true or false, not {raw[:40]!r}")
    return raw == "true"
