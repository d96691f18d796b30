"""The rules that have one home in the contract, checked where they live."""

from __future__ import annotations

import pytest

from schemas.assets import ID_FIELD, asset_id, attributable_fen
from schemas.identifiers import court_code
from schemas.messages import debtor_seq_of, leg_id


@pytest.mark.parametrize("case_number", ["(2025)冀0108执4502号", "（2025）冀0108执4502号", " (2025)冀0108执恢12号 "])
def test_court_code_of_a_case_number_with_either_brackets(case_number: str) -> None:
    assert court_code(case_number) in ("冀0108",)


def test_court_code_of_a_malformed_case_number_is_none() -> None:
    assert court_code("冀0108执4502号") is None


@pytest.mark.parametrize("kind", sorted(ID_FIELD))
def test_asset_id_is_the_kinds_own_field(kind: str) -> None:
    asset = {"kind": kind, "account_no": "A", "unit_no": "U", "plate": "P", "wallet_id": "W", "holding_no": "H", "claim_no": "C"}
    assert asset_id(asset) == asset[ID_FIELD[kind]]


def test_attributable_value_is_the_debtors_share_rounded_down() -> None:
    assert attributable_fen({"value_fen": 1001, "share_percent": 50}) == 500
    assert attributable_fen({"value_fen": 1001}) == 1001


def test_leg_id_names_inquiry_debtor_and_institution() -> None:
    made = leg_id("abc123", 17, "bank-03")
    assert made == "abc123.17.bank-03"
    assert debtor_seq_of(made) == 17
