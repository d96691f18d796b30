"""An order's institution times as officers read them. Institutions date a freeze in UTC
(``2027-05-29T16:00:00+00:00``); read as a calendar date that is a day early here, so every
response gives the same instant in Asia/Shanghai (``2027-05-30T00:00:00+08:00``): still ISO 8601
with its offset, so a program reads the same instant."""

from __future__ import annotations

from typing import Any

from infra.clock import shown_iso

# Keys of an order's record and audit details that hold an institution's ISO instant.
TIME_KEYS = frozenset({"start_date", "end_date", "answered_at", "at"})


def shown_times(detail: Any) -> Any:
    """``detail`` with every institution instant in it shown in Asia/Shanghai, including the
    before/after pairs of a state change (``{"changes": {"end_date": [old, new]}}``)."""
    if isinstance(detail, list):
        return [shown_times(v) for v in detail]
    if not isinstance(detail, dict):
        return detail
    out: dict[str, Any] = {}
    for key, value in detail.items():
        if key in TIME_KEYS and isinstance(value, str):
            out[key] = _shown(value)
        elif key == "changes" and isinstance(value, dict):
            out[key] = {f: [_shown(v) if f in TIME_KEYS and isinstance(v, str) else v for v in pair]
                        if isinstance(pair, list) else pair for f, pair in value.items()}
        else:
            out[key] = shown_times(value)
    return out


def _shown(text: str) -> str:
    try:
        return shown_iso(text) or text
    except ValueError:  # not ISO 8601: shown as given rather than failing the whole response
        return text
