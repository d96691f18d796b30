"""Scheduled outage windows: when an institution is down for every request.

Operators give windows in absolute time (``{"start": ISO, "end": ISO}``) to rehearse a partner's
announced maintenance, or relative to now (``{"in_s": 5, "for_s": 30}``) for drills and tests.
Relative windows are fixed to wall-clock time when given, so reading them back shows when.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

MAX_WINDOWS = 100  # a schedule, not a log: more is a client bug


@dataclass(frozen=True, slots=True)
class Outage:
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive

    def active(self, now: datetime) -> bool:
        return self.start <= now < self.end

    def over(self, now: datetime) -> bool:
        return now >= self.end

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "active": self.active(now)}


def _instant(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{where} must be an ISO 8601 date-time string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not an ISO 8601 date-time") from None
    # A naive time is read as UTC, like the simulators' other instants.
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _seconds(value: Any, where: str, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where} must be a number of seconds")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{where} must be {'positive' if positive else 'zero or more'}")
    return float(value)


def parse_window(value: Any, now: datetime, where: str) -> Outage:
    """One window from admin JSON; ``ValueError`` naming ``where`` (e.g. ``outages[1].end``)."""
    if not isinstance(value, dict):
        raise ValueError(f'{where} must be {{"start", "end"}} or {{"in_s", "for_s"}}')
    keys = set(value)
    if keys == {"start", "end"}:
        start, end = _instant(value["start"], f"{where}.start"), _instant(value["end"], f"{where}.end")
    elif keys == {"in_s", "for_s"}:
        start = now + timedelta(seconds=_seconds(value["in_s"], f"{where}.in_s", positive=False))
        end = start + timedelta(seconds=_seconds(value["for_s"], f"{where}.for_s", positive=True))
    else:
        raise ValueError(f'{where} must have exactly "start" and "end", or "in_s" and "for_s"')
    if end <= start:
        raise ValueError(f"{where}.end must be after its start")
    return Outage(start, end)


def parse_windows(value: Any, now: datetime) -> tuple[Outage, ...]:
    """The ``outages`` field: a list of windows; those already over are dropped."""
    if not isinstance(value, list):
        raise ValueError("outages must be a list of windows")
    if len(value) > MAX_WINDOWS:
        raise ValueError(f"outages: at most {MAX_WINDOWS} windows")
    windows = (parse_window(w, now, f"outages[{i}]") for i, w in enumerate(value))
    return tuple(w for w in windows if not w.over(now))
