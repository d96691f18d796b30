"""Control orders (freeze 冻结, continue 续冻, unfreeze 解冻, deduct 扣划, freeze-and-deduct 冻结并扣划):
API bodies and messages.

The bank interface's control codes and how they map here: 01 freeze → ``freeze``; 02 continue →
``continue``; 03 queued freeze (轮候) → a ``freeze`` the institution answers ``queued`` because
another court's freeze holds the asset; 04 unfreeze → ``unfreeze``; 05 lift a queued freeze → an
``unfreeze`` naming a ``queued`` freeze; 06 deduct → ``deduct`` (frozen funds only); 08 freeze and
deduct at once → ``freeze_deduct`` (free funds, up to the amount, straight to the court's
enforcement-fund account: for a court holding a judgment that wants the money now)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.api import check_credentials
from schemas.identifiers import check_case_number
from schemas.money import Fen
from schemas.text import Text

OrderType = Literal["freeze", "continue", "unfreeze", "deduct", "freeze_deduct",
                    "restrict_consumption", "list_dishonest", "lift_restriction"]
# Orders that move money to the court: the `deduct` role, the court's 执行款专户 and a second
# officer's approval before they are sent.
DEDUCTING = ("deduct", "freeze_deduct")
AssetKind = Literal["deposit", "wallet", "real_estate", "vehicle", "equity", "fund_account", "court_claim", "person", "securities"]
# Money: frozen for an exact amount, deducted to the court. A court claim is money another court
# holds for the debtor: its freeze is that court's withholding (扣留), its deduction the transfer.
MONEY_KINDS = ("deposit", "wallet", "court_claim")
# Orders about a person at the carriers (schemas/restrictions.py), not about an asset.
RESTRICTING = ("restrict_consumption", "list_dishonest")
PERSON_ORDERS = (*RESTRICTING, "lift_restriction")
# Assets frozen by a number of units (shares at the securities depository), not by amount or whole.
QUANTITY_KINDS = ("securities",)
# Assets the law keeps out of enforcement's reach whatever the order: the order desk refuses any
# freeze or deduction on them with the asset's legal reason (social insurance, provident fund).
PROTECTED_KINDS = ("fund_account",)
# Longest freeze term per asset kind (days): deposits 1 year, movables 2, real estate and other
# property rights (equity) 3. A fund account is never frozen; its entry only keeps lookups total.
MAX_TERM_DAYS = {"deposit": 365, "wallet": 365, "vehicle": 730, "real_estate": 1095, "equity": 1095, "fund_account": 365,
                 "court_claim": 365, "securities": 1095}

# What an institution answers to a control order (an unfreeze is answered ``released``).
ControlAnswer = Literal["applied", "partially_applied", "queued", "refused", "released"]
# Not an answer: the institution would not take the order yet (the securities depository outside its
# working hours) and the connector holds it until ``resubmit_at``; the order stays sent.
DEFERRED = "deferred"
# Where an order stands in the gateway (gateway/orders/states.py has the transitions).
# declined: a deduction the second officer turned down (never sent).
OrderStatus = Literal["requested", "sent", "applied", "partially_applied", "queued", "refused", "failed", "lapsed", "released",
                      "declined"]


class AssetRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: AssetKind
    id: Text = Field(min_length=1, max_length=64,
                     description="account_no, wallet_id, unit_no, plate, holding_no or holding_id, as in the report")


class Documents(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ruling_number: Text = Field(min_length=1, max_length=64, description="冻结/解冻/扣划裁定书 number")
    notice_number: Text = Field(min_length=1, max_length=64, description="协助执行通知书 number")
    officer_credentials: list[str] = Field(min_length=1, max_length=4)

    @field_validator("officer_credentials")
    @classmethod
    def _credentials(cls, value: list[str]) -> list[str]:
        return check_credentials(value)


class OrderCreate(Documents):
    type: OrderType
    case_number: str
    court: Text = Field(min_length=2, max_length=64)
    institution_id: Text
    asset: AssetRef
    amount_fen: Fen | None = Field(None, description="money assets: exact amount to freeze or deduct")
    quantity: Annotated[int, Field(strict=True, gt=0)] | None = Field(
        None, description="securities: shares to freeze, or to release (an unfreeze without it releases the whole freeze)")
    term_days: Annotated[int, Field(strict=True, gt=0)] | None = Field(None, description="freeze or continuation term")
    original_order_id: Text | None = Field(None, description="the freeze a continue, unfreeze or deduct refers to")
    enforcement_account: Text | None = Field(None, min_length=6, max_length=40, description="court's 执行款专户, for deduct")
    operator: Text | None = Field(None, min_length=1, max_length=32, description="the placing officer; from the token")
    idempotency_key: Text = Field(min_length=8, max_length=128)

    @field_validator("case_number")
    @classmethod
    def _case_number(cls, value: str) -> str:
        return check_case_number(value)

    @model_validator(mode="after")
    def _fields_for_type(self) -> OrderCreate:
        if self.type in PERSON_ORDERS or self.asset.kind == "person":
            raise ValueError("type: restrictions at the carriers are about a person, not an asset: "
                             "place and lift them with POST /v1/restrictions")
        if self.asset.kind in PROTECTED_KINDS and self.type in ("freeze", *DEDUCTING):
            return self  # refused by the order desk, with the asset's own legal reason
        money = self.asset.kind in MONEY_KINDS
        counted = self.asset.kind in QUANTITY_KINDS
        need: list[str] = []
        if self.quantity is not None and not (counted and self.type in ("freeze", "unfreeze")):
            raise ValueError("quantity: only a freeze or unfreeze of securities names a number of shares")
        if self.type == "freeze":
            need += ["term_days"] + (["amount_fen"] if money else ["quantity"] if counted else [])
            if not money and self.amount_fen is not None:
                raise ValueError(f"amount_fen: {'securities are frozen by quantity' if counted else 'property is frozen whole'}; "
                                 "omit amount_fen")
        elif self.type == "continue":
            need += ["term_days", "original_order_id"]
        elif self.type == "unfreeze":
            need += ["original_order_id"]
        elif self.type == "deduct":
            if not money:
                raise ValueError(f"asset.kind: only money ({', '.join(MONEY_KINDS)}) can be deducted")
            need += ["amount_fen", "original_order_id", "enforcement_account"]
        elif self.type == "freeze_deduct":
            if not money:
                raise ValueError(f"asset.kind: only money ({', '.join(MONEY_KINDS)}) can be frozen and deducted")
            if self.original_order_id is not None:
                raise ValueError("original_order_id: a freeze_deduct takes free funds and names no freeze; "
                                 "to deduct what a freeze holds, use deduct")
            need += ["amount_fen", "enforcement_account"]
        missing = [f for f in need if getattr(self, f) is None]
        if missing:
            raise ValueError(f"{missing[0]}: required for a {self.type} order")
        if self.term_days is not None and self.term_days > MAX_TERM_DAYS[self.asset.kind]:
            raise ValueError(f"term_days: at most {MAX_TERM_DAYS[self.asset.kind]} days for {self.asset.kind}")
        return self


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid")
    checker: Text | None = Field(None, min_length=1, max_length=32,
                                description="the approving officer (the token's); must differ from the operator")


class Decline(BaseModel):
    model_config = ConfigDict(extra="forbid")
    checker: Text | None = Field(None, min_length=1, max_length=32,
                                description="the declining officer (the token's); must differ from the operator")
    reason: Text = Field(min_length=2, max_length=500, description="why the deduction is not approved, for the audit trail")


class FreezePlanRequest(Documents):
    operator: Text | None = Field(None, min_length=1, max_length=32, description="from the token")
    court: Text = Field(min_length=2, max_length=64)
    execute: bool = Field(False, description="also place the planned orders")
    idempotency_key: Text | None = Field(None, min_length=8, max_length=128, description="required with execute")

    @model_validator(mode="after")
    def _key_with_execute(self) -> FreezePlanRequest:
        if self.execute and not self.idempotency_key:
            raise ValueError("idempotency_key: required when execute is true")
        return self


class OrderRequest(BaseModel):
    """Kafka: one order to one institution. ``order_id`` is what institutions dedupe on."""

    model_config = ConfigDict(extra="forbid")
    order_id: str
    type: OrderType
    court: str
    case_number: str
    institution_id: str
    institution_kind: str
    asset: AssetRef
    debtor_id_number: str
    amount_fen: int | None = None
    quantity: int | None = None
    term_days: int | None = None
    ruling_number: str
    notice_number: str
    officer_credentials: list[str]
    original_freeze_id: str | None = None
    enforcement_account: str | None = None
    operator: str | None = None
    checker: str | None = None
    served_at: AwareDatetime
    deadline: AwareDatetime


class OrderResult(BaseModel):
    """Kafka: the institution's control record for one order, or ``failed`` with the reason."""

    model_config = ConfigDict(extra="forbid")
    order_id: str
    institution_id: str
    status: Literal[ControlAnswer, "failed", "deferred"]
    freeze_id: str | None = None
    held_fen: int | None = None
    held_quantity: int | None = None  # securities: shares the freeze holds (``held_fen`` is their value)
    requested_fen: int | None = None
    deducted_fen: int | None = None
    queue_position: int | None = None
    start_date: str | None = None
    end_date: str | None = None
    reason: str | None = None
    duplicate: bool = False
    attempts: int = 1
    resubmit_at: AwareDatetime | None = None  # deferred: when the connector sends it again
    answered_at: AwareDatetime
