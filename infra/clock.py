"""Time: timezone-aware UTC inside (epoch milliseconds in the store), Asia/Shanghai when shown."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def shown_date(at: datetime) -> str:
    """The calendar day of an instant in Asia/Shanghai, e.g. a freeze's end date as officers read it."""
    return at.astimezone(SHANGHAI).date().isoformat()


def shown(ms: int | None) -> str | None:
    """An instant as people here read it: ISO 8601 in Asia/Shanghai (+08:00)."""
    return None if ms is None else ms_to_dt(ms).astimezone(SHANGHAI).isoformat(timespec="milliseconds")


def shown_iso(text: str | None) -> str | None:
    """An ISO 8601 instant from elsewhere (an institution's clock, in UTC) as people here read it."""
    if text is None:
        return None
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:  # a bare date or local time says no zone: left as the institution gave it
        return text
    return at.astimezone(SHANGHAI).isoformat(timespec="seconds")


def dt_to_ms(at: datetime) -> int:
    """An aware instant as epoch milliseconds, in integers (a float timestamp can be off by one)."""
    return (at - _EPOCH) // timedelta(milliseconds=1)


def day_end_ms(day: date) -> int:
    """The first instant after ``day`` in Asia/Shanghai: a measure that runs "until" a day runs
    through the whole of it, as people here count days."""
    return dt_to_ms(datetime.combine(day + timedelta(days=1), day_time(0), tzinfo=SHANGHAI))
