"""Pydantic validation errors as a list of {field, message}, each naming the field at fault the way
a client wrote it (``debtors[1].id_number``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

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
