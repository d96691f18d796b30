"""The seam between applying institution events and what reacts to them (watches and alerts).

The event consumer applies a fetched batch of events to the store in one transaction, then hands
the events that were new (not repeats of ones already applied) to every listener, in feed order.
A listener must be idempotent in effect too: after a crash between the store's commit and the
listener, the batch is not redelivered as new, so listeners act on what they are given once; a
listener that places orders uses keys derived from the event id, so a repeat places nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from schemas.events import InstitutionEvent


class EventListener(Protocol):
    async def on_events(self, events: Sequence[InstitutionEvent]) -> None: ...
