"""The watch listener over a real SQLite store and a real order desk: which events alert which
watches, once; the automatic freeze of arriving money within what the case may still freeze; and
the alert stream over real HTTP, fed by the listener driven directly. Events are delivered as the
event consumer delivers them: applied to the store first (live balances), then the new ones heard."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gateway.http.access import RateLimiter
from gateway.http.app import create_app
from gateway.http.auth import TokenAuthority
from gateway.inquiries.intake import Intake
from gateway.orders.desk import OrderDesk
from gateway.store.factory import open_store
from gateway.store.interfaces import Store
from gateway.store.records import NewInquiry, WatchRecord
from gateway.watches.wiring import Watches
from infra.clock import day_end_ms, ms_to_dt, now_ms
from schemas.courts import Courts
from schemas.debtor import Debtor
from schemas.directory import Directory
from schemas.events import InstitutionEvent
from schemas.identifiers import resident_id_check_digit
from schemas.messages import LegBatchResult, leg_id
from schemas.watches import WatchCreate, today_in_china
from tests.helpers import COURT_A, COURT_B, COURT_CODES, next_sse_alert

CASE = "(2025)冀0108执4502号"
DUE_FEN = 1_000_000  # ¥10,000.00 to secure
ALLOWANCE_FEN = 1_000
ACCOUNT, OTHER_ACCOUNT, PLATE = "6222000000000001", "6222000000000999", "冀A12345"
DIRECTORY = Directory.from_counts()
SECRET = b"s" * 32


def person(n: int) -> Debtor:
    first17 = f"13010519800101{n:03d}"
    return Debtor(kind="person", id_number=first17 + resident_id_check_digit(first17), name=f"债务人{n}")


P0, P1 = person(0), person(1)


@dataclass
class World:
    store: Store
    desk: OrderDesk
    watches: Watches
    wakes: list[int] = field(default_factory=list)

    def watch(self, kinds: tuple[str, ...] = ("funds",), debtor: Debtor = P0, until: date | None = None,
              auto_freeze: bool = False) -> WatchRecord:
        body = WatchCreate(
            case_number=CASE, court=COURT_A, debtor_id_number=debtor.id_number, kinds=list(kinds),  # type: ignore[arg-type]
            until=until or today_in_china() + timedelta(days=30), operator="OFFICER-A1", idempotency_key=uuid.uuid4().hex,
            auto_freeze={"ruling_number": f"{CASE}之二", "notice_number": f"{CASE}-协冻", "officer_credentials": ["ZF20886323"],
                         "term_days": 180} if auto_freeze else None,
        )
        watch, _ = self.watches.desk.place(body)
        return watch

    def alerts(self) -> list[Any]:
        return self.store.alerts.after(COURT_A, 0, 1000)

    async def deliver(self, *events: InstitutionEvent) -> None:
        """What the event consumer does with a batch: apply it, then hand the new events over."""
        await self.watches.listener.on_events(self.store.events.apply(list(events), now_ms()))


def _seed_case(store: Store) -> None:
    """A case of 裕华区 with two natural persons; P0 has a deposit and a car in the report."""
    inquiry = NewInquiry(
        id="q1", batch_id=None, case_number=CASE, court=COURT_A, amount_due_fen=DUE_FEN, costs_fen=0,
        notice_number=f"{CASE}-查", officer_credentials=["ZF20886323"], officer_id="OFFICER-A1", created_at=1, deadline=10**13,
        debtors=[P0, P1], institutions=[DIRECTORY.by_id["bank-01"], DIRECTORY.by_id["vehicle-01"]],
    )
    store.inquiries.add([inquiry])
    bank, vehicle = leg_id("q1", 0, "bank-01"), leg_id("q1", 0, "vehicle-01")
    store.legs.mark_sent([bank, vehicle], 2)
    store.legs.apply_results([LegBatchResult.model_validate({"inquiry_id": "q1", "answered_at": datetime.now(UTC), "results": [
        {"leg_id": bank, "institution_id": "bank-01", "status": "found", "assets": [
            {"kind": "deposit", "institution_id": "bank-01", "value_fen": 300, "account_no": ACCOUNT, "account_type": "debit_card"}]},
        {"leg_id": vehicle, "institution_id": "vehicle-01", "status": "found", "assets": [
            {"kind": "vehicle", "institution_id": "vehicle-01", "value_fen": 8_000_000, "plate": PLATE, "vin": "LSVNV2182E2100001",
             "model": "大众帕萨特", "registered_on": "2019-05-01"}]},
    ]})], 3)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    store = open_store(tmp_path / "gateway.sqlite3")
    _seed_case(store)
    wakes: list[int] = []
    desk = OrderDesk(store, DIRECTORY, Courts.built_in(), 60, lambda: wakes.append(1), living_allowance_fen=ALLOWANCE_FEN)
    yield World(store, desk, Watches(store, desk, DIRECTORY, heartbeat_s=0.2), wakes)
    store.close()


_seqs = iter(range(1, 10**6))


def event(type_: str, holder: Debtor = P0, at: datetime | None = None, **fields: Any) -> InstitutionEvent:
    institution = fields.pop("institution_id", {"vehicle_sighted": "vehicle-01", "guest_checked_in": "lodging-01"}.get(type_, "bank-01"))
    seq = next(_seqs)
    return InstitutionEvent(event_id=f"{institution}:{seq}", seq=seq, institution_id=institution, type=type_,  # type: ignore[arg-type]
                            at=at or datetime.now(UTC), holder_id_number=holder.id_number, **fields)


def credited(amount_fen: int, balance_fen: int, account: str = ACCOUNT, **fields: Any) -> InstitutionEvent:
    return event("funds_credited", asset_kind="deposit", asset_id=account, amount_fen=amount_fen, balance_fen=balance_fen, **fields)


# -- matching -------------------------------------------------------------------------------------

async def test_money_arriving_alerts_each_watch_on_funds_of_that_debtor_once(world: World) -> None:
    funds, funds_and_car = world.watch(("funds",)), world.watch(("funds", "vehicle"))
    world.watch(("vehicle", "lodging"))  # another kind
    world.watch(("funds",), debtor=P1)  # another debtor
    subscription = world.watches.broadcaster.subscribe()
    arrival = credited(1_234_500, 1_234_800, at=datetime(2025, 12, 1, 2, 30, tzinfo=UTC))
    await world.deliver(arrival, event("funds_debited", asset_kind="deposit", asset_id=ACCOUNT, amount_fen=5))
    await world.watches.listener.on_events([arrival])  # handed over again anyway: no second alert
    alerts = world.alerts()
    assert sorted(a.watch_id for a in alerts) == sorted([funds.id, funds_and_car.id])
    first = next(a for a in alerts if a.watch_id == funds.id)
    assert (first.case_number, first.debtor_id_number, first.kind, first.event_type, first.event_id) == (
        CASE, P0.id_number, "funds", "funds_credited", arrival.event_id)
    assert first.summary.startswith("账户到账 ¥12,345.00") and "余额 ¥12,348.00" in first.summary
    assert first.detail["what"] == {"type": "funds_credited", "amount_fen": 1_234_500, "balance_fen": 1_234_800,
                                    "asset": {"kind": "deposit", "id": ACCOUNT}}
    assert first.detail["where"]["institution_id"] == "bank-01"
    assert first.detail["where"]["institution_name"] == DIRECTORY.by_id["bank-01"].name
    assert "auto_freeze" not in first.detail  # no automatic action asked for
    pushed, _ = subscription.take()
    assert pushed == alerts  # and fanned out to open streams, once

    from gateway.watches.alerts import alert_view

    view = alert_view(first)
    assert view["when"] == "2025-12-01T10:30:00.000+08:00" and view["watch_id"] == funds.id and view["kind_label"] == "资金到账"


async def test_a_vehicle_sighting_and_a_check_in_say_what_and_where(world: World) -> None:
    watch = world.watch(("vehicle", "lodging"))
    sighting = event("vehicle_sighted", asset_kind="vehicle", asset_id=PLATE, place="万达广场地下停车场 B2 入口", region="石家庄市")
    check_in = event("guest_checked_in", place="如家酒店(石家庄火车站店) 中华南大街 88 号", region="石家庄市")
    await world.deliver(sighting, check_in)
    seen, lodged = world.alerts()
    assert seen.summary == f"车辆 {PLATE} 出现在 石家庄市 万达广场地下停车场 B2 入口" and seen.watch_id == watch.id
    assert seen.detail["where"]["place"] == "万达广场地下停车场 B2 入口"
    assert seen.detail["where"]["institution_name"] == DIRECTORY.by_id["vehicle-01"].name
    assert lodged.summary == "入住 石家庄市 如家酒店(石家庄火车站店) 中华南大街 88 号" and lodged.kind == "lodging"
    assert lodged.detail["where"]["institution_name"] == DIRECTORY.by_id["lodging-01"].name


async def test_ended_and_expired_watches_and_other_debtors_raise_no_alert(world: World) -> None:
    ended = world.watch(("funds",))
    world.watches.desk.end(ended.id, "OFFICER-A2")
    today = world.watch(("funds",), until=today_in_china())
    last_instant = ms_to_dt(day_end_ms(today_in_china()) - 1)
    await world.deliver(credited(100, 400, at=last_instant + timedelta(milliseconds=1)),  # the day after
                        credited(100, 400, holder=P1))
    assert world.alerts() == []
    await world.deliver(credited(100, 400, at=last_instant))  # still the last day watched
    assert [a.watch_id for a in world.alerts()] == [today.id]


# -- automatic freeze -----------------------------------------------------------------------------

def _orders(world: World) -> list[Any]:
    return [world.store.orders.get(f.id) for f in world.store.orders.live_freezes_of_case(CASE)]


async def test_arriving_money_is_frozen_up_to_what_the_case_still_needs_and_then_not_at_all(world: World) -> None:
    watch = world.watch(("funds",), auto_freeze=True)
    big = credited(5_000_000, 5_000_300)
    await world.deliver(big)
    await world.watches.listener.on_events([big])  # again: no second freeze
    [order] = _orders(world)
    assert (order.type, order.status, order.amount_fen, order.asset_id, order.institution_id) == (
        "freeze", "requested", DUE_FEN, ACCOUNT, "bank-01")  # ¥10,000 of ¥50,000: what the case needs
    assert (order.operator, order.term_days, order.ruling_number, order.officer_credentials) == (
        "OFFICER-A1", 180, f"{CASE}之二", ("ZF20886323",))
    assert order.idempotency_key.endswith(f"watch:{watch.id}:{big.event_id}") and world.wakes == [1]  # the relay was woken
    [alert] = world.alerts()
    assert alert.detail["auto_freeze"] == {"order_id": order.id, "amount_fen": DUE_FEN}
    assert alert.summary.endswith("；已自动冻结 ¥10,000.00")

    await world.deliver(credited(70_000, 5_070_300))  # nothing remains to secure
    assert len(_orders(world)) == 1
    second = world.alerts()[1]
    assert second.detail["auto_freeze"]["order_id"] is None
    assert "nothing remains to secure" in second.detail["auto_freeze"]["reason"] and "未自动冻结" in second.summary


async def test_the_living_allowance_stays_free_of_arriving_money(world: World) -> None:
    world.watch(("funds",), auto_freeze=True)
    await world.deliver(credited(400, 700))  # ¥7 in the account: under the ¥10 allowance
    assert _orders(world) == []
    assert "living allowance" in world.alerts()[0].detail["auto_freeze"]["reason"]
    await world.deliver(credited(2_000, 2_700))  # judged by the live balance the bank reported, not the report's ¥3
    [order] = _orders(world)
    assert order.amount_fen == 2_700 - ALLOWANCE_FEN


async def test_money_in_an_account_no_report_of_the_case_found_is_not_frozen(world: World) -> None:
    world.watch(("funds",), auto_freeze=True)
    await world.deliver(credited(50_000, 50_000, account=OTHER_ACCOUNT))
    assert _orders(world) == []
    [alert] = world.alerts()
    assert "in no report of this case" in alert.detail["auto_freeze"]["reason"]


# -- the stream over real HTTP --------------------------------------------------------------------

@pytest.fixture
async def served(world: World) -> AsyncIterator[tuple[str, web.AppRunner]]:
    courts = Courts.built_in()
    app = create_app(world.store, Intake(world.store.inquiries, world.store.cases, DIRECTORY, 60, lambda: None), world.desk,
                     DIRECTORY, courts, TokenAuthority(SECRET), RateLimiter(rate=100, burst=100), watch_parts=world.watches)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", runner
    await runner.cleanup()


def _session(url: str, officer: str = "OFFICER-A1", court: str = COURT_A, roles: tuple[str, ...] = ("officer",)) -> aiohttp.ClientSession:
    token = TokenAuthority(SECRET).issue(officer, court, COURT_CODES[court], list(roles))
    return aiohttp.ClientSession(url, headers={"Authorization": f"Bearer {token}"})


async def test_the_stream_shows_new_alerts_of_the_court_and_resumes_from_the_last_event_id(world: World, served) -> None:  # type: ignore[no-untyped-def]
    url, _ = served
    watch = world.watch(("funds",))
    async with _session(url) as officer, _session(url, "OFFICER-B1", COURT_B) as other:
        async with officer.get("/v1/alerts/stream") as stream, other.get("/v1/alerts/stream") as others:
            assert stream.status == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
            await world.deliver(credited(1_234_500, 1_234_800))
            seq, data, _ = await next_sse_alert(stream)
            assert data["watch_id"] == watch.id and data["summary"].startswith("账户到账 ¥12,345.00") and data["seq"] == seq
            assert data["when"].endswith("+08:00") and data["where"]["institution_id"] == "bank-01"
            # Another court's stream sees nothing of it: only heartbeats.
            with pytest.raises(TimeoutError):
                await next_sse_alert(others, timeout=0.7)
        await world.deliver(credited(100, 1_234_900))  # while nobody listens
        async with officer.get("/v1/alerts/stream", headers={"Last-Event-ID": str(seq)}) as resumed:
            later, data, _ = await next_sse_alert(resumed)  # from the store
            assert later > seq and data["what"]["amount_fen"] == 100
        async with officer.get("/v1/alerts", params={"after": str(seq)}) as r:
            listed = await r.json()
        assert [a["seq"] for a in listed["alerts"]] == [later] and listed["next_after"] == later


async def test_an_idle_stream_gets_heartbeats_and_ends_when_the_gateway_stops(world: World, served) -> None:  # type: ignore[no-untyped-def]
    url, runner = served
    async with _session(url) as officer, officer.get("/v1/alerts/stream") as stream:
        lines = []
        async with asyncio.timeout(3):
            while len([line for line in lines if line == b": keep-alive\n"]) < 2:
                lines.append(await stream.content.readline())
        stopping = asyncio.create_task(runner.cleanup())
        async with asyncio.timeout(4):
            await stream.content.read()  # the stream ends instead of holding the shutdown for its timeout
            await stopping


async def test_the_stream_needs_the_officer_role_and_a_case_of_the_court(world: World, served) -> None:  # type: ignore[no-untyped-def]
    url, _ = served
    async with aiohttp.ClientSession(url) as anonymous, anonymous.get("/v1/alerts/stream") as r:
        assert r.status == 401
    async with _session(url, "OFFICER-OPS", roles=("ops",)) as ops, ops.get("/v1/alerts/stream") as r:
        assert r.status == 403 and (await r.json())["message"] == "the officer role is needed"
    async with _session(url, "OFFICER-B1", COURT_B) as other, other.get("/v1/alerts/stream", params={"case_number": CASE}) as r:
        assert r.status == 403 and (await r.json())["errors"][0]["field"] == "case_number"
    async with _session(url) as officer, officer.get("/v1/alerts/stream", headers={"Last-Event-ID": "x"}) as r:
        assert r.status == 400 and (await r.json())["errors"][0]["field"] == "Last-Event-ID"
