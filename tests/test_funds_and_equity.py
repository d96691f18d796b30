"""The fund centres (housing provident fund, social insurance) and the market regulator's equity
registry through the real chain — gateway API, Kafka, connector workers, the simulators' own APIs
and ledgers: reports equal the ground truth; fund balances are reported but never frozen or
deducted (refused at the desk with the legal reason, listed as skipped by the plan); a
shareholding is frozen whole, queued behind an earlier court, continued, publicised and unfrozen,
its ledger checked at the regulator; and each kind's faults end its own legs only."""

from __future__ import annotations

import pytest

from tests.helpers import (
    ACCOUNT_A,
    COURT_A,
    COURT_B,
    assert_matches_truth,
    case_body,
    debtor_json,
    get_json,
    open_case,
    order_body,
    order_when,
    pick,
    place,
    post_json,
    report_while_misbehaving,
    wait_inquiry,
)

pytestmark = pytest.mark.e2e


def holds(*kinds: str):  # type: ignore[no-untyped-def]
    return lambda assets: set(kinds) <= {a.kind for a in assets}


def first(assets: list[dict], kind: str) -> dict:
    return next(a for a in assets if a["kind"] == kind)


async def test_report_shows_equity_and_fund_balances_as_the_truth(api, simulators, population, credential) -> None:
    debtor = pick(population, holds("equity", "fund_account"))
    status, accepted = await post_json(api, "/v1/inquiries", case_body([debtor_json(debtor)], credential))
    assert status == 202, accepted
    [report] = (await wait_inquiry(api, accepted["location"]))["reports"]
    await assert_matches_truth(report, simulators)
    by_kind = {leg["kind"] for leg in report["legs"] if leg["status"] == "found"}
    assert {"equity", "fund"} <= by_kind
    holding = report["assets"]["equity"][0]
    assert holding["company_name"] and holding["registered_capital_fen"] > 0 and 0 < holding["holding_bp"] <= 10_000
    assert all(a["protected"] and a["protected_reason"] for a in report["assets"]["fund_account"])
    assert report["totals_fen"]["equity"] == sum(a["value_fen"] for a in report["assets"]["equity"])


async def test_fund_balances_are_refused_at_the_desk_and_skipped_by_the_plan(api, simulators, population, credential) -> None:
    debtor = pick(population, holds("fund_account"))
    case, assets = await open_case(api, debtor, credential, due_fen=100_000_00)
    funds = [a for a in assets if a["kind"] == "fund_account"]
    for account in funds:
        for body in (order_body("freeze", case, COURT_A, account, credential, amount_fen=100, term_days=30),
                     order_body("deduct", case, COURT_A, account, credential, amount_fen=100, original_order_id="x" * 32,
                                enforcement_account=ACCOUNT_A)):
            status, refused = await post_json(api, "/v1/orders", body)
            [error] = refused["errors"]
            assert status == 422 and error["field"] == "asset.id" and account["protected_reason"] in error["message"], refused
    orders = await get_json(api, f"/v1/orders?case_number={case}")
    assert orders["orders"] == []  # nothing stored, nothing sent
    plan = {"court": COURT_A, "ruling_number": "r", "notice_number": "n", "officer_credentials": [credential]}
    status, planned = await post_json(api, f"/v1/cases/{case}/freeze-plan", plan)
    assert status == 200, planned
    skipped = {s["asset"]["id"]: s["reason"] for s in planned["skipped_protected"]}
    assert {a["account_no"]: a["protected_reason"] for a in funds}.items() <= skipped.items()
    assert not {o["asset"]["id"] for o in planned["orders"]} & {a["account_no"] for a in funds}


async def test_shareholding_freeze_queue_continue_publicity_and_unfreeze(api, officers, simulators, population, credential) -> None:
    debtor = pick(population, holds("equity"))
    case, assets = await open_case(api, debtor, credential)
    holding = first(assets, "equity")
    inst, holding_no = holding["institution_id"], holding["holding_no"]
    # Property: frozen whole, so an amount is refused; equity's term is three years at most.
    status, wrong = await post_json(api, "/v1/orders", order_body("freeze", case, COURT_A, holding, credential, amount_fen=1, term_days=30))
    assert status == 422 and wrong["errors"][0]["field"] == "amount_fen", wrong
    status, long = await post_json(api, "/v1/orders", order_body("freeze", case, COURT_A, holding, credential, term_days=1096))
    assert status == 422 and long["errors"][0]["field"] == "term_days", long

    first_freeze = await place(api, order_body("freeze", case, COURT_A, holding, credential, term_days=365))
    assert first_freeze["status"] == "applied", first_freeze
    # A second court's freeze queues (轮候) behind the first.
    court_b = officers("OFFICER-B1", COURT_B)
    case_b, assets_b = await open_case(court_b, debtor, credential, court=COURT_B)
    queued = await place(court_b, order_body("freeze", case_b, COURT_B, first(assets_b, "equity"), credential, term_days=365,
                                             operator="OFFICER-B1"))
    assert queued["status"] == "queued" and queued["result"]["queue_position"] == 1, queued

    cont = await place(api, order_body("continue", case, COURT_A, holding, credential, original_order_id=first_freeze["id"], term_days=30))
    assert cont["status"] == "applied", cont
    ledger = await simulators.ledger(inst, holding_no)
    assert [(f["court"], f["status"]) for f in ledger["freezes"]] == [(COURT_A, "applied"), (COURT_B, "queued")]
    assert ledger["deductions"] == [] and "balance_fen" not in ledger  # property: no money moves
    status, publicity = await simulators.send(simulators.signed(inst, "GET", f"/{inst}/v2/publicity/{holding['company_uscc']}"))
    assert status == 200 and {(n["holding_no"], n["court"], n["status"]) for n in publicity["freezes"]} >= {
        (holding_no, COURT_A, "applied"), (holding_no, COURT_B, "queued")}

    unfreeze = await place(api, order_body("unfreeze", case, COURT_A, holding, credential, original_order_id=first_freeze["id"]))
    assert unfreeze["status"] == "applied", unfreeze
    ledger = await simulators.ledger(inst, holding_no)
    assert [(f["court"], f["status"]) for f in ledger["freezes"]] == [(COURT_A, "released"), (COURT_B, "applied")]
    # The promotion reaches the second court's order through the regulator's event feed.
    promoted = await order_when(court_b, queued["id"], lambda o: o["status"] == "applied", "the queued equity freeze to be promoted")
    assert promoted["result"]["queue_position"] is None


async def test_plan_freezes_equity_as_property_with_least_excess(api, population, credential) -> None:
    debtor = pick(population, lambda assets: any(a.kind == "equity" and a.value_fen > 1_000_00 for a in assets)
                  and not any(a.kind in ("deposit", "wallet") and not getattr(a, "protected", False) and a.value_fen > 0 for a in assets))
    holding = max((a for a in population.assets_of(debtor.id_number) if a.kind == "equity"), key=lambda a: a.value_fen)
    case, _ = await open_case(api, debtor, credential, due_fen=holding.value_fen // 2)
    plan = {"court": COURT_A, "ruling_number": "r", "notice_number": "n", "officer_credentials": [credential]}
    status, planned = await post_json(api, f"/v1/cases/{case}/freeze-plan", plan)
    assert status == 200, planned
    [order] = planned["orders"]
    # Indivisible property worth more than is owed (超标的): the least excess among what covers it.
    covering = [a for a in population.assets_of(debtor.id_number) if a.kind in ("equity", "real_estate", "vehicle")
                and a.attributable_fen >= holding.value_fen // 2]
    cheapest = min(covering, key=lambda a: a.attributable_fen)
    assert order["asset"] == {"kind": cheapest.kind, "id": cheapest.asset_id} and order["amount_fen"] is None
    assert order["term_days"] == (1095 if cheapest.kind in ("equity", "real_estate") else 730)


async def test_fund_and_equity_faults_end_only_their_own_legs(api, simulators, population, credential) -> None:
    debtor = pick(population, holds("equity", "fund_account", "deposit"))
    fund = next(a.institution_id for a in population.assets_of(debtor.id_number) if a.kind == "fund_account")
    report = await report_while_misbehaving(api, simulators, debtor, credential,
                                            {fund: {"error_rate": 1, "error_status": 400}, "equity-01": {"malformed_rate": 1}})
    legs = {leg["institution_id"]: leg for leg in report["legs"]}
    assert legs[fund]["status"] == "failed" and "400" in (legs[fund]["reason"] or ""), legs[fund]
    assert legs["equity-01"]["status"] in ("failed", "timed_out"), legs["equity-01"]
    assert report["assets"]["equity"] == [] and not any(a["institution_id"] == fund for a in report["assets"]["fund_account"])
    truth = await simulators.truth(debtor.id_number)
    assert {a["account_no"] for a in report["assets"]["deposit"]} == {a["account_no"] for a in truth if a["kind"] == "deposit"}
