"""The market regulator's enterprise registry: paged JSON. A search over a batch of subjects is
made once, then read page by page; a subject with no row on any page holds no equity there.
Freezes of a shareholding go through the common ``/controls`` (property: frozen whole, queued
behind an earlier court's, continued, unfreezed)."""

from __future__ import annotations

from typing import ClassVar

from connectors.contract.base import Answer, Found, NotFound, Retryable
from connectors.kinds.common import legal_basis, refuse_all, subject
from connectors.kinds.control import post_control
from connectors.kinds.http_base import HttpConnector
from connectors.kinds.http_errors import check_status, refusal_reason, require_dict
from schemas.assets import Shareholding
from schemas.directory import Institution
from schemas.messages import LegBatch, new_id
from schemas.orders import OrderRequest

MAX_BATCH = 500  # subjects per search
MAX_PAGES = 1_000  # a guard against a registry that never says it is done


class MarketRegulatorConnector(HttpConnector):
    kind: ClassVar[str] = "equity"
    max_batch: ClassVar[int] = MAX_BATCH

    async def query(self, institution: Institution, batch: LegBatch) -> dict[str, Answer]:
        body = {"batch_id": new_id(), **legal_basis(batch), "subjects": [subject(leg) for leg in batch.legs]}
        reply = await self.transport.send("POST", f"/{institution.id}/v2/shareholder-searches", body)
        check_status(reply, institution.id)
        if reply.status == 403:
            return refuse_all(batch, refusal_reason(reply))
        search = require_dict(reply, institution.id)
        search_id, pages = search.get("search_id"), search.get("pages")
        if not search_id or not isinstance(pages, int) or not 1 <= pages <= MAX_PAGES:
            raise Retryable(f"{institution.id} made a search without an id or page count")
        holdings: dict[str, list[Shareholding]] = {leg.leg_id: [] for leg in batch.legs}
        for page in range(1, pages + 1):
            reply = await self.transport.send("GET", f"/{institution.id}/v2/shareholder-searches/{search_id}?page={page}")
            if reply.status == 404:
                raise Retryable(f"{institution.id} lost search {search_id}")
            check_status(reply, institution.id)
            try:
                for row in require_dict(reply, institution.id)["rows"]:
                    if row["request_id"] in holdings:
                        holdings[row["request_id"]].append(_holding(institution, row))
            except (KeyError, TypeError, ValueError) as exc:
                raise Retryable(f"{institution.id} sent an unreadable page: {exc!r}"[:300]) from None
        return {leg_id: Found(found) if found else NotFound("no registered shareholding") for leg_id, found in holdings.items()}

    async def control(self, institution: Institution, order: OrderRequest) -> dict:
        return await post_control(self.transport, institution, order)



def _holding(institution: Institution, row: dict) -> Shareholding:
    return Shareholding(
        institution_id=institution.id, holding_no=row["holding_no"], company_name=row["company_name"],
        company_uscc=row["company_uscc"], registered_capital_fen=row["registered_capital_fen"],
        subscribed_fen=row["subscribed_fen"], holding_bp=row["holding_bp"], value_fen=row["value_fen"],
    )
