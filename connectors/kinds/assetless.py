"""What the connectors of institutions that hold no assets share (lodging registries, carriers):
they answer no inquiries and keep no freezes to reconcile, so a leg is refused at once without a
call and a status query is a permanent failure; what they do have is their event feed."""

from __future__ import annotations

from typing import ClassVar

from connectors.contract.base import Answer, EventPage, Permanent
from connectors.contract.transport import Transport
from connectors.kinds.common import refuse_all
from connectors.kinds.feed import read_feed
from schemas.directory import Institution
from schemas.events import ControlStatusQuery, ControlStatusReport
from schemas.messages import LegBatch


class HoldsNoAssets:
    holds_no_assets: ClassVar[str]  # e.g. "a lodging registry holds no assets"
    max_batch: ClassVar[int] = 500  # no call is made: any chunk is refused at once

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def query(self, institution: Institution, batch: LegBatch) -> dict[str, Answer]:
        return refuse_all(batch, f"{institution.id}: {self.holds_no_assets} to inquire about")

    async def events(self, institution: Institution, after: int, wait_s: float, limit: int) -> EventPage:
        return await read_feed(self.transport, institution, after, wait_s, limit)

    async def control_status(self, institution: Institution, query: ControlStatusQuery) -> ControlStatusReport:
        raise Permanent(f"{institution.id}: {self.holds_no_assets}, so no freezes or balances to report")

    async def aclose(self) -> None:
        await self.transport.aclose()
