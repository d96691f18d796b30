"""Courts as institutions (seed 000): a debtor of ours is the applicant (申请执行人) in another
court's cases. Through the real chain — gateway API, Kafka, the court connector, the courts' case
association service and their ledgers — the report equals the ground truth; a withholding (扣留)
holds his payout when the other court pays out, a deduction approved by a second officer moves
the withheld money to our enforcement account, to the fen; a court that is down fails only its
own legs. The ground truth comes from the courts' own random stream."""

from __future__ import annotations

import pytest

from schemas.directory import Directory
from simulators.population import Population
from tests.helpers import (
    ACCOUNT_A,
    COURT_A,
    assert_matches_truth,
    case_body,
    debtor_json,
    get_json,
    new_case_number,
    open_case,
    order_body,
    order_when,
    pick,
    place,
    post_json,
    settled,
    wait_for,
    wait_inquiry,
    watch_body,
)


async def _alerts(api, case: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return (await get_json(api, f"/v1/alerts?case_number={case}"))["alerts"]


def claim_of(min_pending_fen: int):  # type: ignore[no-untyped-def]
    return lambda assets: any(a.kind == "court_claim" and a.value_fen >= min_pending_fen for a in assets)


def test_claims_come_from_the_courts_own_stream() -> None:
    """Adding the courts moved no earlier holding: without them, everyone holds the same."""
    counts = {"bank": 3, "land": 1, "vehicle": 1, "payment": 1, "fund": 2, "equity": 1}
    without = Population.generate(seed=7, persons=400, companies=40, directory=Directory.from_counts({**counts, "court": 0}))
    with_ = Population.generate(seed=7, persons=400, companies=40, directory=Directory.from_counts({**counts, "court": 3}))
    claims = 0
    for d in with_.debtors:
        mine = with_.assets_of(d.id_number)
        claims += sum(a.kind == "court_claim" for a in mine)
        assert [a for a in mine if a.kind != "court_claim"] == without.assets_of(d.id_number)
        for c in (a for a in mine if a.kind == "court_claim"):
            assert c.collected_fen + c.value_fen <= c.amount_due_fen and "执" in c.case_number
    assert claims > 10


@pytest.mark.e2e
async def test_report_shows_other_courts_cases_as_the_truth(api, simulators, population, credential) -> None:
    # The seed's debtor: nothing else anywhere, but owed money in another court's case.
    debtor = pick(population, lambda assets: bool(assets) and all(a.kind == "court_claim" for a in assets))
    rich = pick(population, claim_of(1))
    status, accepted = await post_json(api, "/v1/inquiries", case_body([debtor_json(debtor), debtor_json(rich)], credential,
                                                                        case_number=new_case_number()))
    assert status == 202, accepted
    reports = (await wait_inquiry(api, accepted["location"]))["reports"]
    for report in reports:
        await assert_matches_truth(report, simulators)
        truth = [a for a in population.assets_of(report["debtor"]["id_number"]) if a.kind == "court_claim"]
        assert report["totals_fen"]["court_claim"] == sum(a.value_fen for a in truth)
        found = {leg["institution_id"] for leg in report["legs"] if leg["status"] == "found" and leg["kind"] == "court"}
        assert found == {a.institution_id for a in truth}
        asked = {leg["institution_id"]: leg["status"] for leg in report["legs"] if leg["kind"] == "court"}
        assert set(asked) == {"court-01", "court-02", "court-03"} and set(asked.values()) <= {"found", "not_found"}
    claim = reports[0]["assets"]["court_claim"][0]
    assert claim["case_number"] and claim["amount_due_fen"] >= claim["collected_fen"] + claim["value_fen"]


@pytest.mark.e2e
async def test_withheld_payout_is_deducted_to_the_asking_court(api, officers, simulators, population, credential) -> None:
    approver = officers("OFFICER-A2", COURT_A)
    debtor = pick(population, claim_of(10_000))
    case, assets = await open_case(api, debtor, credential)
    claim = max((a for a in assets if a["kind"] == "court_claim"), key=lambda a: a["value_fen"])
    inst, claim_no, pending = claim["institution_id"], claim["claim_no"], claim["value_fen"]

    # 扣留 for more than the court holds now: it holds all that is pending (never more) and waits for the rest.
    withhold = await place(api, order_body("freeze", case, COURT_A, claim, credential, amount_fen=pending + 50_000, term_days=180))
    assert withhold["status"] == "partially_applied" and withhold["result"]["held_fen"] == pending, withhold
    ledger = await simulators.ledger(inst, claim_no)
    assert ledger["balance_fen"] == pending and ledger["freezes"][0]["held_fen"] == pending

    # 续行扣留 extends it, as a continuation does a freeze.
    extended = await place(api, order_body("continue", case, COURT_A, claim, credential, original_order_id=withhold["id"], term_days=30))
    assert extended["status"] == "applied", extended

    # The officer watches the debtor's funds: the payout arriving at the other court is an alert.
    status, watch = await post_json(api, "/v1/watches", watch_body(case, debtor, kinds=["funds"]))
    assert status == 202, watch
    # The other court collects 800 yuan for him and pays out: 500 yuan is withheld, only the rest reaches him.
    paid = await simulators.payout(inst, claim_no, 80_000)
    assert (paid["paid_out_fen"], paid["withheld_fen"]) == (30_000, pending + 50_000), paid
    assert paid["ledger"]["balance_fen"] == pending + 50_000  # what stays at the court is exactly what is withheld
    # The court's event feed tells the gateway: the withholding now holds all it asked for.
    held = await order_when(api, withhold["id"], lambda o: o["result"]["held_fen"] == pending + 50_000,
                            "the withheld payout to reach the order")
    assert held["status"] == "applied"
    assert (await get_json(api, f"/v1/cases/{case}"))["totals"]["frozen_fen"] == pending + 50_000  # it counts toward the case
    alerts = await wait_for(lambda: _alerts(api, case), 30, what="the payout's alert")
    assert alerts[0]["summary"].startswith("他案执行款到账 ¥800.00") and claim_no in alerts[0]["summary"], alerts
    assert alerts[0]["what"]["asset"] == {"kind": "court_claim", "id": claim_no}

    # 扣划: the same deduction rules as a bank's — the operator cannot approve it, a second officer does.
    body = order_body("deduct", case, COURT_A, claim, credential, amount_fen=pending + 50_000, original_order_id=withhold["id"],
                      enforcement_account=ACCOUNT_A)
    status, placed = await post_json(api, "/v1/orders", body)
    assert status == 202 and placed["awaiting_approval"], placed
    status, again = await post_json(api, "/v1/orders", body)  # the same request id: the same order, nothing twice
    assert again["id"] == placed["id"]
    status, err = await post_json(api, f"/v1/orders/{placed['id']}/approve", {})
    assert status == 422 and err["errors"][0]["field"] == "checker", err
    assert (await simulators.ledger(inst, claim_no))["deductions"] == []
    status, _ = await post_json(approver, f"/v1/orders/{placed['id']}/approve", {})
    assert status == 200
    done = await settled(api, placed["id"])
    assert done["status"] == "applied" and done["result"]["deducted_fen"] == pending + 50_000 and done["checker"] == "OFFICER-A2"

    ledger = await simulators.ledger(inst, claim_no)
    assert ledger["balance_fen"] == 0 and ledger["freezes"][0]["held_fen"] == 0
    [moved] = ledger["deductions"]
    assert (moved["amount_fen"], moved["court"], moved["enforcement_account"]) == (pending + 50_000, COURT_A, ACCOUNT_A)
    money = (await get_json(api, f"/v1/cases/{case}"))["totals"]
    assert money["collected_fen"] == pending + 50_000

    # 解除扣留: his next payout reaches him whole.
    released = await place(api, order_body("unfreeze", case, COURT_A, claim, credential, original_order_id=withhold["id"]))
    assert released["status"] == "applied", released
    assert (await settled(api, withhold["id"]))["status"] == "released"
    paid = await simulators.payout(inst, claim_no, 10_000)
    assert (paid["paid_out_fen"], paid["withheld_fen"], paid["ledger"]["balance_fen"]) == (10_000, 0, 0)


@pytest.mark.e2e
async def test_letters_are_answered_once_by_number(simulators, population, credential) -> None:
    debtor = pick(population, claim_of(1))
    claim = next(a for a in population.assets_of(debtor.id_number) if a.kind == "court_claim")
    case = new_case_number()
    letter = {"letter_no": f"letter-{claim.claim_no}", "measure": "withhold", "requesting_court": COURT_A, "requesting_case": case,
              "claim_no": claim.claim_no, "applicant_id_number": debtor.id_number, "amount_fen": 1, "term_days": 30,
              "ruling_number": f"{case}之一", "notice_number": f"{case}-协执", "officer_credentials": [credential],
              "served_at": "2025-11-22T10:00:00+08:00"}
    path = f"/{claim.institution_id}/association/v1/assistance-letters"
    status, first = await simulators.send(simulators.signed(claim.institution_id, "POST", path, letter))
    assert status == 200 and first["outcome"] == "done" and first["withheld_fen"] == 1, first
    status, second = await simulators.send(simulators.signed(claim.institution_id, "POST", path, {**letter, "amount_fen": 5}))
    assert status == 200 and second == {**first, "duplicate": True}
    # A bad measure is a 400 naming the field; nothing is applied.
    status, bad = await simulators.send(simulators.signed(claim.institution_id, "POST", path,
                                                          {**letter, "letter_no": "bad-1", "measure": "seize"}))
    assert status == 400 and bad["errors"][0]["field"] == "measure", bad
    ledger = await simulators.ledger(claim.institution_id, claim.claim_no)
    assert [f["held_fen"] for f in ledger["freezes"]] == [1]


@pytest.mark.e2e
async def test_plan_withholds_a_claim_when_nothing_else_is_there(api, population, credential) -> None:
    debtor = pick(population, lambda assets: bool(assets) and all(a.kind == "court_claim" for a in assets)
                  and any(a.value_fen > 0 for a in assets))
    case, assets = await open_case(api, debtor, credential, due_fen=1_000_000_00)
    plan = {"court": COURT_A, "ruling_number": "r", "notice_number": "n", "officer_credentials": [credential]}
    status, planned = await post_json(api, f"/v1/cases/{case}/freeze-plan", plan)
    assert status == 200, planned
    claims = {a["claim_no"]: a["value_fen"] for a in assets if a["value_fen"] > 0}
    assert {o["asset"]["id"]: o["amount_fen"] for o in planned["orders"]} == claims
    assert all(o["asset"]["kind"] == "court_claim" and "扣留" in o["reason"] for o in planned["orders"])


@pytest.mark.e2e
async def test_a_court_that_is_down_fails_only_its_own_legs(api, simulators, population, credential) -> None:
    debtor = pick(population, lambda assets: claim_of(1)(assets) and any(a.kind == "deposit" for a in assets))
    down = next(a.institution_id for a in population.assets_of(debtor.id_number) if a.kind == "court_claim")
    try:
        await simulators.behave(down, error_rate=1, error_status=400)
        body = case_body([debtor_json(debtor)], credential, case_number=new_case_number(), deadline_seconds=8)
        status, accepted = await post_json(api, "/v1/inquiries", body)
        assert status == 202, accepted
        [report] = (await wait_inquiry(api, accepted["location"]))["reports"]
    finally:
        await simulators.reset(down)
    legs = {leg["institution_id"]: leg for leg in report["legs"]}
    assert legs[down]["status"] == "failed" and "400" in (legs[down]["reason"] or ""), legs[down]
    assert all(leg["status"] in ("found", "not_found") for i, leg in legs.items() if i != down)
    truth = population.assets_of(debtor.id_number)
    assert {a["claim_no"] for a in report["assets"]["court_claim"]} == {
        a.claim_no for a in truth if a.kind == "court_claim" and a.institution_id != down}
    assert {a["account_no"] for a in report["assets"]["deposit"]} == {a.account_no for a in truth if a.kind == "deposit"}
