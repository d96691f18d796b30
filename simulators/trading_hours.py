"""The securities depository's working hours: trading days (Monday to Friday) 09:00–15:00
Asia/Shanghai, on the simulators' clock. Pure functions of an instant, so a test that moves the
clock moves the depository's day with it. Public holidays are not modelled."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
OPENS, CLOSES = time(9, 0), time(15, 0)


def is_open(at: datetime) -> bool:
    local = at.astimezone(SHANGHAI)
    return local.weekday() < 5 and OPENS <= local.time() < CLOSES


def next_opening(at: datetime) -> datetime:
    """The first opening at or after ``at`` (tz-aware, in Asia/Shanghai)."""
    local = at.astimezone(SHANGHAI)
    day = local.date()
    while True:
        opening = datetime.combine(day, OPENS, SHANGHAI)
        if day.weekday() < 5 and opening >= local:
            return opening
        day += timedelta(days=1)
