"""Client errors as JSON that names the field at fault."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web


class ApiError(web.HTTPException):
    """An HTTP error with a JSON body: {"error", "message", "errors": [{"field", "message"}]}."""

    def __init__(self, status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        self.status_code = status
        self.message = message
        self.audited = False  # written to the access audit already (gateway.http.access.refuse)
        super().__init__(
            text=orjson.dumps({"error": code, "message": message, "errors": errors or []}).decode(),
            content_type="application/json",
        )


def invalid(errors: list[dict[str, Any]], message: str | None = None) -> ApiError:
    first = errors[0]
    return ApiError(422, "validation_failed", message or f"{first['field']}: {first['message']}", errors)
