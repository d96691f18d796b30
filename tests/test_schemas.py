"""Identifier validators against known-good and known-bad values, the message envelope, and the
exported JSON Schema documents being current."""

from __future__ import annotations

import pytest

from infra.logs import mask_text
from schemas.directory import QUERY_KINDS, Directory, NotQueryable, UnknownInstitution, parse_counts
from schemas.export import OUT, documents, render
from schemas.identifiers import check_bank_card, check_case_number, check_resident_id, check_uscc
from schemas.messages import SCHEMA_VERSION, LegBatchResult, LegResult, UndecodableMessage, decode, encode, utcnow


def test_resident_id_gb11643() -> None:
    assert check_resident_id("11010519491231002x") == "11010519491231002X"  # the standard's example
    with pytest.raises(ValueError, match="check digit"):
        check_resident_id("110105194912310021")
    with pytest.raises(ValueError, match="birth date"):
        check_resident_id("110105194913310021")
    with pytest.raises(ValueError, match="18 characters"):
        check_resident_id("1101051949123100")


def test_uscc_gb32100() -> None:
    assert check_uscc("91350100M000100Y43") == "91350100M000100Y43"
    with pytest.raises(ValueError, match="check character"):
        check_uscc("91350100M000100Y44")
    with pytest.raises(ValueError, match="outside GB 32100"):
        check_uscc("91350100M000100I43")


@pytest.mark.parametrize("value", ["(2025)冀0108执4502号", "（2024）京0105执恢123号", "(2023)粤03执保9号"])
def test_case_number_accepts(value: str) -> None:
    assert check_case_number(value).startswith("(")


@pytest.mark.parametrize("value", ["(2025)冀0108民初4502号", "2025冀0108执4502号", "(2025)冀0108执号", "(1980)冀0108执1号"])
def test_case_number_rejects(value: str) -> None:
    with pytest.raises(ValueError):
        check_case_number(value)


def test_bank_card_luhn() -> None:
    assert check_bank_card("4111 1111 1111 1111") == "4111111111111111"
    with pytest.raises(ValueError, match="Luhn"):
        check_bank_card("4111111111111112")


def test_envelope_round_trip_and_rejections() -> None:
    result = LegBatchResult(inquiry_id="i", answered_at=utcnow(),
                            results=[LegResult(leg_id="l", institution_id="bank-01", status="not_found")])
    envelope, payload = decode(encode(result, inquiry_id="i", batch_id=None))
    assert payload == result and envelope.type == "inquiry.legs.result" and envelope.correlation == {"inquiry_id": "i"}
    with pytest.raises(UndecodableMessage, match="unknown message type"):
        decode(b'{"type": "x", "payload": {}}')
    with pytest.raises(UndecodableMessage, match="schema_version"):
        decode(encode(result).replace(b'"schema_version":%d' % SCHEMA_VERSION, b'"schema_version":9'))


def test_masking_in_logs() -> None:
    text = "debtor 11010519491231002X card 6222021238173688875 org 91350100M000100Y43 inquiry d3871234567890123fa"
    masked = mask_text(text)
    assert "11010519491231002X" not in masked and "6222021238173688875" not in masked and "91350100M000100Y43" not in masked
    assert "110***********002X" in masked
    assert "inquiry d3871234567890123fa" in masked  # a hex id is not a card number


def test_exported_json_schemas_are_current() -> None:
    for name, doc in documents().items():
        path = OUT / f"{name}.v{SCHEMA_VERSION}.json"
        assert path.read_bytes() == render(doc), f"{path} is stale: run python -m schemas.export"
    assert len(list(OUT.glob("*.json"))) == len(documents()), "stale schema files: run python -m schemas.export"


def test_inquiries_fan_out_only_to_institutions_that_answer_them() -> None:
    directory = Directory.from_counts(parse_counts("bank=2,lodging=3"))
    assert [i.id for i in directory.of_kind("lodging")] == ["lodging-01", "lodging-02", "lodging-03"]
    assert {i.kind for i in directory.resolve_scope(None)} == {i.kind for i in directory.resolve_scope([])} == set(QUERY_KINDS)
    assert "lodging" not in {i.kind for i in directory.queryable()}
    for scope in (["bank-01", "lodging"], ["bank", "lodging-02"]):
        with pytest.raises(NotQueryable) as refused:
            directory.resolve_scope(scope)
        assert refused.value.index == 1 and "answers no inquiries" in str(refused.value)
    with pytest.raises(UnknownInstitution) as unknown:
        directory.resolve_scope(["bank-09"])
    assert unknown.value.index == 0 and not isinstance(unknown.value, NotQueryable)
