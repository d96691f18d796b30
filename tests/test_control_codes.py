"""The bank interface's control codes through the real chain, checked on the bank's ledger:
03 a queued freeze (轮候) and 05 lifting it, and 08 freeze-and-deduct in one order (free funds
straight to the court's enforcement-fund account, after a second officer's approval). Codes 01,
02, 04 and 06 (freeze, continue, unfreeze, deduct) have their tests in test_orders.py."""

from __future__ import annotations

from tests.helpers import (
    ACCOUNT_A,
    COURT_A,
    COURT_B,
    get_json,
    has_account,
    largest_account,
    open_case,
    order_body,
    pick,
    place,
    post_json,
    settled,
)

# Not in the e2e set run again on Tansu: after these tests, an institution event about an unknown
# asset was no longer dead-lettered there (tests/test_live_states.py), though it is on noida-db;
# not yet understood, so noted rather than hidden behind a retry.


async def test_lifting_a_queued_freeze_leaves_the_one_in_effect(api, officers, simulators, population, credential) -> None:
    api_b = officers("OFFICER-B1", COURT_B)
    debtor = pick(population, has_account(20_000), kind="organisation")
    case_a, assets = await open_case(api, debtor, credential, COURT_A)
    case_b, _ = await open_case(api_b, debtor, credential, COURT_B)
    account = largest_account(assets)
    a = await place(api, order_body("freeze", case_a, COURT_A, account, credential, amount_fen=account["value_fen"], term_days=365))
    b = await place(api_b, order_body("freeze", case_b, COURT_B, account, credential, amount_fen=5_000, term_days=365, operator=None))
    assert (a["status"], b["status"], b["result"]["queue_position"]) == ("applied", "queued", 1)
    lift = await place(api_b, order_body("unfreeze", case_b, COURT_B, account, credential, original_order_id=b["id"], operator=None))
    assert lift["status"] == "applied", lift
    assert (await get_json(api_b, f"/v1/orders/{b['id']}"))["status"] == "released"
    ledger = await simulators.ledger(account["institution_id"], account["account_no"])
    assert [(f["court"], f["status"], f["held_fen"]) for f in ledger["freezes"]] == [
        (COURT_A, "applied", account["value_fen"]), (COURT_B, "released", 0)]


async def test_freeze_and_deduct_takes_free_funds_at_once_after_approval(api, officers, simulators, population, credential) -> None:
    approver = officers("OFFICER-A2", COURT_A)
    debtor = pick(population, has_account(50_000), kind="organisation")  # a person's living allowance is its own test
    case, assets = await open_case(api, debtor, credential, COURT_A)
    account = largest_account(assets)
    inst, no, balance = account["institution_id"], account["account_no"], account["value_fen"]
    # Part of the account is already held by the case's own freeze: a freeze-and-deduct takes only free funds.
    held = await place(api, order_body("freeze", case, COURT_A, account, credential, amount_fen=10_000, term_days=90))
    assert held["status"] == "applied"

    body = order_body("freeze_deduct", case, COURT_A, account, credential, amount_fen=15_000, enforcement_account=ACCOUNT_A)
    for wrong, field in (({"enforcement_account": "6222000000000000"}, "enforcement_account"),
                         ({"original_order_id": held["id"]}, "original_order_id"),
                         ({"amount_fen": None}, "amount_fen")):
        status, err = await post_json(api, "/v1/orders", {**body, **wrong})
        assert status == 422 and err["errors"][0]["field"] == field, (wrong, err)
    no_deduct_role = officers("OFFICER-A3", COURT_A, roles=("officer",))
    status, err = await post_json(no_deduct_role, "/v1/orders", {**body, "operator": "OFFICER-A3"})
    assert status == 403, err

    status, placed = await post_json(api, "/v1/orders", body)
    assert status == 202 and placed["awaiting_approval"] and placed["status"] == "requested", placed
    status, _ = await post_json(approver, f"/v1/orders/{placed['id']}/approve", {})
    assert status == 200
    done = await settled(api, placed["id"])
    assert done["status"] == "applied" and done["result"]["deducted_fen"] == 15_000 and done["checker"] == "OFFICER-A2", done
    ledger = await simulators.ledger(inst, no)
    assert ledger["balance_fen"] == balance - 15_000
    assert [(d["order_id"], d["amount_fen"], d["court"], d["enforcement_account"]) for d in ledger["deductions"]] == [
        (placed["id"], 15_000, COURT_A, ACCOUNT_A)]
    assert [(f["status"], f["held_fen"]) for f in ledger["freezes"]] == [("applied", 10_000)]  # no freeze left by it
    record = await get_json(api, f"/v1/cases/{case}")
    assert record["totals"]["collected_fen"] == 15_000, record["totals"]

    # Asking for more than is free takes what is free: the freeze's 10,000 fen stay held.
    free = balance - 15_000 - 10_000
    status, more = await post_json(api, "/v1/orders", order_body("freeze_deduct", case, COURT_A, account, credential,
                                                                 amount_fen=free + 5_000, enforcement_account=ACCOUNT_A))
    assert status == 202, more
    assert (await post_json(approver, f"/v1/orders/{more['id']}/approve", {}))[0] == 200
    partial = await settled(api, more["id"])
    assert partial["status"] == "partially_applied" and partial["result"]["deducted_fen"] == free, partial
    ledger = await simulators.ledger(inst, no)
    assert ledger["balance_fen"] == 10_000 and [f["held_fen"] for f in ledger["freezes"]] == [10_000]
    assert (await get_json(api, f"/v1/cases/{case}"))["totals"]["collected_fen"] == 15_000 + free
