"""The plug-in seam: one small Protocol per institution kind.

A connector turns a batch of legs into one ``Answer`` per leg, and one control order into the
institution's control record, by talking to one institution through a ``Transport``. It raises
``Retryable`` for answers worth trying again (busy, 5xx, resets) and
``Permanent`` for answers that will not improve; the worker owns retries, timeouts, deadlines
and the in-flight cap, so connectors stay small.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from connectors.contract.transport import Transport
from schemas.assets import Asset
from schemas.directory import Institution
from schemas.events import ControlStatusQuery, ControlStatusReport
from schemas.messages import LegBatch
from schemas.orders import OrderRequest


@dataclass(frozen=True, slots=True)
class Found:
    assets: Sequence[Asset]


@dataclass(frozen=True, slots=True)
class NotFound:
    reason: str = "no record of the debtor"


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str


Answer = Found | NotFound | Refused


@dataclass(frozen=True, slots=True)
class EventPage:
    """One page of an institution's event feed, oldest first. The events are as the institution
    sent them (JSON objects, or whatever came): the runtime validates each on its own, so one bad
    event is dead-lettered without holding back the rest. ``next`` is the cursor to ask after."""

    events: Sequence[Any]
    next: int


@dataclass
class Retryable(Exception):
    reason: str
    retry_after: float | None = field(default=None)

    def __str__(self) -> str:
        return self.reason


@dataclass
class Permanent(Exception):
    reason: str

    def __str__(self) -> str:
        return self.reason


@runtime_checkable
class Connector(Protocol):
    kind: ClassVar[str]
    max_batch: ClassVar[int]  # the most legs one call to the institution may carry

    async def query(self, institution: Institution, batch: LegBatch) -> Mapping[str, Answer]:
        """Answers by leg id for the batch's legs (never more than ``max_batch``, all of one
        inquiry, so one legal basis). A leg left out of the mapping is asked again."""
        ...

    async def control(self, institution: Institution, order: OrderRequest) -> dict[str, Any]:
        """Send a control order; return the institution's control record (see connectors/kinds/control.py)."""
        ...

    async def events(self, institution: Institution, after: int, wait_s: float, limit: int) -> EventPage:
        """Up to ``limit`` events after feed position ``after``; the institution may hold the call
        up to ``wait_s`` until one exists (a long-poll). Shared: connectors/kinds/feed.py."""
        ...

    async def control_status(self, institution: Institution, query: ControlStatusQuery) -> ControlStatusReport:
        """The institution's current state of the query's freezes and accounts, as an ``answered``
        report. Shared: connectors/kinds/status.py."""
        ...

    async def aclose(self) -> None: ...


class ConnectorFactory(Protocol):
    def __call__(self, transport: Transport) -> Connector: ...
