"""Refusals into the access audit, aggregated so a flood cannot bury real entries.

The audit is append-only (SQL triggers), so repeats are counted before anything is written: per
(who — the officer, else the client's address —, method, route template, status, reason) and
minute, the first ``SINGLY`` refusals are written as they come, and the rest become one row with
their ``count`` when the minute closes (``flush``: every few seconds, and on shutdown). A flood of
requests with random 8 KB paths therefore costs a handful of rows, each path cut to ``MAX_PATH``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from gateway.store.interfaces import AccessAudit
from gateway.store.records import AccessEntry

WINDOW_S = 60.0
SINGLY = 3  # identical refusals written one by one per window; enough to see, too few to bury
MAX_PATH = 256
UNMATCHED = "(no route)"  # the template of any path no route matches

Key = tuple[str, str, str, int, str]


@dataclass
class _Window:
    started: float
    written: int = 0
    repeated: int = 0
    last: AccessEntry | None = None


class RefusalLog:
    def __init__(self, audit: AccessAudit, window_s: float = WINDOW_S, singly: int = SINGLY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.audit, self.window_s, self.singly, self.clock = audit, window_s, singly, clock
        self.windows: dict[Key, _Window] = {}

    def record(self, entry: AccessEntry, template: str) -> None:
        entry = replace(entry, path=entry.path[:MAX_PATH])
        key = (entry.officer or f"@{entry.client}", entry.method, template, entry.status, entry.reason)
        now = self.clock()
        window = self.windows.get(key)
        if window is not None and now - window.started >= self.window_s:
            self._close(key)
            window = None
        if window is None:
            window = self.windows[key] = _Window(now)
        if window.written < self.singly:
            window.written += 1
            self.audit.record(entry)
        else:
            window.repeated += 1
            window.last = replace(entry, path=template)

    def flush(self, everything: bool = False) -> None:
        """Writes the count of every window that has closed (every window, on shutdown)."""
        now = self.clock()
        for key in [k for k, w in self.windows.items() if everything or now - w.started >= self.window_s]:
            self._close(key)

    def _close(self, key: Key) -> None:
        window = self.windows.pop(key)
        if window.repeated and window.last is not None:
            self.audit.record(replace(window.last, count=window.repeated))
