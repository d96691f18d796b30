"""Lodging registries (the public-security hotel check-in registry, 旅馆业治安管理信息系统): they
hold no assets, so there is nothing to ask about a debtor's holdings and nothing to freeze. What
they have is news: a debtor checking in at a hotel (``guest_checked_in``), which helps an officer
find a debtor who evades enforcement. The connector reads their event feed and refuses the rest."""

from __future__ import annotations

from typing import ClassVar

from connectors.contract.base import Permanent
from connectors.kinds.assetless import HoldsNoAssets
from schemas.directory import Institution
from schemas.orders import OrderRequest

HOLDS_NO_ASSETS = "a lodging registry holds no assets"


class LodgingRegistryConnector(HoldsNoAssets):
    kind: ClassVar[str] = "lodging"
    holds_no_assets: ClassVar[str] = HOLDS_NO_ASSETS

    async def control(self, institution: Institution, order: OrderRequest) -> dict:
        raise Permanent(f"{institution.id}: {HOLDS_NO_ASSETS}, so it takes no control orders")
