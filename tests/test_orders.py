"""Control orders through the real chain — gateway API, Kafka, connector workers, institution
ledgers — one test per legal rule, checked against the institutions' own ledgers."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import orjson
import pytest

from schemas.orders import MONEY_KINDS
from tests.helpers import (
    ACCOUNT_A,
    ACCOUNT_B,
    COURT_A,
    COURT_B,
    LIVING_ALLOWANCE_FEN,
    get_json,
    has_account,
    largest_account,
    open_case,
    order_body,
    pick,
    place,
    post_json,
    settled,
    wait_for,
)


def first(assets: list[dict], kind: str, **match: Any) -> dict:
    return next(a for a in assets if a["kind"] == kind and all(a.get(k) == v for k, v in match.items()))


def freezes_of(ledger: dict, status: str | None = None) -> list[dict]:
    return [f for f in ledger["freezes"] if status is None or f["status"] == status]


async def sent_after(api, case: str, asset: dict, freeze: dict, credential: str) -> None:  # type: ignore[no-untyped-def]
    """Continues ``freeze`` and waits for the answer: a positive signal that every order the
    gateway would have sent for this asset before now has been sent (the relay publishes in order)
    and reached the institution (same key, same partition). The continuation changes no money."""
    cont = await place(api, order_body("continue", case, COURT_A, asset, credential, original_order_id=freeze["id"], term_days=30))
    assert cont["status"] == "applied", cont


async def test_exact_amount_freeze_leaves_the_rest_usable(api, simulators, population, credential) -> None:
    debtor = pick(population, has_account(10_000))
    case, assets = await open_case(api, debtor, credential)
    account = largest_account(assets)
    amount = account["value_fen"] // 2
    order = await place(api, order_body("freeze", case, COURT_A, account, credential, amount_fen=amount, term_days=365))
    assert order["status"] == "applied" and order["result"]["held_fen"] == amount
    ledger = await simulators.ledger(account["institution_id"], account["account_no"])
    assert ledger["balance_fen"] == account["value_fen"]  # nothing moved
    [freeze] = freezes_of(ledger)
    assert freeze["held_fen"] == freeze["requested_fen"] == amount and freeze["court"] == COURT_A
    # The full history: who asked, under which documents, and what the institution answered.
    events = [e["event"] for e in order["history"]]
    assert events == ["requested", "sent", "answered"]
    assert order["history"][0]["actor"] == "OFFICER-A1" and order["history"][0]["detail"]["ruling_number"] == f"{case}之一"
    assert order["history"][2]["actor"] == account["institution_id"] and order["history"][2]["detail"]["status"] == "applied"


async def test_short_balance_freezes_what_is_there_and_captures_later_funds(api, simulators, population, credential) -> None:
    # A company: a person's living allowance would keep part of a short balance free.
    debtor = pick(population, has_account(1_000), kind="organisation")
    case, assets = await open_case(api, debtor, credential)
    account = first(assets, "deposit", protected=False)
    balance = account["value_fen"]
    amount = balance + 50_000
    order = await place(api, order_body("freeze", case, COURT_A, account, credential, amount_fen=amount, term_days=180))
    assert order["status"] == "partially_applied" and order["result"]["held_fen"] == balance
    await simulators.credit(account["institution_id"], account["account_no"], 30_000)
    ledger = await simulators.ledger(account["institution_id"], account["account_no"])
    assert freezes_of(ledger)[0]["held_fen"] == balance + 30_000
    await simulators.credit(account["institution_id"], account["account_no"], 70_000)
    ledger = await simulators.ledger(account["institution_id"], account["account_no"])
    assert freezes_of(ledger)[0]["held_fen"] == amount  # captured up to the amount, not beyond
    assert ledger["balance_fen"] == balance + 100_000  # the other 20,000 fen stay usable


async def test_second_court_is_queued_and_promoted_when_the_first_unfreezes(api, officers, simulators, population, credential) -> None:
    api_b = officers("OFFICER-B1", COURT_B)
    def fits(assets: list) -> bool:
        """An account of at least 100 yuan and a vehicle, and other deposits that keep a person's
        living allowance free, so the first court may freeze that whole account."""
        deposits = sorted((a.value_fen for a in assets if a.kind == "deposit" and not a.protected), reverse=True)
        return (has_account(10_000)(assets) and any(a.kind == "vehicle" for a in assets)
                and sum(deposits[1:]) >= LIVING_ALLOWANCE_FEN)

    debtor = pick(population, fits)
    case_a, assets = await open_case(api, debtor, credential, COURT_A)
    case_b, _ = await open_case(api_b, debtor, credential, COURT_B)
    account = largest_account(assets)
    vehicle = first(assets, "vehicle")
    a_money = await place(api, order_body("freeze", case_a, COURT_A, account, credential, amount_fen=account["value_fen"], term_days=365))
    a_car = await place(api, order_body("freeze", case_a, COURT_A, vehicle, credential, term_days=730))
    assert a_money["status"] == "applied" and a_car["status"] == "applied"
    b_money = await place(api_b, order_body("freeze", case_b, COURT_B, account, credential, amount_fen=5_000, term_days=365, operator=None))
    b_car = await place(api_b, order_body("freeze", case_b, COURT_B, vehicle, credential, term_days=730, operator=None))
    assert b_money["status"] == b_car["status"] == "queued"
    assert b_money["result"]["queue_position"] == b_car["result"]["queue_position"] == 1

    for original in (a_money, a_car):
        unfreeze = await place(api, order_body("unfreeze", case_a, COURT_A, {"institution_id": original["institution_id"],
                               "kind": original["asset"]["kind"], **_id_field(original)}, credential, original_order_id=original["id"]))
        assert unfreeze["status"] == "applied"
        assert (await get_json(api, f"/v1/orders/{original['id']}"))["status"] == "released"
    money_ledger = await simulators.ledger(account["institution_id"], account["account_no"])
    car_ledger = await simulators.ledger(vehicle["institution_id"], vehicle["plate"])
    [promoted_money] = [f for f in freezes_of(money_ledger) if f["court"] == COURT_B]
    [promoted_car] = [f for f in freezes_of(car_ledger) if f["court"] == COURT_B]
    assert promoted_money["status"] == "applied" and promoted_money["held_fen"] == 5_000
    assert promoted_car["status"] == "applied"


def _id_field(order: dict) -> dict:
    kind, asset_id = order["asset"]["kind"], order["asset"]["id"]
    return {{"deposit": "account_no", "wallet": "wallet_id", "real_estate": "unit_no", "vehicle": "plate"}[kind]: asset_id}


async def test_deduction_moves_only_own_frozen_funds_after_a_second_officer_approves(api, officers, simulators, population, credential) -> None:
    api_b, approver = officers("OFFICER-B1", COURT_B), officers("OFFICER-A2", COURT_A)
    debtor = pick(population, has_account(20_000))
    case_a, assets = await open_case(api, debtor, credential, COURT_A)
    case_b, _ = await open_case(api_b, debtor, credential, COURT_B)
    account = largest_account(assets)
    freeze = await place(api, order_body("freeze", case_a, COURT_A, account, credential, amount_fen=10_000, term_days=300))
    assert freeze["status"] == "applied"
    deduct = order_body("deduct", case_a, COURT_A, account, credential, amount_fen=4_000, original_order_id=freeze["id"],
                        enforcement_account=ACCOUNT_A)
    status, placed = await post_json(api, "/v1/orders", deduct)
    assert status == 202 and placed["awaiting_approval"]

    # Without a second officer (the operator approving his own deduction): refused, audited, nothing sent.
    status, err = await post_json(api, f"/v1/orders/{placed['id']}/approve", {})
    assert status == 422 and err["errors"][0]["field"] == "checker" and "different officer" in err["errors"][0]["message"]
    status, err = await post_json(api, f"/v1/orders/{placed['id']}/approve", {"checker": "OFFICER-A1"})
    assert status == 422 and "different officer" in err["errors"][0]["message"]
    status, err = await post_json(api, f"/v1/orders/{placed['id']}/approve", {"checker": "OFFICER-A2"})
    assert status == 403 and err["errors"][0]["field"] == "checker"  # one cannot approve in another's name
    # A later order on the same account has been sent and answered, so a refused approval that had
    # released the deduction would show by now.
    await sent_after(api, case_a, account, freeze, credential)
    pending = await get_json(api, f"/v1/orders/{placed['id']}")
    assert pending["status"] == "requested" and pending["sent_at"] is None
    assert [e["event"] for e in pending["history"]] == ["requested", "approval_refused", "approval_refused"]
    assert (await simulators.ledger(account["institution_id"], account["account_no"]))["deductions"] == []

    # Another court may not deduct what court A froze: refused by the gateway, nothing changes.
    other = order_body("deduct", case_b, COURT_B, account, credential, amount_fen=1_000, original_order_id=freeze["id"],
                       enforcement_account=ACCOUNT_B)
    status, err = await post_json(api_b, "/v1/orders", {**other, "operator": None})
    assert status == 422 and err["errors"][0]["field"] == "court"
    # Nor more than the freeze holds.
    status, err = await post_json(api, "/v1/orders", {**deduct, "amount_fen": 10_001, "idempotency_key": uuid.uuid4().hex})
    assert status == 422 and err["errors"][0]["field"] == "amount_fen"

    status, _ = await post_json(approver, f"/v1/orders/{placed['id']}/approve", {})
    assert status == 200
    done = await settled(api, placed["id"])
    assert done["status"] == "applied" and done["result"]["deducted_fen"] == 4_000 and done["checker"] == "OFFICER-A2"
    ledger = await simulators.ledger(account["institution_id"], account["account_no"])
    assert ledger["balance_fen"] == account["value_fen"] - 4_000
    assert [(d["amount_fen"], d["court"], d["enforcement_account"]) for d in ledger["deductions"]] == [(4_000, COURT_A, ACCOUNT_A)]
    assert freezes_of(ledger)[0]["held_fen"] == 6_000
    assert (await get_json(api, f"/v1/orders/{freeze['id']}"))["result"]["held_fen"] == 6_000


async def test_a_declined_deduction_is_never_sent_and_says_why(api, officers, simulators, population, credential) -> None:
    checker = officers("OFFICER-A2", COURT_A)
    debtor = pick(population, has_account(20_000))
    case, assets = await open_case(api, debtor, credential, COURT_A)
    account = largest_account(assets)
    freeze = await place(api, order_body("freeze", case, COURT_A, account, credential, amount_fen=10_000, term_days=300))
    deduct = order_body("deduct", case, COURT_A, account, credential, amount_fen=4_000, original_order_id=freeze["id"],
                        enforcement_account=ACCOUNT_A)
    status, placed = await post_json(api, "/v1/orders", deduct)
    assert status == 202 and placed["awaiting_approval"]

    status, err = await post_json(api, f"/v1/orders/{placed['id']}/decline", {"reason": "自己的扣划"})
    assert status == 422 and err["errors"][0]["field"] == "checker"  # the two-person rule holds both ways
    status, err = await post_json(checker, f"/v1/orders/{placed['id']}/decline", {})
    assert status == 422 and err["errors"][0]["field"] == "reason"
    status, declined = await post_json(checker, f"/v1/orders/{placed['id']}/decline", {"reason": "执行款已由被执行人主动履行"})
    assert status == 200 and declined["status"] == "declined" and declined["checker"] == "OFFICER-A2"
    assert declined["history"][-1]["event"] == "declined"
    assert declined["history"][-1]["detail"]["reason"] == "执行款已由被执行人主动履行"
    status, err = await post_json(checker, f"/v1/orders/{placed['id']}/approve", {})
    assert status == 409  # declined stays declined

    # Later orders on the same account have been sent and answered: a declined deduction sent
    # by mistake would have reached the bank by now.
    await sent_after(api, case, account, freeze, credential)
    assert (await get_json(api, f"/v1/orders/{placed['id']}"))["sent_at"] is None
    assert (await simulators.ledger(account["institution_id"], account["account_no"]))["deductions"] == []
    queue = await get_json(checker, f"/v1/orders?case_number={quote(case)}&awaiting_approval=true")
    assert placed["id"] not in {o["id"] for o in queue["orders"]}


async def test_protected_account_is_refused_at_the_desk(api, simulators, population, credential) -> None:
    """The institution would refuse it (tests/test_ledgers.py): the desk says so first, sending nothing."""
    debtor = pick(population, has_account(1, protected=True))
    case, assets = await open_case(api, debtor, credential)
    account = first(assets, "deposit", protected=True)
    status, err = await post_json(api, "/v1/orders", order_body("freeze", case, COURT_A, account, credential, amount_fen=1, term_days=30))
    assert status == 422 and err["errors"][0]["field"] == "asset.id" and account["protected_reason"] in err["errors"][0]["message"]
    assert (await get_json(api, f"/v1/orders?case_number={case}"))["orders"] == []
    assert freezes_of(await simulators.ledger(account["institution_id"], account["account_no"])) == []


async def test_unfreeze_must_name_the_freeze(api, simulators, population, credential) -> None:
    debtor = pick(population, has_account(5_000))
    case, assets = await open_case(api, debtor, credential)
    account = largest_account(assets)
    freeze = await place(api, order_body("freeze", case, COURT_A, account, credential, amount_fen=1_000, term_days=90))
    status, err = await post_json(api, "/v1/orders", order_body("unfreeze", case, COURT_A, account, credential))
    assert status == 422 and err["errors"][0]["field"] == "original_order_id"
    unfreeze = await place(api, order_body("unfreeze", case, COURT_A, account, credential, original_order_id=freeze["id"]))
    assert unfreeze["status"] == "applied"
    ledger = await simulators.ledger(account["institution_id"], account["account_no"])
    assert [f["status"] for f in freezes_of(ledger)] == ["released"]
    assert (await get_json(api, f"/v1/orders/{freeze['id']}"))["status"] == "released"


async def test_over_freezing_is_refused_by_the_gateway(api, simulators, population, credential) -> None:
    debtor = pick(population, lambda assets: has_account(20_000)(assets) and any(a.kind == "vehicle" for a in assets))
    case, assets = await open_case(api, debtor, credential, due_fen=15_000)
    account = largest_account(assets)
    first_freeze = await place(api, order_body("freeze", case, COURT_A, account, credential, amount_fen=10_000, term_days=300))
    assert first_freeze["status"] == "applied", first_freeze["result"]["reason"]
    status, err = await post_json(api, "/v1/orders", order_body("freeze", case, COURT_A, account, credential, amount_fen=5_001, term_days=365))
    assert status == 422 and err["errors"][0]["field"] == "amount_fen" and "over-freezing" in err["message"]
    ok = await place(api, order_body("freeze", case, COURT_A, account, credential, amount_fen=5_000, term_days=365))
    assert ok["status"] == "applied"
    status, err = await post_json(api, "/v1/orders", order_body("freeze", case, COURT_A, first(assets, "vehicle"), credential, term_days=730))
    assert status == 422 and "nothing remains to secure" in err["message"]
    ledger = await simulators.ledger(account["institution_id"], account["account_no"])
    assert sum(f["held_fen"] for f in freezes_of(ledger)) == 15_000


async def test_repeated_idempotency_key_returns_the_first_order(api, simulators, population, credential) -> None:
    debtor = pick(population, has_account(5_000))
    case, assets = await open_case(api, debtor, credential)
    account = largest_account(assets)
    body = order_body("freeze", case, COURT_A, account, credential, amount_fen=2_000, term_days=30)
    first_order = await place(api, body)
    status, again = await post_json(api, "/v1/orders", body)
    assert status == 200 and again["id"] == first_order["id"] and again["replayed"]
    status, err = await post_json(api, "/v1/orders", {**body, "amount_fen": 3_000})
    assert status == 409 and err["errors"][0]["field"] == "idempotency_key"
    await sent_after(api, case, account, first_order, credential)  # a second freeze would have reached the bank first
    assert len(freezes_of(await simulators.ledger(account["institution_id"], account["account_no"]))) == 1


async def test_freeze_plan_covers_the_due_money_first_without_over_freezing(stack, api, simulators, population, credential) -> None:
    def rich(assets: list) -> bool:
        money = sum(a.value_fen for a in assets if a.kind in MONEY_KINDS and not getattr(a, "protected", False))
        return (money > 50_000 and any(a.kind == "vehicle" for a in assets) and any(a.kind == "real_estate" for a in assets)
                and not any(a.kind in ("securities", "equity") for a in assets))  # shares would cover the vehicle's half

    debtor = pick(population, rich)
    truth = population.assets_of(debtor.id_number)
    money = sum(a.value_fen for a in truth if a.kind in MONEY_KINDS and not getattr(a, "protected", False))
    vehicles = sorted((a.value_fen for a in truth if a.kind == "vehicle"), reverse=True)
    due = money + vehicles[0] // 2  # needs all the money and one vehicle, and no real estate
    case, _assets = await open_case(api, debtor, credential, due_fen=due)
    request = {"court": COURT_A, "operator": "OFFICER-A1", "ruling_number": f"{case}之二", "notice_number": f"{case}-协执",
               "officer_credentials": [credential]}
    status, plan = await post_json(api, f"/v1/cases/{case}/freeze-plan", request)
    assert status == 200 and not plan["executed"]
    kinds = [o["asset"]["kind"] for o in plan["orders"]]
    assert kinds == sorted(kinds, key=["deposit", "wallet", "court_claim", "vehicle", "real_estate"].index)  # money first
    assert "real_estate" not in kinds and kinds.count("vehicle") == 1
    kept = sum(k["kept_fen"] for k in plan["kept_for_living"])  # a person keeps his living allowance
    assert sum(o["amount_fen"] for o in plan["orders"] if o["amount_fen"]) == money - kept
    assert plan["shortfall_fen"] == 0
    key = uuid.uuid4().hex
    status, executed = await post_json(api, f"/v1/cases/{case}/freeze-plan", {**request, "execute": True, "idempotency_key": key})
    assert status == 202 and len(executed["order_ids"]) == len(plan["orders"])
    # A line per order the plan placed, as for an order an officer places himself.
    placed = [orjson.loads(line) for line in (stack.logs / "gateway.log").read_text().splitlines()
              if line.startswith("{") and '"order placed"' in line]
    assert {p["order_id"] for p in placed if p["via"] == "freeze plan"} >= set(executed["order_ids"])
    orders = [await settled(api, order_id) for order_id in executed["order_ids"]]
    assert {o["status"] for o in orders} == {"applied"}
    status, replay = await post_json(api, f"/v1/cases/{case}/freeze-plan", {**request, "execute": True, "idempotency_key": key})
    assert status == 200 and replay["replayed"] and replay["order_ids"] == executed["order_ids"]
    # Nothing left to freeze: a new plan is empty.
    status, again = await post_json(api, f"/v1/cases/{case}/freeze-plan", request)
    assert again["orders"] == [] and again["covered_fen"] >= due


@pytest.mark.isolated  # moves the simulators' clock, which would lapse other tests' freezes
async def test_freeze_lapses_unless_continued(api, officers, simulators, population, credential) -> None:
    debtor = pick(population, lambda assets: any(a.kind == "vehicle" for a in assets) and has_account(2_000)(assets))
    case_a, assets = await open_case(api, debtor, credential, COURT_A)
    api_b = officers("OFFICER-B1", COURT_B)
    case_b, _ = await open_case(api_b, debtor, credential, COURT_B)
    account = largest_account(assets)  # at least 20 yuan: the 10 frozen, and his living allowance
    vehicle = first(assets, "vehicle")
    kept = await place(api, order_body("freeze", case_a, COURT_A, account, credential, amount_fen=1_000, term_days=30))
    left = await place(api, order_body("freeze", case_a, COURT_A, vehicle, credential, term_days=30))
    queued = await place(api_b, order_body("freeze", case_b, COURT_B, vehicle, credential, term_days=60, operator=None))
    assert (kept["status"], left["status"], queued["status"]) == ("applied", "applied", "queued")
    status, err = await post_json(api, "/v1/orders", order_body("continue", case_a, COURT_A, account, credential,
                                                           original_order_id=kept["id"], term_days=366))
    assert status == 422 and err["errors"][0]["field"] == "term_days"  # at most one term (365 days for deposits)
    cont = await place(api, order_body("continue", case_a, COURT_A, account, credential, original_order_id=kept["id"], term_days=60))
    assert cont["status"] == "applied" and cont["result"]["end_date"] > kept["result"]["end_date"]

    await simulators.advance(45)
    money_ledger = await simulators.ledger(account["institution_id"], account["account_no"])
    car_ledger = await simulators.ledger(vehicle["institution_id"], vehicle["plate"])
    assert [f["status"] for f in freezes_of(money_ledger)] == ["applied"]  # continued: still holds
    assert {f["court"]: f["status"] for f in freezes_of(car_ledger)} == {COURT_A: "lapsed", COURT_B: "applied"}  # promoted
    # The vehicle office told the network: the gateway knows the lapse and the promotion …
    async def told() -> dict | None:
        lapsed, promoted = (await get_json(api, f"/v1/orders/{left['id']}")), (await get_json(api_b, f"/v1/orders/{queued['id']}"))
        return {"lapsed": lapsed, "promoted": promoted} if (lapsed["status"], promoted["status"]) == ("lapsed", "applied") else None

    orders = await wait_for(told, 30, what="the lapse and the promotion to reach the gateway")
    assert orders["lapsed"]["history"][-1]["actor"] == vehicle["institution_id"]
    assert orders["lapsed"]["history"][-1]["event"] == "freeze_lapsed"
    assert orders["promoted"]["result"]["queue_position"] is None
    # … so a late continuation is refused at the desk, before it bothers the institution.
    status, err = await post_json(api, "/v1/orders", order_body("continue", case_a, COURT_A, vehicle, credential,
                                                           original_order_id=left["id"], term_days=30))
    assert status == 422 and "lapsed" in err["message"]
