"""A slow or failing institution costs only its own legs; a gateway crash loses nothing acknowledged."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

import orjson
import pytest

from schemas.courts import Courts
from schemas.identifiers import mask
from tests.helpers import (
    CASE,
    COURT_A,
    LEGS_PER_DEBTOR,
    as_found,
    assert_matches_truth,
    bulk_debtors,
    case_body,
    debtor_json,
    deposit_holders,
    deposit_of,
    get_json,
    order_body,
    post_batch,
    rich_debtor,
    settled,
    wait_batch,
    wait_for,
    wait_inquiry,
)


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_slow_and_failing_institutions_do_not_hold_up_the_rest(api, simulators, population, credential) -> None:
    debtor = rich_debtor(population)
    deadline_s = 6
    await simulators.behave("bank-03", hang=True)
    await simulators.behave("land-02", error_rate=1.0, error_status=503)
    try:
        body = case_body([debtor_json(debtor)], credential, deadline_seconds=deadline_s)
        async with api.post("/v1/inquiries", json=body) as r:
            accepted = await r.json()
        inquiry = await wait_inquiry(api, accepted["location"], timeout=deadline_s + 20)
    finally:
        await simulators.reset("bank-03")
        await simulators.reset("land-02")
    legs = {leg["institution_id"]: leg for leg in inquiry["reports"][0]["legs"]}
    assert legs["bank-03"]["status"] == "timed_out"
    assert legs["land-02"]["status"] == "failed"
    assert "503" in legs["land-02"]["reason"] and legs["land-02"]["attempts"] >= 2
    created = _t(inquiry["created_at"])
    healthy = [leg for iid, leg in legs.items() if iid not in ("bank-03", "land-02")]
    assert all(leg["status"] in ("found", "not_found") for leg in healthy)
    # The healthy institutions answered long before the deadline the slow one ran into.
    slowest_healthy = max((_t(leg["finished_at"]) - created).total_seconds() for leg in healthy)
    assert slowest_healthy < deadline_s / 2, slowest_healthy
    assert (_t(inquiry["completed_at"]) - created).total_seconds() < deadline_s + 3
    # The report still holds everything the healthy institutions found.
    truth = [a for a in await simulators.truth(debtor.id_number) if a["institution_id"] not in ("bank-03", "land-02")]
    found = [a for kind in inquiry["reports"][0]["assets"].values() for a in kind]
    assert sorted(orjson.dumps(as_found(a), option=orjson.OPT_SORT_KEYS) for a in found) == \
        sorted(orjson.dumps(a, option=orjson.OPT_SORT_KEYS) for a in truth)


@pytest.mark.isolated
async def test_gateway_killed_mid_batch_loses_nothing(stack, api, simulators, population, credential) -> None:
    # Accounts an earlier inquiry found, to freeze while the batch runs.
    holders = deposit_holders(population, 2)[-420:-400]
    freeze_case = "(2025)冀0108执9400号"
    async with api.post("/v1/inquiries", json={**CASE, "case_number": freeze_case, "amount_due_fen": 10**12,
                                               "officer_credentials": [credential], "debtors": [debtor_json(d) for d in holders],
                                               "institutions": ["bank"]}) as r:
        found = await r.json()
    await wait_inquiry(api, found["location"])
    accounts = [deposit_of(population, d, 2) for d in holders]
    batch = await post_batch(api, [{**CASE, "case_number": f"(2025)冀0108执{7000 + i // 50}号", "officer_credentials": [credential],
                                    "debtor": debtor_json(d)} for i, d in enumerate(bulk_debtors(population, 300))])
    # And single inquiries acknowledged just before the crash.
    singles = []
    for d in population.debtors[-10:]:
        async with api.post("/v1/inquiries", json=case_body([debtor_json(d)], credential)) as r:
            assert r.status == 202
            singles.append((await r.json())["location"])
    async def under_way() -> dict | None:
        progress = await get_json(api, batch["location"])
        return progress if progress["legs"]["done"] > 0 else None

    progress = await wait_for(under_way, 30, interval=0.05, what="the batch's first answers")
    assert progress["status"] == "running", "the batch finished before the crash; nothing was tested"
    order_ids = []
    for account in accounts:  # acknowledged just before the crash
        async with api.post("/v1/orders", json=order_body("freeze", freeze_case, COURT_A, account, credential,
                                                          amount_fen=account["value_fen"] // 2, term_days=365)) as r:
            assert r.status == 202
            order_ids.append((await r.json())["id"])

    stack.kill("gateway")  # SIGKILL
    await stack.restart("gateway")

    done = await wait_batch(api, batch["location"], timeout=300)
    assert done["inquiries"] == {"total": 6, "completed": 6}
    assert done["legs"] == {"total": 300 * LEGS_PER_DEBTOR, "done": 300 * LEGS_PER_DEBTOR}
    for location in singles:
        inquiry = await wait_inquiry(api, location)
        assert inquiry["progress"]["legs_done"] == LEGS_PER_DEBTOR
    async with api.get(done["reports"]) as r:
        reports = [orjson.loads(line) for line in (await r.read()).splitlines()]
    assert len(reports) == 300
    for report in reports[::10]:
        await assert_matches_truth(report, simulators)
    orders = [await settled(api, i, timeout=120) for i in order_ids]
    assert {o["status"] for o in orders} == {"applied"}
    for account, order in zip(accounts, orders, strict=False):  # each applied exactly once
        ledger = await simulators.ledger(account["institution_id"], account["account_no"])
        assert [f["held_fen"] for f in ledger["freezes"] if f["freeze_id"] == order["id"]] == [order["amount_fen"]]


async def test_logs_hold_no_unmasked_identifiers(stack, api, population, credential) -> None:
    """Scans every component's log, with whatever the shared stack has handled so far, once the
    gateway has logged an inquiry of our own: the logs do mention debtors, masked."""
    debtor = rich_debtor(population)
    async with api.post("/v1/inquiries", json=case_body([debtor_json(debtor)], credential)) as r:
        assert r.status == 202
        accepted = await r.json()
    await wait_inquiry(api, accepted["location"])

    def logs() -> str:
        return "\n".join(p.read_text(errors="replace") for p in stack.logs.glob("*.log"))

    async def mentioned() -> str | None:
        text = logs()
        return text if mask(debtor.id_number) in text else None

    text = await wait_for(mentioned, 10, what="the gateway to log the inquiry's first debtor, masked")
    ids = {d.id_number for d in population.debtors}
    tokens = set(re.findall(r"[0-9A-Z]{18}", text))
    assert not tokens & ids, f"unmasked ID numbers in logs: {sorted(tokens & ids)[:3]}"


@pytest.mark.isolated
async def test_connector_killed_with_1000_orders_in_flight_applies_each_exactly_once(stack, officers, simulators, population, credential) -> None:
    """500 freezes, then 500 deductions; the bank connector is killed -9 in the middle of each wave.
    The bank ledgers must show every order applied exactly once, to the fen."""
    court, case = "石家庄市新华区人民法院", "(2025)冀0105执9001号"
    court_account = Courts.built_in().by_code["冀0105"].enforcement_account  # its 执行款专户
    api, checker = officers("OFFICER-X1", court), officers("OFFICER-X2", court)
    debtors = deposit_holders(population, 4)[-500:]
    assert len(debtors) == 500
    batch = await post_batch(api, [{"case_number": case, "court": court, "amount_due_fen": 10**13, "notice_number": f"{case}-查",
                                    "officer_credentials": [credential], "debtor": debtor_json(d), "institutions": ["bank"]}
                                   for d in debtors])
    await wait_batch(api, batch["location"])
    accounts = [deposit_of(population, d, 4) for d in debtors]

    async def wave(bodies: list[dict], approve: bool) -> list[dict]:
        ids = []
        for i, body in enumerate(bodies):
            async with api.post("/v1/orders", json=body) as r:
                assert r.status == 202, await r.text()
                order_id = (await r.json())["id"]
            if approve:
                async with checker.post(f"/v1/orders/{order_id}/approve") as r:
                    await r.read()  # an unread body can deadlock the session's next request (aiohttp #2217)
                    assert r.status == 200
            ids.append(order_id)
            if i == len(bodies) // 2:
                stack.kill("connector-bank")  # SIGKILL with orders in flight
        pending = [o for o in [await get_json(api, f"/v1/orders/{i}") for i in ids] if o["status"] in ("requested", "sent")]
        assert pending, "every order was answered before the crash; nothing was tested"
        await stack.restart("connector-bank")
        return [await settled(api, i, timeout=120) for i in ids]

    freezes = await wave([order_body("freeze", case, court, a, credential, amount_fen=a["value_fen"] // 2, term_days=365, operator=None)
                          for a in accounts], False)
    assert {o["status"] for o in freezes} == {"applied"}, [o["result"] for o in freezes if o["status"] != "applied"][:3]
    deducts = await wave([order_body("deduct", case, court, a, credential, amount_fen=f["amount_fen"] // 2, original_order_id=f["id"],
                                     enforcement_account=court_account, idempotency_key=uuid.uuid4().hex, operator=None)
                          for a, f in zip(accounts, freezes, strict=False)], True)
    assert {o["status"] for o in deducts} == {"applied"}, [o["result"] for o in deducts if o["status"] != "applied"][:3]

    frozen = sum(f["amount_fen"] for f in freezes)
    deducted = sum(d["amount_fen"] for d in deducts)
    summary = (await simulators.summary("bank"))["by_court"][court]
    assert summary["deducted_fen"] == deducted
    assert summary["held_fen"] == frozen - deducted
    for account, freeze, deduct in zip(accounts, freezes, deducts, strict=False):
        ledger = await simulators.ledger(account["institution_id"], account["account_no"])
        mine = [f for f in ledger["freezes"] if f["court"] == court]
        assert len(mine) == 1 and mine[0]["held_fen"] == freeze["amount_fen"] - deduct["amount_fen"]
        assert [d["amount_fen"] for d in ledger["deductions"] if d["court"] == court] == [deduct["amount_fen"]]


FAULTS = {  # institution: behaviour patch
    "bank-02": {"throttle_rate": 1.0, "retry_after_s": 0.5},
    "bank-04": {"error_rate": 1.0, "error_status": 503},
    "bank-05": {"malformed_rate": 1.0},
    "bank-06": {"truncated_rate": 1.0},
    "bank-07": {"reset_rate": 1.0},
    "bank-08": {"outages": [{"in_s": 0, "for_s": 60}]},
    "bank-09": {"hang": True},
}


async def test_every_fault_type_ends_its_legs_correctly_and_spares_the_healthy(api, simulators, population, credential) -> None:
    """Permanent faults: each affected leg ends failed (or timed_out for a hang) within the deadline,
    with the reason; the healthy institutions answer at once and their assets are all there."""
    debtor = rich_debtor(population)
    deadline_s = 8
    for institution, patch in FAULTS.items():
        await simulators.behave(institution, **patch)
    try:
        async with api.post("/v1/inquiries", json=case_body([debtor_json(debtor)], credential, deadline_seconds=deadline_s)) as r:
            accepted = await r.json()
        inquiry = await wait_inquiry(api, accepted["location"], timeout=deadline_s + 20)
    finally:
        for institution in FAULTS:
            await simulators.reset(institution)
    legs = {leg["institution_id"]: leg for leg in inquiry["reports"][0]["legs"]}
    expected_reason = {"bank-02": "429", "bank-04": "503", "bank-05": "not a JSON object", "bank-06": "not a JSON object",
                       "bank-07": "connection", "bank-08": "503"}
    for institution, needle in expected_reason.items():
        assert legs[institution]["status"] == "failed", (institution, legs[institution])
        assert needle in legs[institution]["reason"], (institution, legs[institution]["reason"])
        assert legs[institution]["attempts"] >= 2  # retried before giving up
    assert legs["bank-09"]["status"] == "timed_out"
    created = _t(inquiry["created_at"])
    healthy = [leg for iid, leg in legs.items() if iid not in FAULTS]
    assert all(leg["status"] in ("found", "not_found") for leg in healthy)
    assert max((_t(leg["finished_at"]) - created).total_seconds() for leg in healthy) < deadline_s / 2
    assert (_t(inquiry["completed_at"]) - created).total_seconds() < deadline_s + 3
    truth = [a for a in await simulators.truth(debtor.id_number) if a["institution_id"] not in FAULTS]
    found = [as_found(a) for kind in inquiry["reports"][0]["assets"].values() for a in kind]
    key = lambda a: orjson.dumps(a, option=orjson.OPT_SORT_KEYS)  # noqa: E731
    assert sorted(map(key, found)) == sorted(map(key, truth))


async def test_intermittent_faults_are_retried_and_nothing_is_lost(api, simulators, population, credential) -> None:
    """A third of all answers from five banks are faults (one kind per bank). Nothing is lost: every
    leg ends, retries bring nearly all home, the few that ran out of attempts say why, and what came
    home is exactly the ground truth. Legs are asked in chunks (25 legs per message here), so a
    fault hits a whole chunk: 100 debtors make 4 chunks per bank, 20 in all."""

    flaky = {"bank-01": {"throttle_rate": 0.33, "retry_after_s": 0.1}, "bank-02": {"error_rate": 0.33},
             "bank-03": {"malformed_rate": 0.33}, "bank-04": {"truncated_rate": 0.33}, "bank-05": {"reset_rate": 0.33}}
    debtors = bulk_debtors(population, 100)
    for institution, patch in flaky.items():
        await simulators.behave(institution, **patch)
    try:
        async with api.post("/v1/inquiries", json=case_body([debtor_json(d) for d in debtors], credential,
                                                            institutions=list(flaky))) as r:
            accepted = await r.json()
        inquiry = await wait_inquiry(api, accepted["location"], timeout=120)
    finally:
        for institution in flaky:
            await simulators.reset(institution)
    legs = [leg for report in inquiry["reports"] for leg in report["legs"]]
    assert len(legs) == 100 * 5 and inquiry["progress"]["legs_done"] == 500
    answered = [leg for leg in legs if leg["status"] in ("found", "not_found")]
    # A chunk fails only if all 4 attempts hit a fault (1.2%); four of 20 doing so is beyond chance.
    assert len(answered) >= 0.8 * len(legs), [(leg["institution_id"], leg["reason"]) for leg in legs if leg not in answered]
    assert all(leg["status"] == "failed" and leg["reason"] for leg in legs if leg not in answered)
    assert any(leg["attempts"] > 1 for leg in legs)  # the faults did happen (no retry in 20 chunks: 0.03%)
    for report in inquiry["reports"]:
        came_home = {leg["institution_id"] for leg in report["legs"] if leg["status"] in ("found", "not_found")}
        truth = [a for a in await simulators.truth(report["debtor"]["id_number"]) if a["institution_id"] in came_home]
        found = [as_found(a) for kind in report["assets"].values() for a in kind]
        key = lambda a: orjson.dumps(a, option=orjson.OPT_SORT_KEYS)  # noqa: E731
        assert sorted(map(key, found)) == sorted(map(key, truth))


@pytest.mark.isolated
async def test_broker_killed_mid_batch_with_orders_loses_nothing_and_applies_nothing_twice(stack, api, officers, simulators, population,
                                                                                          credential) -> None:
    """kill -9 of the broker in the middle of a bulk batch and a wave of freezes; restart it on the
    same data; every component reconnects, the batch completes and each freeze is applied once."""
    if stack.broker is None:
        pytest.skip("KAFKA_BOOTSTRAP is set: no embedded broker to kill")
    court, case = COURT_A, "(2025)冀0108执9300号"
    debtors = deposit_holders(population, 2)[-300:-150]
    batch = await post_batch(api, [{"case_number": case, "court": court, "amount_due_fen": 10**13, "notice_number": f"{case}-查",
                                    "officer_credentials": [credential], "debtor": debtor_json(d)} for d in debtors])
    # Freezes can only name assets an inquiry found: wait for the banks' answers first.
    await wait_batch(api, batch["location"], timeout=300)
    accounts = [deposit_of(population, d, 2) for d in debtors]
    # Large enough to be still running when the broker dies. Recovery from a broker crash takes
    # seconds (restart, reconnects, re-sends): a generous deadline.
    batch2 = await post_batch(api, [{**CASE, "case_number": "(2025)冀0108执9301号", "officer_credentials": [credential],
                                     "debtor": debtor_json(d), "deadline_seconds": 180} for d in bulk_debtors(population, 300)])
    order_ids = []
    killed_at = 5  # soon: a batch now takes only seconds
    for i, account in enumerate(accounts):
        async with api.post("/v1/orders", json=order_body("freeze", case, court, account, credential,
                                                          amount_fen=account["value_fen"] // 2, term_days=365)) as r:
            assert r.status == 202
            order_ids.append((await r.json())["id"])
        if i == killed_at:
            progress = await get_json(api, batch2["location"])
            assert progress["status"] == "running", "the batch finished before the broker could be killed under it"
            stack.broker.kill()  # SIGKILL to the broker's process group, mid-batch and mid-wave
        if i == killed_at + 10:
            # The broker stays down until ten orders were acknowledged without it; none can have been sent.
            during = [await get_json(api, f"/v1/orders/{o}") for o in order_ids[killed_at + 1:]]
            assert {o["sent_at"] for o in during} == {None}, "an order was sent while the broker was down"
            stack.broker.start()

    done = await wait_batch(api, batch2["location"], timeout=300)
    assert done["legs"] == {"total": 300 * LEGS_PER_DEBTOR, "done": 300 * LEGS_PER_DEBTOR}
    async with api.get(done["reports"]) as r:
        reports = [orjson.loads(line) for line in (await r.read()).splitlines()]
    assert sum(1 for rep in reports for leg in rep["legs"] if leg["status"] == "timed_out") == 0, "legs were lost to the crash"
    orders = [await settled(api, i, timeout=120) for i in order_ids]
    assert {o["status"] for o in orders} == {"applied"}
    for account, order in zip(accounts, orders, strict=False):
        ledger = await simulators.ledger(account["institution_id"], account["account_no"])
        mine = [f for f in ledger["freezes"] if f["freeze_id"] == order["id"]]
        assert len(mine) == 1 and mine[0]["held_fen"] == order["amount_fen"]
    assert len({o["id"] for o in orders}) == len(accounts)
