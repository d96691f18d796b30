"""Hostile input: schemathesis over the whole API (no 5xx, every 4xx explains itself, nothing but
health and the OpenAPI document without a token), and hypothesis over the validators and merge."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.inquiries.reports import merge_assets
from schemas.identifiers import (
    check_bank_card,
    check_resident_id,
    check_uscc,
    luhn_check_digit,
    resident_id_check_digit,
    uscc_check_char,
)
from tests.helpers import officer_token

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def schemathesis(stack, *extra: str) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{stack.api_url}/v1/openapi.json", "--max-examples", "25",
         "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
         "--suppress-health-check", "all",
         "--no-color", *extra],
        capture_output=True, text=True, timeout=900, env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
    )


async def test_schemathesis_finds_no_server_error_and_only_documented_answers(stack) -> None:
    result = await asyncio.to_thread(schemathesis, stack, "-H", f"Authorization: Bearer {officer_token(stack)}")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


async def test_nothing_but_health_and_the_document_without_a_token(stack) -> None:
    import aiohttp

    from gateway.http.openapi import openapi_document

    async with aiohttp.ClientSession(stack.api_url) as anonymous:
        for path, item in openapi_document()["paths"].items():
            for method in item:
                url = path.replace("{", "").replace("}", "")
                async with anonymous.request(method.upper(), url) as r:
                    expected = 200 if path == "/healthz" else 401
                    assert r.status == expected, (method, path, r.status)
        async with anonymous.get("/v1/openapi.json") as r:
            assert r.status == 200 and (await r.json())["openapi"].startswith("3.")


# -- properties -----------------------------------------------------------------------------------

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


@given(st.dates(min_value=__import__("datetime").date(1900, 1, 2), max_value=__import__("datetime").date(2020, 12, 31)),
       st.from_regex(r"\A[1-6][0-9]{5}\Z"), st.from_regex(r"\A[0-9]{3}\Z"))
def test_every_resident_id_with_its_check_digit_passes_and_any_other_digit_fails(born, region: str, seq: str) -> None:
    first17 = f"{region}{born:%Y%m%d}{seq}"
    good = first17 + resident_id_check_digit(first17)
    assert check_resident_id(good) == good
    for wrong in "0123456789X":
        if wrong != good[-1]:
            with pytest.raises(ValueError, match="check digit"):
                check_resident_id(first17 + wrong)


@given(st.text(alphabet=USCC_CHARS, min_size=17, max_size=17))
def test_every_uscc_with_its_check_character_passes_and_no_other_does(first17: str) -> None:
    good = first17 + uscc_check_char(first17)
    assert check_uscc(good) == good
    wrong = next(c for c in USCC_CHARS if c != good[-1])
    with pytest.raises(ValueError):
        check_uscc(first17 + wrong)


@given(st.text(alphabet="0123456789", min_size=11, max_size=18), st.integers(0, 17))
def test_luhn_catches_every_single_digit_error(partial: str, position: int) -> None:
    card = partial + luhn_check_digit(partial)
    assert check_bank_card(card) == card
    i = position % len(card)
    changed = card[:i] + str((int(card[i]) + 1) % 10) + card[i + 1:]
    with pytest.raises(ValueError):
        check_bank_card(changed)


@given(st.text(max_size=40))
def test_validators_never_crash_on_garbage(text: str) -> None:
    for check in (check_resident_id, check_uscc, check_bank_card):
        with contextlib.suppress(ValueError):
            check(text)


asset = st.fixed_dictionaries({
    "kind": st.sampled_from(["deposit", "real_estate", "vehicle", "wallet"]),
    "institution_id": st.sampled_from(["bank-01", "land-01", "vehicle-01", "payment-01"]),
    "value_fen": st.integers(0, 10**12),
    "share_percent": st.integers(1, 100),
    "account_no": st.text("0123456789", min_size=4, max_size=8),
    "unit_no": st.text("0123456789", min_size=4, max_size=8),
    "plate": st.text("0123456789", min_size=4, max_size=8),
    "wallet_id": st.text("0123456789", min_size=4, max_size=8),
})


@given(st.lists(asset, max_size=30))
@settings(max_examples=200)
def test_merge_keeps_every_asset_once_and_totals_are_exact_integer_fen(assets: list[dict]) -> None:
    merged = merge_assets(assets)
    assert sum(len(v) for v in merged["assets"].values()) == len(assets)
    for kind, items in merged["assets"].items():
        assert all(a["kind"] == kind for a in items)
        assert merged["totals_fen"][kind] == sum(a["value_fen"] * a["share_percent"] // 100 for a in items)
    assert merged["totals_fen"]["all"] == sum(merged["totals_fen"][k] for k in merged["assets"])
    assert all(isinstance(v, int) for v in merged["totals_fen"].values())


plan_asset = st.fixed_dictionaries({
    "kind": st.sampled_from(["deposit", "wallet", "vehicle", "real_estate"]),
    "institution_id": st.sampled_from(["bank-01", "bank-02", "payment-01", "vehicle-01", "land-01"]),
    "value_fen": st.integers(0, 10**9),
    "share_percent": st.sampled_from([50, 100]),
    "protected": st.booleans(),
    "account_no": st.text("0123456789", min_size=6, max_size=6),
    "unit_no": st.text("0123456789", min_size=6, max_size=6),
    "plate": st.text("0123456789", min_size=6, max_size=6),
    "wallet_id": st.text("0123456789", min_size=6, max_size=6),
})


@given(st.lists(plan_asset, max_size=25, unique_by=lambda a: (a["kind"], a["account_no"])), st.integers(-10**6, 5 * 10**9))
@settings(max_examples=300)
def test_freeze_plan_never_over_freezes_money_and_follows_the_order(assets: list[dict], needed: int) -> None:
    from gateway.orders.freeze_plan import plan_freezes
    from schemas.assets import asset_id, attributable_fen

    for a in assets:  # only deposit accounts can be protected
        a["protected"] = a["protected"] and a["kind"] == "deposit"
    plan = plan_freezes([("D", a) for a in assets], set(), needed)
    money = [o for o in plan.orders if o["amount_fen"] is not None]
    # Money is never frozen beyond what is needed, nor beyond what the asset holds.
    assert sum(o["amount_fen"] for o in money) <= max(needed, 0)
    assert all(0 < o["amount_fen"] <= o["value_fen"] for o in money)
    # Money first, then property; protected accounts never.
    is_property = [o["amount_fen"] is None for o in plan.orders]
    assert is_property == sorted(is_property)
    # 超标的: each property is the least excess over what remained when it was chosen, or, when no
    # single property covered that, the most valuable one left.
    left = [a for a in assets if a["kind"] in ("vehicle", "real_estate") and attributable_fen(a) > 0]
    remaining = needed - sum(o["amount_fen"] for o in money)
    for order in (o for o in plan.orders if o["amount_fen"] is None):
        covering = [attributable_fen(a) for a in left if attributable_fen(a) >= remaining]
        assert order["value_fen"] == (min(covering) if covering else max(attributable_fen(a) for a in left))
        left.remove(next(a for a in left if (a["kind"], asset_id(a), a["institution_id"], attributable_fen(a)) ==
                         (order["asset"]["kind"], order["asset"]["id"], order["institution_id"], order["value_fen"])))
        remaining -= order["value_fen"]
    protected = {asset_id(a) for a in assets if a["protected"]}
    assert not any(o["asset"]["id"] in protected and o["asset"]["kind"] == "deposit" for o in plan.orders)
    # Every eligible money asset is used before any property is touched, and planning stops once covered.
    eligible_money = sum(attributable_fen(a) for a in assets if a["kind"] in ("deposit", "wallet") and not a["protected"])
    if any(o["amount_fen"] is None for o in plan.orders):
        assert sum(o["amount_fen"] for o in money) == eligible_money
    covered = sum(o["amount_fen"] if o["amount_fen"] is not None else o["value_fen"] for o in plan.orders)
    assert plan.remaining_fen == needed - covered
    if plan.orders:
        last = plan.orders[-1]
        before_last = covered - (last["amount_fen"] if last["amount_fen"] is not None else last["value_fen"])
        assert before_last < needed  # nothing was added after the need was met
