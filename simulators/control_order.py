"""The control order on the wire: one shape for every institution kind and every order type.

Kept apart from the HTTP apps so the ledger (pure logic) and its tests can build orders without
a server. Validation here is about shape only; whether an order may be executed (terms, courts,
funds) is the ledger's business and answers with a refusal, not a 400.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.orders import AssetKind, OrderType  # the contract's vocabulary; the checks are the institution's own

# Strict: money and days are integers on the wire; 100.0 or "100" or true is a client bug.
StrictInt = Annotated[int, Field(strict=True)]


class _Wire(BaseModel):
    # Unknown fields are ignored as partner gateways do; orders are immutable once read.
    model_config = ConfigDict(extra="ignore", frozen=True)


class AssetRef(_Wire):
    kind: AssetKind
    id: str = Field(min_length=1, max_length=128)


class ControlOrder(_Wire):
    order_id: str = Field(min_length=1, max_length=128)
    type: OrderType
    court: str = Field(min_length=1)
    case_number: str
    asset: AssetRef
    debtor_id_number: str
    amount_fen: StrictInt | None = None
    quantity: StrictInt | None = None  # securities: shares to freeze or release
    term_days: StrictInt | None = None
    ruling_number: str
    notice_number: str
    officer_credentials: list[str]
    original_freeze_id: str | None = None
    enforcement_account: str | None = None
    served_at: datetime

    @field_validator("served_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        # Queues are ordered by service time, so every instant is made comparable: a naive
        # timestamp is read as UTC (lenient to clients), an offset one converted to UTC.
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
