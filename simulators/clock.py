"""Simulated time: real UTC now plus an offset that operators and tests push forward.

Freeze terms run for months or years; advancing the clock is how a demo or a test sees a freeze
lapse without waiting. One clock per simulator process, shared by every kind's app, so all
institutions agree on what day it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def _real_now() -> datetime:
    return datetime.now(UTC)


class SimClock:
    def __init__(self, real_now: Callable[[], datetime] = _real_now, offset: timedelta = timedelta(0)) -> None:
        self._real_now = real_now  # injectable so unit tests can pin real time
        self._offset = offset  # a restarted simulator resumes the offset it had (simulators.store)

    def now(self) -> datetime:
        return self._real_now() + self._offset

    @property
    def offset(self) -> timedelta:
        return self._offset

    @property
    def offset_days(self) -> float:
        return self._offset / timedelta(days=1)

    def advance(self, days: float) -> datetime:
        """Move simulated time forward; never back, since lapsed freezes cannot un-lapse."""
        if isinstance(days, bool) or not isinstance(days, (int, float)) or not math.isfinite(days) or days < 0:
            raise ValueError("days must be a finite, non-negative number")
        self._offset += timedelta(days=days)
        return self.now()
