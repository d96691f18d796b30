"""Institutions speak first: every change of a ledger outside a request is an event in the
institution's feed, read with a cursor (``GET /{inst}/events?after=SEQ``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from simulators.behaviour import Behaviours
from simulators.events import EventLog
from simulators.latency import Latency
from simulators.ledger import AssetLedger
from simulators.ledger_book import LedgerBook
from simulators.population import Population
from simulators.server import DEFAULT_PORTS, serve

T0 = datetime(2025, 6, 1, tzinfo=UTC)
COURT_A, COURT_B = "石家庄市裕华区人民法院", "石家庄市长安区人民法院"


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def recording_ledger(balance: int, kind: str = "deposit") -> tuple[AssetLedger, list[tuple[str, dict[str, Any]]]]:
    seen: list[tuple[str, dict[str, Any]]] = []
    ledger = AssetLedger("bank-01", "6222020000000000001", kind, balance, emit=lambda type_, when, detail: seen.append((type_, detail)))
    return ledger, seen


def freeze(ledger: AssetLedger, fid: str, court: str, amount: int | None, term: int, day: float = 0) -> None:
    ledger.freeze(fid, court=court, case_number="(2025)冀0108执1号", served_at=at(day), amount_fen=amount, term_days=term, now=at(day))


def test_funds_arriving_are_credited_and_captured_by_a_short_freeze() -> None:
    ledger, seen = recording_ledger(1_000)
    freeze(ledger, "A", COURT_A, 5_000, 90)
    assert seen == []  # the freeze itself is the answer to a request, not news
    ledger.credit(3_000, at(1))
    assert [t for t, _ in seen] == ["funds_credited", "freeze_captured"]
    assert seen[0][1] == {"amount_fen": 3_000, "balance_fen": 4_000}
    assert seen[1][1] == {"freeze_id": "A", "court": COURT_A, "captured_fen": 3_000, "held_fen": 4_000}


def test_a_queued_freeze_is_promoted_when_the_first_is_released_or_lapses() -> None:
    ledger, seen = recording_ledger(0, kind="vehicle")
    freeze(ledger, "A", COURT_A, None, 30)
    freeze(ledger, "B", COURT_B, None, 60)
    ledger.release("A", court=COURT_A, now=at(1))
    assert [(t, d["freeze_id"]) for t, d in seen] == [("freeze_released", "A"), ("freeze_promoted", "B")]
    ledger.sweep(at(100))  # B's 60 days from its promotion on day 1 ran out on day 61
    assert seen[-1][0] == "freeze_lapsed" and seen[-1][1]["freeze_id"] == "B"


def test_a_deduction_is_an_event_with_what_it_left() -> None:
    ledger, seen = recording_ledger(10_000)
    freeze(ledger, "A", COURT_A, 6_000, 90)
    ledger.deduct("d1", "A", court=COURT_A, amount_fen=2_500, enforcement_account="1304010100000000108", now=at(1))
    assert seen == [("deduction_executed", {"freeze_id": "A", "court": COURT_A, "amount_fen": 2_500, "held_fen": 3_500,
                                            "balance_fen": 7_500})]


def test_the_log_pages_by_cursor_per_institution() -> None:
    log = EventLog()
    for n in range(5):
        log.append("bank-01", "funds_credited", f"acct-{n}", at(n), {"amount_fen": n + 1})
    log.append("bank-02", "funds_credited", "other", at(0), {"amount_fen": 9})
    first = log.after("bank-01", 0, 2)
    assert [e.seq for e in first] == [1, 2] and first[0].id == "bank-01:1"
    assert [e.seq for e in log.after("bank-01", first[-1].seq, 10)] == [3, 4, 5]
    assert log.after("bank-01", 5, 10) == [] and [e.seq for e in log.after("bank-02", 0, 10)] == [1]
    with pytest.raises(ValueError, match="unknown event type"):
        log.append("bank-01", "gossip", "x", at(0), {})


@pytest.fixture
async def bank(population: Population) -> AsyncIterator[tuple[aiohttp.ClientSession, str, LedgerBook]]:
    ports = dict.fromkeys(DEFAULT_PORTS, 0)
    ready = asyncio.Event()
    book = LedgerBook(population)
    task = asyncio.create_task(serve(["bank"], "127.0.0.1", ports, population, Behaviours(default_latency=Latency(0, 0)),
                                     ready, ledgers=book))
    await asyncio.wait_for(ready.wait(), 10)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        yield http, f"http://127.0.0.1:{ports['bank']}", book
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_the_feed_serves_a_credit_once_by_cursor(bank, population: Population) -> None:
    http, url, _ = bank
    account = next(a for d in population.debtors for a in population.assets_of(d.id_number)
                   if a.kind == "deposit" and not getattr(a, "protected", False))
    async with http.post(f"{url}/admin/institutions/{account.institution_id}/assets/{account.account_no}/credit", json={"amount_fen": 12_345}) as r:
        assert r.status == 200, await r.text()
    async with http.get(f"{url}/{account.institution_id}/events", params={"after": "0"}) as r:
        page = await r.json()
    mine = [e for e in page["events"] if e["asset_id"] == account.account_no]
    assert [(e["type"], e["amount_fen"]) for e in mine] == [("funds_credited", 12_345)]
    assert mine[0]["event_id"] == f"{account.institution_id}:{mine[0]['seq']}" and page["next"] >= mine[0]["seq"]
    async with http.get(f"{url}/{account.institution_id}/events", params={"after": str(page["next"])}) as r:
        again = await r.json()
    assert again == {"events": [], "next": page["next"]}  # read once: nothing new after the cursor
    async with http.get(f"{url}/{account.institution_id}/events", params={"after": "-1"}) as r:
        assert r.status == 400 and "after" in (await r.json())["reason"]
