"""Bodies of the gateway's HTTP API. Responses are plain dicts built by the gateway; requests are
validated here so every 4xx can name the field at fault."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.debtor import Debtor
from schemas.identifiers import check_case_number
from schemas.money import Fen, FenOrZero
from schemas.text import Text

Credential = str
# Whole seconds as a JSON integer, up to a week.
Seconds = Annotated[int, Field(strict=True, ge=1, le=7 * 24 * 3600)]


def check_credentials(value: list[str]) -> list[str]:
    for c in value:
        if not (4 <= len(c) <= 32) or not c.isascii() or not c.replace("-", "").isalnum():
            raise ValueError(f"credential {c!r} must be 4-32 letters, digits or dashes")
    return value


class CaseFields(BaseModel):
    """What identifies the case and the legal basis of a query, shared by API and bulk rows."""

    model_config = ConfigDict(extra="forbid")
    case_number: str = Field(description="案号, e.g. (2025)冀0108执4502号")
    court: Text = Field(min_length=2, max_length=64, description="the court that holds the case")
    amount_due_fen: Fen = Field(description="执行标的 in fen")
    costs_fen: FenOrZero = Field(0, description="enforcement costs in fen")
    notice_number: Text = Field(min_length=1, max_length=64, description="协助查询通知书 number")
    officer_credentials: list[Credential] = Field(
        min_length=1, max_length=4, description="工作证/执行公务证 numbers registered with the institutions"
    )
    applicant: Text | None = Field(None, min_length=1, max_length=100, description="申请执行人, recorded when the case is opened")

    @field_validator("case_number")
    @classmethod
    def _case_number(cls, value: str) -> str:
        return check_case_number(value)

    @field_validator("officer_credentials")
    @classmethod
    def _credentials(cls, value: list[str]) -> list[str]:
        return check_credentials(value)


class InquiryCreate(CaseFields):
    debtors: list[Debtor] = Field(min_length=1, max_length=1000)
    institutions: list[Text] | None = Field(
        None, description="institution ids or kinds (bank, land, vehicle, payment); omitted means all"
    )
    deadline_seconds: Seconds | None = Field(None, description="default from the gateway")

    @field_validator("debtors")
    @classmethod
    def _distinct(cls, debtors: list[Debtor]) -> list[Debtor]:
        seen: set[str] = set()
        for index, d in enumerate(debtors):
            if d.id_number in seen:
                raise ValueError(f"debtor {index} repeats an id_number already listed")
            seen.add(d.id_number)
        return debtors


class CaseAmendmentRequest(BaseModel):
    """Changing what a case may take: explicit, under a ruling, audited."""

    model_config = ConfigDict(extra="forbid")
    court: Text = Field(min_length=2, max_length=64, description="the court that holds the case")
    amount_due_fen: Fen = Field(description="the new 执行标的 in fen")
    costs_fen: FenOrZero | None = Field(None, description="the new enforcement costs in fen; omitted keeps them")
    ruling_number: Text = Field(min_length=1, max_length=64, description="the ruling (裁定书) that changes the amount")
    reason: Text | None = Field(None, max_length=500)
    operator: Text | None = Field(None, min_length=1, max_length=32, description="from the token")


class BatchRow(CaseFields):
    """One line of a bulk submission: one debtor of one case. Rows sharing a case form one inquiry."""

    debtor: Debtor
    institutions: list[Text] | None = None
    deadline_seconds: Seconds | None = Field(None, description="default from the gateway")
