"""What an institution tells the network on its own: every change that matters to a court, as an
append-only feed per institution that the connector polls with a cursor (the way 总对总 partners
hand results back: the network asks, the institution answers from its log).

Events are ``schemas.events.InstitutionEvent`` from the moment they are made, so whatever the feed
serves is the wire contract. ``seq`` grows by one per institution; a consumer that remembers the
last seq it saw asks ``after=seq`` and receives nothing twice; a repeated delivery of an event is
recognised by its ``event_id`` (``{institution_id}:{seq}``).

A test fault can make an institution *lose* its next events: the change happened and its seq is
spent, but the event is never served. The feed then shows a gap in ``seq``, and the status
endpoint's ``as_of_seq`` counts the lost ones, which is what lets the gateway notice and repair by
reconciliation.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from schemas.events import InstitutionEvent
from simulators.journal import Journal, NullJournal


class EventLog:
    """Every institution's events, in order; nothing is ever removed."""

    def __init__(self, journal: Journal | None = None) -> None:
        self._served: dict[str, list[InstitutionEvent]] = {}
        self._last_seq: dict[str, int] = {}
        self._to_lose: dict[str, int] = {}
        # A restarted feed must go on from its last seq: a cursor past a reused seq would skip news.
        self._journal = journal or NullJournal()
        # One waker per institution with a long-poll waiting; set (and dropped) on the next served event.
        self._wakers: dict[str, asyncio.Event] = {}

    def append(self, institution_id: str, type_: str, at: datetime, **fields: Any) -> InstitutionEvent:
        """Number and record an event; ``pydantic.ValidationError`` if it breaks the contract."""
        seq = self._last_seq.get(institution_id, 0) + 1
        event = InstitutionEvent(event_id=f"{institution_id}:{seq}", seq=seq, institution_id=institution_id,
                                 type=type_, at=at, **fields)  # type: ignore[arg-type]
        self._last_seq[institution_id] = seq  # only once it validated: a bad event spends no seq
        lost = self._to_lose.get(institution_id, 0) > 0
        if lost:
            self._to_lose[institution_id] -= 1
        self._journal.feed_moved(institution_id, seq, self._to_lose.get(institution_id, 0))
        if lost:
            return event
        self._served.setdefault(institution_id, []).append(event)
        self._journal.event_served(event)
        waker = self._wakers.pop(institution_id, None)
        if waker is not None:
            waker.set()
        return event

    def after(self, institution_id: str, cursor: int, limit: int) -> list[InstitutionEvent]:
        """Up to ``limit`` served events with ``seq`` greater than ``cursor``, oldest first."""
        events = self._served.get(institution_id, [])
        start = bisect.bisect_right(events, cursor, key=lambda e: e.seq)
        return events[start:start + limit]

    def last_seq(self, institution_id: str) -> int:
        """The institution's feed position: its last event's seq, lost ones included."""
        return self._last_seq.get(institution_id, 0)

    def lose_next(self, institution_id: str, count: int) -> int:
        """Fault: the next ``count`` events of the institution happen but are never served. Returns
        how many are now pending loss."""
        self._to_lose[institution_id] = self._to_lose.get(institution_id, 0) + count
        self._journal.feed_moved(institution_id, self.last_seq(institution_id), self._to_lose[institution_id])
        return self._to_lose[institution_id]

    def restore(self, served: Iterable[InstitutionEvent], feeds: Mapping[str, tuple[int, int]]) -> None:
        """A restarted institution's feeds: the served events (in seq order) and, per institution,
        (last seq, losses pending)."""
        for event in served:
            self._served.setdefault(event.institution_id, []).append(event)
        for institution_id, (last_seq, to_lose) in feeds.items():
            self._last_seq[institution_id] = last_seq
            self._to_lose[institution_id] = to_lose

    def pending_loss(self, institution_id: str) -> int:
        return self._to_lose.get(institution_id, 0)

    async def wait_after(self, institution_id: str, cursor: int, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for a served event after ``cursor``; whether there is one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not self.after(institution_id, cursor, 1):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            waker = self._wakers.setdefault(institution_id, asyncio.Event())
            try:
                await asyncio.wait_for(waker.wait(), remaining)
            except TimeoutError:
                return bool(self.after(institution_id, cursor, 1))
        return True
