"""Lodging registries (the public-security hotel check-in registry, 旅馆业治安管理信息系统): they
hold no assets, so there is nothing to ask about a debtor's holdings and nothing to freeze. What
they have is news: a debtor checking in at a hotel (``guest_checked_in``), which helps an officer
find a debtor who evades enforcement. The connector reads their event feed and refuses the rest."""

from __future__ import annotations

from typing import ClassVar

from connectors.contract.base import Answer, EventPage, Permanent
from connectors.contract.transport import Transport
from connectors.kinds.common import refuse_all
from connectors.kinds.feed import read_feed
from schemas.directory import Institution
from schemas.events import ControlStatusQuery, ControlStatusReport
from schemas.messages import LegBatch
from schemas.orders import OrderRequest

HOLDS_NO_ASSETS = "a lodging registry holds no assets"


class LodgingRegistryConnector:
    kind: ClassVar[str] = "lodging"
    max_batch: ClassVar[int] = 500  # no call is made: any chunk is refused at once

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def query(self, institution: Institution, batch: LegBatch) -> dict[str, Answer]:
        return refuse_all(batch, f"{institution.id}: {HOLDS_NO_ASSETS} to inquire about")

    async def control(self, institution: Institution, order: OrderRequest) -> dict:
        raise Permanent(f"{institution.id}: {HOLDS_NO_ASSETS}, so it takes no control orders")

    async def events(self, institution: Institution, after: int, wait_s: float, limit: int) -> EventPage:
        return await read_feed(self.transport, institution, after, wait_s, limit)

    async def control_status(self, institution: Institution, query: ControlStatusQuery) -> ControlStatusReport:
        raise Permanent(f"{institution.id}: {HOLDS_NO_ASSETS}, so no freezes or balances to report")

    async def aclose(self) -> None:
        await self.transport.aclose()
