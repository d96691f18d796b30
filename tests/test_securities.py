"""The national securities depository through the real chain — gateway API, Kafka, the connector
worker, the depository's business messages and its ledger: the report equals the ground truth
(holdings with quantity, price and value); freezes by quantity in working hours (the ledger holds
exactly the shares frozen), continued, released in part and then whole; outside working hours a
freeze is refused with the next submission time, held by the connector ("queued for submission"
in its trail) and applied when submitted again then; the plan freezes the fewest shares that cover
what remains; and a failing depository ends only its own legs.

Working hours are on the simulators' clock: the tests move it (forward only, shared by the whole
session) to just before or into a trading session, so nothing waits for hours."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.directory import Directory
from schemas.orders import MONEY_KINDS
from simulators.population import Population
from simulators.trading_hours import SHANGHAI, is_open, next_opening
from tests.helpers import (
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
    report_while_misbehaving,
    settled,
    wait_inquiry,
)

pytestmark = pytest.mark.e2e

INST = "securities-01"


def holds_shares(min_quantity: int = 100, money: bool | None = None):  # type: ignore[no-untyped-def]
    def check(assets: list) -> bool:
        shares = any(a.kind == "securities" and a.quantity >= min_quantity for a in assets)
        has_money = any(a.kind in MONEY_KINDS and not getattr(a, "protected", False) and a.value_fen > 0 for a in assets)
        return shares and (money is None or money == has_money)
    return check


def largest_holding(assets: list[dict]) -> dict:
    return max((a for a in assets if a["kind"] == "securities"), key=lambda a: (a["quantity"], a["holding_id"]))


async def sim_now(simulators) -> datetime:  # type: ignore[no-untyped-def]
    return datetime.fromisoformat((await simulators.clock())["now"])


async def move_clock_to(simulators, target: datetime) -> None:  # type: ignore[no-untyped-def]
    """The simulators' clock moved forward to ``target`` (it never goes back)."""
    now = await sim_now(simulators)
    assert target > now, f"the clock is already past {target}"
    await simulators.advance((target - now) / timedelta(days=1))


async def into_working_hours(simulators) -> None:  # type: ignore[no-untyped-def]
    await move_clock_to(simulators, next_opening(await sim_now(simulators)) + timedelta(hours=1))


def test_holdings_come_from_the_depositorys_own_stream() -> None:
    """Adding the depository moved no other holding: without it, everyone holds the same."""
    counts = {"bank": 3, "land": 1, "vehicle": 1, "payment": 1, "fund": 2, "equity": 1, "court": 2}
    without = Population.generate(seed=7, persons=400, companies=40, directory=Directory.from_counts({**counts, "securities": 0}))
    with_ = Population.generate(seed=7, persons=400, companies=40, directory=Directory.from_counts({**counts, "securities": 1}))
    holdings = 0
    for d in with_.debtors:
        mine = with_.assets_of(d.id_number)
        assert [a for a in mine if a.kind != "securities"] == without.assets_of(d.id_number)
        for h in (a for a in mine if a.kind == "securities"):
            holdings += 1
            assert h.value_fen == h.quantity * h.price_fen and h.quantity % 100 == 0 and h.holding_id == f"{h.account_no}:{h.security_code}"
    assert holdings > 10


@pytest.mark.parametrize(("local", "open_", "opening"), [
    ("2026-12-01T08:59:59", False, "2026-12-01T09:00:00"),  # a Tuesday morning, a second early
    ("2026-12-01T09:00:00", True, "2026-12-01T09:00:00"),  # an opening is its own next opening
    ("2026-12-01T14:59:59", True, "2026-12-02T09:00:00"),
    ("2026-12-04T15:00:00", False, "2026-12-07T09:00:00"),  # Friday's close: Monday's opening
    ("2026-12-05T10:00:00", False, "2026-12-07T09:00:00"),  # a Saturday
])
def test_working_hours_are_trading_days_nine_to_three_in_shanghai(local: str, open_: bool, opening: str) -> None:
    at = datetime.fromisoformat(local).replace(tzinfo=SHANGHAI)
    assert is_open(at) is open_
    assert next_opening(at) == datetime.fromisoformat(opening).replace(tzinfo=SHANGHAI)
    assert is_open(at.astimezone(UTC)) is open_  # an instant is an instant, whatever its zone


async def test_report_shows_holdings_with_price_and_value_as_the_truth(api, simulators, population, credential) -> None:
    debtor = pick(population, holds_shares())
    status, accepted = await post_json(api, "/v1/inquiries", case_body([debtor_json(debtor)], credential))
    assert status == 202, accepted
    [report] = (await wait_inquiry(api, accepted["location"]))["reports"]
    await assert_matches_truth(report, simulators)
    holdings = report["assets"]["securities"]
    assert holdings and all(h["value_fen"] == h["quantity"] * h["price_fen"] for h in holdings)
    assert all(h["holding_id"] == f"{h['account_no']}:{h['security_code']}" for h in holdings)
    assert report["totals_fen"]["securities"] == sum(h["value_fen"] for h in holdings)


async def test_freeze_by_quantity_continue_and_unfreeze_in_part_then_whole(api, simulators, population, credential) -> None:
    debtor = pick(population, holds_shares(min_quantity=300))
    case, assets = await open_case(api, debtor, credential)
    holding = largest_holding(assets)
    hid, held, price = holding["holding_id"], holding["quantity"], holding["price_fen"]
    await into_working_hours(simulators)

    # Bad input names the field, and nothing is stored: shares, not an amount; no more than held.
    for extra, field in (({"amount_fen": 100, "term_days": 30}, "amount_fen"), ({"term_days": 30}, "quantity"),
                         ({"quantity": held + 1, "term_days": 30}, "quantity")):
        status, wrong = await post_json(api, "/v1/orders", order_body("freeze", case, COURT_A, holding, credential, **extra))
        assert status == 422 and wrong["errors"][0]["field"] == field, wrong
    assert (await get_json(api, f"/v1/orders?case_number={case}"))["orders"] == []

    frozen = held // 2
    freeze = await place(api, order_body("freeze", case, COURT_A, holding, credential, quantity=frozen, term_days=365))
    assert freeze["status"] == "applied" and freeze["quantity"] == frozen, freeze
    assert freeze["result"]["held_fen"] == frozen * price and freeze["amount_fen"] == frozen * price
    ledger = await simulators.ledger(INST, hid)
    assert (ledger["quantity"], ledger["frozen_quantity"], ledger["price_fen"]) == (held, frozen, price)
    [f] = ledger["freezes"]
    assert (f["freeze_id"], f["held_quantity"], f["requested_quantity"], f["held_fen"]) == (freeze["id"], frozen, frozen, frozen * price)

    # The depository dedupes on the request number: the same request again is answered as the first time.
    account, _, code = hid.partition(":")
    again = {"biz_code": "F001", "request_no": freeze["id"], "court": COURT_A, "case_number": case, "debtor_id_number": debtor.id_number,
             "account_no": account, "security_code": code, "quantity": 1, "term_days": 30, "ruling_number": "r", "notice_number": "n",
             "officer_credentials": [credential], "served_at": datetime.now(SHANGHAI).isoformat()}
    status, replay = await simulators.send(simulators.signed(INST, "POST", f"/{INST}/csdc/v1/business", again))
    assert status == 200 and replay["ret_code"] == "0000" and replay["record"]["duplicate"] is True, replay
    assert replay["record"]["held_quantity"] == frozen and (await simulators.ledger(INST, hid))["frozen_quantity"] == frozen

    cont = await place(api, order_body("continue", case, COURT_A, holding, credential, original_order_id=freeze["id"], term_days=30))
    assert cont["status"] == "applied", cont
    extended = (await simulators.ledger(INST, hid))["freezes"][0]["end_date"]
    assert datetime.fromisoformat(extended) - datetime.fromisoformat(f["end_date"]) == timedelta(days=30)

    status, wrong = await post_json(api, "/v1/orders", order_body("unfreeze", case, COURT_A, holding, credential,
                                                                 original_order_id=freeze["id"], quantity=frozen + 1))
    assert status == 422 and wrong["errors"][0]["field"] == "quantity", wrong
    part = await place(api, order_body("unfreeze", case, COURT_A, holding, credential, original_order_id=freeze["id"], quantity=100))
    assert part["status"] == "partially_applied" and part["result"]["held_fen"] == (frozen - 100) * price, part
    ledger = await simulators.ledger(INST, hid)
    assert ledger["frozen_quantity"] == frozen - 100 and ledger["freezes"][0]["status"] == "applied"
    # The freeze's own order learns what it holds now from the depository's event feed.
    await order_when(api, freeze["id"], lambda o: o["result"]["held_fen"] == (frozen - 100) * price, "the partial release to reach the freeze")

    whole = await place(api, order_body("unfreeze", case, COURT_A, holding, credential, original_order_id=freeze["id"]))
    assert whole["status"] == "applied", whole
    ledger = await simulators.ledger(INST, hid)
    assert ledger["frozen_quantity"] == 0 and ledger["freezes"][0]["status"] == "released"
    assert (await get_json(api, f"/v1/orders/{freeze['id']}"))["status"] == "released"


async def test_the_depository_queues_by_its_own_submission_time_not_the_courts_service_time(
        api, simulators, population, credential) -> None:
    debtor = pick(population, holds_shares())
    _, assets = await open_case(api, debtor, credential)
    holding = largest_holding(assets)
    account, _, code = holding["holding_id"].partition(":")
    await into_working_hours(simulators)
    now = await sim_now(simulators)

    async def submit(court_case: str, quantity: int, served: datetime) -> dict[str, Any]:
        body = {"biz_code": "F001", "request_no": uuid.uuid4().hex, "court": COURT_A, "case_number": court_case,
                "debtor_id_number": debtor.id_number, "account_no": account, "security_code": code, "quantity": quantity,
                "term_days": 30, "ruling_number": "r", "notice_number": "n", "officer_credentials": [credential],
                "served_at": served.isoformat()}
        status, answer = await simulators.send(simulators.signed(INST, "POST", f"/{INST}/csdc/v1/business", body))
        assert status == 200 and answer["ret_code"] == "0000", answer
        return answer["record"]

    whole = await submit(new_case_number(), holding["quantity"], now)
    assert whole["status"] == "applied" and whole["held_quantity"] == holding["quantity"]
    # Served yesterday evening, refused then, submitted now: behind whatever the depository took first,
    # even a freeze served later than it.
    taken_first = await submit(new_case_number(), 100, now - timedelta(hours=12))
    served_earlier = await submit(new_case_number(), 100, now - timedelta(hours=15))
    assert (taken_first["status"], taken_first["queue_position"]) == ("queued", 1), taken_first
    assert (served_earlier["status"], served_earlier["queue_position"]) == ("queued", 2), served_earlier


async def test_outside_working_hours_a_freeze_is_requeued_and_applied_at_the_next_submission_time(
        api, simulators, population, credential) -> None:
    debtor = pick(population, holds_shares())
    case, assets = await open_case(api, debtor, credential)
    holding = largest_holding(assets)
    opening = next_opening(await sim_now(simulators))
    await move_clock_to(simulators, opening - timedelta(seconds=20))

    # On the wire: refused at the door with the next submission time, the depository's own clock beside it.
    account, _, code = holding["holding_id"].partition(":")
    probe = {"biz_code": "F001", "request_no": uuid.uuid4().hex, "court": COURT_A, "case_number": case,
             "debtor_id_number": debtor.id_number, "account_no": account, "security_code": code, "quantity": 100, "term_days": 30,
             "ruling_number": "r", "notice_number": "n", "officer_credentials": [credential], "served_at": opening.isoformat()}
    status, refused = await simulators.send(simulators.signed(INST, "POST", f"/{INST}/csdc/v1/business", probe))
    assert status == 200 and refused["ret_code"] == "2001" and "record" not in refused, refused
    assert datetime.fromisoformat(refused["next_submit_time"]) == opening
    # Inquiries are answered at any hour.
    query = {"biz_code": "Q001", "request_no": uuid.uuid4().hex, "case_number": case, "court": COURT_A, "notice_number": "n",
             "officer_credentials": [credential], "subjects": [{**debtor_json(debtor), "request_id": "s1",
                                                                 "id_type": "resident_id" if debtor.kind == "person" else "uscc"}]}
    status, answered = await simulators.send(simulators.signed(INST, "POST", f"/{INST}/csdc/v1/business", query))
    assert status == 200 and answered["ret_code"] == "0000", answered
    assert holding["holding_id"] in {f"{a['account_no']}:{h['security_code']}" for a in answered["results"][0]["accounts"]
                                     for h in a["holdings"]}

    status, order = await post_json(api, "/v1/orders", order_body("freeze", case, COURT_A, holding, credential, quantity=100, term_days=365))
    assert status == 202, order
    waiting = await order_when(api, order["id"], lambda o: any(h["event"] == "queued_for_submission" for h in o["history"]),
                               "the depository's refusal to reach the order's trail")
    assert waiting["status"] == "sent", waiting
    [note] = [h for h in waiting["history"] if h["event"] == "queued_for_submission"]
    assert "非工作时间" in note["detail"]["reason"] and opening.isoformat() in note["detail"]["reason"], note
    assert note["detail"]["resubmit_at"], note

    applied = await settled(api, order["id"], timeout=60)
    assert applied["status"] == "applied" and applied["result"]["held_fen"] == 100 * holding["price_fen"], applied
    events = [h["event"] for h in (await get_json(api, f"/v1/orders/{order['id']}"))["history"]]
    assert events.index("queued_for_submission") < events.index("answered"), events
    [f] = [f for f in (await simulators.ledger(INST, holding["holding_id"]))["freezes"] if f["freeze_id"] == order["id"]]
    assert f["held_quantity"] == 100 and datetime.fromisoformat(f["start_date"]) >= opening, f


async def test_plan_freezes_the_fewest_shares_that_cover_what_remains(api, population, credential) -> None:
    debtor = pick(population, lambda assets: holds_shares(min_quantity=200, money=False)(assets))
    top = max((a for a in population.assets_of(debtor.id_number) if a.kind == "securities"), key=lambda a: (a.value_fen, a.asset_id))
    due = top.value_fen // 2 + 1
    case, _ = await open_case(api, debtor, credential, due_fen=due)
    plan = {"court": COURT_A, "ruling_number": "r", "notice_number": "n", "officer_credentials": [credential]}
    status, planned = await post_json(api, f"/v1/cases/{case}/freeze-plan", plan)
    assert status == 200, planned
    order = planned["orders"][0]
    quantity = -(-due // top.price_fen)
    assert order["asset"] == {"kind": "securities", "id": top.asset_id} and order["amount_fen"] is None, order
    assert order["quantity"] == quantity and order["value_fen"] == quantity * top.price_fen and order["term_days"] == 1095
    assert (quantity - 1) * top.price_fen < due <= order["value_fen"]  # 超标的 by less than one share
    assert len(planned["orders"]) == 1 and planned["shortfall_fen"] == 0


async def test_a_failing_depository_ends_only_its_own_legs(api, simulators, population, credential) -> None:
    debtor = pick(population, lambda assets: holds_shares()(assets) and any(a.kind == "deposit" for a in assets))
    report = await report_while_misbehaving(api, simulators, debtor, credential, {INST: {"error_rate": 1, "error_status": 400}})
    legs: dict[str, Any] = {leg["institution_id"]: leg for leg in report["legs"]}
    assert legs[INST]["status"] == "failed" and "400" in (legs[INST]["reason"] or ""), legs[INST]
    assert report["assets"]["securities"] == []
    assert all(leg["status"] in ("found", "not_found") for i, leg in legs.items() if i != INST)
    truth = await simulators.truth(debtor.id_number)
    assert {a["account_no"] for a in report["assets"]["deposit"]} == {a["account_no"] for a in truth if a["kind"] == "deposit"}
