"""What every HTTP connector does alike besides its own query and control calls: hold the
transport, read the institution's event feed, ask it for control status, close. A kind's connector
subclasses it and adds ``kind``, ``max_batch``, ``query`` and ``control``."""

from __future__ import annotations

from connectors.contract.base import EventPage
from connectors.contract.transport import Transport
from connectors.kinds.feed import read_feed
from connectors.kinds.status import post_status
from schemas.directory import Institution
from schemas.events import ControlStatusQuery, ControlStatusReport


class HttpConnector:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def events(self, institution: Institution, after: int, wait_s: float, limit: int) -> EventPage:
        return await read_feed(self.transport, institution, after, wait_s, limit)

    async def control_status(self, institution: Institution, query: ControlStatusQuery) -> ControlStatusReport:
        return await post_status(self.transport, institution, query)

    async def aclose(self) -> None:
        await self.transport.aclose()
