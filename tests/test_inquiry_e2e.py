"""End to end through the real broker and real HTTP: merged reports equal the simulators' ground truth."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import orjson
import pytest

from gateway.inquiries.bulk import to_csv
from schemas.assets import ASSET_KINDS
from tests.helpers import (
    CASE,
    LEGS_PER_DEBTOR,
    UNREGISTERED,
    assert_matches_truth,
    bulk_debtors,
    case_body,
    debtor_json,
    get_json,
    officer_token,
    post_batch,
    rich_debtor,
    wait_batch,
    wait_inquiry,
)

pytestmark = pytest.mark.e2e


async def test_one_debtor_report_equals_ground_truth(api, simulators, population, credential) -> None:
    debtor = rich_debtor(population)
    started = time.monotonic()
    async with api.post("/v1/inquiries", json=case_body([debtor_json(debtor)], credential)) as r:
        assert r.status == 202, await r.text()
        accepted = await r.json()
        assert r.headers["Location"] == accepted["location"] == f"/v1/inquiries/{accepted['id']}"
    assert accepted["legs"] == LEGS_PER_DEBTOR
    inquiry = await wait_inquiry(api, accepted["location"])
    elapsed = time.monotonic() - started
    print(f"\none debtor's report over {LEGS_PER_DEBTOR} institutions: {elapsed * 1000:.0f} ms")
    [report] = inquiry["reports"]
    assert {leg["status"] for leg in report["legs"]} <= {"found", "not_found"}
    assert sum(1 for leg in report["legs"] if leg["status"] == "found") >= 4
    await assert_matches_truth(report, simulators)
    assert inquiry["case"]["case_number"] == CASE["case_number"]
    assert inquiry["created_at"].endswith("+08:00")  # shown in Asia/Shanghai


async def test_institution_scope_limits_the_legs(api, population, credential) -> None:
    debtor = rich_debtor(population)
    body = case_body([debtor_json(debtor)], credential, institutions=["land", "bank-01", "payment-02"])
    async with api.post("/v1/inquiries", json=body) as r:
        assert r.status == 202
        accepted = await r.json()
    assert accepted["legs"] == 3 + 1 + 1
    inquiry = await wait_inquiry(api, accepted["location"])
    institutions = {leg["institution_id"] for leg in inquiry["reports"][0]["legs"]}
    assert institutions == {"land-01", "land-02", "land-03", "bank-01", "payment-02"}


async def test_get_with_wait_answers_once_the_inquiry_completes(api, population, credential) -> None:
    debtor = rich_debtor(population)
    async with api.post("/v1/inquiries", json=case_body([debtor_json(debtor)], credential)) as r:
        accepted = await r.json()
    async with api.get(accepted["location"], params={"wait": "30"}) as r:
        inquiry = await r.json()
    assert r.status == 200 and inquiry["status"] == "completed", "one long-poll should see the inquiry complete"
    assert inquiry["progress"]["legs_done"] == LEGS_PER_DEBTOR
    started = time.monotonic()
    async with api.get(accepted["location"], params={"wait": "30"}) as r:  # already complete: no wait
        assert r.status == 200 and (await r.json())["status"] == "completed"
    assert time.monotonic() - started < 5
    for bad in ("abc", "-1", "61", "nan"):
        async with api.get(accepted["location"], params={"wait": bad}) as r:
            body = await r.json()
        assert r.status == 400 and body["errors"][0]["field"] == "wait", (bad, body)


async def test_unregistered_credential_is_refused_by_institutions(api, population) -> None:
    debtor = rich_debtor(population)
    # Registered to the officer with the court, not with the institutions: the gateway lets it through.
    body = case_body([debtor_json(debtor)], UNREGISTERED, institutions=["bank-01", "land-01", "vehicle-01", "payment-01"])
    async with api.post("/v1/inquiries", json=body) as r:
        accepted = await r.json()
    inquiry = await wait_inquiry(api, accepted["location"])
    legs = inquiry["reports"][0]["legs"]
    assert [leg["status"] for leg in legs] == ["refused"] * 4
    assert all(leg["reason"] for leg in legs)
    assert inquiry["reports"][0]["totals_fen"]["all"] == 0


async def test_bulk_500_debtors_via_cli_equal_ground_truth(stack, api, simulators, population, credential, tmp_path: Path) -> None:
    debtors = bulk_debtors(population, 500)
    assert len(debtors) == 500
    # Five cases of 100 debtors each, as a command centre would send them.
    rows = [
        {**CASE, "case_number": f"(2025)冀0108执{4600 + i // 100}号", "officer_credentials": [credential],
         "debtor_kind": d.kind, "id_number": d.id_number, "name": d.name}
        for i, d in enumerate(debtors)
    ]
    source = tmp_path / "debtors.csv"
    source.write_text(to_csv(rows), encoding="utf-8")
    out = tmp_path / "reports.jsonl"
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "assetgw.cli", "inquire", "--csv", str(source), "--out", str(out), "--api", stack.api_url,
        "--token", officer_token(stack),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    output, _ = await proc.communicate()
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, output.decode()
    reports = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    engine = os.environ.get("ASSETGW_TEST_ENGINE", "noida")
    print(f"\n500-debtor bulk: {500 * LEGS_PER_DEBTOR} legs in {elapsed:.1f}s = {500 * LEGS_PER_DEBTOR / elapsed:.0f} legs/s ({engine})")
    assert len(reports) == 500
    assert {r["debtor"]["id_number"] for r in reports} == {d.id_number for d in debtors}
    assert {r["case_number"] for r in reports} == {f"(2025)冀0108执{n}号" for n in range(4600, 4605)}
    by_kind: dict[str, int] = defaultdict(int)
    for report in reports:
        unanswered = [leg for leg in report["legs"] if leg["status"] not in ("found", "not_found")]
        assert not unanswered, [(leg["institution_id"], leg["status"], leg["reason"], leg["attempts"]) for leg in unanswered]
        await assert_matches_truth(report, simulators)
        for kind in ASSET_KINDS:
            by_kind[kind] += len(report["assets"][kind])
    # The comparison is only meaningful if the sample holds every kind of asset, and some debtors hold nothing.
    assert all(by_kind[k] > 10 for k in ASSET_KINDS), by_kind
    assert any(r["totals_fen"]["all"] == 0 for r in reports)
    assert any(a.get("protected") for r in reports for a in r["assets"]["deposit"]), "sample has no protected account"
    assert any(a["share_percent"] < 100 for r in reports for a in r["assets"]["real_estate"]), "sample has no joint unit"


async def test_batch_progress_and_reports_endpoints(api, population, credential) -> None:
    debtors = bulk_debtors(population, 20)
    accepted = await post_batch(api, [{**CASE, "officer_credentials": [credential], "debtor": debtor_json(d)} for d in debtors])
    assert accepted["inquiries"] == 1 and accepted["debtors"] == 20 and accepted["legs"] == 20 * LEGS_PER_DEBTOR
    progress = await wait_batch(api, accepted["location"])
    assert progress["legs"] == {"total": 20 * LEGS_PER_DEBTOR, "done": 20 * LEGS_PER_DEBTOR}
    assert progress["inquiries"] == {"total": 1, "completed": 1}
    async with api.get(progress["reports"]) as r:
        assert r.headers["Content-Type"].startswith("application/x-ndjson")
        reports = [orjson.loads(line) for line in (await r.read()).splitlines()]
    assert [r["debtor"]["id_number"] for r in reports] == [d.id_number for d in debtors]
    assert (await get_json(api, f"/v1/inquiries/{reports[0]['inquiry_id']}"))["status"] == "completed"
