"""Institutions speak first (issue 14), as the gateway takes it: events about orders and accounts
through the real chain, and events the gateway cannot place dead-lettered with the reason."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from rich.console import Console

from assetgw.officer import render_inquiry
from assetgw.ops.dlq import list_dead_letters
from infra.kafka.topics import institution_events_topic
from schemas.events import FreezeState, InstitutionEvent, event_key
from schemas.messages import encode
from tests.helpers import (
    ACCOUNT_A,
    ACCOUNT_B,
    COURT_A,
    COURT_B,
    get_json,
    has_account,
    next_sse_alert,
    open_case,
    open_case_inquiry,
    ops_settings,
    order_body,
    order_when,
    pick,
    place,
    post_json,
    report_assets,
    run_cli,
    settled,
    wait_for,
    watch_auto_freeze,
    watch_body,
)

# Issue 14's scenarios run on the Tansu broker too (./scripts/test).
pytestmark = pytest.mark.e2e


async def publish(stack, events: list[InstitutionEvent]) -> None:  # type: ignore[no-untyped-def]
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for e in events:
            await producer.send_and_wait(institution_events_topic(stack.env["ASSETGW_TOPIC_PREFIX"]), encode(e), key=event_key(e))
    finally:
        await producer.stop()


_CRAFTED = itertools.count(10**9)  # far beyond any real feed position, so no real event is mistaken for a repeat of one


def crafted(institution_id: str, asset_id: str, **fields: Any) -> InstitutionEvent:
    # Each its own feed position, as an institution's events are: two crafted events of one
    # institution with one id would be one event told twice.
    seq = next(_CRAFTED)
    return InstitutionEvent(event_id=f"{institution_id}:{seq}", seq=seq, institution_id=institution_id, type="freeze_captured",
                            at=datetime.now(UTC), asset_kind="deposit", asset_id=asset_id, **fields)


async def test_events_the_gateway_cannot_place_are_dead_lettered_with_the_reason_and_change_nothing(
        stack, api, population, credential) -> None:  # type: ignore[no-untyped-def]
    debtor = pick(population, has_account(10_000), kind="organisation")
    case, assets = await open_case(api, debtor, credential)
    account = next(a for a in assets if a["kind"] == "deposit" and a["value_fen"] >= 10_000)
    freeze = await place(api, order_body("freeze", case, COURT_A, account, credential, amount_fen=5_000, term_days=30))
    inst, number = account["institution_id"], account["account_no"]
    state = FreezeState(freeze_id=freeze["id"], court=COURT_A, status="released", held_fen=0, requested_fen=5_000)
    bad = {
        "unknown institution": crafted("bank-99", number, freeze=state),
        "unknown asset": crafted(inst, "6200000000000000000", freeze=state),
        "unknown freeze": crafted(inst, number, freeze=state.model_copy(update={"freeze_id": "f-nobody-ordered"})),
    }
    await publish(stack, list(bad.values()))
    settings = ops_settings(stack)

    async def letters() -> dict[str, str] | None:
        found = {}
        for letter in await list_dead_letters(settings, progress=False, source_topic=institution_events_topic(settings.topic_prefix)):
            for reason, e in bad.items():
                if e.event_id.encode() in letter.value and reason in letter.reason and letter.key == event_key(e):
                    found[reason] = letter.reason
        return found if len(found) == len(bad) else None

    reasons = await wait_for(letters, 30, what="the three events to be dead-lettered")
    assert "bank-99" in reasons["unknown institution"] and "in no report" in reasons["unknown asset"]
    assert "f-nobody-ordered" in reasons["unknown freeze"]
    after = await get_json(api, f"/v1/orders/{freeze['id']}")
    assert (after["status"], after["history"]) == (freeze["status"], freeze["history"])  # nothing changed


# -- the institution's later changes, as the gateway learns them ------------------------------------

def held(order: dict) -> int | None:
    return order["result"]["held_fen"]


async def test_captured_funds_are_held_in_the_gateway_and_can_be_deducted_in_full(
        api, officers, simulators, population, credential) -> None:  # type: ignore[no-untyped-def]
    debtor = pick(population, has_account(1_000), kind="organisation")
    case, inquiry, assets = await open_case_inquiry(api, debtor, credential)
    account = next(a for a in assets if a["kind"] == "deposit" and not a["protected"])
    inst, number, balance = account["institution_id"], account["account_no"], account["value_fen"]
    amount = balance + 900_000
    freeze = await place(api, order_body("freeze", case, COURT_A, account, credential, amount_fen=amount, term_days=180))
    assert freeze["status"] == "partially_applied" and held(freeze) == balance

    await simulators.credit(inst, number, 1_000_000)  # more than the freeze still seeks
    captured = await order_when(api, freeze["id"], lambda o: held(o) == amount, "the capture to reach the gateway")
    assert captured["status"] == "applied"
    told = captured["history"][-1]
    assert (told["actor"], told["event"]) == (inst, "freeze_captured")
    assert told["detail"]["changes"]["held_fen"] == [balance, amount] and told["at"].endswith("+08:00")

    # The report shows the balance as it stands now, and the freeze on it: whose, how much, until when.
    [now] = [a for a in report_assets(await get_json(api, inquiry)) if a.get("account_no") == number]
    assert (now["value_fen"], now["reported_value_fen"]) == (balance + 1_000_000, balance)
    assert now["balance_as_of"].endswith("+08:00")
    [control] = now["control"]
    assert (control["order_id"], control["court"], control["case_number"], control["status"], control["held_fen"]) == (
        freeze["id"], COURT_A, case, "applied", amount)
    assert control["end_date"].endswith("+08:00")

    deduct = order_body("deduct", case, COURT_A, account, credential, amount_fen=amount, original_order_id=freeze["id"],
                        enforcement_account=ACCOUNT_A)
    status, placed = await post_json(api, "/v1/orders", deduct)
    assert status == 202, placed  # the gateway knows the freeze holds it all
    status, _ = await post_json(officers("OFFICER-A2", COURT_A), f"/v1/orders/{placed['id']}/approve", {})
    assert status == 200
    done = await settled(api, placed["id"])
    assert done["status"] == "applied" and done["result"]["deducted_fen"] == amount
    emptied = await order_when(api, freeze["id"], lambda o: held(o) == 0, "the deduction to reach the freeze")
    assert emptied["result"]["deducted_fen"] == amount
    ledger = await simulators.ledger(inst, number)
    assert ledger["balance_fen"] == balance + 1_000_000 - amount and ledger["deductions"][0]["amount_fen"] == amount


async def test_a_promoted_queued_freeze_can_be_continued_and_deducted_by_the_second_court(
        api, officers, simulators, population, credential) -> None:  # type: ignore[no-untyped-def]
    api_b, approver_b = officers("OFFICER-B1", COURT_B), officers("OFFICER-B2", COURT_B)
    debtor = pick(population, has_account(20_000), kind="organisation")
    case_a, assets = await open_case(api, debtor, credential, COURT_A)
    case_b, _ = await open_case(api_b, debtor, credential, COURT_B)
    account = max((a for a in assets if a["kind"] == "deposit" and not a["protected"]), key=lambda a: a["value_fen"])
    first = await place(api, order_body("freeze", case_a, COURT_A, account, credential, amount_fen=account["value_fen"], term_days=365))
    second = await place(api_b, order_body("freeze", case_b, COURT_B, account, credential, amount_fen=5_000, term_days=90, operator=None))
    assert (first["status"], second["status"], second["result"]["queue_position"]) == ("applied", "queued", 1)
    # Court B cannot act on a freeze still in line.
    cont = order_body("continue", case_b, COURT_B, account, credential, original_order_id=second["id"], term_days=30, operator=None)
    status, err = await post_json(api_b, "/v1/orders", cont)
    assert status == 422 and "queued" in err["message"]

    unfreeze = await place(api, order_body("unfreeze", case_a, COURT_A, account, credential, original_order_id=first["id"]))
    assert unfreeze["status"] == "applied"
    promoted = await order_when(api_b, second["id"], lambda o: o["status"] == "applied", "the promotion to reach the gateway")
    assert held(promoted) == 5_000 and promoted["result"]["queue_position"] is None
    assert promoted["history"][-1]["event"] == "freeze_promoted" and promoted["history"][-1]["actor"] == account["institution_id"]

    continued = await place(api_b, {**cont, "idempotency_key": uuid.uuid4().hex})
    assert continued["status"] == "applied" and continued["result"]["end_date"] > promoted["result"]["end_date"]
    deduct = order_body("deduct", case_b, COURT_B, account, credential, amount_fen=5_000, original_order_id=second["id"],
                        enforcement_account=ACCOUNT_B, operator=None)
    status, placed = await post_json(api_b, "/v1/orders", deduct)
    assert status == 202, placed
    status, _ = await post_json(approver_b, f"/v1/orders/{placed['id']}/approve", {})
    assert status == 200
    assert (await settled(api_b, placed["id"]))["status"] == "applied"
    ledger = await simulators.ledger(account["institution_id"], account["account_no"])
    assert [(d["court"], d["amount_fen"]) for d in ledger["deductions"]] == [(COURT_B, 5_000)]


async def test_a_lapsed_freeze_no_longer_counts_so_a_new_freeze_is_accepted(api, simulators, population, credential) -> None:  # type: ignore[no-untyped-def]
    debtor = pick(population, has_account(20_000), kind="organisation")
    case, assets = await open_case(api, debtor, credential, due_fen=10_000)
    account = next(a for a in assets if a["kind"] == "deposit" and not a["protected"] and a["value_fen"] >= 20_000)
    freeze = await place(api, order_body("freeze", case, COURT_A, account, credential, amount_fen=10_000, term_days=20))
    assert freeze["status"] == "applied"
    again = order_body("freeze", case, COURT_A, account, credential, amount_fen=10_000, term_days=30)
    status, err = await post_json(api, "/v1/orders", again)
    assert status == 422 and "over-freezing" in err["message"]  # the case is fully secured

    await simulators.advance(21)
    lapsed = await order_when(api, freeze["id"], lambda o: o["status"] == "lapsed", "the lapse to reach the gateway")
    assert held(lapsed) == 0 and lapsed["history"][-1]["event"] == "freeze_lapsed"
    assert (await get_json(api, f"/v1/cases/{quote(case)}"))["totals"]["frozen_fen"] == 0
    renewed = await place(api, {**again, "idempotency_key": uuid.uuid4().hex})
    assert renewed["status"] == "applied" and held(renewed) == 10_000


async def test_a_lost_event_is_repaired_by_reconciliation(stack, api, simulators, population, credential) -> None:  # type: ignore[no-untyped-def]
    debtor = pick(population, has_account(1_000), kind="organisation")
    case, inquiry, assets = await open_case_inquiry(api, debtor, credential)
    account = next(a for a in assets if a["kind"] == "deposit" and not a["protected"])
    inst, number, balance = account["institution_id"], account["account_no"], account["value_fen"]
    freeze = await place(api, order_body("freeze", case, COURT_A, account, credential, amount_fen=balance + 70_000, term_days=180))
    assert held(freeze) == balance

    await simulators.lose_events(inst, 2)  # the credit and the capture happen; the network never hears of them
    await simulators.credit(inst, number, 70_000)
    assert (await simulators.ledger(inst, number))["freezes"][0]["held_fen"] == balance + 70_000
    # A later event of the same institution reaches the gateway: the lost ones would have by now.
    await simulators.credit(inst, number, 1)
    await wait_for(lambda: _balance_is(api, inquiry, number, balance + 70_001), 30, what="the later credit to reach the gateway")
    stale = await get_json(api, f"/v1/orders/{freeze['id']}")
    assert (stale["status"], held(stale)) == ("partially_applied", balance)

    ops = stack.token("OPS-1", COURT_A, "冀0108", ["ops"])
    code, out, err = await run_cli(stack, "reconcile", "--api", stack.api_url, "--json", env={"ASSETGW_TOKEN": ops})
    assert code == 0, err
    run = orjson.loads(out)
    mine = {(d["subject"], d["field"]): (d["gateway"], d["institution"]) for d in run["differences"] if d["subject"] == freeze["id"]}
    assert mine[(freeze["id"], "held_fen")] == (balance, balance + 70_000)
    assert mine[(freeze["id"], "status")] == ("partially_applied", "applied")
    repaired = await get_json(api, f"/v1/orders/{freeze['id']}")
    assert (repaired["status"], held(repaired)) == ("applied", balance + 70_000)
    assert repaired["history"][-1]["event"] == "reconciled" and repaired["history"][-1]["actor"] == inst
    code, out, _ = await run_cli(stack, "reconcile", "--api", stack.api_url, env={"ASSETGW_TOKEN": ops})
    assert code == 0 and freeze["id"] not in out  # agreed since


async def _balance_is(api, inquiry: str, account_no: str, balance: int) -> bool:  # type: ignore[no-untyped-def]
    """The inquiry's report shows the account's live balance as ``balance``."""
    return any(a.get("account_no") == account_no and a["value_fen"] == balance for a in report_assets(await get_json(api, inquiry)))


async def test_seed_003_money_arriving_in_a_watched_empty_account_is_frozen_within_seconds(
        api, simulators, population, credential) -> None:  # type: ignore[no-untyped-def]
    """Seed 003: the network tells the court that money landed in a debtor's account, and the court
    freezes it at once — here a watch with an automatic freeze, through the whole chain."""
    debtor = pick(population, has_account(1_000), kind="organisation")
    case, inquiry, assets = await open_case_inquiry(api, debtor, credential, due_fen=200_000)
    account = next(a for a in assets if a["kind"] == "deposit" and not a["protected"] and a["value_fen"] > 0)
    inst, number = account["institution_id"], account["account_no"]
    await simulators.debit(inst, number, account["value_fen"])  # the debtor empties it before the court acts
    await wait_for(lambda: _balance_is(api, inquiry, number, 0), 30, what="the empty account to show in the report")
    plan = await post_json(api, f"/v1/cases/{quote(case)}/freeze-plan", {
        "court": COURT_A, "ruling_number": f"{case}之一", "notice_number": f"{case}-协执", "officer_credentials": [credential]})
    assert plan[0] == 200 and all(p["asset"]["id"] != number for p in plan[1]["orders"])  # nothing there to freeze

    status, watch = await post_json(api, "/v1/watches", watch_body(case, debtor, kinds=["funds"],
                                                                  auto_freeze=watch_auto_freeze(case, credential)))
    assert status == 202, watch
    async with api.get("/v1/alerts/stream", params={"case_number": case}) as stream:
        await simulators.credit(inst, number, 80_000)  # a customer pays the company ¥800
        _, alert, _ = await next_sse_alert(stream)
    assert (alert["watch_id"], alert["kind"], alert["what"]["asset"]) == (watch["id"], "funds", {"kind": "deposit", "id": number})
    assert alert["summary"].startswith("账户到账 ¥800.00")
    order = await settled(api, alert["auto_freeze"]["order_id"])
    assert (order["status"], held(order), order["amount_fen"]) == ("applied", 80_000, 80_000)
    assert [(f["court"], f["held_fen"]) for f in (await simulators.ledger(inst, number))["freezes"]] == [(COURT_A, 80_000)]
    # The report: the new balance, and all of it frozen by this court for this case.
    report = await get_json(api, inquiry)
    [now] = [a for a in report_assets(report) if a.get("account_no") == number]
    assert now["value_fen"] == 80_000
    assert [(c["court"], c["case_number"], c["held_fen"]) for c in now["control"]] == [(COURT_A, case, 80_000)]
    console = Console(record=True, width=200)
    render_inquiry(report, console)  # as `assetgw report` prints it for the officer
    assert f"冻结 ¥800.00 {COURT_A} 至 {now['control'][0]['end_date'][:10]}" in console.export_text()
