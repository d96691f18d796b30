"""Watches and alerts through the running stack: placing, reading, listing and ending watches over
HTTP with every refusal naming its field, and institution events on the real broker turning into
alerts on the live stream — money arriving frozen through the order desk, a watched car seen."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from schemas.events import InstitutionEvent
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
    publish_events,
    settled,
)

# Far beyond any real feed position, so the gateway takes these as new for their subjects.
_seqs = itertools.count(2 * 10**9)


def watch_body(case: str, debtor: Any, court: str = COURT_A, **extra: Any) -> dict[str, Any]:
    return {"case_number": case, "court": court, "debtor_id_number": debtor.id_number, "kinds": ["funds", "vehicle"],
            "until": (today_in_china() + timedelta(days=30)).isoformat(), "idempotency_key": uuid.uuid4().hex, **extra}


def auto_freeze(case: str, credential: str) -> dict[str, Any]:
    return {"ruling_number": f"{case}之三", "notice_number": f"{case}-协冻", "officer_credentials": [credential], "term_days": 90}


def happened(type_: str, institution_id: str, holder: Any, **fields: Any) -> InstitutionEvent:
    seq = next(_seqs)
    return InstitutionEvent(event_id=f"{institution_id}:{seq}", seq=seq, institution_id=institution_id, type=type_,  # type: ignore[arg-type]
                            at=datetime.now(UTC), holder_id_number=holder.id_number, **fields)


async def refused(api, body: dict[str, Any]) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    status, answer = await post_json(api, "/v1/watches", body)
    return status, answer["errors"][0]["field"] if answer.get("errors") else "", answer.get("message", "")


async def test_a_watch_is_placed_once_per_key_read_listed_by_court_and_ended_on_record(api, officers, population, credential) -> None:
    api_b = officers("OFFICER-B1", COURT_B)
    debtor = pick(population, has_account(1_000))
    case, _ = await open_case(api, debtor, credential)
    body = watch_body(case, debtor, auto_freeze=auto_freeze(case, credential))
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
        "auto_freeze without funds": (watch_body(case, debtor, kinds=["vehicle"], auto_freeze=auto_freeze(case, credential)), 422,
                                      "auto_freeze"),
        "freeze term beyond a deposit's": (watch_body(case, debtor, auto_freeze={**auto_freeze(case, credential), "term_days": 366}), 422,
                                           "auto_freeze.term_days"),
        "a debtor not of the case": (watch_body(case, stranger), 422, "debtor_id_number"),
        "a bad resident ID": (watch_body(case, debtor, debtor_id_number=debtor.id_number[:-1] + "Z"), 422, "debtor_id_number"),
        "another court's case and debtor": (watch_body(case_b, theirs, court=COURT_B), 403, "case_number"),
        "another officer's credential": (watch_body(case, debtor, auto_freeze=auto_freeze(case, "ZF-NOT-MINE-1")), 403,
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


async def test_money_arriving_is_frozen_and_a_watched_car_seen_and_both_stream_to_the_court(
        stack, api, officers, simulators, population, credential) -> None:  # type: ignore[no-untyped-def]
    # A company, so no living allowance holds part of the arrival back.
    debtor = pick(population, lambda assets: has_account(1_000)(assets) and any(a.kind == "vehicle" for a in assets), kind="organisation")
    case, assets = await open_case(api, debtor, credential, due_fen=50_000_00)
    account = next(a for a in assets if a["kind"] == "deposit" and not a.get("protected"))
    car = next(a for a in assets if a["kind"] == "vehicle")
    status, watch = await post_json(api, "/v1/watches", watch_body(case, debtor, auto_freeze=auto_freeze(case, credential)))
    assert status == 202, watch
    inst, number = account["institution_id"], account["account_no"]
    ledger = await simulators.credit(inst, number, 30_000_00)  # ¥30,000 arrives; the case may take ¥50,000
    async with api.get("/v1/alerts/stream", params={"case_number": case}) as stream:
        assert stream.status == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
        arrival = happened("funds_credited", inst, debtor, asset_kind="deposit", asset_id=number, amount_fen=30_000_00,
                           balance_fen=ledger["balance_fen"])
        sighting = happened("vehicle_sighted", car["institution_id"], debtor, asset_kind="vehicle", asset_id=car["plate"],
                            place="万达广场地下停车场 B2 入口", region="石家庄市")
        await publish_events(stack, [arrival, sighting])
        seq, funds, _ = await next_sse_alert(stream)
        seq2, seen, _ = await next_sse_alert(stream)
    assert seq < seq2 and funds["watch_id"] == seen["watch_id"] == watch["id"]
    assert funds["summary"].startswith("账户到账 ¥30,000.00") and funds["summary"].endswith("；已自动冻结 ¥30,000.00")
    assert funds["what"]["asset"] == {"kind": "deposit", "id": number} and funds["when"].endswith("+08:00")
    assert seen["summary"] == f"车辆 {car['plate']} 出现在 石家庄市 万达广场地下停车场 B2 入口" and seen["auto_freeze"] is None
    # The freeze went the way of any order: desk, audit trail, Kafka, the bank's ledger.
    order = await settled(api, funds["auto_freeze"]["order_id"])
    assert (order["type"], order["status"], order["amount_fen"], order["operator"]) == ("freeze", "applied", 30_000_00, "OFFICER-A1")
    assert order["history"][0]["event"] == "requested" and order["documents"]["ruling_number"] == f"{case}之三"
    frozen = (await simulators.ledger(inst, number))["freezes"]
    assert [(f["court"], f["held_fen"]) for f in frozen] == [(COURT_A, 30_000_00)]
    # The same alerts by cursor; another court sees none of them.
    listed = await get_json(api, f"/v1/alerts?case_number={case}")
    assert [a["seq"] for a in listed["alerts"]] == [seq, seq2] and listed["next_after"] == seq2
    assert (await get_json(api, f"/v1/alerts?case_number={case}&after={seq}"))["alerts"][0]["seq"] == seq2
    assert all(a["case_number"] != case for a in (await get_json(officers("OFFICER-B1", COURT_B), "/v1/alerts"))["alerts"])
