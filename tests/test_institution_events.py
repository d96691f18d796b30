"""Institutions speak first: every change an institution sees outside a request is an event in its
feed (``GET /{inst}/events?after=SEQ&wait=S``), shaped as ``schemas.events.InstitutionEvent``,
about assets the network knows of; the network reconciles through ``/controls/status``.

Unit tests drive the ledger and the log directly; the rest is real HTTP against ``serve``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pydantic
import pytest

from schemas.assets import DepositAccount, PaymentWallet, Vehicle
from schemas.directory import Directory
from schemas.events import InstitutionEvent
from simulators.activity import Activity
from simulators.behaviour import Behaviours
from simulators.events import EventLog
from simulators.latency import Latency
from simulators.ledger import AssetLedger, Refused
from simulators.ledger_book import LedgerBook
from simulators.population import Population
from simulators.server import DEFAULT_PORTS, serve
from tests.helpers import wait_for

T0 = datetime(2025, 6, 1, tzinfo=UTC)
COURT_A, COURT_B, COURT_C = "石家庄市裕华区人民法院", "石家庄市长安区人民法院", "保定市竞秀区人民法院"
ACCOUNT_A = "13001626108050012345"


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


Seen = list[tuple[str, dict[str, Any]]]


def recording_ledger(balance: int, kind: str = "deposit") -> tuple[AssetLedger, Seen]:
    seen: Seen = []
    ledger = AssetLedger("bank-01", "6222020000000000001", kind, balance, emit=lambda type_, when, fields: seen.append((type_, fields)))
    return ledger, seen


def freeze(ledger: AssetLedger, fid: str, court: str, amount: int | None, term: int, day: float = 0) -> None:
    ledger.freeze(fid, court=court, case_number="(2025)冀0108执1号", served_at=at(day), amount_fen=amount, term_days=term, now=at(day))


# --- the ledger's news -----------------------------------------------------------------------------

def test_funds_arriving_are_credited_and_captured_with_the_freezes_whole_state() -> None:
    ledger, seen = recording_ledger(1_000)
    freeze(ledger, "A", COURT_A, 5_000, 90)
    assert seen == []  # the freeze itself is the answer to a request, not news
    ledger.credit(3_000, at(1))
    assert [t for t, _ in seen] == ["funds_credited", "freeze_captured"]
    assert seen[0][1] == {"amount_fen": 3_000, "balance_fen": 4_000}
    assert seen[1][1] == {"amount_fen": 3_000, "balance_fen": 4_000, "freeze": {
        "freeze_id": "A", "court": COURT_A, "status": "partially_applied", "held_fen": 4_000, "requested_fen": 5_000,
        "deducted_fen": 0, "queue_position": None, "start_date": at(0).isoformat(), "end_date": at(90).isoformat()}}


def test_the_queue_moving_is_news_for_every_freeze_whose_place_changed() -> None:
    ledger, seen = recording_ledger(0, kind="vehicle")
    for n, (fid, court) in enumerate((("A", COURT_A), ("B", COURT_B), ("C", COURT_C), ("D", COURT_B))):
        freeze(ledger, fid, court, None, 30 + n, day=n)
    assert seen == []
    ledger.release("A", court=COURT_A, now=at(5))
    assert [(t, f["freeze"]["freeze_id"], f["freeze"]["status"], f["freeze"]["queue_position"]) for t, f in seen] == [
        ("freeze_released", "A", "released", None), ("freeze_promoted", "B", "applied", None),
        ("queue_advanced", "C", "queued", 1), ("queue_advanced", "D", "queued", 2)]
    assert "balance_fen" not in seen[1][1] and seen[1][1]["freeze"]["held_fen"] is None  # property: no money fields
    seen.clear()
    ledger.release("C", court=COURT_C, now=at(6))  # a queued one leaves: D moves up, B is untouched
    assert [(t, f["freeze"]["freeze_id"], f["freeze"]["queue_position"]) for t, f in seen] == [
        ("freeze_released", "C", None), ("queue_advanced", "D", 1)]
    seen.clear()
    ledger.sweep(at(100))  # B (31 days from day 5) lapses on day 36, D takes effect then and lapses 33 days later
    assert [(t, f["freeze"]["freeze_id"]) for t, f in seen] == [("freeze_lapsed", "B"), ("freeze_promoted", "D"), ("freeze_lapsed", "D")]


def test_a_deduction_is_news_with_the_court_the_balance_and_the_freezes_total() -> None:
    ledger, seen = recording_ledger(10_000)
    freeze(ledger, "A", COURT_A, 6_000, 90)
    for amount in (2_500, 1_000):
        ledger.deduct(uuid.uuid4().hex, "A", court=COURT_A, amount_fen=amount, enforcement_account=ACCOUNT_A, now=at(1))
    type_, fields = seen[-1]
    assert (type_, fields["amount_fen"], fields["court"], fields["balance_fen"]) == ("deduction_executed", 1_000, COURT_A, 6_500)
    assert (fields["freeze"]["deducted_fen"], fields["freeze"]["held_fen"], fields["freeze"]["requested_fen"]) == (3_500, 2_500, 2_500)


def test_a_debit_spends_only_free_funds() -> None:
    ledger, seen = recording_ledger(10_000)
    freeze(ledger, "A", COURT_A, 6_000, 90)
    with pytest.raises(Refused, match="amount_fen 4001 exceeds the 4000 fen available"):
        ledger.debit(4_001, at(1))
    assert (ledger.balance_fen, seen) == (10_000, [])  # a refusal changes nothing
    ledger.debit(4_000, at(1))
    assert seen == [("funds_debited", {"amount_fen": 4_000, "balance_fen": 6_000})]
    with pytest.raises(Refused, match="positive"):
        ledger.debit(0, at(1))
    with pytest.raises(Refused, match="no funds"):
        AssetLedger("vehicle-01", "冀A12345", "vehicle").debit(1, at(1))


def test_the_log_pages_by_cursor_and_a_lost_event_leaves_a_gap() -> None:
    log = EventLog()
    for n in range(5):
        log.append("bank-01", "funds_credited", at(n), asset_kind="deposit", asset_id=f"acct-{n}", amount_fen=n + 1, balance_fen=n + 1)
    log.append("bank-02", "funds_credited", at(0), asset_kind="deposit", asset_id="other", amount_fen=9, balance_fen=9)
    first = log.after("bank-01", 0, 2)
    assert [e.seq for e in first] == [1, 2] and first[0].event_id == "bank-01:1"
    assert [e.seq for e in log.after("bank-01", first[-1].seq, 10)] == [3, 4, 5]
    assert log.after("bank-01", 5, 10) == [] and [e.seq for e in log.after("bank-02", 0, 10)] == [1]
    assert log.lose_next("bank-01", 2) == 2
    for n in range(3):
        log.append("bank-01", "funds_debited", at(9), asset_kind="deposit", asset_id="acct-0", amount_fen=1, balance_fen=n)
    assert [e.seq for e in log.after("bank-01", 5, 10)] == [8] and log.last_seq("bank-01") == 8 and log.pending_loss("bank-01") == 0
    with pytest.raises(pydantic.ValidationError):
        log.append("bank-01", "gossip", at(0))
    with pytest.raises(pydantic.ValidationError):  # a naive time is not a time on the wire
        log.append("bank-01", "funds_credited", datetime(2025, 1, 1), amount_fen=1)
    assert log.last_seq("bank-01") == 8  # an event that broke the contract spent no seq


# --- over HTTP ---------------------------------------------------------------------------------------

class Sims:
    def __init__(self, http: aiohttp.ClientSession, ports: dict[str, int], book: LedgerBook, population: Population) -> None:
        self.http, self.ports, self.book, self.population = http, ports, book, population
        self.credential = population.officer_credentials[0]

    def url(self, kind: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[kind]}{path}"

    async def call(self, method: str, kind: str, path: str, body: Any = None, status: int = 200, **params: Any) -> Any:
        async with self.http.request(method, self.url(kind, path), json=body, params=params or None) as r:
            assert r.status == status, await r.text()
            return await r.json()

    async def feed(self, kind: str, inst: str, after: int = 0, **params: Any) -> dict[str, Any]:
        page = await self.call("GET", kind, f"/{inst}/events", after=str(after), **params)
        for event in page["events"]:
            InstitutionEvent.model_validate(event)  # every served event is the wire contract
        return page

    async def mine(self, kind: str, inst: str, asset_id: str) -> list[dict[str, Any]]:
        return [e for e in (await self.feed(kind, inst, limit="1000"))["events"] if e.get("asset_id") == asset_id]

    async def report(self, account: DepositAccount) -> None:
        """The bank answers a query naming the holder: from now on the network knows the account."""
        holder = self.book.holder(account.institution_id, account.account_no)
        body = {"request_id": "r1", "case_number": "(2025)冀0108执4502号", "court": COURT_A, "notice_number": "n",
                "officer_credentials": [self.credential], "subject": {"id_type": "resident_id", "id_number": holder, "name": "x"}}
        answer = await self.call("POST", "bank", f"/{account.institution_id}/api/v1/deposit-inquiries", body)
        assert account.account_no in {a["account_no"] for a in answer["accounts"]}

    async def freeze(self, kind: str, asset: Any, court: str = COURT_A, amount_fen: int | None = None, term_days: int = 300) -> dict[str, Any]:
        body = {"order_id": uuid.uuid4().hex, "type": "freeze", "court": court, "case_number": "(2025)冀0108执4502号",
                "asset": {"kind": asset.kind, "id": asset.asset_id},
                "debtor_id_number": self.book.holder(asset.institution_id, asset.asset_id), "amount_fen": amount_fen,
                "term_days": term_days, "ruling_number": "r", "notice_number": "n", "officer_credentials": [self.credential],
                "served_at": datetime.now(UTC).isoformat()}
        return await self.call("POST", kind, f"/{asset.institution_id}/controls", body)


def person_accounts(population: Population, count: int, offset: int = 0) -> list[DepositAccount]:
    """Free debit cards of people, each of a different holder, at banks that take calls (the
    polling banks answer only through the file exchange)."""
    polling = {i.id for i in Directory.from_env().polling()}
    out, holders = [], set()
    for d in population.debtors:
        if d.kind != "person":
            continue
        for a in population.assets_of(d.id_number):
            if (isinstance(a, DepositAccount) and a.account_type == "debit_card" and not a.protected and a.value_fen >= 10_000
                    and a.institution_id not in polling):
                if d.id_number not in holders:
                    holders.add(d.id_number)
                    out.append(a)
                break
    return out[offset:offset + count]


@pytest.fixture
async def sims(population: Population) -> AsyncIterator[Sims]:
    async for s in _serve(population, 0.0):
        yield s


async def _serve(population: Population, activity_per_s: float) -> AsyncIterator[Sims]:
    ports = dict.fromkeys(DEFAULT_PORTS, 0)
    ready = asyncio.Event()
    book = LedgerBook(population)
    task = asyncio.create_task(serve(list(ports), "127.0.0.1", ports, population, Behaviours(default_latency=Latency(0, 0)),
                                     ready, ledgers=book, activity_per_s=activity_per_s))
    await asyncio.wait_for(ready.wait(), 10)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=40)) as http:
        yield Sims(http, ports, book, population)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_only_assets_the_network_knows_make_news(sims: Sims) -> None:
    account, other = person_accounts(sims.population, 2)
    credit = f"/admin/institutions/{account.institution_id}/assets/{account.account_no}/credit"
    await sims.call("POST", "bank", credit, {"amount_fen": 100})
    assert await sims.mine("bank", account.institution_id, account.account_no) == []  # nobody asked about it: no news
    await sims.report(account)
    await sims.call("POST", "bank", credit, {"amount_fen": 12_345})
    [event] = await sims.mine("bank", account.institution_id, account.account_no)
    holder = sims.book.holder(account.institution_id, account.account_no)
    assert {k: event[k] for k in ("type", "asset_kind", "holder_id_number", "amount_fen", "balance_fen")} == {
        "type": "funds_credited", "asset_kind": "deposit", "holder_id_number": holder, "amount_fen": 12_345,
        "balance_fen": account.value_fen + 12_445}
    assert event["event_id"] == f"{account.institution_id}:{event['seq']}"
    # A control order makes an account known too: the capture of later funds is news.
    record = await sims.freeze("bank", other, amount_fen=other.value_fen + 500)
    assert record["status"] == "partially_applied"
    await sims.call("POST", "bank", f"/admin/institutions/{other.institution_id}/assets/{other.account_no}/credit", {"amount_fen": 800})
    events = await sims.mine("bank", other.institution_id, other.account_no)
    assert [e["type"] for e in events] == ["funds_credited", "freeze_captured"]
    assert events[1]["freeze"] == {"freeze_id": record["order_id"], "court": COURT_A, "status": "applied",
                                   "held_fen": other.value_fen + 500, "requested_fen": other.value_fen + 500, "deducted_fen": 0,
                                   "start_date": record["start_date"], "end_date": record["end_date"]}
    page = await sims.feed("bank", other.institution_id, after=events[-1]["seq"])
    assert page == {"events": [], "next": events[-1]["seq"]}  # read once: nothing new after the cursor
    async with sims.http.get(sims.url("bank", f"/{other.institution_id}/events"), params={"after": "-1"}) as r:
        assert r.status == 400 and "after" in (await r.json())["reason"]


async def test_debit_over_http_spends_free_funds_and_refuses_more(sims: Sims) -> None:
    [account] = person_accounts(sims.population, 1, offset=2)
    await sims.report(account)
    path = f"/admin/institutions/{account.institution_id}/assets/{account.account_no}/debit"
    refused = await sims.call("POST", "bank", path, {"amount_fen": account.value_fen + 1}, status=400)
    assert "amount_fen" in refused["reason"]
    assert "amount_fen" in (await sims.call("POST", "bank", path, {"amount_fen": "5"}, status=400))["reason"]
    view = await sims.call("POST", "bank", path, {"amount_fen": 1_000})
    assert view["balance_fen"] == account.value_fen - 1_000
    [event] = await sims.mine("bank", account.institution_id, account.account_no)
    assert (event["type"], event["amount_fen"], event["balance_fen"]) == ("funds_debited", 1_000, account.value_fen - 1_000)


async def test_a_long_poll_returns_as_soon_as_news_arrives(sims: Sims) -> None:
    [account] = person_accounts(sims.population, 1, offset=3)
    inst = account.institution_id
    await sims.report(account)
    cursor = (await sims.feed("bank", inst))["next"]
    started = time.monotonic()
    empty = await sims.feed("bank", inst, after=cursor, wait="0.3")
    assert empty == {"events": [], "next": cursor} and time.monotonic() - started >= 0.25
    poll = asyncio.create_task(sims.feed("bank", inst, after=cursor, wait="20"))
    started = time.monotonic()
    await sims.call("POST", "bank", f"/admin/institutions/{inst}/assets/{account.account_no}/credit", {"amount_fen": 1})
    page = await asyncio.wait_for(poll, 15)
    assert [e["type"] for e in page["events"]] == ["funds_credited"] and time.monotonic() - started < 10
    for bad in ("31", "-1", "soon"):
        reason = (await sims.call("GET", "bank", f"/{inst}/events", status=400, wait=bad))["reason"]
        assert reason.startswith("wait:")


async def test_control_status_reports_freezes_and_balances_as_of_the_feed(sims: Sims) -> None:
    [account] = person_accounts(sims.population, 1, offset=4)
    inst = account.institution_id
    first = await sims.freeze("bank", account, amount_fen=account.value_fen)
    queued = await sims.freeze("bank", account, court=COURT_B, amount_fen=500)
    assert queued["status"] == "queued"
    await sims.call("POST", "bank", f"/admin/institutions/{inst}/assets/{account.account_no}/credit", {"amount_fen": 300})
    ids = [first["order_id"], queued["order_id"], "no-such-freeze"]
    status = await sims.call("POST", "bank", f"/{inst}/controls/status", {"freeze_ids": ids, "asset_ids": [account.account_no, "nope"]})
    assert status["as_of_seq"] == (await sims.call("GET", "bank", f"/admin/institutions/{inst}/events"))["last_seq"] > 0
    assert [(f["freeze_id"], f["status"], f["held_fen"]) for f in status["freezes"]] == [
        (first["order_id"], "applied", account.value_fen), (queued["order_id"], "partially_applied", 300)]
    assert status["unknown_freeze_ids"] == ["no-such-freeze"] and status["unknown_asset_ids"] == ["nope"]
    assert status["balances"] == [{"asset_id": account.account_no, "balance_fen": account.value_fen + 300}]
    for body, field in (({"freeze_ids": "x"}, "freeze_ids"), ({"asset_ids": [""]}, "asset_ids.0"),
                        ({"freeze_ids": ["x"] * 1001}, "freeze_ids")):
        assert (await sims.call("POST", "bank", f"/{inst}/controls/status", body, status=400))["reason"].startswith(field)
    # The payment app answers the same in its gateway style, and on the plain route.
    wallet = next(a for d in sims.population.debtors for a in sims.population.assets_of(d.id_number) if isinstance(a, PaymentWallet))
    envelope = {"method": "court.wallet.control_status", "request_id": "s1", "timestamp": "2025-06-01 08:00:00",
                "biz_content": {"asset_ids": [wallet.wallet_id]}}
    answer = await sims.call("POST", "payment", f"/{wallet.institution_id}/gateway", envelope)
    assert answer["code"] == "10000" and answer["data"]["balances"] == [{"asset_id": wallet.wallet_id, "balance_fen": wallet.value_fen}]
    envelope["biz_content"] = {"freeze_ids": 3}
    bad = await sims.call("POST", "payment", f"/{wallet.institution_id}/gateway", envelope)
    assert bad["code"] == "40002" and bad["sub_msg"].startswith("biz_content.freeze_ids")
    plain = await sims.call("POST", "payment", f"/{wallet.institution_id}/controls/status", {"asset_ids": [wallet.wallet_id]})
    assert plain["balances"] == answer["data"]["balances"]


async def test_lost_events_change_the_ledger_but_never_reach_the_feed(sims: Sims) -> None:
    [account] = person_accounts(sims.population, 1, offset=5)
    inst, no = account.institution_id, account.account_no
    await sims.report(account)
    lost = await sims.call("POST", "bank", f"/admin/institutions/{inst}/events/lose", {"count": 2})
    assert lost["pending_loss"] == 2
    for amount in (1, 2, 3):
        await sims.call("POST", "bank", f"/admin/institutions/{inst}/assets/{no}/credit", {"amount_fen": amount})
    [event] = await sims.mine("bank", inst, no)
    assert (event["amount_fen"], event["balance_fen"]) == (3, account.value_fen + 6)  # the balance tells what was missed
    position = await sims.call("GET", "bank", f"/admin/institutions/{inst}/events")
    assert position == {"institution_id": inst, "last_seq": event["seq"], "pending_loss": 0}
    assert event["seq"] - 2 not in {e["seq"] for e in (await sims.feed("bank", inst, limit="1000"))["events"]}  # a gap
    for bad in ({"count": 0}, {"count": "2"}, [1]):
        await sims.call("POST", "bank", f"/admin/institutions/{inst}/events/lose", bad, status=400)


async def test_the_clock_moving_makes_lapses_and_promotions_news(sims: Sims) -> None:
    car = next(a for d in sims.population.debtors for a in sims.population.assets_of(d.id_number) if isinstance(a, Vehicle))
    first = await sims.freeze("vehicle", car, term_days=10)
    second = await sims.freeze("vehicle", car, court=COURT_B, term_days=20)
    third = await sims.freeze("vehicle", car, court=COURT_C, term_days=20)
    assert (second["queue_position"], third["queue_position"]) == (1, 2)
    await sims.call("POST", "vehicle", "/admin/clock/advance", {"days": 11})
    events = await sims.mine("vehicle", car.institution_id, car.plate)
    assert [(e["type"], e["freeze"]["freeze_id"], e["freeze"].get("queue_position")) for e in events] == [
        ("freeze_lapsed", first["order_id"], None), ("freeze_promoted", second["order_id"], None),
        ("queue_advanced", third["order_id"], 1)]
    assert {(e["asset_kind"], e["holder_id_number"]) for e in events} == {("vehicle", sims.book.holder(car.institution_id, car.plate))}


async def test_a_known_vehicle_seen_by_a_camera_is_news(sims: Sims) -> None:
    cars = [a for d in sims.population.debtors for a in sims.population.assets_of(d.id_number) if isinstance(a, Vehicle)]
    known, unknown = cars[1], cars[2]
    inst = known.institution_id
    holder = sims.book.holder(inst, known.plate)
    items = [{"item_id": "i1", "case_number": "(2025)冀0108执4502号", "id_number": holder, "name": "x"}]
    await sims.call("POST", "vehicle", f"/{inst}/batch-queries", {"batch_id": "b1", "court": COURT_A, "notice_number": "n",
                                                                 "officer_credentials": [sims.credential], "items": items})
    path = f"/admin/institutions/{inst}/sightings"
    seen = await sims.call("POST", "vehicle", path, {"plate": known.plate, "place": "石家庄市万达广场地下停车场"})
    city = sims.population.find(holder).region.city  # type: ignore[union-attr]
    assert {k: seen["event"][k] for k in ("type", "asset_kind", "asset_id", "holder_id_number", "place", "region")} == {
        "type": "vehicle_sighted", "asset_kind": "vehicle", "asset_id": known.plate, "holder_id_number": holder,
        "place": "石家庄市万达广场地下停车场", "region": city}
    assert [e["event_id"] for e in await sims.mine("vehicle", inst, known.plate)] == [seen["event"]["event_id"]]
    assert await sims.call("POST", "vehicle", path, {"plate": unknown.plate, "place": "卡口"}) == {"event": None}
    assert (await sims.call("POST", "vehicle", path, {"plate": "冀Z00000", "place": "卡口"}, status=404))["reason"].startswith("plate")
    assert (await sims.call("POST", "vehicle", path, {"plate": known.plate}, status=400))["reason"].startswith("place")
    bank = sims.population.directory.of_kind("bank")[0].id
    assert "vehicle" in (await sims.call("POST", "bank", f"/admin/institutions/{bank}/sightings", {"plate": "x"}, status=400))["reason"]


async def test_a_listed_debtor_checking_in_is_news_at_the_lodging_registry(sims: Sims) -> None:
    person = next(d for d in sims.population.debtors if d.kind == "person")
    company = next(d for d in sims.population.debtors if d.kind == "organisation")
    registries = sims.population.directory.of_kind("lodging")
    assert [r.name for r in registries] == ["河北省公安厅旅馆业治安管理信息系统", "广东省公安厅旅馆业治安管理信息系统"]
    inst = registries[1].id
    path = f"/admin/institutions/{inst}/check-ins"
    hotel = "如家酒店(广州市中山路店) 广州市中山路12号"
    done = await sims.call("POST", "lodging", path, {"id_number": person.id_number, "hotel": hotel, "city": "广州市"})
    page = await sims.feed("lodging", inst)
    assert page["events"] == [done["event"]]
    assert {k: done["event"].get(k) for k in ("type", "holder_id_number", "place", "region", "asset_id")} == {
        "type": "guest_checked_in", "holder_id_number": person.id_number, "place": hotel, "region": "广州市", "asset_id": None}
    assert (await sims.call("POST", "lodging", path, {"id_number": company.id_number, "hotel": hotel, "city": "广州市"},
                            status=404))["reason"].startswith("id_number")
    assert (await sims.call("POST", "lodging", path, {"id_number": person.id_number, "city": "广州市"}, status=400))["reason"].startswith("hotel")
    health = await sims.call("GET", "lodging", "/healthz")
    assert health["institutions"] == [r.id for r in registries]
    # No asset query, no controls: the registry's partner API is its feed.
    async with sims.http.post(sims.url("lodging", f"/{inst}/controls"), json={}) as r:
        assert r.status in (404, 405)


def test_activity_is_deterministic_given_the_seed(population: Population) -> None:
    def story() -> list[tuple[str, str | None, str | None, int | None]]:
        book = LedgerBook(population)
        for account in person_accounts(population, 20):
            book.note_reported(account.institution_id, [account])
        activity = Activity(book, population.directory.institutions, population.seed)
        for _ in range(200):
            activity.step()
        return [(e.type, e.asset_id, e.holder_id_number, e.amount_fen) for inst in population.directory.by_id
                for e in book.events.after(inst, 0, 1000)]

    first = story()
    assert first == story() and len(first) >= 150
    assert {t for t, *_ in first} >= {"funds_credited", "funds_debited", "guest_checked_in"}


@pytest.fixture
async def busy(population: Population) -> AsyncIterator[Sims]:
    """Simulators with background activity at 100 actions a second."""
    async for s in _serve(population, 100.0):
        yield s


async def test_background_activity_fills_the_feeds_with_valid_events(busy: Sims) -> None:
    accounts = person_accounts(busy.population, 10, offset=10)
    for account in accounts:
        await busy.report(account)
    feeds = [("bank", inst) for inst in sorted({a.institution_id for a in accounts})]
    feeds += [("lodging", r.id) for r in busy.population.directory.of_kind("lodging")]

    async def enough() -> list[dict[str, Any]] | None:
        events = [e for kind, inst in feeds for e in (await busy.feed(kind, inst, limit="1000"))["events"]]
        return events if len(events) >= 40 else None

    events = await wait_for(enough, 30, what="40 events of background activity")
    assert {e["type"] for e in events} >= {"funds_credited", "guest_checked_in"}
    # Only what the network knows: the accounts the queries reported.
    assert all(busy.book.known.knows(e["institution_id"], e["asset_id"]) for e in events if "asset_id" in e)
    assert {e["asset_id"] for e in events if "asset_id" in e} & {a.account_no for a in accounts}
