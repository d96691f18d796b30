"""What an institution tells the network on its own: every change of a ledger that matters to a
court, as an append-only feed per institution that the connector polls with a cursor (the way
总对总 partners hand results back: the network asks, the institution answers from its log).

An event's id is ``{institution_id}:{seq}``; ``seq`` grows by one per institution, so a consumer
that remembers the last seq it saw asks ``after=seq`` and receives nothing twice; a repeated
delivery of an event is recognised by its id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Funds and freezes: everything a court's view of an asset depends on.
EVENT_TYPES = (
    "funds_credited",      # money arrived in the account
    "freeze_captured",     # a short freeze took some of it
    "freeze_promoted",     # a queued (轮候) freeze took effect when the one before it ended
    "freeze_lapsed",       # a freeze ran out at its end date
    "freeze_released",     # an unfreeze was applied
    "deduction_executed",  # frozen funds moved to a court's enforcement-fund account
)


@dataclass(frozen=True, slots=True)
class InstitutionEvent:
    institution_id: str
    seq: int
    type: str
    asset_id: str
    at: datetime
    detail: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.institution_id}:{self.seq}"

    def wire(self) -> dict[str, Any]:
        return {"event_id": self.id, "seq": self.seq, "institution_id": self.institution_id, "type": self.type,
                "asset_id": self.asset_id, "at": self.at.isoformat(), **self.detail}


@dataclass
class EventLog:
    """Every institution's events, in order; nothing is ever removed."""

    _events: dict[str, list[InstitutionEvent]] = field(default_factory=dict)

    def append(self, institution_id: str, type_: str, asset_id: str, at: datetime, detail: dict[str, Any]) -> InstitutionEvent:
        if type_ not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type_!r}")
        events = self._events.setdefault(institution_id, [])
        event = InstitutionEvent(institution_id, len(events) + 1, type_, asset_id, at, detail)
        events.append(event)
        return event

    def after(self, institution_id: str, cursor: int, limit: int) -> list[InstitutionEvent]:
        """Up to ``limit`` events with ``seq`` greater than ``cursor``, oldest first."""
        events = self._events.get(institution_id, [])
        return events[max(cursor, 0):max(cursor, 0) + limit]
