"""Client errors as JSON that names the field at fault."""

from __future__ import annotations

import re
from typing import Any, Sequence

import orjson
from aiohttp import web
from pydantic import ValidationError


def field_path(loc: Sequence[Any]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


_NAMED = re.compile(r"^([A-Za-z_][\w.\[\]]*): (.+)$", re.S)


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors(include_url=False):
        field, message = field_path(err["loc"]), err["msg"].removeprefix("Value error, ")
        named = _NAMED.match(message) if field == "body" else None
        if named:  # a model-level rule that names its field ("term_days: at most 365 days")
            field, message = named.groups()
        out.append({"field": field, "message": message})
    return out


class ApiError(web.HTTPException):
    """An HTTP error with a JSON body: {"error", "message", "errors": [{"field", "message"}]}."""

    def __init__(self, status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        self.status_code = status
        super().__init__(
            text=orjson.dumps({"error": code, "message": message, "errors": errors or []}).decode(),
            content_type="application/json",
        )


def invalid(errors: list[dict[str, Any]], message: str | None = None) -> ApiError:
    first = errors[0]
    return ApiError(422, "validation_failed", message or f"{first['field']}: {first['message']}", errors)
