"""Institutions remember: a simulator killed with SIGKILL and started again has the same ledgers,
clock, order answers, feeds and known assets, still refuses a replayed request, and a kill in the
middle of 500 freezes leaves every freeze applied exactly once, as the gateway says."""

from __future__ import annotations

import asyncio
import signal
import uuid
from typing import Any

import pytest

from simulators.control_order import ControlOrder
from simulators.ledger_book import LedgerBook
from simulators.store import StoreError, open_store
from tests.helpers import (
    COURT_A,
    control_body,
    get_json,
    has_account,
    largest_account,
    new_case_number,
    open_case,
    order_body,
    pick,
    place,
    post_json,
    wait_for,
    wait_inquiry,
)

FREEZES = 500
HELD_FEN = 100  # per freeze: far below any chosen balance, so every one applies whole


def test_a_store_serves_one_population_and_one_process(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "simulators" / "bank.sqlite3"
    journal, saved, nonces = open_store(path, "seed 1", 600)
    assert (saved.ledgers, saved.answers, saved.known, saved.events, nonces) == ({}, {}, [], [], [])
    with pytest.raises(StoreError, match="another simulator"):
        open_store(path, "seed 1", 600)  # held by the first: two copies in memory would diverge
    journal.close()
    with pytest.raises(StoreError, match="another population"):
        open_store(path, "seed 2", 600)


def test_what_changes_nothing_writes_nothing(tmp_path, population, credential) -> None:  # type: ignore[no-untyped-def]
    journal, _, _ = open_store(tmp_path / "all.sqlite3", "test", 600)
    book = LedgerBook(population, journal=journal)
    debtor = next(d for d in population.debtors if any(a.kind == "deposit" and not a.protected for a in population.assets_of(d.id_number)))
    account = next(a for a in population.assets_of(debtor.id_number) if a.kind == "deposit" and not a.protected)
    held = population.assets_at(account.institution_id, debtor.id_number)
    order = ControlOrder.model_validate(control_body("o-1", account.model_dump(mode="json"), debtor.id_number, credential, "(2025)冀0108执1号"))
    for step in range(2):  # the first time news, the second time nothing new
        book.note_reported(account.institution_id, held)
        journal.flush()
        book.execute(account.institution_id, order)
        journal.flush()
        book.ledger(account.institution_id, account.asset_id)
        book.events.after(account.institution_id, 0, 100)
        journal.flush()
        assert journal.commits == 2, f"round {step + 1}: {journal.commits} commits"
    journal.close()


def _unknown_account(population: Any, institution_id: str) -> str:
    """A deposit at the institution of a debtor no test of this module asks about (the middle of
    the population: ``pick`` takes from the start, the 500 freezes from the end)."""
    middle = population.debtors[len(population.debtors) // 2:]
    return next(a.asset_id for d in middle for a in population.assets_at(institution_id, d.id_number) if a.kind == "deposit")


@pytest.mark.isolated
async def test_a_restarted_simulator_remembers_everything_and_refuses_a_replay(stack, api, simulators, population, credential) -> None:
    debtor = pick(population, has_account(20_000, takes_calls=True), kind="person")
    case, assets = await open_case(api, debtor, credential)  # the bank reports the account: the network knows it
    account = largest_account(assets, takes_calls=True)  # its wire request is captured and replayed below
    inst, account_no = account["institution_id"], account["account_no"]
    freeze = await place(api, order_body("freeze", case, COURT_A, account, credential, amount_fen=5_000, term_days=365))
    assert freeze["status"] == "applied"
    # A partner's own control order, captured on the wire to be replayed after the restart.
    direct_body = control_body(uuid.uuid4().hex, account, debtor.id_number, credential, case)
    captured = simulators.signed(inst, "POST", f"/{inst}/controls", direct_body)
    status, first = await simulators.send(captured)
    assert status == 200 and first["status"] == "applied", first
    await simulators.advance(2)
    await simulators.credit(inst, account_no, 700)  # news on a known account: an event
    await simulators.lose_events(inst, 1)  # a fault still pending at the kill
    feed = simulators.signed(inst, "GET", f"/{inst}/events?after=0&limit=1000")
    before = {"ledger": await simulators.ledger(inst, account_no), "offset_days": (await simulators.clock())["offset_days"],
              "position": await simulators.feed_position(inst), "summary": await simulators.summary("bank"),
              "feed": (await simulators.send(feed))[1]}
    assert before["position"]["pending_loss"] == 1 and before["feed"]["events"]

    stack.kill("simulator")  # SIGKILL: no chance to save anything on the way out
    await stack.restart("simulator")

    assert await simulators.ledger(inst, account_no) == before["ledger"]
    assert (await simulators.clock())["offset_days"] == before["offset_days"]
    assert await simulators.feed_position(inst) == before["position"]
    assert await simulators.summary("bank") == before["summary"]
    assert (await simulators.send(simulators.signed(inst, "GET", f"/{inst}/events?after=0&limit=1000")))[1] == before["feed"]
    # The captured requests, replayed: refused, the nonces were kept.
    for request in (captured, feed):
        status, refusal = await simulators.send(request)
        assert (status, refusal["reason"]) == (401, "replayed")
    # The same order ids signed afresh: the first answers, marked duplicate, and nothing changes.
    status, again = await simulators.send(simulators.signed(inst, "POST", f"/{inst}/controls", direct_body))
    assert status == 200 and again == {**first, "duplicate": True}
    gateway_again = control_body(freeze["id"], account, debtor.id_number, credential, case, amount_fen=999_999)
    status, repeat = await simulators.send(simulators.signed(inst, "POST", f"/{inst}/controls", gateway_again))
    assert status == 200 and repeat["duplicate"] and (repeat["freeze_id"], repeat["held_fen"]) == (freeze["id"], 5_000)
    assert await simulators.ledger(inst, account_no) == before["ledger"]
    # The feed goes on from its seq: the pending loss takes the next event, the one after is served.
    last = before["position"]["last_seq"]
    await simulators.credit(inst, account_no, 100)
    await simulators.credit(inst, account_no, 100)
    assert await simulators.feed_position(inst) == {"institution_id": inst, "last_seq": last + 2, "pending_loss": 0}
    _, page = await simulators.send(simulators.signed(inst, "GET", f"/{inst}/events?after={before['feed']['next']}"))
    assert [(e["seq"], e["type"], e["asset_id"]) for e in page["events"]] == [(last + 2, "funds_credited", account_no)]
    # Known assets were kept: the account above made news; one nobody asked about makes none.
    await simulators.credit(inst, _unknown_account(population, inst), 100)
    assert (await simulators.feed_position(inst))["last_seq"] == last + 2


def _accounts(population: Any, count: int) -> tuple[list[Any], list[dict[str, Any]]]:
    """Debtors from the end of the population and ``count`` of their unprotected deposits."""
    debtors, accounts = [], []
    for d in reversed(population.debtors):
        mine = [a.model_dump(mode="json") for a in population.assets_of(d.id_number)
                if a.kind == "deposit" and not a.protected and a.value_fen >= 10_000]
        if mine:
            debtors.append(d)
            accounts += mine
        if len(accounts) >= count:
            return debtors, accounts[:count]
    raise AssertionError(f"fewer than {count} deposits to freeze")


@pytest.mark.isolated
async def test_simulator_killed_mid_500_freezes_holds_each_exactly_once(stack, api, simulators, population, credential) -> None:
    # Retries that outlast the restart: an order must not end "failed" while the bank is away.
    bank = stack.services["connector-bank"]
    stack.kill("connector-bank", signal.SIGTERM)
    bank.env["ASSETGW_CALL_ATTEMPTS"] = "100"
    await stack.restart("connector-bank")
    debtors, accounts = _accounts(population, FREEZES)
    case = new_case_number()
    status, accepted = await post_json(api, "/v1/inquiries", {
        "case_number": case, "court": COURT_A, "amount_due_fen": 10**12, "costs_fen": 0, "notice_number": f"{case}-查",
        "officer_credentials": [credential], "institutions": ["bank"],
        "debtors": [{"kind": d.kind, "id_number": d.id_number, "name": d.name} for d in debtors]})
    assert status == 202, accepted
    await wait_inquiry(api, accepted["location"], timeout=120)
    start = await simulators.summary("bank")

    sem = asyncio.Semaphore(16)

    async def freeze(account: dict[str, Any]) -> str:
        async with sem:
            status, order = await post_json(api, "/v1/orders", order_body("freeze", case, COURT_A, account, credential,
                                                                         amount_fen=HELD_FEN, term_days=365))
            assert status == 202, order
            return order["id"]

    placing = asyncio.gather(*(freeze(a) for a in accounts))

    async def under_way() -> int:
        applied = (await simulators.summary("bank"))["orders_applied"] - start["orders_applied"]
        return applied if applied >= 50 else 0

    applied_at_kill = await wait_for(under_way, 60, interval=0.02, what="the bank to apply its first freezes")
    stack.kill("simulator")  # SIGKILL, in the middle
    assert applied_at_kill < FREEZES, "every freeze was applied before the kill; nothing was tested"
    order_ids = await placing
    await stack.restart("simulator")

    async def all_answered() -> list[dict] | None:
        orders = await asyncio.gather(*(get_json(api, f"/v1/orders/{i}") for i in order_ids))
        return None if any(o["status"] in ("requested", "sent") for o in orders) else orders

    orders = await wait_for(all_answered, 240, interval=1, what="every freeze to be answered after the restart")
    assert {o["status"] for o in orders} == {"applied"}
    assert {o["result"]["held_fen"] for o in orders} == {HELD_FEN}
    # The bank's ledgers, to the fen: each order one freeze holding what the gateway says it holds.
    for account, order in zip(accounts, orders, strict=True):
        ledger = await simulators.ledger(account["institution_id"], account["account_no"])
        assert [(f["status"], f["held_fen"]) for f in ledger["freezes"] if f["freeze_id"] == order["id"]] == [("applied", HELD_FEN)]
        assert ledger["balance_fen"] == account["value_fen"]
    end = await simulators.summary("bank")
    assert end["orders_applied"] - start["orders_applied"] == FREEZES
    assert end["responses"] - start["responses"] == FREEZES
    assert end["held_fen"] - start["held_fen"] == FREEZES * HELD_FEN == sum(o["result"]["held_fen"] for o in orders)
