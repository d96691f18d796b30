"""Two gateway instances on one PostgreSQL store (pgserver from PyPI), through the real chain:
an inquiry asked at one gateway is answered, and its ``?wait`` long-poll woken, at the other; an
order placed at either is applied once; and kill -9 of one gateway in the middle of a 300-debtor
batch (300 debtors × every institution) and 150 freezes loses nothing and applies no freeze twice — the other gateway finishes it.
The store-level rules that make that so (claims, chores, news, shared rate limits) are tested on
two stores opened on one database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from assetgw.stack.supervisor import Stack
from gateway.http.access import SharedRateLimiter
from gateway.store.factory import open_store
from tests.helpers import (
    CASE,
    COURT_A,
    LEGS_PER_DEBTOR,
    Simulators,
    assert_matches_truth,
    bulk_debtors,
    case_body,
    debtor_json,
    deposit_holders,
    deposit_of,
    get_json,
    officer_session,
    order_body,
    post_batch,
    post_json,
    rich_debtor,
    settled,
    wait_batch,
    wait_for,
    wait_inquiry,
)
from tests.test_store_contract import new_inquiry, new_order

# -- two stores on one database --------------------------------------------------------------------


def test_two_gateways_never_claim_the_same_outbox_rows(postgres_database: str) -> None:
    one, two = open_store(postgres_database), open_store(postgres_database)
    try:
        one.inquiries.add([new_inquiry("q1", debtors=5)])  # 10 legs
        for n in range(4):
            one.orders.place(new_order(f"o{n}"), actor="OFFICER-A")
        first, second = one.legs.claim_pending(6), two.legs.claim_pending(100)
        assert len(first) == 6 and len(second) == 4
        assert not {leg.id for leg in first} & {leg.id for leg in second}
        assert [o.id for o in one.orders.claim_sendable(2)] == ["o0", "o1"]
        assert [o.id for o in two.orders.claim_sendable(10)] == ["o2", "o3"]
        assert two.legs.claim_pending(100) == second  # its own claims again, until it marks them sent
    finally:
        one.close()
        two.close()


def test_a_chore_runs_in_one_gateway_and_passes_on_when_it_stops(postgres_database: str) -> None:
    one, two = open_store(postgres_database), open_store(postgres_database)
    try:
        assert one.peers.leads("housekeeping") and one.peers.leads("housekeeping")
        assert not two.peers.leads("housekeeping")
        assert two.peers.leads("reconcile") and not one.peers.leads("reconcile")
        one.close()  # its connection closes, as when the process is killed
        # The server ends the closed session's advisory locks once it has seen it go.
        deadline = time.monotonic() + 10
        while not two.peers.leads("housekeeping"):
            assert time.monotonic() < deadline, "the chore did not pass on within 10 s of the leader's connection closing"
            time.sleep(0.05)
    finally:
        two.close()


async def test_what_one_gateway_announces_reaches_the_other(postgres_database: str) -> None:
    one, two = open_store(postgres_database), open_store(postgres_database)
    heard: list[str] = []
    stop = asyncio.Event()
    listening = asyncio.create_task(two.peers.listen("inquiries", heard.extend, stop))
    try:
        async def told() -> bool:
            one.peers.announce("inquiries", ["q1", "q2"])  # again until the listener is connected
            return "q2" in heard

        await wait_for(told, 10, what="the other store to hear the announcement")
        assert set(heard) == {"q1", "q2"}
    finally:
        stop.set()
        await listening
        one.close()
        two.close()


def test_an_officers_rate_limit_is_shared_by_the_gateways(postgres_database: str) -> None:
    one, two = open_store(postgres_database), open_store(postgres_database)
    try:
        assert one.peers.rate_buckets is not None and two.peers.rate_buckets is not None
        a = SharedRateLimiter(one.peers.rate_buckets, "officer:", rate=1.0, burst=3.0)
        b = SharedRateLimiter(two.peers.rate_buckets, "officer:", rate=1.0, burst=3.0)
        now = 1_000.0
        assert [a.wait_s("A1", now), b.wait_s("A1", now), a.wait_s("A1", now)] == [0, 0, 0]
        assert b.wait_s("A1", now) == pytest.approx(1.0) and a.wait_s("A1", now) > 0  # the burst is spent at both
        assert a.wait_s("A2", now) == 0  # another officer's own bucket
        assert b.wait_s("A1", now + 1.0) == 0  # a token a second comes back
    finally:
        one.close()
        two.close()


# -- two gateway processes ------------------------------------------------------------------------


@pytest.fixture
async def gateways(postgres_stack: Stack) -> AsyncIterator[list[aiohttp.ClientSession]]:
    """Officer OFFICER-A1's sessions, one to each gateway instance."""
    sessions = [officer_session(postgres_stack, "OFFICER-A1", CASE["court"], api_url=url) for url in postgres_stack.api_urls]
    yield sessions
    for s in sessions:
        await s.close()


@pytest.fixture
async def sims(postgres_stack: Stack) -> AsyncIterator[Simulators]:
    async with aiohttp.ClientSession() as session:
        yield Simulators(postgres_stack, session)


async def test_an_inquiry_and_an_order_go_through_either_gateway(postgres_stack: Stack, gateways: list[aiohttp.ClientSession],
                                                                 sims: Simulators, population: Any, credential: str) -> None:
    first, second = gateways
    assert len(postgres_stack.api_urls) == 2
    debtor = rich_debtor(population)
    status, accepted = await post_json(first, "/v1/inquiries", case_body([debtor_json(debtor)], credential))
    assert status == 202, accepted
    started = time.monotonic()
    async with second.get(accepted["location"], params={"wait": "60"}) as r:
        assert r.status == 200
        inquiry = await r.json()
    # Completed, and answered when it completed (woken by whichever gateway applied the results),
    # not when the wait ran out.
    assert inquiry["status"] == "completed" and time.monotonic() - started < 45
    await assert_matches_truth(inquiry["reports"][0], sims)

    holder = deposit_holders(population, 2)[-1]
    account = deposit_of(population, holder, 2)
    case = "(2025)冀0108执9801号"
    status, found = await post_json(second, "/v1/inquiries", {**case_body([debtor_json(holder)], credential), "case_number": case,
                                                              "institutions": ["bank"]})
    assert status == 202, found
    await wait_inquiry(first, found["location"])
    status, order = await post_json(first, "/v1/orders", order_body("freeze", case, COURT_A, account, credential,
                                                                    amount_fen=account["value_fen"] // 2, term_days=365))
    assert status == 202, order
    applied = await settled(second, order["id"], timeout=60)
    assert applied["status"] == "applied"
    ledger = await sims.ledger(account["institution_id"], account["account_no"])
    assert [f["held_fen"] for f in ledger["freezes"] if f["freeze_id"] == order["id"]] == [order["amount_fen"]]


@pytest.mark.timeout(1200)  # a loaded 2-core machine: two gateways, PostgreSQL and the chain
async def test_one_gateway_killed_mid_batch_and_freezes_the_other_finishes_and_nothing_is_applied_twice(
        postgres_stack: Stack, gateways: list[aiohttp.ClientSession], sims: Simulators, population: Any, credential: str) -> None:
    first, second = gateways
    holders = deposit_holders(population, 2)[-300:-150]
    assert len(holders) == 150
    freeze_case = "(2025)冀0108执9802号"
    status, found = await post_json(first, "/v1/inquiries", {**CASE, "case_number": freeze_case, "amount_due_fen": 10**12,
                                                             "officer_credentials": [credential],
                                                             "debtors": [debtor_json(d) for d in holders], "institutions": ["bank"]})
    assert status == 202, found
    await wait_inquiry(second, found["location"], timeout=120)
    accounts = [deposit_of(population, d, 2) for d in holders]

    batch = await post_batch(first, [{**CASE, "case_number": f"(2025)冀0108执{7100 + i // 50}号", "officer_credentials": [credential],
                                      "debtor": debtor_json(d)} for i, d in enumerate(bulk_debtors(population, 300))])

    async def under_way() -> dict | None:
        progress = await get_json(second, batch["location"])
        return progress if progress["legs"]["done"] > 0 else None

    progress = await wait_for(under_way, 60, interval=0.05, what="the batch's first answers")
    assert progress["status"] == "running", "the batch finished before the crash; nothing was tested"
    order_ids = []
    for i, account in enumerate(accounts):  # half at each gateway; the first is killed half-way
        if i == len(accounts) // 2:
            postgres_stack.kill("gateway")  # SIGKILL, with legs and orders in its hands
        api = second if i >= len(accounts) // 2 or i % 2 else first
        status, order = await post_json(api, "/v1/orders", order_body("freeze", freeze_case, COURT_A, account, credential,
                                                                      amount_fen=account["value_fen"] // 2, term_days=365))
        assert status == 202, order
        order_ids.append(order["id"])
    try:
        done = await wait_batch(second, batch["location"], timeout=400)
        assert done["inquiries"] == {"total": 6, "completed": 6}
        assert done["legs"] == {"total": 300 * LEGS_PER_DEBTOR, "done": 300 * LEGS_PER_DEBTOR}
        async with second.get(done["reports"]) as r:
            reports = [orjson.loads(line) for line in (await r.read()).splitlines()]
        assert len(reports) == 300
        for report in reports[::15]:
            await assert_matches_truth(report, sims)
        orders = [await settled(second, i, timeout=400) for i in order_ids]
        assert {o["status"] for o in orders} == {"applied"}, [o["result"] for o in orders if o["status"] != "applied"][:3]
        for account, order in zip(accounts, orders, strict=True):  # each applied exactly once, to the fen
            ledger = await sims.ledger(account["institution_id"], account["account_no"])
            assert [f["held_fen"] for f in ledger["freezes"] if f["freeze_id"] == order["id"]] == [order["amount_fen"]]
    finally:
        await postgres_stack.restart("gateway")
