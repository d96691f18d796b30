"""Watches (布控): an officer's standing request to be told when something happens to a debtor of
his case — money arriving in an account, a camera seeing a vehicle, a hotel check-in — until a
given day, optionally freezing money the moment it arrives."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.identifiers import check_case_number, check_resident_id, check_uscc, looks_like_uscc
from schemas.orders import MAX_TERM_DAYS, Documents
from schemas.text import Text

WatchKind = Literal["funds", "vehicle", "lodging"]
WATCH_KINDS: tuple[str, ...] = WatchKind.__args__  # type: ignore[attr-defined]
# Which institution event each kind of watch listens for.
EVENT_OF_KIND = {"funds": "funds_credited", "vehicle": "vehicle_sighted", "lodging": "guest_checked_in"}

# The legal term of a watch: one year, the term of a deposit freeze (a watch is a standing measure
# against the debtor's property and movements, and no measure of that kind runs longer without
# being renewed). Renewal is a new watch. The one place this number lives.
MAX_WATCH_DAYS = 365

# Days are court days: ``until`` is the calendar day in China, the watch ending when it ends.
_SHANGHAI = ZoneInfo("Asia/Shanghai")


def today_in_china() -> date:
    return datetime.now(_SHANGHAI).date()


class AutoFreeze(Documents):
    """The documents a freeze of arriving money is served under (as any order's), and its term."""

    term_days: Annotated[int, Field(strict=True, gt=0, le=MAX_TERM_DAYS["deposit"])] = Field(
        MAX_TERM_DAYS["deposit"], description="the freeze's term; at most a deposit freeze's (365 days)")


class WatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_number: str = Field(description="案号 of a case of the officer's court")
    court: Text = Field(min_length=2, max_length=64)
    debtor_id_number: str = Field(description="a debtor of the case: resident ID or unified social credit code")
    kinds: list[WatchKind] = Field(min_length=1, max_length=len(WATCH_KINDS),
                                   description="funds (money arriving), vehicle (camera sightings), lodging (hotel check-ins)")
    until: date = Field(description="the last day watched (Asia/Shanghai), at most one year from today")
    auto_freeze: AutoFreeze | None = Field(None, description="funds only: freeze what arrives, up to what the case still needs")
    operator: Text | None = Field(None, min_length=1, max_length=32, description="the placing officer; from the token")
    idempotency_key: Text = Field(min_length=8, max_length=128)

    @field_validator("case_number")
    @classmethod
    def _case_number(cls, value: str) -> str:
        return check_case_number(value)

    @field_validator("debtor_id_number")
    @classmethod
    def _debtor(cls, value: str) -> str:
        return check_uscc(value) if looks_like_uscc(value) else check_resident_id(value)

    @field_validator("kinds")
    @classmethod
    def _distinct(cls, kinds: list[str]) -> list[str]:
        if len(set(kinds)) != len(kinds):
            raise ValueError("each kind at most once")
        return kinds

    @field_validator("until")
    @classmethod
    def _within_term(cls, until: date) -> date:
        today = today_in_china()
        if until < today:
            raise ValueError(f"must not be in the past (today is {today.isoformat()})")
        if until > today + timedelta(days=MAX_WATCH_DAYS):
            raise ValueError(f"at most {MAX_WATCH_DAYS} days from today ({(today + timedelta(days=MAX_WATCH_DAYS)).isoformat()}); "
                             "renew with a new watch")
        return until

    @model_validator(mode="after")
    def _auto_freeze_needs_funds(self) -> WatchCreate:
        if self.auto_freeze is not None and "funds" not in self.kinds:
            raise ValueError("auto_freeze: only a watch on funds can freeze what arrives")
        return self
