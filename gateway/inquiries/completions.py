"""Waking API requests that wait for an inquiry to complete (``GET /v1/inquiries/{id}?wait=S``).

The result consumer and the deadline housekeeping say which inquiries they touched; a waiter
wakes, reads the store, and waits again if its inquiry is still open. One in-process event per
waited-on inquiry, so polling clients cost nothing while they wait and learn of completion at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable


class Completions:
    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._waiters: dict[str, int] = {}

    def touched(self, inquiry_ids: Iterable[str]) -> None:
        for inquiry_id in inquiry_ids:
            event = self._events.get(inquiry_id)
            if event is not None:
                event.set()

    async def wait(self, inquiry_id: str, is_complete: Callable[[], bool], timeout_s: float) -> bool:
        """Until ``is_complete()`` or ``timeout_s``; returns whether it completed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        event = self._events.setdefault(inquiry_id, asyncio.Event())
        self._waiters[inquiry_id] = self._waiters.get(inquiry_id, 0) + 1
        try:
            while not is_complete():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                event.clear()
                try:
                    await asyncio.wait_for(event.wait(), remaining)
                except TimeoutError:
                    return is_complete()
            return True
        finally:
            self._waiters[inquiry_id] -= 1
            if not self._waiters[inquiry_id]:
                del self._waiters[inquiry_id], self._events[inquiry_id]
