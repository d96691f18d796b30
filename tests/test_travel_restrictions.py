"""Consumption restrictions (限制高消费, 失信被执行人名单) at the airlines and the railway through the
real chain — gateway API, Kafka, connector workers, the carriers' own APIs (airline REST, 12306
envelope) and their restriction ledgers: a restriction placed by one officer action is in force at
every carrier; the restricted person's ticket purchases are refused there (an ordinary train's hard
seat is still sold), each refusal is an event and an alert on the debtor's case; lifting it
releases each restriction with the lifting in its trail, and purchases are sold again with no
event. Bad input is a 4xx naming the field and stores nothing; one carrier down holds back only its
own order; the carriers' ledgers survive a restart of their process."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from gateway.console.cases import case_path
from simulators.control_order import ControlOrder
from simulators.ledger_book import LedgerBook
from simulators.store import open_store
from tests.helpers import (
    COURT_A,
    Simulators,
    get_json,
    new_case_number,
    officer_token,
    open_case,
    pick,
    post_json,
    run_cli,
    settled,
    wait_for,
)

CARRIERS = ("airline-01", "airline-02", "railway-01")
# A fare the rules forbid a restricted person at each carrier, and one the railway still sells.
FORBIDDEN = {"airline-01": ("CA1501", "economy"), "airline-02": ("MU5101", "economy"), "railway-01": ("G1", "二等座")}
ALLOWED_RAIL = ("K1511", "硬座")


def restriction_body(case: str, debtor: Any, credential: str, **extra: Any) -> dict[str, Any]:
    return {"case_number": case, "court": COURT_A, "debtor_id_number": debtor.id_number, "measure": "restrict_consumption",
            "decision_number": f"{case}之限制消费令", "notice_number": f"{case}-协执", "officer_credentials": [credential],
            "idempotency_key": uuid.uuid4().hex, **extra}


def lift_body(case: str, debtor: Any, credential: str, **extra: Any) -> dict[str, Any]:
    body = restriction_body(case, debtor, credential, decision_number=f"{case}之解除限制消费令", **extra)
    if "measure" not in extra:
        del body["measure"]  # both measures
    return body


async def buy(simulators: Simulators, inst: str, id_number: str, service: str, seat: str) -> dict[str, Any]:
    kind = inst.split("-")[0]
    return await simulators._call("POST", kind, f"/admin/institutions/{inst}/ticket-purchases",
                                  json={"id_number": id_number, "service": service, "route": "北京-上海", "seat": seat})


async def carrier_ledger(simulators: Simulators, inst: str, id_number: str) -> dict[str, Any]:
    return await simulators._call("GET", inst.split("-")[0], f"/admin/institutions/{inst}/restrictions/{id_number}")


async def travel_alerts(api: aiohttp.ClientSession, case: str) -> list[dict[str, Any]]:
    return [a for a in (await get_json(api, f"/v1/alerts?case_number={case}"))["alerts"] if a["kind"] == "travel"]


async def restricted(api: aiohttp.ClientSession, body: dict[str, Any], path: str = "/v1/restrictions") -> dict[str, Any]:
    status, placed = await post_json(api, path, body)
    assert status == 202, placed
    for order_id in placed["order_ids"]:
        await settled(api, order_id)
    return placed


@pytest.mark.e2e
async def test_restriction_refuses_tickets_alerts_the_case_and_lifting_restores_them(api, simulators, population, credential) -> None:
    debtor = pick(population, lambda assets: True, kind="person", from_end=True)
    case, _ = await open_case(api, debtor, credential)
    placed = await restricted(api, restriction_body(case, debtor, credential))
    assert placed["title"] == "限制高消费" and "法释〔2015〕17号" in placed["legal_basis"], placed
    orders = {o["institution_id"]: await get_json(api, f"/v1/orders/{o['id']}") for o in placed["orders"]}
    assert set(orders) == set(CARRIERS)  # one order per carrier, all from one action
    for inst, order in orders.items():
        assert order["type"] == "restrict_consumption" and order["status"] == "applied", order
        assert order["asset"] == {"kind": "person", "id": debtor.id_number} and order["result"]["start_date"], order
        ledger = await carrier_ledger(simulators, inst, debtor.id_number)
        [r] = ledger["restrictions"]
        assert (r["order_id"], r["court"], r["case_number"], r["measure"], r["in_force"]) == (
            order["id"], COURT_A, case, "restrict_consumption", True)
        assert r["decision_number"] == f"{case}之限制消费令"

    # The same measure again while it is in force: refused, nothing stored.
    status, again = await post_json(api, "/v1/restrictions", restriction_body(case, debtor, credential))
    assert status == 409 and again["errors"][0]["field"] == "debtor_id_number", again

    # Every carrier refuses the restricted fares, and each refusal alerts the case.
    for inst, (service, seat) in FORBIDDEN.items():
        refused = await buy(simulators, inst, debtor.id_number, service, seat)
        assert refused["sold"] is False and refused["restriction_ids"] == [orders[inst]["id"]], refused
        assert refused["event"]["type"] == "purchase_refused"
    sold = await buy(simulators, "railway-01", debtor.id_number, *ALLOWED_RAIL)  # an ordinary hard seat is no high consumption
    assert sold["sold"] is True, sold

    async def three_alerts() -> list[dict] | None:
        alerts = await travel_alerts(api, case)
        return alerts if len(alerts) == 3 else None
    alerts = await wait_for(three_alerts, 30, what="an alert per refused purchase")
    assert {a["where"]["institution_id"] for a in alerts} == set(CARRIERS)
    for alert in alerts:
        inst = alert["where"]["institution_id"]
        assert alert["kind_label"] == "购票被拒" and alert["restriction_order_id"] == orders[inst]["id"], alert
        assert alert["summary"].startswith("购票被拒") and FORBIDDEN[inst][0] in alert["summary"] and "限制高消费" in alert["summary"]
        assert alert["debtor_id_number"] == debtor.id_number and alert["case_number"] == case

    # Lifting (解除限制): one lift order per restriction, each releasing it, audited like an unfreeze.
    lifted = await restricted(api, lift_body(case, debtor, credential), "/v1/restrictions/lift")
    assert lifted["title"] == "解除限制" and len(lifted["order_ids"]) == 3, lifted
    for summary in lifted["orders"]:
        lift = await get_json(api, f"/v1/orders/{summary['id']}")
        inst, original_id = lift["institution_id"], lift["original_order_id"]
        assert lift["type"] == "lift_restriction" and lift["status"] == "applied" and original_id == orders[inst]["id"], lift
        assert [e["event"] for e in lift["history"]][:1] == ["requested"] and lift["history"][0]["actor"] == "OFFICER-A1"
        original = await get_json(api, f"/v1/orders/{original_id}")
        assert original["status"] == "released", original
        assert {"event": "released", "by_order": lift["id"]} in [{"event": e["event"], "by_order": e["detail"].get("by_order")}
                                                                 for e in original["history"]]
        [r] = (await carrier_ledger(simulators, inst, debtor.id_number))["restrictions"]
        assert r["in_force"] is False and r["lift_order_id"] == lift["id"] and r["lift_decision_number"] == f"{case}之解除限制消费令"

    # After lifting: sold everywhere, and nothing more on the feeds or the case.
    positions = {inst: (await simulators.feed_position(inst))["last_seq"] for inst in CARRIERS}
    for inst, (service, seat) in FORBIDDEN.items():
        assert (await buy(simulators, inst, debtor.id_number, service, seat))["sold"] is True
    assert {inst: (await simulators.feed_position(inst))["last_seq"] for inst in CARRIERS} == positions
    assert len(await travel_alerts(api, case)) == 3
    # Nothing left to lift.
    status, nothing = await post_json(api, "/v1/restrictions/lift", lift_body(case, debtor, credential))
    assert status == 422 and nothing["errors"][0]["field"] == "debtor_id_number", nothing


@pytest.mark.e2e
async def test_bad_restriction_input_is_a_4xx_naming_the_field_and_stores_nothing(api, population, credential) -> None:
    debtor = pick(population, lambda assets: True, kind="person", from_end=True)
    stranger = pick(population, lambda assets: True, kind="person", from_end=True)
    company = next(d for d in population.debtors if d.kind == "organisation")
    case, _ = await open_case(api, debtor, credential)
    good = restriction_body(case, debtor, credential)
    cases = [
        ({**good, "measure": "ban_travel"}, "measure"),
        ({k: v for k, v in good.items() if k != "decision_number"}, "decision_number"),
        ({**good, "debtor_id_number": company.id_number}, "debtor_id_number"),  # an organisation buys no tickets
        ({**good, "debtor_id_number": "110101199003077777"}, "debtor_id_number"),  # check digit wrong
        ({**good, "debtor_id_number": stranger.id_number}, "debtor_id_number"),  # not a debtor of the case
        ({**good, "case_number": new_case_number()}, "case_number"),  # no inquiry opened it
        ({**good, "officer_credentials": []}, "officer_credentials"),
    ]
    for body, field in cases:
        status, refused = await post_json(api, "/v1/restrictions", body)
        assert status == 422 and refused["errors"][0]["field"] == field, (field, refused)
    # Restrictions are not asset orders: the order route points to /v1/restrictions.
    order = {"type": "restrict_consumption", "case_number": case, "court": COURT_A, "institution_id": "airline-01",
             "asset": {"kind": "person", "id": debtor.id_number}, "ruling_number": "r", "notice_number": "n",
             "officer_credentials": [credential], "idempotency_key": uuid.uuid4().hex}
    status, refused = await post_json(api, "/v1/orders", order)
    assert status == 422 and refused["errors"][0]["field"] == "type" and "/v1/restrictions" in refused["errors"][0]["message"], refused
    status, refused = await post_json(api, "/v1/restrictions/lift", lift_body(case, debtor, credential))
    assert status == 422 and refused["errors"][0]["field"] == "debtor_id_number", refused
    assert (await get_json(api, f"/v1/orders?case_number={case}"))["orders"] == []  # nothing stored, nothing sent
    # The same key for another request is a conflict; for the same request, the same orders.
    placed_status, placed = await post_json(api, "/v1/restrictions", good)
    replay_status, replay = await post_json(api, "/v1/restrictions", good)
    assert (placed_status, replay_status) == (202, 200) and replay["order_ids"] == placed["order_ids"] and replay["replayed"]
    status, conflict = await post_json(api, "/v1/restrictions", {**good, "measure": "list_dishonest"})
    assert status == 409 and conflict["errors"][0]["field"] == "idempotency_key", conflict


@pytest.mark.e2e
async def test_one_carrier_down_holds_back_only_its_own_order(api, simulators, population, credential) -> None:
    debtor = pick(population, lambda assets: True, kind="person", from_end=True)
    case, _ = await open_case(api, debtor, credential)
    try:
        await simulators.behave("airline-02", error_rate=1, error_status=503)  # down: worth retrying
        await simulators.behave("railway-01", error_rate=1, error_status=400)  # refuses the call: it will not improve
        status, placed = await post_json(api, "/v1/restrictions", restriction_body(case, debtor, credential, measure="list_dishonest"))
        assert status == 202, placed
        ids = {o["institution_id"]: o["id"] for o in placed["orders"]}
        applied = await settled(api, ids["airline-01"])
        assert applied["status"] == "applied", applied
        failed = await settled(api, ids["railway-01"])
        assert failed["status"] == "failed" and "400" in failed["result"]["reason"], failed
        down = await settled(api, ids["airline-02"])  # retried, then given up on
        assert down["status"] == "failed" and "503" in down["result"]["reason"] and "attempts" in down["result"]["reason"], down
    finally:
        await simulators.reset("airline-02")
        await simulators.reset("railway-01")
    assert (await carrier_ledger(simulators, "railway-01", debtor.id_number))["restrictions"] == []  # nothing half-applied there
    # Placed again, the measure reaches only the carriers still missing it.
    again = await restricted(api, restriction_body(case, debtor, credential, measure="list_dishonest"))
    assert {o["institution_id"] for o in again["orders"]} == {"airline-02", "railway-01"}, again
    assert [(await get_json(api, f"/v1/orders/{i}"))["status"] for i in again["order_ids"]] == ["applied", "applied"]
    # 失信: the listing refuses a flight like the consumption restriction does.
    refused = await buy(simulators, "airline-02", debtor.id_number, "MU5101", "first")
    assert refused["sold"] is False and "纳入失信被执行人名单" in refused["reason"], refused
    # Lifting finds the three restrictions in force, not the failed orders.
    lifted = await restricted(api, lift_body(case, debtor, credential), "/v1/restrictions/lift")
    assert sorted(o["original_order_id"] for o in lifted["orders"]) == sorted([ids["airline-01"], *again["order_ids"]]), lifted


@pytest.mark.e2e
async def test_the_console_places_and_lifts_a_restriction_and_shows_the_refused_purchase(stack, api, simulators, population,
                                                                                         credential) -> None:
    debtor = pick(population, lambda assets: True, kind="person", from_end=True)
    case, _ = await open_case(api, debtor, credential)
    async with aiohttp.ClientSession(stack.api_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post("/console/signin", data={"token": officer_token(stack, credentials=(credential,))}) as r:
            assert r.status == 200, await r.text()
        async with http.get(case_path(case)) as r:
            workspace = await r.text()
        assert "限制高消费 Restrict" in workspace and "解除限制 Lift" in workspace and "未采取限制措施" in workspace
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', workspace).group(1)  # type: ignore[union-attr]
        keys = re.findall(r'name="idempotency_key" value="([^"]+)"', workspace)
        form = {"csrf_token": csrf, "debtor_id_number": debtor.id_number, "notice_number": f"{case}-协执"}
        # A form without its decision number: the API's refusal, naming the field, is the page.
        async with http.post(case_path(case, "/restrictions"), data={**form, "idempotency_key": keys[0], "measure": "restrict_consumption",
                                                                     "decision_number": ""}) as r:
            assert r.status == 422 and "decision_number" in await r.text()
        async with http.post(case_path(case, "/restrictions"), data={**form, "idempotency_key": keys[0], "measure": "restrict_consumption",
                                                                     "decision_number": f"{case}之限制消费令"}) as r:
            listed = await r.text()
            assert r.status == 200 and r.url.path == "/console/orders", listed
        assert listed.count("限制高消费") >= 3
        orders = (await get_json(api, f"/v1/orders?case_number={case}"))["orders"]
        assert [(await settled(api, o["id"]))["status"] for o in orders] == ["applied"] * 3
        assert (await buy(simulators, "airline-01", debtor.id_number, "CA1501", "business"))["sold"] is False
        await wait_for(lambda: travel_alerts(api, case), 30, what="the refused purchase's alert")
        async with http.get("/console/alerts") as r:
            page = await r.text()
        assert "购票被拒" in page and case in page
        async with http.post(case_path(case, "/restrictions/lift"), data={**form, "idempotency_key": keys[1],
                                                                          "decision_number": f"{case}之解除限制消费令"}) as r:
            listed = await r.text()
            assert r.status == 200 and listed.count("解除限制") >= 3, listed
    lifts = (await get_json(api, f"/v1/orders?case_number={case}&type=lift_restriction"))["orders"]
    assert [(await settled(api, o["id"]))["status"] for o in lifts] == ["applied"] * 3


@pytest.mark.e2e
async def test_the_terminal_restricts_and_lifts(stack, api, simulators, population, credential) -> None:
    debtor = pick(population, lambda assets: True, kind="person", from_end=True)
    case, _ = await open_case(api, debtor, credential)
    env = {"ASSETGW_TOKEN": officer_token(stack), "COLUMNS": "80"}

    async def cli(*args: str) -> dict[str, Any]:
        code, out, err = await run_cli(stack, "restrict", case, "--debtor", debtor.id_number, "--notice", f"{case}-协执",
                                       "--wait", "30", "--json", "--api", stack.api_url, *args, env=env)
        assert code == 0, err
        return orjson.loads(out)

    placed = await cli("--measure", "list_dishonest", "--ruling", f"{case}之失信决定书")
    assert placed["title"] == "纳入失信被执行人名单" and [o["status"] for o in placed["orders"]] == ["applied"] * 3, placed
    assert (await buy(simulators, "railway-01", debtor.id_number, "D301", "一等座"))["sold"] is False
    lifted = await cli("--lift", "--ruling", f"{case}之解除决定书")
    assert lifted["title"] == "解除限制" and [o["status"] for o in lifted["orders"]] == ["applied"] * 3, lifted
    assert (await buy(simulators, "railway-01", debtor.id_number, "D301", "一等座"))["sold"] is True


def test_a_carriers_restrictions_survive_a_restart(tmp_path: Path, population) -> None:
    """What the carrier told a court is stored with its answer: a restarted process still refuses."""
    person = next(d for d in population.debtors if d.kind == "person")
    order = ControlOrder(order_id="r1", type="restrict_consumption", court=COURT_A, case_number="(2025)冀0108执1号",
                         asset={"kind": "person", "id": person.id_number}, debtor_id_number=person.id_number,  # type: ignore[arg-type]
                         ruling_number="d", notice_number="n", officer_credentials=[population.officer_credentials[0]],
                         served_at="2026-01-01T00:00:00+00:00")  # type: ignore[arg-type]
    journal, saved, _ = open_store(tmp_path / "sim.sqlite3", "p", 60)
    book = LedgerBook(population, journal=journal)
    book.restore(saved)
    first = book.restrictions.execute("airline-01", order)
    assert first["status"] == "applied"
    journal.flush()
    journal.close()
    journal, saved, _ = open_store(tmp_path / "sim.sqlite3", "p", 60)
    again = LedgerBook(population, journal=journal)
    again.restore(saved)
    assert [r.order_id for r in again.restrictions.in_force("airline-01", person.id_number)] == ["r1"]
    assert again.restrictions.execute("airline-01", order) == {**first, "duplicate": True}  # the first answer, nothing changed
    blocking, event = again.restrictions.purchase("airline-01", "airline", person.id_number, "CA1501", "economy", "北京-上海")
    assert [r.order_id for r in blocking] == ["r1"] and event is not None and event.restriction_ids == ["r1"]
    assert event.place == "CA1501 北京-上海 economy" and event.holder_id_number == person.id_number
    journal.close()
