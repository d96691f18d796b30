"""Institution ledgers executing court control orders: freeze, continue, unfreeze, deduct.

Unit tests drive ``AssetLedger`` and ``LedgerBook`` directly on a pinned clock, one rule each;
a few HTTP tests check the wire contract (``/controls``, the payment gateway method, the admin
clock, credit, ledger and summary routes) against a real ``serve``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from schemas.assets import DepositAccount, PaymentWallet, RealEstate, Vehicle
from simulators.behaviour import Behaviours
from simulators.clock import SimClock
from simulators.control_order import ControlOrder
from simulators.holdings import BENEFIT_ACCOUNTS
from simulators.latency import Latency
from simulators.ledger import AssetLedger, Refused
from simulators.ledger_book import LedgerBook
from simulators.population import REFUSAL_UNREGISTERED, Population
from simulators.server import DEFAULT_PORTS, serve

T0 = datetime(2025, 1, 1, tzinfo=UTC)
COURT_A = "石家庄市裕华区人民法院"
COURT_B = "保定市竞秀区人民法院"
ACCOUNT_A = "13001626108050012345"  # court A's 执行款专户


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def money(balance: int, kind: str = "deposit", protected: str | None = None) -> AssetLedger:
    return AssetLedger("bank-01", "6222020000000000001", kind, balance, protected)


def prop(kind: str = "vehicle") -> AssetLedger:
    return AssetLedger("vehicle-01", "冀A12345", kind)


def freeze(ledger: AssetLedger, fid: str, court: str = COURT_A, amount: int | None = None, term: int = 100,
           served: float = 0.0, now: float = 0.0):  # type: ignore[no-untyped-def]
    return ledger.freeze(fid, court=court, case_number="(2025)冀0108执1号", served_at=at(served),
                         amount_fen=amount, term_days=term, now=at(now))


def statuses(ledger: AssetLedger) -> dict[str, tuple[str, int | None, int | None]]:
    """freeze_id → (status, held_fen, queue_position) from the ledger view."""
    return {f["freeze_id"]: (f["status"], f["held_fen"], f["queue_position"]) for f in ledger.view()["freezes"]}


# --- money freezes ------------------------------------------------------------------------------


def test_exact_amount_freeze_leaves_the_rest_usable() -> None:
    ledger = money(10_000)
    a = freeze(ledger, "A", amount=3_000)
    assert (a.status, a.held_fen, ledger.available_fen) == ("applied", 3_000, 7_000)
    b = freeze(ledger, "B", COURT_B, amount=5_000)  # a second court takes from the free part
    assert (b.status, b.held_fen, ledger.available_fen) == ("applied", 5_000, 2_000)
    c = freeze(ledger, "C", COURT_B, amount=5_000)
    assert (c.status, c.held_fen, ledger.available_fen) == ("partially_applied", 2_000, 0)
    d = freeze(ledger, "D", amount=1)
    assert d.status == "queued" and ledger.queue_position(d) == 1 and d.start is None
    assert ledger.balance_fen == 10_000  # freezing moves nothing


def test_short_balance_then_credits_capture_then_queue_moves() -> None:
    ledger = money(1_000)
    a = freeze(ledger, "A", amount=5_000)
    assert (a.status, a.held_fen) == ("partially_applied", 1_000)
    b = freeze(ledger, "B", COURT_B, amount=2_000, served=1, now=1)
    assert b.status == "queued"
    ledger.credit(3_000, at(2))
    assert statuses(ledger) == {"A": ("partially_applied", 4_000, None), "B": ("queued", 0, 1)}
    ledger.credit(3_500, at(3))  # A takes its last 1,000; B then takes 2,000; 500 stays free
    assert statuses(ledger) == {"A": ("applied", 5_000, None), "B": ("applied", 2_000, None)}
    assert (ledger.available_fen, b.start, b.end) == (500, at(3), at(103))


def test_empty_account_freeze_waits_as_partial_and_captures_first_funds() -> None:
    ledger = money(0, kind="wallet")
    a = freeze(ledger, "A", amount=800)
    assert (a.status, a.held_fen, a.start) == ("partially_applied", 0, T0)
    assert freeze(ledger, "B", COURT_B, amount=100).status == "queued"
    ledger.credit(900, at(1))
    assert statuses(ledger) == {"A": ("applied", 800, None), "B": ("applied", 100, None)}


def test_money_queue_orders_by_service_time_and_promotes_on_unfreeze() -> None:
    ledger = money(1_000)
    freeze(ledger, "A", amount=1_000, served=0)
    freeze(ledger, "LATE", COURT_B, amount=600, served=5, now=6)
    freeze(ledger, "EARLY", COURT_B, amount=600, served=3, now=7)  # arrived later, served earlier
    assert statuses(ledger)["EARLY"][2] == 1 and statuses(ledger)["LATE"][2] == 2
    released = ledger.release("A", court=COURT_A, now=at(10))
    assert (released.status, released.held_fen) == ("released", 0)
    assert statuses(ledger) == {
        "A": ("released", 0, None), "EARLY": ("applied", 600, None), "LATE": ("partially_applied", 400, None),
    }
    assert ledger.freezes["EARLY"].start == at(10)


def test_money_lapse_frees_funds_and_promotes() -> None:
    ledger = money(1_000)
    freeze(ledger, "A", amount=1_000, term=30)
    freeze(ledger, "B", COURT_B, amount=400, term=50, served=1, now=1)
    ledger.sweep(at(29))
    assert statuses(ledger)["A"] == ("applied", 1_000, None)
    ledger.sweep(at(40))
    assert statuses(ledger) == {"A": ("lapsed", 0, None), "B": ("applied", 400, None)}
    assert (ledger.freezes["B"].start, ledger.freezes["B"].end, ledger.available_fen) == (at(30), at(80), 600)


# --- property freezes -----------------------------------------------------------------------------


def test_property_freeze_takes_whole_asset_and_queues_by_service_time() -> None:
    ledger = prop()
    a = freeze(ledger, "A", amount=123, term=700)
    assert (a.status, a.requested_fen, a.end) == ("applied", None, at(700))  # amount ignored
    freeze(ledger, "C", COURT_B, served=9, now=10)
    freeze(ledger, "B", COURT_B, served=8, now=11)
    assert statuses(ledger) == {"A": ("applied", None, None), "C": ("queued", None, 2), "B": ("queued", None, 1)}
    ledger.release("A", court=COURT_A, now=at(20))
    assert statuses(ledger)["B"] == ("applied", None, None) and statuses(ledger)["C"] == ("queued", None, 1)
    b = ledger.freezes["B"]
    assert (b.start, b.end) == (at(20), at(120))  # a fresh term from promotion


def test_property_lapses_are_replayed_in_order_on_a_long_jump() -> None:
    ledger = prop("real_estate")
    freeze(ledger, "A", term=30)
    freeze(ledger, "B", COURT_B, term=100, served=1, now=1)
    freeze(ledger, "C", COURT_B, term=1095, served=2, now=2)
    ledger.sweep(at(200))  # A ends at 30, B runs 30..130, C runs from 130
    assert [f["status"] for f in ledger.view()["freezes"]] == ["lapsed", "lapsed", "applied"]
    c = ledger.freezes["C"]
    assert (ledger.freezes["B"].end, c.start, c.end) == (at(130), at(130), at(1225))


# --- terms and continuation -----------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "limit"), [("deposit", 365), ("wallet", 365), ("vehicle", 730), ("real_estate", 1095)])
def test_term_limits_per_kind(kind: str, limit: int) -> None:
    ledger = money(1_000, kind) if kind in ("deposit", "wallet") else prop(kind)
    with pytest.raises(Refused, match=f"term exceeds {limit} days"):
        freeze(ledger, "X", amount=10, term=limit + 1)
    with pytest.raises(Refused, match="positive"):
        freeze(ledger, "Y", amount=10, term=0)
    assert not ledger.freezes
    f = freeze(ledger, "OK", amount=10, term=limit)
    assert f.end == at(limit)
    with pytest.raises(Refused, match=f"term exceeds {limit} days"):
        ledger.continue_("OK", court=COURT_A, term_days=limit + 1, now=at(1))
    assert f.end == at(limit)


def test_continuation_extends_and_a_lapsed_freeze_cannot_be_continued() -> None:
    ledger = money(1_000)
    freeze(ledger, "A", amount=500, term=365)
    freeze(ledger, "B", COURT_B, amount=500, term=365)
    freeze(ledger, "Q", COURT_B, amount=500, term=365)
    with pytest.raises(Refused, match="more than 365 days"):  # would end 430 days after it is served
        ledger.continue_("A", court=COURT_A, term_days=365, now=at(300))
    assert ledger.continue_("A", court=COURT_A, term_days=300, now=at(300)).end == at(665)
    with pytest.raises(Refused, match="another court"):
        ledger.continue_("B", court=COURT_A, term_days=30, now=at(300))
    with pytest.raises(Refused, match="queued"):
        ledger.continue_("Q", court=COURT_B, term_days=30, now=at(300))
    with pytest.raises(Refused, match="original_freeze_id is required"):
        ledger.continue_(None, court=COURT_A, term_days=30, now=at(300))
    ledger.sweep(at(400))  # B lapsed at 365 and Q took its place; A runs to 665
    with pytest.raises(Refused, match="the freeze has lapsed"):
        ledger.continue_("B", court=COURT_B, term_days=30, now=at(400))
    assert statuses(ledger) == {"A": ("applied", 500, None), "B": ("lapsed", 0, None), "Q": ("applied", 500, None)}


def test_continuations_cannot_be_stacked_beyond_one_term_from_service() -> None:
    """Three 730-day continuations of a 30-day vehicle freeze, all on day 0, once ran it into 2032."""
    ledger = prop("vehicle")
    f = freeze(ledger, "V", amount=None, term=30)
    with pytest.raises(Refused, match="more than 730 days"):
        ledger.continue_("V", court=COURT_A, term_days=730, now=at(0))
    assert ledger.continue_("V", court=COURT_A, term_days=700, now=at(0)).end == at(730)
    with pytest.raises(Refused, match="more than 730 days"):
        ledger.continue_("V", court=COURT_A, term_days=1, now=at(0))
    assert ledger.continue_("V", court=COURT_A, term_days=100, now=at(100)).end == at(830)
    assert f.end == at(830)


# --- unfreeze and deduct --------------------------------------------------------------------------


def test_unfreeze_must_name_the_courts_own_freeze() -> None:
    ledger = money(1_000)
    freeze(ledger, "A", amount=1_000)
    freeze(ledger, "Q", COURT_B, amount=10)
    before = ledger.view()
    for fid, court, reason in [
        (None, COURT_A, "original_freeze_id is required"),
        ("NOPE", COURT_A, "no freeze 'NOPE'"),
        ("A", COURT_B, "another court"),
    ]:
        with pytest.raises(Refused, match=reason):
            ledger.release(fid, court=court, now=at(1))
    assert ledger.view() == before
    assert ledger.release("Q", court=COURT_B, now=at(1)).status == "released"  # a queued one too
    ledger.release("A", court=COURT_A, now=at(2))
    with pytest.raises(Refused, match="released"):
        ledger.release("A", court=COURT_A, now=at(3))
    assert ledger.available_fen == 1_000


def test_deduct_moves_only_own_frozen_funds_up_to_what_is_held() -> None:
    ledger = money(10_000)
    freeze(ledger, "A", amount=4_000)
    freeze(ledger, "B", COURT_B, amount=1_000)
    before = ledger.view()
    refusals: list[tuple[Callable[[], Any], str]] = [
        (lambda: ledger.deduct("d1", "B", court=COURT_A, amount_fen=100, enforcement_account=ACCOUNT_A, now=at(1)), "another court"),
        (lambda: ledger.deduct("d2", "X", court=COURT_A, amount_fen=100, enforcement_account=ACCOUNT_A, now=at(1)), "no freeze"),
        (lambda: ledger.deduct("d3", "A", court=COURT_A, amount_fen=4_001, enforcement_account=ACCOUNT_A, now=at(1)), "exceeds the 4000 fen"),
        (lambda: ledger.deduct("d4", "A", court=COURT_A, amount_fen=100, enforcement_account=None, now=at(1)), "执行款专户"),
        (lambda: ledger.deduct("d5", None, court=COURT_A, amount_fen=100, enforcement_account=ACCOUNT_A, now=at(1)), "required"),
    ]
    for call, reason in refusals:
        with pytest.raises(Refused, match=reason):
            call()
    assert ledger.view() == before
    d = ledger.deduct("d6", "A", court=COURT_A, amount_fen=2_500, enforcement_account=ACCOUNT_A, now=at(1))
    assert (d.amount_fen, d.enforcement_account, d.at) == (2_500, ACCOUNT_A, at(1))
    a = ledger.freezes["A"]
    assert (ledger.balance_fen, a.held_fen, a.requested_fen, a.status, ledger.available_fen) == (7_500, 1_500, 1_500, "applied", 5_000)
    assert ledger.view()["deductions"] == [{
        "order_id": "d6", "freeze_id": "A", "court": COURT_A, "amount_fen": 2_500,
        "enforcement_account": ACCOUNT_A, "at": at(1).isoformat(),
    }]
    with pytest.raises(Refused, match="money assets only"):
        prop().deduct("d7", "A", court=COURT_A, amount_fen=1, enforcement_account=ACCOUNT_A, now=at(1))


def test_freeze_and_deduct_takes_free_funds_only_and_leaves_no_freeze() -> None:
    """Control code 08: free funds up to the amount, moved at once; what freezes hold stays."""
    events: list[tuple[str, dict[str, Any]]] = []
    ledger = AssetLedger("bank-01", "6222020000000000001", "deposit", 10_000, emit=lambda t, _, f: events.append((t, f)))
    freeze(ledger, "A", COURT_B, amount=4_000)
    before = ledger.view()
    for call, reason in [
        (lambda: ledger.freeze_and_deduct("x1", court=COURT_A, amount_fen=0, enforcement_account=ACCOUNT_A, now=at(1)), "positive"),
        (lambda: ledger.freeze_and_deduct("x2", court=COURT_A, amount_fen=1, enforcement_account=None, now=at(1)), "执行款专户"),
        (lambda: prop().freeze_and_deduct("x3", court=COURT_A, amount_fen=1, enforcement_account=ACCOUNT_A, now=at(1)), "money assets only"),
        (lambda: money(5, protected="农民工工资专用账户").freeze_and_deduct("x4", court=COURT_A, amount_fen=1,
                                                                       enforcement_account=ACCOUNT_A, now=at(1)), "protected"),
    ]:
        with pytest.raises(Refused, match=reason):
            call()
    assert ledger.view() == before
    d = ledger.freeze_and_deduct("fd1", court=COURT_A, amount_fen=9_000, enforcement_account=ACCOUNT_A, now=at(1))
    assert (d.amount_fen, d.freeze_id, d.court) == (6_000, "fd1", COURT_A)  # only the free 6,000 fen
    assert (ledger.balance_fen, ledger.freezes["A"].held_fen, list(ledger.freezes)) == (4_000, 4_000, ["A"])
    assert events[-1] == ("funds_deducted", {"amount_fen": 6_000, "balance_fen": 4_000, "court": COURT_A})
    with pytest.raises(Refused, match="no free funds"):
        ledger.freeze_and_deduct("fd2", court=COURT_A, amount_fen=1, enforcement_account=ACCOUNT_A, now=at(2))


def test_protected_account_refuses_freeze_and_deduct() -> None:
    ledger = money(50_000, protected="农民工工资专用账户")
    with pytest.raises(Refused, match="农民工工资专用账户"):
        freeze(ledger, "A", amount=100)
    with pytest.raises(Refused, match="农民工工资专用账户"):
        ledger.deduct("d", "A", court=COURT_A, amount_fen=1, enforcement_account=ACCOUNT_A, now=T0)
    assert not ledger.freezes and ledger.balance_fen == 50_000


# --- the book: orders, exactly once, population ---------------------------------------------------


class PinnedClock(SimClock):
    def __init__(self) -> None:
        super().__init__(real_now=lambda: T0)


def order(target: Any, type_: str = "freeze", court: str = COURT_A, credential: str = "", **fields: Any) -> ControlOrder:
    body = {
        "order_id": uuid.uuid4().hex, "type": type_, "court": court, "case_number": "(2025)冀0108执4502号",
        "asset": {"kind": target.kind, "id": target.asset_id},
        "debtor_id_number": _HOLDER.get((target.institution_id, target.asset_id), "x"),
        "amount_fen": None, "term_days": None, "ruling_number": "(2025)冀0108执4502号之一",
        "notice_number": "(2025)冀0108执4502号-冻", "officer_credentials": [credential],
        "original_freeze_id": None, "enforcement_account": None, "served_at": "2025-01-01T08:00:00+08:00",
        **fields,
    }
    return ControlOrder.model_validate(body)


_HOLDER: dict[tuple[str, str], str] = {}  # (institution, asset) -> a holder, for the orders' debtor field


def assets_of(population: Population, cls: type, pred: Callable[[Any], bool] = lambda a: True) -> list[Any]:
    out = []
    for d in population.debtors:
        for a in population.assets_of(d.id_number):
            if isinstance(a, cls) and pred(a):
                _HOLDER.setdefault((a.institution_id, a.asset_id), d.id_number)
                out.append(a)
    return out


def rich_account(population: Population) -> DepositAccount:
    return assets_of(population, DepositAccount, lambda a: not a.protected and a.value_fen >= 1_000_000)[0]


def test_book_duplicates_replay_and_change_nothing(population: Population) -> None:
    book, cred = LedgerBook(population, PinnedClock()), population.officer_credentials[0]
    acct = rich_account(population)
    first = order(acct, credential=cred, amount_fen=100_000, term_days=365)
    answer = book.execute(acct.institution_id, first)
    assert answer == {
        "order_id": first.order_id, "status": "applied", "freeze_id": first.order_id, "held_fen": 100_000,
        "requested_fen": 100_000, "deducted_fen": None, "queue_position": None,
        "start_date": T0.isoformat(), "end_date": at(365).isoformat(), "reason": None, "duplicate": False,
    }
    view = book.ledger(acct.institution_id, acct.account_no).view()  # type: ignore[union-attr]
    again = book.execute(acct.institution_id, first.model_copy(update={"amount_fen": 999}))
    assert again == {**answer, "duplicate": True}
    assert book.ledger(acct.institution_id, acct.account_no).view() == view  # type: ignore[union-attr]
    deduct = order(acct, "deduct", credential=cred, original_freeze_id=first.order_id, amount_fen=40_000,
                   enforcement_account=ACCOUNT_A)
    done = book.execute(acct.institution_id, deduct)
    assert (done["status"], done["deducted_fen"], done["held_fen"], done["freeze_id"]) == ("applied", 40_000, 60_000, first.order_id)
    assert book.execute(acct.institution_id, deduct) == {**done, "duplicate": True}
    ledger = book.ledger(acct.institution_id, acct.account_no)
    assert ledger is not None and ledger.balance_fen == acct.value_fen - 40_000 and len(ledger.deductions) == 1
    # Refusals are stored too, and replay as refusals even once the cause is gone.
    too_much = order(acct, "deduct", credential=cred, original_freeze_id=first.order_id, amount_fen=60_001,
                     enforcement_account=ACCOUNT_A)
    refused = book.execute(acct.institution_id, too_much)
    assert refused["status"] == "refused" and "exceeds" in refused["reason"]
    assert book.execute(acct.institution_id, too_much) == {**refused, "duplicate": True}
    summary = book.summary([acct.institution_id])
    assert summary == {
        "orders_applied": 2, "held_fen": 60_000, "deducted_fen": 40_000,
        "by_court": {COURT_A: {"held_fen": 60_000, "deducted_fen": 40_000}}, "responses": 3,
    }
    assert book.summary(["bank-99"])["responses"] == 0


def test_book_refuses_unknown_assets_unregistered_officers_and_protected_accounts(population: Population) -> None:
    book, cred = LedgerBook(population, PinnedClock()), population.officer_credentials[0]
    acct = rich_account(population)
    unregistered = book.execute(acct.institution_id, order(acct, credential="ZF-NOPE", amount_fen=1, term_days=1))
    assert (unregistered["status"], unregistered["reason"], unregistered["freeze_id"]) == ("refused", REFUSAL_UNREGISTERED, None)
    other_bank = next(i.id for i in population.directory.of_kind("bank") if i.id != acct.institution_id)
    for inst, o in [
        (other_bank, order(acct, credential=cred, amount_fen=1, term_days=1)),
        (acct.institution_id, order(acct, credential=cred, amount_fen=1, term_days=1,
                                    asset={"kind": "wallet", "id": acct.account_no})),
    ]:
        assert book.execute(inst, o)["reason"] == "no such asset"
    wage = assets_of(population, DepositAccount, lambda a: a.protected and a.account_type == "corporate")[0]
    answer = book.execute(wage.institution_id, order(wage, credential=cred, amount_fen=1, term_days=30))
    assert answer["status"] == "refused" and "农民工工资专用账户" in answer["reason"]
    for account_type, reason in BENEFIT_ACCOUNTS.items():  # social insurance, housing provident fund
        benefit = assets_of(population, DepositAccount, lambda a, t=account_type: a.account_type == t)[0]
        answer = book.execute(benefit.institution_id, order(benefit, credential=cred, amount_fen=1, term_days=30))
        assert answer["status"] == "refused" and reason in answer["reason"]
    assert book.summary([acct.institution_id, wage.institution_id, other_bank])["orders_applied"] == 0


def test_book_executes_every_kind_and_lapses_with_the_clock(population: Population) -> None:
    clock = SimClock()
    book, cred = LedgerBook(population, clock), population.officer_credentials[0]
    unit = assets_of(population, RealEstate)[0]
    car = assets_of(population, Vehicle)[0]
    wallet = assets_of(population, PaymentWallet, lambda a: a.value_fen > 0)[0]
    a = book.execute(unit.institution_id, order(unit, credential=cred, term_days=1095, amount_fen=5))
    assert (a["status"], a["held_fen"], a["requested_fen"]) == ("applied", None, None)
    q = book.execute(unit.institution_id, order(unit, court=COURT_B, credential=cred, term_days=30))
    assert (q["status"], q["queue_position"], q["start_date"]) == ("queued", 1, None)
    refused = book.execute(car.institution_id, order(car, credential=cred, term_days=731))
    assert refused["status"] == "refused" and "730" in refused["reason"]
    w = book.execute(wallet.institution_id, order(wallet, credential=cred, amount_fen=wallet.value_fen + 1, term_days=10))
    assert (w["status"], w["held_fen"]) == ("partially_applied", wallet.value_fen)
    book.advance(11)
    assert book.ledger(wallet.institution_id, wallet.wallet_id).view()["freezes"][0]["status"] == "lapsed"  # type: ignore[union-attr]
    cont = book.execute(wallet.institution_id, order(wallet, "continue", credential=cred, original_freeze_id=w["order_id"], term_days=10))
    assert cont["status"] == "refused" and "lapsed" in cont["reason"]
    book.advance(1095)  # day 1106: the unit's first freeze ended on day 1095, the queued one runs to 1125
    freezes = book.ledger(unit.institution_id, unit.unit_no).view()["freezes"]  # type: ignore[union-attr]
    assert [f["status"] for f in freezes] == ["lapsed", "applied"]
    assert freezes[1]["start_date"] == freezes[0]["end_date"] == a["end_date"]
    book.advance(20)
    assert book.summary([wallet.institution_id])["held_fen"] == 0  # the wallet freeze lapsed: funds free
    assert [f["status"] for f in book.ledger(unit.institution_id, unit.unit_no).view()["freezes"]] == ["lapsed", "lapsed"]  # type: ignore[union-attr]


# --- HTTP -----------------------------------------------------------------------------------------


class Sim:
    def __init__(self, http: aiohttp.ClientSession, ports: dict[str, int], credential: str) -> None:
        self.http, self.ports, self.credential = http, ports, credential

    def url(self, kind: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[kind]}{path}"

    async def call(self, method: str, kind: str, path: str, body: Any = None, status: int = 200) -> Any:
        async with self.http.request(method, self.url(kind, path), json=body) as r:
            assert r.status == status, await r.text()
            return await r.json()

    async def control(self, kind: str, inst: str, body: dict[str, Any], status: int = 200) -> Any:
        return await self.call("POST", kind, f"/{inst}/controls", body, status)


@pytest.fixture(scope="module")
async def sim(population: Population) -> AsyncIterator[Sim]:
    ports = dict.fromkeys(DEFAULT_PORTS, 0)
    ready = asyncio.Event()
    task = asyncio.create_task(serve(list(ports), "127.0.0.1", ports, population,
                                     Behaviours(default_latency=Latency(0, 0)), ready))
    await asyncio.wait_for(ready.wait(), 10)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        yield Sim(http, ports, population.officer_credentials[3])
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def wire(target: Any, type_: str = "freeze", court: str = COURT_A, **fields: Any) -> dict[str, Any]:
    return order(target, type_, court, **fields).model_dump(mode="json")


async def test_http_bank_controls_credit_ledger_and_summary(sim: Sim, population: Population) -> None:
    acct = assets_of(population, DepositAccount, lambda a: not a.protected and a.value_fen >= 10_000)[1]
    inst, no = acct.institution_id, acct.account_no
    untouched = await sim.call("GET", "bank", f"/admin/institutions/{inst}/assets/{no}/ledger")
    assert untouched == {"institution_id": inst, "asset_id": no, "kind": "deposit", "balance_fen": acct.value_fen,
                         "freezes": [], "deductions": []}
    body = wire(acct, credential=sim.credential, amount_fen=acct.value_fen + 5_000, term_days=365)
    # An injected outage answers before the ledger: the order is not even remembered.
    await sim.call("PUT", "bank", f"/admin/institutions/{inst}/behaviour", {"error_rate": 1.0})
    assert await sim.control("bank", inst, body, status=503) == {"error": "unavailable"}
    await sim.call("DELETE", "bank", f"/admin/institutions/{inst}/behaviour")
    assert (await sim.call("GET", "bank", "/admin/ledgers/summary"))["responses"] == 0
    short = await sim.control("bank", inst, body)
    assert (short["status"], short["held_fen"], short["duplicate"]) == ("partially_applied", acct.value_fen, False)
    assert await sim.control("bank", inst, body) == {**short, "duplicate": True}
    view = await sim.call("POST", "bank", f"/admin/institutions/{inst}/assets/{no}/credit", {"amount_fen": 7_000})
    assert view["balance_fen"] == acct.value_fen + 7_000
    assert [(f["status"], f["held_fen"]) for f in view["freezes"]] == [("applied", acct.value_fen + 5_000)]
    deduct = wire(acct, "deduct", credential=sim.credential, original_freeze_id=body["order_id"], amount_fen=5_000,
                  enforcement_account=ACCOUNT_A)
    done = await sim.control("bank", inst, deduct)
    assert (done["status"], done["deducted_fen"]) == ("applied", 5_000)
    other = await sim.control("bank", inst, wire(acct, "unfreeze", COURT_B, credential=sim.credential,
                                                  original_freeze_id=body["order_id"]))
    assert other["status"] == "refused" and "another court" in other["reason"]
    assert (await sim.control("bank", inst, wire(acct, credential="ZF-NOPE", amount_fen=1, term_days=1)))["reason"] == REFUSAL_UNREGISTERED
    summary = await sim.call("GET", "bank", "/admin/ledgers/summary")
    assert (summary["orders_applied"], summary["responses"], summary["held_fen"], summary["deducted_fen"]) == (2, 4, acct.value_fen, 5_000)
    assert summary["by_court"][COURT_A] == {"held_fen": acct.value_fen, "deducted_fen": 5_000}
    for bad in ({**body, "amount_fen": 1.5}, {**body, "type": "seize"}, {k: v for k, v in body.items() if k != "served_at"}):
        assert (await sim.control("bank", inst, bad, status=400))["error"] == "bad_request"
    await sim.call("POST", "bank", f"/admin/institutions/{inst}/assets/{no}/credit", {"amount_fen": 0}, status=400)
    await sim.call("GET", "bank", f"/admin/institutions/{inst}/assets/nope/ledger", status=404)


async def test_http_property_queue_and_shared_clock(sim: Sim, population: Population) -> None:
    car = assets_of(population, Vehicle)[1]
    unit = assets_of(population, RealEstate)[1]
    first = await sim.control("vehicle", car.institution_id, wire(car, credential=sim.credential, term_days=10))
    queued = await sim.control("vehicle", car.institution_id, wire(car, court=COURT_B, credential=sim.credential, term_days=730))
    assert (first["status"], queued["status"], queued["queue_position"]) == ("applied", "queued", 1)
    land = await sim.control("land", unit.institution_id, wire(unit, credential=sim.credential, term_days=1096))
    assert land["status"] == "refused" and "1095" in land["reason"]
    await sim.call("POST", "land", f"/admin/institutions/{unit.institution_id}/assets/{unit.unit_no}/credit",
                   {"amount_fen": 1}, status=400)
    before = datetime.fromisoformat((await sim.call("GET", "vehicle", "/admin/clock"))["now"])
    advanced = await sim.call("POST", "land", "/admin/clock/advance", {"days": 11})  # through another app
    now = datetime.fromisoformat((await sim.call("GET", "vehicle", "/admin/clock"))["now"])
    assert now - before >= timedelta(days=11) and datetime.fromisoformat(advanced["now"]) <= now
    view = await sim.call("GET", "vehicle", f"/admin/institutions/{car.institution_id}/assets/{car.plate}/ledger")
    assert [f["status"] for f in view["freezes"]] == ["lapsed", "applied"]
    assert view["freezes"][1]["start_date"] == view["freezes"][0]["end_date"]
    await sim.call("POST", "bank", "/admin/clock/advance", {"days": -1}, status=400)


async def test_http_payment_gateway_control_method(sim: Sim, population: Population) -> None:
    wallet = assets_of(population, PaymentWallet, lambda a: a.value_fen > 100)[0]
    inst = wallet.institution_id

    def envelope(biz: dict[str, Any]) -> dict[str, Any]:
        return {"method": "court.wallet.control", "request_id": uuid.uuid4().hex,
                "timestamp": "2025-11-22T10:00:00+08:00", "biz_content": biz}

    body = wire(wallet, credential=sim.credential, amount_fen=100, term_days=365)
    answer = await sim.call("POST", "payment", f"/{inst}/gateway", envelope(body))
    assert (answer["code"], answer["msg"]) == ("10000", "Success")
    assert (answer["data"]["status"], answer["data"]["held_fen"], answer["data"]["freeze_id"]) == ("applied", 100, body["order_id"])
    again = await sim.call("POST", "payment", f"/{inst}/gateway", envelope(body))
    assert again["data"] == {**answer["data"], "duplicate": True}
    refused = await sim.call("POST", "payment", f"/{inst}/gateway", envelope({**body, "order_id": "x1", "term_days": 366}))
    assert refused["code"] == "10000" and refused["data"]["status"] == "refused"
    broken = await sim.call("POST", "payment", f"/{inst}/gateway", envelope({**body, "asset": {"kind": "wallet"}}))
    assert broken["code"] == "40002" and "biz_content" in broken["sub_msg"]
    await sim.call("PUT", "payment", f"/admin/institutions/{inst}/behaviour", {"error_rate": 1.0})
    try:
        failed = await sim.call("POST", "payment", f"/{inst}/gateway", envelope({**body, "order_id": "x2"}))
        assert failed["code"] == "20000"
    finally:
        await sim.call("DELETE", "payment", f"/admin/institutions/{inst}/behaviour")
    view = await sim.call("GET", "payment", f"/admin/institutions/{inst}/assets/{wallet.wallet_id}/ledger")
    assert [f["freeze_id"] for f in view["freezes"]] == [body["order_id"]]
    assert (await sim.call("GET", "payment", "/admin/ledgers/summary"))["responses"] == 2


def test_book_refuses_an_asset_the_named_debtor_does_not_hold(population: Population) -> None:
    book = LedgerBook(population, PinnedClock())
    account = rich_account(population)
    stranger = next(d.id_number for d in population.debtors if d.id_number != _HOLDER[(account.institution_id, account.asset_id)])
    body = order(account, credential=population.officer_credentials[0], amount_fen=100, term_days=30, debtor_id_number=stranger)
    answer = book.execute(account.institution_id, body)
    assert answer["status"] == "refused" and "not held by the debtor" in answer["reason"]
    assert not book.ledger(account.institution_id, account.asset_id).freezes
