"""The judgment debtor (被执行人): a person with a resident ID or an organisation with a USCC."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from schemas.identifiers import check_resident_id, check_uscc, looks_like_uscc
from schemas.text import Text


class Debtor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["person", "organisation"] = Field(
        description="inferred from id_number when omitted (letters or prefix 9 mean organisation)"
    )
    id_number: str = Field(description="18-digit resident ID (GB 11643) or unified social credit code (GB 32100)")
    name: Text = Field(min_length=1, max_length=100)

    @model_validator(mode="before")
    @classmethod
    def _infer_kind(cls, data: object) -> object:
        if isinstance(data, dict) and not data.get("kind") and isinstance(data.get("id_number"), str):
            return {**data, "kind": "organisation" if looks_like_uscc(data["id_number"]) else "person"}
        return data

    @field_validator("id_number")
    @classmethod
    def _check_id(cls, value: str, info: ValidationInfo) -> str:
        return check_uscc(value) if info.data.get("kind") == "organisation" else check_resident_id(value)
