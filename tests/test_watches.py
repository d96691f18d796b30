"""Watches and alerts through the running stack: placing, reading, listing and ending watches over
HTTP with every refusal naming its field, and institution events on the real broker turning into
alerts on the live stream — money arriving frozen through the order desk, a watched car seen, a
hotel check-in — each triggered at the simulated institution and relayed by its connector."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from schemas.watches import MAX_WATCH_DAYS, today_in_china
from tests.helpers import (
    COURT_A,
    COURT_B,
    OFFICER_CREDENTIALS,
    get_json,
    has_account,
    next_sse_alert,
    open_case,
    pick,
    post_json,
    settled,
    watch_auto_freeze,
    watch_body,
)


async def refused(api, body: dict[str, Any]) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    status, answer = await post_json(api, "/v1/watches", body)
    return status, answer["errors"][0]["field"] if answer.get("errors") else "", answer.get("message", "")


async def test_a_watch_is_placed_once_per_key_read_listed_by_court_and_ended_on_record(api, officers, population, credential) -> None:
    api_b = officers("OFFICER-B1", COURT_B)
    debtor = pick(population, has_account(1_000))
    case, _ = await open_case(api, debtor, credential)
    body = watch_body(case, debtor, auto_freeze=watch_auto_freeze(case, credential))
    status, watch = await post_json(api, "/v1/watches", body)
    assert status == 202, watch
    assert (watch["status"], watch["kinds"], watch["officer"], watch["until"]) == ("active", ["funds", "vehicle"], "OFFICER-A1", body["until"])
    assert watch["watched_until"] == f"{(date.fromisoformat(body['until']) + timedelta(days=1)).isoformat()}T00:00:00.000+08:00"
    assert watch["auto_freeze"]["term_days"] == 90 and watch["replayed"] is False

    status, again = await post_json(api, "/v1/watches", body)  # a retry: the same watch
    assert status == 200 and again["replayed"] is True and again["id"] == watch["id"]
    status, other = await post_json(api, "/v1/watches", {**body, "kinds": ["funds"]})
    assert status == 409 and other["errors"][0]["field"] == "idempotency_key"

    assert (await get_json(api, f"/v1/watches/{watch['id']}"))["id"] == watch["id"]
    listed = await get_json(api, "/v1/watches?" + f"case_number={case}")
    assert [w["id"] for w in listed["watches"]] == [watch["id"]]
    assert watch["id"] in [w["id"] for w in (await get_json(api, "/v1/watches"))["watches"]]
    assert watch["id"] not in [w["id"] for w in (await get_json(api_b, "/v1/watches"))["watches"]]  # another court's
    async with api_b.get(f"/v1/watches/{watch['id']}") as r:
        assert r.status == 403 and (await r.json())["errors"][0]["field"] == "watch_id"
    async with api_b.post(f"/v1/watches/{watch['id']}/end") as r:
        assert r.status == 403

    async with officers("OFFICER-A2", COURT_A).post(f"/v1/watches/{watch['id']}/end") as r:
        ended = await r.json()
    assert r.status == 200 and (ended["status"], ended["ended_by"], ended["ended_now"]) == ("ended", "OFFICER-A2", True)
    async with api.post(f"/v1/watches/{watch['id']}/end") as r:  # the first ending stands
        again = await r.json()
    assert r.status == 200 and (again["ended_by"], again["ended_at"], again["ended_now"]) == ("OFFICER-A2", ended["ended_at"], False)
    async with api.get("/v1/watches/no-such-watch") as r:
        assert r.status == 404


async def test_bad_watches_are_refused_naming_the_field_and_nothing_is_stored(api, officers, population, credential) -> None:
    debtor, stranger, theirs = pick(population, has_account(1_000)), pick(population, has_account(1_000)), pick(population, has_account(1))
    case, _ = await open_case(api, debtor, credential)
    case_b, _ = await open_case(officers("OFFICER-B1", COURT_B), theirs, credential, COURT_B)
    today = today_in_china()
    cases = {
        "unknown kind": (watch_body(case, debtor, kinds=["funds", "phone"]), 422, "kinds[1]"),
        "a kind twice": (watch_body(case, debtor, kinds=["vehicle", "vehicle"]), 422, "kinds"),
        "no kind": (watch_body(case, debtor, kinds=[]), 422, "kinds"),
        "until in the past": (watch_body(case, debtor, until=(today - timedelta(days=1)).isoformat()), 422, "until"),
        "until beyond the term": (watch_body(case, debtor, until=(today + timedelta(days=MAX_WATCH_DAYS + 1)).isoformat()), 422, "until"),
        "auto_freeze without funds": (watch_body(case, debtor, kinds=["vehicle"], auto_freeze=watch_auto_freeze(case, credential)), 422,
                                      "auto_freeze"),
        "freeze term beyond a deposit's": (watch_body(case, debtor, auto_freeze={**watch_auto_freeze(case, credential), "term_days": 366}), 422,
                                           "auto_freeze.term_days"),
        "a debtor not of the case": (watch_body(case, stranger), 422, "debtor_id_number"),
        "a bad resident ID": (watch_body(case, debtor, debtor_id_number=debtor.id_number[:-1] + "Z"), 422, "debtor_id_number"),
        "another court's case and debtor": (watch_body(case_b, theirs, court=COURT_B), 403, "case_number"),
        "another officer's credential": (watch_body(case, debtor, auto_freeze=watch_auto_freeze(case, "ZF-NOT-MINE-1")), 403,
                                         "auto_freeze.officer_credentials"),
        "another operator": (watch_body(case, debtor, operator="OFFICER-A9"), 403, "operator"),
    }
    assert "ZF-NOT-MINE-1" not in OFFICER_CREDENTIALS
    for name, (body, status, field) in cases.items():
        got, named, message = await refused(api, body)
        assert (got, named) == (status, field), (name, message)
    assert (await get_json(api, f"/v1/watches?case_number={case}"))["watches"] == []
    async with api.get("/v1/watches", params={"case_number": case_b}) as r:
        assert r.status == 403
    async with api.get("/v1/alerts", params={"limit": "0"}) as r:
        assert r.status == 400 and (await r.json())["errors"][0]["field"] == "limit"


@pytest.mark.e2e
async def test_money_arriving_a_car_seen_and_a_check_in_stream_to_the_court_and_the_money_is_frozen(
        api, officers, simulators, population, credential) -> None:  # type: ignore[no-untyped-def]
    """The whole chain: the institutions' feeds, the connectors relaying them over Kafka, the
    gateway's event consumer and the watch listener, the stream; the freeze through desk and ledger."""
    debtor = pick(population, lambda assets: has_account(1_000)(assets) and any(a.kind == "vehicle" for a in assets), kind="person")
    case, assets = await open_case(api, debtor, credential, due_fen=50_000_00)
    account = next(a for a in assets if a["kind"] == "deposit" and not a.get("protected"))
    car = next(a for a in assets if a["kind"] == "vehicle")
    body = watch_body(case, debtor, kinds=["funds", "vehicle", "lodging"], auto_freeze=watch_auto_freeze(case, credential))
    status, watch = await post_json(api, "/v1/watches", body)
    assert status == 202, watch
    inst, number = account["institution_id"], account["account_no"]
    async with api.get("/v1/alerts/stream", params={"case_number": case}) as stream:
        assert stream.status == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
        await simulators.credit(inst, number, 30_000_00)  # ¥30,000 arrives; the case may take ¥50,000
        await simulators.sighting(car["institution_id"], car["plate"], "万达广场地下停车场 B2 入口", "石家庄市")
        await simulators.check_in("lodging-01", debtor.id_number, "如家酒店(石家庄火车站店)", "石家庄市")
        alerts = {}
        for _ in range(3):  # three feeds: the order between them is not fixed
            seq, alert, _ = await next_sse_alert(stream)
            alerts[alert["kind"]] = (seq, alert)
    funds, seen, lodged = alerts["funds"][1], alerts["vehicle"][1], alerts["lodging"][1]
    assert funds["watch_id"] == seen["watch_id"] == lodged["watch_id"] == watch["id"]
    assert funds["summary"].startswith("账户到账 ¥30,000.00") and funds["summary"].endswith("；已自动冻结 ¥30,000.00")
    assert funds["what"]["asset"] == {"kind": "deposit", "id": number} and funds["when"].endswith("+08:00")
    assert seen["summary"] == f"车辆 {car['plate']} 出现在 石家庄市 万达广场地下停车场 B2 入口" and seen["auto_freeze"] is None
    assert lodged["summary"].startswith("入住 ") and "如家酒店(石家庄火车站店)" in lodged["summary"]
    assert lodged["where"]["institution_id"] == "lodging-01"
    # The freeze went the way of any order: desk, audit trail, Kafka, the bank's ledger.
    order = await settled(api, funds["auto_freeze"]["order_id"])
    assert (order["type"], order["status"], order["amount_fen"], order["operator"]) == ("freeze", "applied", 30_000_00, "OFFICER-A1")
    assert order["history"][0]["event"] == "requested" and order["documents"]["ruling_number"] == f"{case}之三"
    frozen = (await simulators.ledger(inst, number))["freezes"]
    assert [(f["court"], f["held_fen"]) for f in frozen] == [(COURT_A, 30_000_00)]
    # The same alerts by cursor; another court sees none of them.
    seqs = sorted(seq for seq, _ in alerts.values())
    listed = await get_json(api, f"/v1/alerts?case_number={case}")
    assert [a["seq"] for a in listed["alerts"]] == seqs and listed["next_after"] == seqs[-1]
    page = await get_json(api, f"/v1/alerts?case_number={case}&after={seqs[0]}&limit=1")
    assert [a["seq"] for a in page["alerts"]] == seqs[1:2]
    assert all(a["case_number"] != case for a in (await get_json(officers("OFFICER-B1", COURT_B), "/v1/alerts"))["alerts"])
