"""Identical warnings and errors, collapsed: the first passes, repeats within a window are counted
and dropped, and the first one after the window passes with the count.

A client retrying a broker that is down logs the same connection error many times a second (aiokafka
through the stdlib ``logging`` module, our loops through structlog); without this, an hour's
outage filled a connector's log with megabytes of one line. Info lines are never collapsed."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Hashable
from typing import Any

import structlog

WINDOW_S = 30.0
_MAX_KEYS = 1024  # distinct messages tracked; expired ones are forgotten first
_COLLAPSED = ("warning", "error", "critical", "exception")


class Repeats:
    """Per key: when it last passed and how many repeats were dropped since."""

    def __init__(self, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s, self._clock = window_s, clock
        self._seen: dict[Hashable, list[float]] = {}

    def admit(self, key: Hashable) -> int | None:
        """None: drop this one. A number: log it, saying that many repeats were dropped before it."""
        now = self._clock()
        entry = self._seen.get(key)
        if entry is not None and now - entry[0] < self.window_s:
            entry[1] += 1
            return None
        if len(self._seen) >= _MAX_KEYS:
            self._forget(now)
        self._seen[key] = [now, 0]
        return int(entry[1]) if entry else 0

    def _forget(self, now: float) -> None:
        expired = [k for k, (at, _) in self._seen.items() if now - at >= self.window_s]
        for k in expired or list(self._seen)[: _MAX_KEYS // 2]:
            del self._seen[k]


def _said(dropped: int, window_s: float) -> str:
    return f"repeated {dropped} more times in the last {window_s:.0f}s"


class RepeatFilter(logging.Filter):
    """For the stdlib handlers (aiokafka, aiohttp): keyed by logger, level and the formatted message."""

    def __init__(self, repeats: Repeats) -> None:
        super().__init__()
        self.repeats = repeats

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        dropped = self.repeats.admit((record.name, record.levelno, record.getMessage()))
        if dropped is None:
            return False
        if dropped:
            record.msg, record.args = f"{record.getMessage()} ({_said(dropped, self.repeats.window_s)})", None
        return True


def structlog_processor(repeats: Repeats) -> Callable[[Any, str, dict[str, Any]], dict[str, Any]]:
    """For structlog: keyed by the whole event (before its timestamp), so only identical events collapse."""

    def collapse(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
        if event.get("level") not in _COLLAPSED:
            return event
        key = tuple((k, repr(sys.exc_info()[1] if k == "exc_info" and v is True else v)) for k, v in sorted(event.items()))
        dropped = repeats.admit(key)
        if dropped is None:
            raise structlog.DropEvent
        if dropped:
            event["repeated"] = _said(dropped, repeats.window_s)
        return event

    return collapse
