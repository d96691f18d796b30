"""The store's contract (gateway/store/interfaces.py), exercised through the interfaces only, so
that every implementation runs the same tests: add one to ``STORES`` and it must pass them."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.store.factory import open_snapshot, open_store
from gateway.store.interfaces import Store
from gateway.store.records import AccessEntry, CaseAmendment, NewAlert, NewBatch, NewInquiry, NewOrder, NewWatch, OrderFilter
from schemas.debtor import Debtor
from schemas.directory import Institution
from schemas.events import ControlStatusReport, FreezeState, InstitutionEvent
from schemas.identifiers import resident_id_check_digit
from schemas.messages import LegBatchResult, LegResult, leg_id
from schemas.orders import OrderResult

# Where each implementation keeps a fresh store for one test.
STORES: dict[str, Callable[[pytest.FixtureRequest, Path], Store]] = {
    "sqlite": lambda request, tmp: open_store(tmp / "gateway.sqlite3"),
    "postgres": lambda request, tmp: open_store(request.getfixturevalue("postgres_database")),
}


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = STORES[request.param](request, tmp_path)
    yield opened
    opened.close()


CASE = "(2025)冀0108执4502号"
COURT = "石家庄市裕华区人民法院"
BANK = Institution("bank-01", "bank", "银行一")
LAND = Institution("land-01", "land", "不动产登记中心")
T0 = 1_750_000_000_000  # epoch ms


def debtor(n: int) -> Debtor:
    first17 = f"13010519800101{n:03d}"
    return Debtor(kind="person", id_number=first17 + resident_id_check_digit(first17), name=f"债务人{n}")


def new_inquiry(inquiry_id: str, debtors: int = 2, deadline: int = T0 + 60_000, created_at: int = T0,
                batch_id: str | None = None, amount_due_fen: int = 1_000_000, officer_id: str = "OFFICER-A1") -> NewInquiry:
    return NewInquiry(
        id=inquiry_id, batch_id=batch_id, case_number=CASE, court=COURT, amount_due_fen=amount_due_fen, costs_fen=5_000,
        notice_number=f"{CASE}-查", officer_credentials=["CRED-1", "CRED-2"], officer_id=officer_id,
        created_at=created_at, deadline=deadline,
        debtors=[debtor(n) for n in range(debtors)], institutions=[BANK, LAND],
    )


def deposit(account_no: str, value_fen: int) -> dict[str, Any]:
    return {"kind": "deposit", "institution_id": BANK.id, "value_fen": value_fen, "account_no": account_no,
            "account_type": "savings"}


def results(inquiry_id: str, *answers: tuple[str, str, list[dict[str, Any]]]) -> LegBatchResult:
    """(leg id, status, assets) answers as one result message."""
    return LegBatchResult.model_validate({
        "inquiry_id": inquiry_id, "answered_at": datetime.now(UTC),
        "results": [{"leg_id": leg, "institution_id": leg.rsplit(".", 1)[1], "status": status, "assets": assets,
                     "attempts": 1, "latency_ms": 7} for leg, status, assets in answers],
    })


def answered(leg: str) -> LegResult:
    return LegResult(leg_id=leg, institution_id=leg.rsplit(".", 1)[1], status="not_found")


# -- inquiries ------------------------------------------------------------------------------------

def test_an_added_inquiry_reads_back_with_its_debtors_and_one_pending_leg_per_debtor_and_institution(store: Store) -> None:
    assert store.inquiries.add([new_inquiry("q1")]) == 4
    q = store.inquiries.get("q1")
    assert q is not None
    assert (q.case_number, q.court, q.amount_due_fen, q.costs_fen) == (CASE, COURT, 1_000_000, 5_000)
    assert (q.officer_credentials, q.officer_id) == (("CRED-1", "CRED-2"), "OFFICER-A1")
    assert (q.created_at, q.deadline, q.legs_total, q.legs_done, q.completed_at) == (T0, T0 + 60_000, 4, 0, None)
    assert [(d.seq, d.name) for d in store.inquiries.debtors("q1")] == [(0, "债务人0"), (1, "债务人1")]
    legs = store.inquiries.legs("q1")
    assert [(leg.debtor_seq, leg.institution_id, leg.status) for leg in legs] == [
        (0, "bank-01", "pending"), (0, "land-01", "pending"), (1, "bank-01", "pending"), (1, "land-01", "pending")]
    assert legs[0].id == leg_id("q1", 0, "bank-01") and legs[0].assets == () and legs[0].late_assets == ()
    assert store.inquiries.get("nope") is None


def test_a_batch_is_stored_with_its_inquiries_and_reports_progress(store: Store) -> None:
    inquiries = [new_inquiry("q1", batch_id="b1"), new_inquiry("q2", debtors=1, batch_id="b1")]
    assert store.inquiries.add(inquiries, NewBatch("b1", T0, "csv", 3)) == 6
    batch = store.inquiries.batch("b1")
    assert batch is not None and (batch.format, batch.rows, batch.inquiries, batch.legs, batch.created_at) == ("csv", 3, 2, 6, T0)
    assert store.inquiries.batch_inquiry_ids("b1") == ["q1", "q2"]
    progress = store.inquiries.batch_progress("b1")
    assert (progress.inquiries, progress.completed, progress.legs_total, progress.legs_done, progress.last_completed_at) == (2, 0, 6, 0, None)
    assert store.inquiries.batch("nope") is None


def test_adding_is_all_or_nothing(store: Store) -> None:
    store.inquiries.add([new_inquiry("q1")])
    with pytest.raises(Exception):  # noqa: B017 - each store raises its own driver's error
        store.inquiries.add([new_inquiry("q2"), new_inquiry("q1")])  # q1 again: refused, and q2 with it
    assert store.inquiries.get("q2") is None


# -- legs -----------------------------------------------------------------------------------------

def test_pending_legs_carry_their_inquiry_and_debtor_until_marked_sent(store: Store) -> None:
    store.inquiries.add([new_inquiry("q1")])
    pending = store.legs.claim_pending(100)
    assert sorted(p.id for p in pending) == sorted(leg.id for leg in store.inquiries.legs("q1"))
    first = next(p for p in pending if p.id == leg_id("q1", 1, "land-01"))
    assert (first.institution_kind, first.debtor_kind, first.debtor_name) == ("land", "person", "债务人1")
    assert first.debtor_id_number == debtor(1).id_number
    assert first.inquiry.id == "q1" and first.inquiry.officer_credentials == ("CRED-1", "CRED-2")
    assert first.inquiry.deadline == T0 + 60_000
    assert len(store.legs.claim_pending(3)) == 3

    store.legs.mark_sent([p.id for p in pending[:3]], T0 + 10)
    assert [p.id for p in store.legs.claim_pending(100)] == [pending[3].id]
    assert {leg.id: leg.sent_at for leg in store.inquiries.legs("q1") if leg.status == "sent"} == {p.id: T0 + 10 for p in pending[:3]}
    backlog = store.legs.backlog()
    assert sum(b.pending for b in backlog) == 3 and all(b.oldest_sent_at == T0 + 10 for b in backlog)


def test_the_first_result_of_a_leg_wins_and_completes_the_inquiry(store: Store) -> None:
    store.inquiries.add([new_inquiry("q1", debtors=1)])
    bank, land = leg_id("q1", 0, "bank-01"), leg_id("q1", 0, "land-01")
    store.legs.mark_sent([bank, land], T0)
    found = [deposit("6222000000000001", 300_000)]
    assert store.legs.apply_results([results("q1", (bank, "found", found))], T0 + 100) == 1
    # A repeat (redelivery, replay) or a different later answer changes nothing.
    assert store.legs.apply_results([results("q1", (bank, "failed", []))], T0 + 200) == 0
    leg = store.inquiries.legs("q1")[0]
    assert (leg.status, leg.finished_at, leg.attempts, leg.latency_ms) == ("found", T0 + 100, 1, 7)
    assert [a["account_no"] for a in leg.assets] == ["6222000000000001"] and leg.late_status is None
    assert store.inquiries.get("q1").completed_at is None  # type: ignore[union-attr]

    assert store.legs.apply_results([results("q1", (land, "not_found", []))], T0 + 300) == 1
    q = store.inquiries.get("q1")
    assert q is not None and (q.legs_done, q.completed_at) == (2, T0 + 300)
    assert store.legs.backlog() == []


def test_overdue_inquiries_time_out_their_open_legs_and_keep_a_late_result_beside_the_timeout(store: Store) -> None:
    store.inquiries.add([new_inquiry("q1", debtors=1, deadline=T0 + 1_000), new_inquiry("q2", debtors=1, deadline=T0 + 5_000)])
    bank, land = leg_id("q1", 0, "bank-01"), leg_id("q1", 0, "land-01")
    store.legs.mark_sent([bank, land], T0)
    store.legs.apply_results([results("q1", (bank, "not_found", []))], T0 + 10)
    assert store.legs.next_open_deadline() == T0 + 1_000
    assert store.legs.expire_overdue(T0 + 999) == []
    assert store.legs.expire_overdue(T0 + 1_000) == ["q1"]
    assert store.legs.next_open_deadline() == T0 + 5_000
    q = store.inquiries.get("q1")
    assert q is not None and (q.legs_done, q.completed_at) == (2, T0 + 1_000)
    by_id = {leg.id: leg for leg in store.inquiries.legs("q1")}
    assert by_id[bank].status == "not_found" and by_id[land].status == "timed_out"

    late = [{"kind": "real_estate", "institution_id": "land-01", "value_fen": 90_000_000, "unit_no": "U1",
             "certificate_no": "C1", "address": "石家庄", "floor_area_dm2": 9_000}]
    assert store.legs.apply_results([results("q1", (land, "found", late))], T0 + 2_000) == 0
    assert store.legs.apply_results([results("q1", (land, "failed", []))], T0 + 3_000) == 0  # only the first late one
    leg = {leg.id: leg for leg in store.inquiries.legs("q1")}[land]
    assert (leg.status, leg.assets) == ("timed_out", ())
    assert (leg.late_status, leg.late_at, [a["unit_no"] for a in leg.late_assets]) == ("found", T0 + 2_000, ["U1"])


def test_unanswered_legs_of_open_inquiries_go_back_to_the_outbox(store: Store) -> None:
    store.inquiries.add([new_inquiry("q1", debtors=1), new_inquiry("q2", debtors=1)])
    q1 = [leg.id for leg in store.inquiries.legs("q1")]
    q2 = [leg.id for leg in store.inquiries.legs("q2")]
    store.legs.mark_sent(q1, T0)
    store.legs.mark_sent(q2[:1], T0 + 5_000)
    assert store.legs.requeue_unanswered(now=T0 + 6_000, older_than_ms=2_000) == 2  # q1's, not q2's younger one
    assert sorted(p.id for p in store.legs.claim_pending(100)) == sorted(q1 + q2[1:])
    store.legs.apply_results([results("q2", *((leg, "not_found", []) for leg in q2))], T0 + 6_000)
    store.legs.mark_sent(q1, T0 + 6_000)
    assert store.legs.requeue_unanswered(now=T0 + 60_000, older_than_ms=2_000) == 2  # q2 is complete: nothing of it


def test_the_first_inquiry_opens_the_case_and_its_assets_are_listed_once(store: Store) -> None:
    store.inquiries.add([new_inquiry("q1", debtors=1, created_at=T0)])
    store.inquiries.add([new_inquiry("q2", debtors=1, created_at=T0 + 1, amount_due_fen=2_000_000, officer_id="OFFICER-A2")])
    for q in ("q1", "q2"):
        bank = leg_id(q, 0, "bank-01")
        store.legs.mark_sent([bank], T0)
        store.legs.apply_results([results(q, (bank, "found", [deposit("6222000000000001", 300_000)]))], T0 + 10)
    case = store.cases.get(CASE)  # a later inquiry's amount does not change the case record
    assert case is not None and (case.court, case.amount_due_fen, case.costs_fen, case.created_by) == (COURT, 1_000_000, 5_000, "OFFICER-A1")
    found = store.inquiries.case_assets(CASE)
    assert [(f.debtor_id_number, f.asset["account_no"]) for f in found] == [(debtor(0).id_number, "6222000000000001")]
    assert store.cases.get("(2025)冀0108执1号") is None and store.inquiries.case_assets("(2025)冀0108执1号") == []
    assert store.inquiries.case_persons(CASE) == {debtor(0).id_number}


def test_a_case_changes_only_by_an_audited_amendment(store: Store) -> None:
    store.inquiries.add([new_inquiry("q1", debtors=1, created_at=T0)])
    amended = store.cases.amend(CaseAmendment(CASE, 2_000_000, 6_000, "(2025)冀0108执恢1号", "judgment corrected", "OFFICER-A1", T0 + 5))
    assert (amended.amount_due_fen, amended.costs_fen) == (2_000_000, 6_000)
    events = store.cases.events(CASE)
    assert [e.event for e in events] == ["opened", "amended"]
    assert events[1].detail["amount_due_fen"] == {"from": 1_000_000, "to": 2_000_000}
    assert events[1].detail["ruling_number"] == "(2025)冀0108执恢1号" and events[1].actor == "OFFICER-A1"


# -- orders ---------------------------------------------------------------------------------------

def new_order(order_id: str, type_: str = "freeze", original: str | None = None, amount_fen: int | None = 100_000,
              created_at: int = T0) -> NewOrder:
    return NewOrder(
        id=order_id, idempotency_key=f"key-{order_id}", request_digest="d" * 64, type=type_, case_number=CASE,
        court=COURT, institution_id=BANK.id, institution_kind="bank", asset_kind="deposit", asset_id="6222000000000001",
        debtor_id_number=debtor(0).id_number, amount_fen=amount_fen, term_days=365 if type_ == "freeze" else None,
        ruling_number=f"{CASE}之一", notice_number=f"{CASE}-冻", officer_credentials=["CRED-1"], operator="OFFICER-A",
        original_order_id=original, enforcement_account="13050161540800000001" if type_ == "deduct" else None,
        created_at=created_at, deadline=created_at + 60_000,
    )


def answer(order_id: str, status: str, **fields: Any) -> OrderResult:
    return OrderResult(order_id=order_id, institution_id=BANK.id, status=status, answered_at=datetime.now(UTC), **fields)


def test_an_order_placed_in_a_unit_of_work_reads_back_with_its_first_event(store: Store) -> None:
    with store.unit_of_work() as uow:
        assert uow.orders.by_key("key-o1") is None
        uow.orders.place(new_order("o1"), actor="OFFICER-A")
        assert uow.orders.get("o1") is not None  # a unit of work reads its own writes
    order = store.orders.get("o1")
    assert order is not None
    assert (order.status, order.type, order.amount_fen, order.officer_credentials) == ("requested", "freeze", 100_000, ("CRED-1",))
    assert (order.created_at, order.updated_at, order.sent_at, order.checker) == (T0, T0, None, None)
    assert store.orders.by_key("key-o1") == order
    assert store.orders.with_key_prefix("key-") == [order]
    assert [f.id for f in store.orders.live_freezes_of_case(CASE)] == ["o1"]
    [event] = store.orders.events("o1")
    assert (event.actor, event.event, event.status, event.at) == ("OFFICER-A", "requested", "requested", T0)
    assert event.detail["asset"] == {"kind": "deposit", "id": "6222000000000001"} and event.detail["officer_credentials"] == ["CRED-1"]


def test_a_unit_of_work_that_raises_leaves_nothing_behind(store: Store) -> None:
    store.inquiries.add([new_inquiry("q1", debtors=1)])
    with pytest.raises(RuntimeError), store.unit_of_work() as uow:
        uow.orders.place(new_order("o1"), actor="OFFICER-A")
        uow.orders.place(new_order("o2"), actor="OFFICER-A")
        raise RuntimeError("a check failed after the writes")
    assert store.orders.get("o1") is None and store.orders.get("o2") is None and store.orders.events("o1") == []
    with store.unit_of_work() as uow:  # the store is usable afterwards
        uow.orders.place(new_order("o1"), actor="OFFICER-A")
    assert store.orders.get("o1") is not None


def test_an_order_goes_out_once_and_its_first_answer_decides_it(store: Store) -> None:
    store.orders.place(new_order("o1"), actor="OFFICER-A")
    assert [o.id for o in store.orders.claim_sendable(10)] == ["o1"]
    store.orders.mark_sent(["o1"], T0 + 10)
    store.orders.mark_sent(["o1"], T0 + 20)  # already sent: no second event
    assert store.orders.claim_sendable(10) == []
    assert store.orders.apply_results([answer("o1", "applied", held_fen=100_000, start_date="2025-06-15")], T0 + 30) == 1
    assert store.orders.apply_results([answer("o1", "refused", reason="too late")], T0 + 40) == 0
    order = store.orders.get("o1")
    assert order is not None
    assert (order.status, order.held_fen, order.start_date, order.sent_at, order.updated_at) == ("applied", 100_000, "2025-06-15", T0 + 10, T0 + 30)
    assert [(e.event, e.status) for e in store.orders.events("o1")] == [("requested", "requested"), ("sent", "sent"), ("answered", "applied")]


def test_a_deduction_waits_for_approval_and_then_reduces_what_its_freeze_holds(store: Store) -> None:
    store.orders.place(new_order("f1"), actor="OFFICER-A")
    store.orders.mark_sent(["f1"], T0)
    store.orders.apply_results([answer("f1", "applied", held_fen=100_000)], T0 + 1)
    store.orders.place(new_order("d1", "deduct", original="f1", amount_fen=40_000), actor="OFFICER-A")
    assert store.orders.claim_sendable(10) == []  # not before a second officer approved it
    store.orders.note("d1", T0 + 2, "OFFICER-A", "approval_refused", {"reason": "two-person rule"})
    store.orders.approve("d1", "OFFICER-B", T0 + 3)
    approved = store.orders.get("d1")
    assert approved is not None and (approved.checker, approved.approved_at, approved.status) == ("OFFICER-B", T0 + 3, "requested")
    assert [o.id for o in store.orders.claim_sendable(10)] == ["d1"]
    store.orders.mark_sent(["d1"], T0 + 4)
    store.orders.apply_results([answer("d1", "applied", deducted_fen=40_000)], T0 + 5)
    freeze = store.orders.get("f1")
    assert freeze is not None and (freeze.status, freeze.held_fen) == ("applied", 60_000)
    assert [e.event for e in store.orders.events("d1")] == ["requested", "approval_refused", "approved", "sent", "answered"]
    assert [e.event for e in store.orders.events("f1")][-1] == "deducted"
    money = store.orders.case_money(CASE)  # the freeze covers what deductions left of it
    assert (money.held_fen, money.deducted_fen, money.released_fen, money.open_by_freeze) == (60_000, 40_000, 0, {"f1": 60_000})


def test_an_unfreeze_releases_its_freeze_and_an_answer_may_overtake_the_record_of_sending(store: Store) -> None:
    store.orders.place(new_order("f1"), actor="OFFICER-A")
    store.orders.mark_sent(["f1"], T0)
    store.orders.apply_results([answer("f1", "applied", held_fen=100_000)], T0 + 1)
    store.orders.place(new_order("u1", "unfreeze", original="f1", amount_fen=None), actor="OFFICER-A")
    # Answered before the relay marked it sent: it was sent, so the trail says so first.
    store.orders.apply_results([answer("u1", "released")], T0 + 2)
    assert [(e.event, e.status) for e in store.orders.events("u1")] == [("requested", "requested"), ("sent", "sent"), ("answered", "applied")]
    assert store.orders.get("f1").status == "released"  # type: ignore[union-attr]
    assert store.orders.live_freezes_of_case(CASE) == []
    money = store.orders.case_money(CASE)
    assert (money.held_fen, money.deducted_fen, money.released_fen, money.open_by_freeze) == (0, 0, 100_000, {})


def test_a_lifting_releases_its_restriction_as_an_unfreeze_releases_its_freeze(store: Store) -> None:
    person = debtor(0).id_number
    restriction = replace(new_order("r1", "restrict_consumption", amount_fen=None), institution_id="airline-01",
                          institution_kind="airline", asset_kind="person", asset_id=person)
    store.orders.place(restriction, actor="OFFICER-A")
    store.orders.apply_results([answer("r1", "applied")], T0 + 1)
    lift = replace(restriction, id="l1", idempotency_key="key-l1", type="lift_restriction", original_order_id="r1")
    store.orders.place(lift, actor="OFFICER-A")
    store.orders.apply_results([answer("l1", "released")], T0 + 2)
    assert store.orders.get("l1").status == "applied"  # type: ignore[union-attr]
    assert store.orders.get("r1").status == "released"  # type: ignore[union-attr]
    assert [(e.event, e.detail.get("by_order")) for e in store.orders.events("r1")][-1] == ("released", "l1")
    assert store.orders.live_freezes_of_case(CASE) == [] and store.orders.case_money(CASE).held_fen == 0  # no money in it


def test_sent_orders_unanswered_for_long_go_out_again(store: Store) -> None:
    store.orders.place(new_order("o1"), actor="OFFICER-A")
    store.orders.mark_sent(["o1"], T0)
    assert store.orders.requeue_unanswered(now=T0 + 1_000, older_than_ms=5_000) == 0
    assert store.orders.requeue_unanswered(now=T0 + 10_000, older_than_ms=5_000) == 1
    assert [o.id for o in store.orders.claim_sendable(10)] == ["o1"]
    assert [e.event for e in store.orders.events("o1")] == ["requested", "sent", "resend"]


def test_a_deferred_order_stays_sent_until_its_resubmission_and_then_takes_its_answer(store: Store) -> None:
    """The securities depository outside its working hours: the order carries its shares, a deferral
    is no answer, and the resend of unanswered orders counts from the resubmission time."""
    shares = dataclasses.replace(new_order("s1", amount_fen=300_000), institution_id="securities-01", institution_kind="securities",
                                 asset_kind="securities", asset_id="A123456789:600519", quantity=200)
    store.orders.place(shares, actor="OFFICER-A")
    store.orders.mark_sent(["s1"], T0)
    resubmit = datetime.fromtimestamp((T0 + 3_600_000) / 1000, UTC)
    assert store.orders.apply_results([answer("s1", "deferred", reason="非工作时间", resubmit_at=resubmit)], T0 + 10) == 0
    order = store.orders.get("s1")
    assert order is not None and (order.status, order.quantity, order.sent_at) == ("sent", 200, T0 + 3_600_000)
    assert store.orders.requeue_unanswered(now=T0 + 3_600_000, older_than_ms=5_000) == 0  # held by the connector till then
    [*_, queued] = store.orders.events("s1")
    assert (queued.event, queued.status, queued.detail["reason"]) == ("queued_for_submission", "sent", "非工作时间")
    store.orders.apply_results([answer("s1", "applied", held_fen=300_000, held_quantity=200)], T0 + 3_600_100)
    assert store.orders.get("s1").status == "applied"  # type: ignore[union-attr]
    assert store.orders.apply_results([answer("s1", "deferred", resubmit_at=resubmit)], T0 + 3_600_200) == 0  # too late: no change
    assert [e.event for e in store.orders.events("s1")] == ["requested", "sent", "queued_for_submission", "answered"]
    # What a securities freeze secures counts as covered, like money.
    assert store.orders.case_money(CASE).open_by_freeze == {"s1": 300_000}


def test_audit_trails_only_grow(store: Store) -> None:
    store.orders.place(new_order("f1"), actor="OFFICER-A")
    trail = store.orders.events("f1")
    for step in (lambda: store.orders.mark_sent(["f1"], T0 + 1),
                 lambda: store.orders.apply_results([answer("f1", "applied", held_fen=1)], T0 + 2),
                 lambda: store.orders.apply_results([answer("f1", "refused")], T0 + 3),
                 lambda: store.orders.note("f1", T0 + 4, "OFFICER-B", "looked", {})):
        step()
        longer = store.orders.events("f1")
        assert longer[:len(trail)] == trail and len(longer) >= len(trail)
        trail = longer
    assert [e.seq for e in trail] == sorted(e.seq for e in trail)

    first = AccessEntry(T0, "OFFICER-A", COURT, "GET", "/v1/ops/pending-legs", 403, "the ops role is needed")
    second = AccessEntry(T0 + 1, None, None, "GET", "/v1/inquiries/x", 401, "no token")
    store.access.record(first)
    store.access.record(second)
    assert store.access.recent() == [second, first]
    assert store.access.recent(limit=1) == [second]


# -- watches and alerts ---------------------------------------------------------------------------

def new_watch(watch_id: str, kinds: tuple[str, ...] = ("funds",), until: int = T0 + 86_400_000, court: str = COURT,
              case_number: str = CASE, debtor_id_number: str | None = None, created_at: int = T0) -> NewWatch:
    return NewWatch(
        id=watch_id, idempotency_key=f"key-{watch_id}", request_digest="w" * 64, case_number=case_number, court=court,
        debtor_id_number=debtor_id_number or debtor(0).id_number, kinds=kinds, until=until,
        auto_freeze={"ruling_number": "R-1", "notice_number": "N-1", "officer_credentials": ["CRED-1"], "term_days": 365}
        if "funds" in kinds else None, officer_id="OFFICER-A", created_at=created_at,
    )


def new_alert(watch_id: str, event_id: str, court: str = COURT, case_number: str = CASE, at: int = T0 + 5) -> NewAlert:
    return NewAlert(
        watch_id=watch_id, event_id=event_id, case_number=case_number, court=court, debtor_id_number=debtor(0).id_number,
        kind="funds", event_type="funds_credited", institution_id=BANK.id, at=at, summary="账户到账 ¥12,345.00",
        detail={"amount_fen": 1_234_500, "auto_freeze": {"order_id": "o1"}}, created_at=at + 1,
    )


def test_a_watch_reads_back_and_is_found_while_active_for_its_kinds(store: Store) -> None:
    with store.unit_of_work() as uow:
        uow.watches.add(new_watch("w1", kinds=("funds", "lodging")))
        assert uow.watches.get("w1") is not None  # a unit of work reads its own writes
    watch = store.watches.get("w1")
    assert watch is not None
    assert (watch.kinds, watch.until, watch.officer_id) == (("funds", "lodging"), T0 + 86_400_000, "OFFICER-A")
    assert (watch.ended_at, watch.ended_by) == (None, None)
    assert watch.auto_freeze == {"ruling_number": "R-1", "notice_number": "N-1", "officer_credentials": ["CRED-1"], "term_days": 365}
    assert store.watches.by_key("key-w1") == watch and store.watches.by_key("key-w2") is None
    assert store.watches.get("w2") is None
    holder = debtor(0).id_number
    assert store.watches.active_on(holder, "funds", T0 + 10) == [watch]
    assert store.watches.active_on(holder, "lodging", T0 + 10) == [watch]
    assert store.watches.active_on(holder, "vehicle", T0 + 10) == []
    assert store.watches.active_on(debtor(1).id_number, "funds", T0 + 10) == []
    assert store.watches.active_on(holder, "funds", T0 + 86_400_000) == []  # until is the first instant not watched


def test_a_watch_is_listed_by_court_and_case_and_ends_once(store: Store) -> None:
    other_case = "(2025)冀0108执1号"
    store.watches.add(new_watch("w1", created_at=T0))
    store.watches.add(new_watch("w2", case_number=other_case, created_at=T0 + 1))
    store.watches.add(new_watch("w3", court="石家庄市长安区人民法院", case_number="(2025)冀0102执1号", created_at=T0 + 2))
    assert [w.id for w in store.watches.of_court(COURT)] == ["w1", "w2"]
    assert [w.id for w in store.watches.of_court(COURT, case_number=other_case)] == ["w2"]
    assert store.watches.end("w1", "OFFICER-B", T0 + 100) is True
    assert store.watches.end("w1", "OFFICER-C", T0 + 200) is False  # the first ending stands
    ended = store.watches.get("w1")
    assert ended is not None and (ended.ended_at, ended.ended_by) == (T0 + 100, "OFFICER-B")
    assert not ended.active_at(T0 + 10)
    assert [w.id for w in store.watches.active_on(debtor(0).id_number, "funds", T0 + 10)] == ["w2", "w3"]
    assert [w.id for w in store.watches.of_court(COURT)] == ["w1", "w2"]  # never deleted


def test_an_alert_is_stored_once_per_watch_and_event_and_read_by_cursor(store: Store) -> None:
    first = store.alerts.add(new_alert("w1", "bank-01:1"))
    assert first is not None and first.seq > 0 and first.detail == {"amount_fen": 1_234_500, "auto_freeze": {"order_id": "o1"}}
    assert store.alerts.add(new_alert("w1", "bank-01:1")) is None  # the same event again: no second alert
    assert store.alerts.exists("w1", "bank-01:1") and not store.alerts.exists("w1", "bank-01:2")
    second = store.alerts.add(new_alert("w2", "bank-01:1"))  # another watch on the same event has its own
    third = store.alerts.add(new_alert("w3", "bank-01:2", court="石家庄市长安区人民法院", case_number="(2025)冀0102执1号"))
    fourth = store.alerts.add(new_alert("w1", "bank-01:3", case_number="(2025)冀0108执1号"))
    assert second is not None and third is not None and fourth is not None
    assert first.seq < second.seq < third.seq < fourth.seq
    assert store.alerts.after(COURT, 0, 10) == [first, second, fourth]
    assert store.alerts.after(COURT, first.seq, 10) == [second, fourth]
    assert store.alerts.after(COURT, 0, 1) == [first]
    assert store.alerts.after(COURT, 0, 10, case_number=CASE) == [first, second]
    assert [a.watch_id for a in store.alerts.after("石家庄市长安区人民法院", 0, 10)] == ["w3"]


def test_watches_and_alerts_keep_their_history_in_sqlite(tmp_path: Path) -> None:
    """SQLite-only: the triggers refuse deleting a watch, changing what it is, ending it twice, and
    changing or deleting an alert."""
    from gateway.store.sqlite.store import SqliteStore

    store = SqliteStore(tmp_path / "gateway.sqlite3")
    store.watches.add(new_watch("w1"))
    store.alerts.add(new_alert("w1", "bank-01:1"))
    store.watches.end("w1", "OFFICER-B", T0 + 1)
    db = store.connection
    for statement in ("DELETE FROM watches", "UPDATE watches SET until = 0", "UPDATE watches SET ended_by = 'X'",
                      "UPDATE alerts SET summary = ''", "DELETE FROM alerts"):
        with pytest.raises(sqlite3.IntegrityError):
            db.execute(statement)
    store.close()


# -- snapshot -------------------------------------------------------------------------------------

def test_a_snapshot_shows_what_left_the_gateway(tmp_path: Path) -> None:
    """SQLite-only for now: a snapshot is opened by location, like the store it reads."""
    store = open_store(tmp_path / "gateway.sqlite3")
    store.inquiries.add([new_inquiry("q1", debtors=1)])
    bank = leg_id("q1", 0, "bank-01")
    store.legs.mark_sent([bank], T0)
    store.orders.place(new_order("o1"), actor="OFFICER-A")
    store.orders.place(new_order("o2"), actor="OFFICER-A")
    store.orders.mark_sent(["o2"], T0)
    snapshot = open_snapshot(tmp_path / "gateway.sqlite3")
    try:
        assert [q.id for q in snapshot.inquiries()] == ["q1"]
        assert [leg.id for leg in snapshot.published_legs()] == [bank]
        assert [o.id for o in snapshot.published_orders()] == ["o2"]
    finally:
        snapshot.close()
        store.close()


# -- institution events and reconciliation --------------------------------------------------------

ACCOUNT = "6222000000000001"  # new_order's asset
AT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def event(seq: int, type_: str, asset: str = ACCOUNT, **fields: Any) -> InstitutionEvent:
    return InstitutionEvent(event_id=f"{BANK.id}:{seq}", seq=seq, institution_id=BANK.id, type=type_,  # type: ignore[arg-type]
                            at=AT + timedelta(seconds=seq), asset_kind="deposit", asset_id=asset, **fields)


def state(status: str, held: int, **fields: Any) -> FreezeState:
    return FreezeState(freeze_id="f1", court="石家庄市裕华区人民法院", status=status, held_fen=held, requested_fen=100_000,  # type: ignore[arg-type]
                       start_date="2026-12-01T00:00:00+00:00", end_date="2027-12-01T00:00:00+00:00", **fields)


def applied_freeze(store: Store, held: int = 40_000) -> None:
    store.orders.place(new_order("f1"), actor="OFFICER-A")
    store.orders.mark_sent(["f1"], T0)
    store.orders.apply_results([answer("f1", "partially_applied", held_fen=held, start_date="2026-12-01T00:00:00+00:00",
                                       end_date="2027-12-01T00:00:00+00:00")], T0 + 1)


def test_assets_an_inquiry_found_and_freezes_the_gateway_ordered_are_known(store: Store) -> None:
    store.inquiries.add([new_inquiry("q1", debtors=1)])
    store.legs.apply_results([results("q1", (leg_id("q1", 0, "bank-01"), "found", [deposit("6222000000000009", 500)]))], T0)
    assert store.events.knows_asset(BANK.id, "6222000000000009")
    assert not store.events.knows_asset(BANK.id, ACCOUNT) and not store.events.knows_asset("bank-02", "6222000000000009")
    applied_freeze(store)
    assert store.events.knows_asset(BANK.id, ACCOUNT)  # under an order
    assert store.events.knows_freeze(BANK.id, ACCOUNT, "f1")
    assert not store.events.knows_freeze(BANK.id, "6222000000000009", "f1") and not store.events.knows_freeze(BANK.id, ACCOUNT, "f9")


def test_an_event_sets_the_freeze_to_the_institutions_state_once_with_the_change_in_its_trail(store: Store) -> None:
    applied_freeze(store)
    captured = event(7, "freeze_captured", amount_fen=60_000, balance_fen=100_000, freeze=state("applied", 100_000))
    assert store.events.apply([captured], T0 + 10) == [captured]
    order = store.orders.get("f1")
    assert order is not None and (order.status, order.held_fen, order.state_seq) == ("applied", 100_000, 7)
    last = store.orders.events("f1")[-1]
    assert (last.actor, last.event, last.status) == (BANK.id, "freeze_captured", "applied")
    assert last.detail["event_id"] == "bank-01:7" and last.detail["changes"]["held_fen"] == [40_000, 100_000]
    assert store.orders.case_money(CASE).held_fen == 100_000
    trail = store.orders.events("f1")
    assert store.events.apply([captured], T0 + 11) == []  # a repeat changes nothing
    assert store.orders.events("f1") == trail
    assert store.events.balances([(BANK.id, ACCOUNT)])[(BANK.id, ACCOUNT)].balance_fen == 100_000


def test_an_older_event_arriving_after_a_newer_one_is_not_applied_over_it(store: Store) -> None:
    applied_freeze(store)
    store.events.apply([event(9, "freeze_lapsed", freeze=state("lapsed", 0))], T0 + 10)
    assert store.events.apply([event(8, "freeze_captured", freeze=state("applied", 100_000))], T0 + 11) == []
    order = store.orders.get("f1")
    assert order is not None and (order.status, order.held_fen) == ("lapsed", 0)
    assert store.orders.live_freezes_of_case(CASE) == []  # a lapsed freeze no longer counts


def test_a_deduction_the_events_already_carried_is_not_subtracted_twice(store: Store) -> None:
    applied_freeze(store, held=100_000)
    store.orders.place(new_order("d1", "deduct", original="f1", amount_fen=30_000), actor="OFFICER-A")
    store.orders.approve("d1", "OFFICER-B", T0 + 2)
    store.orders.mark_sent(["d1"], T0 + 3)
    store.events.apply([event(3, "deduction_executed", amount_fen=30_000, balance_fen=70_000,
                              freeze=state("applied", 70_000, deducted_fen=30_000))], T0 + 4)
    store.orders.apply_results([answer("d1", "applied", deducted_fen=30_000, held_fen=70_000)], T0 + 5)
    freeze = store.orders.get("f1")
    assert freeze is not None and (freeze.held_fen, freeze.deducted_fen) == (70_000, 30_000)


def test_events_that_overtake_an_answer_keep_their_state_and_the_answer_is_still_in_the_trail(store: Store) -> None:
    store.orders.place(new_order("f1"), actor="OFFICER-A")
    store.orders.mark_sent(["f1"], T0)
    store.events.apply([event(2, "freeze_captured", freeze=state("applied", 100_000))], T0 + 1)
    store.orders.apply_results([answer("f1", "partially_applied", held_fen=40_000)], T0 + 2)
    order = store.orders.get("f1")
    assert order is not None and (order.status, order.held_fen) == ("applied", 100_000)
    assert [e.event for e in store.orders.events("f1")][-2:] == ["freeze_captured", "answered"]


def test_person_events_are_deduplicated_per_person(store: Store) -> None:
    checkin = InstitutionEvent(event_id="lodging-01:4", seq=4, institution_id="lodging-01", type="guest_checked_in", at=AT,
                               holder_id_number="130105198001010007", place="石家庄某酒店", region="石家庄市")
    assert store.events.apply([checkin], T0) == [checkin]
    assert store.events.apply([checkin], T0 + 1) == []


def test_a_reconciliation_report_repairs_what_differs_and_says_so(store: Store) -> None:
    applied_freeze(store)
    store.events.apply([event(3, "funds_credited", amount_fen=10, balance_fen=10)], T0 + 2)
    tracked = store.events.tracked(failed_since=T0)
    assert tracked[BANK.id].freeze_ids == ("f1",) and tracked[BANK.id].asset_ids == (ACCOUNT,)
    report = ControlStatusReport(run_id="r1/0", institution_id=BANK.id, as_of_seq=5, freezes=[state("applied", 100_000)],
                                 unknown_freeze_ids=["f0"], balances=[{"asset_id": ACCOUNT, "balance_fen": 100_000}],  # type: ignore[list-item]
                                 answered_at=AT)
    found = {(d.subject, d.field): (d.gateway, d.institution) for d in store.events.apply_report(report, T0 + 3)}
    assert found == {("f1", "status"): ("partially_applied", "applied"), ("f1", "held_fen"): (40_000, 100_000),
                     ("f0", "freeze"): ("tracked", "no record at the institution"), (ACCOUNT, "balance_fen"): (10, 100_000)}
    order = store.orders.get("f1")
    assert order is not None and (order.status, order.held_fen, order.state_seq) == ("applied", 100_000, 5)
    assert store.orders.events("f1")[-1].event == "reconciled"
    report = report.model_copy(update={"unknown_freeze_ids": []})
    assert store.events.apply_report(report, T0 + 4) == []  # now they agree
    stale = report.model_copy(update={"as_of_seq": 4, "freezes": [state("lapsed", 0)]})
    assert store.events.apply_report(stale, T0 + 5) == []  # older than what set the state
    assert store.orders.get("f1").status == "applied"  # type: ignore[union-attr]


def test_a_reconciliation_run_finishes_when_every_question_is_answered(store: Store) -> None:
    store.reconciliations.start("r1", T0, "OPS-1", ["bank-01#0", "land-01#0"])
    store.reconciliations.record("r1", "bank-01#0", "answered", [], T0 + 1)
    run = store.reconciliations.get("r1")
    assert run is not None and run.finished_at is None and run.answered == {"bank-01#0": "answered"}
    store.reconciliations.record("r1", "bank-01#0", "failed: again", [], T0 + 2)  # a repeat changes nothing
    store.reconciliations.record("r1", "land-01#0", "failed: land-01 is down", [], T0 + 3)
    run = store.reconciliations.get("r1")
    assert run is not None and run.finished_at == T0 + 3
    assert run.answered == {"bank-01#0": "answered", "land-01#0": "failed: land-01 is down"}
    assert [r.run_id for r in store.reconciliations.recent()] == ["r1"]
    store.reconciliations.start("r2", T0 + 4, "schedule", [])
    assert store.reconciliations.get("r2").finished_at == T0 + 4  # type: ignore[union-attr]  # nothing to ask


@pytest.mark.parametrize("balance", [0, 5])
def test_a_balance_event_never_goes_back_in_time(store: Store, balance: int) -> None:
    applied_freeze(store)
    store.events.apply([event(6, "funds_credited", amount_fen=7, balance_fen=7)], T0)
    store.events.apply([event(5, "funds_debited", amount_fen=1, balance_fen=balance)], T0 + 1)
    assert store.events.balances([(BANK.id, ACCOUNT)])[(BANK.id, ACCOUNT)].balance_fen == 7


# -- lists: an officer's cases and orders, and freezes that ended ---------------------------------

COURT_B, CASE_B = "石家庄市长安区人民法院", "(2025)冀0102执1号"


def test_a_courts_cases_are_listed_newest_first_a_page_at_a_time(store: Store) -> None:
    for n in range(3):
        store.inquiries.add([replace(new_inquiry(f"q{n}", debtors=1, created_at=T0 + n), case_number=f"(2025)冀0108执{n + 1}号")])
    store.inquiries.add([replace(new_inquiry("qb", debtors=1), case_number=CASE_B, court=COURT_B)])
    first = store.cases.of_court(COURT, limit=2)
    assert [c.case_number for c in first.items] == ["(2025)冀0108执3号", "(2025)冀0108执2号"] and first.next_cursor
    rest = store.cases.of_court(COURT, limit=2, cursor=first.next_cursor)
    assert [c.case_number for c in rest.items] == ["(2025)冀0108执1号"] and rest.next_cursor is None
    assert [c.case_number for c in store.cases.of_court(COURT_B, limit=10).items] == [CASE_B]  # each court its own
    assert store.cases.of_court("石家庄市新华区人民法院", limit=10).items == ()
    with pytest.raises(ValueError):
        store.cases.of_court(COURT, limit=2, cursor="not-a-cursor")


def test_a_courts_orders_are_listed_by_case_state_type_and_approval_newest_first(store: Store) -> None:
    store.orders.place(new_order("f1"), actor="OFFICER-A")
    store.orders.mark_sent(["f1"], T0)
    store.orders.apply_results([answer("f1", "applied", held_fen=100_000)], T0 + 1)
    store.orders.place(new_order("f2"), actor="OFFICER-A")
    store.orders.place(new_order("d1", "deduct", original="f1", amount_fen=10_000), actor="OFFICER-A")
    store.orders.place(new_order("d2", "deduct", original="f1", amount_fen=10_000), actor="OFFICER-A")
    store.orders.approve("d2", "OFFICER-B", T0 + 2)
    store.orders.place(replace(new_order("fb"), idempotency_key="key-fb", case_number=CASE_B, court=COURT_B), actor="OFFICER-C")

    def ids(where: OrderFilter, limit: int = 10, court: str = COURT) -> list[str]:
        return [o.id for o in store.orders.of_court(court, where, limit).items]

    assert ids(OrderFilter()) == ["d2", "d1", "f2", "f1"]
    assert ids(OrderFilter(), court=COURT_B) == ["fb"]  # another court's orders are not listed
    assert ids(OrderFilter(case_number=CASE_B)) == []
    assert ids(OrderFilter(case_number=CASE, type="freeze")) == ["f2", "f1"]
    assert ids(OrderFilter(status="applied")) == ["f1"]
    assert ids(OrderFilter(awaiting_approval=True)) == ["d1"]  # d2 is approved: no longer waiting
    assert ids(OrderFilter(awaiting_approval=False)) == ["d2", "f2", "f1"]
    page = store.orders.of_court(COURT, OrderFilter(), 3)
    assert [o.id for o in page.items] == ["d2", "d1", "f2"] and page.next_cursor is not None
    store.orders.place(new_order("f3"), actor="OFFICER-A")  # placed meanwhile: the next page neither shifts nor repeats
    rest = store.orders.of_court(COURT, OrderFilter(), 3, page.next_cursor)
    assert [o.id for o in rest.items] == ["f1"] and rest.next_cursor is None


def test_a_released_or_lapsed_freeze_holds_nothing(store: Store) -> None:
    applied_freeze(store, held=40_000)
    store.orders.place(new_order("u1", "unfreeze", original="f1", amount_fen=None), actor="OFFICER-A")
    store.orders.mark_sent(["u1"], T0 + 2)
    store.orders.apply_results([answer("u1", "released")], T0 + 3)
    released = store.orders.get("f1")
    assert released is not None and (released.status, released.held_fen) == ("released", 0)
    assert store.orders.case_money(CASE).held_fen == 0
    # An institution's record of a lapsed freeze may still name what it held: the gateway's holds nothing.
    store.orders.place(replace(new_order("f2"), idempotency_key="key-f2"), actor="OFFICER-A")
    store.orders.mark_sent(["f2"], T0)
    store.orders.apply_results([answer("f2", "applied", held_fen=100_000)], T0 + 1)
    lapsed = state("lapsed", 100_000).model_copy(update={"freeze_id": "f2"})
    store.events.apply([event(5, "freeze_lapsed", freeze=lapsed)], T0 + 4)
    order = store.orders.get("f2")
    assert order is not None and (order.status, order.held_fen) == ("lapsed", 0)
    assert store.orders.case_money(CASE).held_fen == 0


def test_alerts_are_counted_per_case_of_the_court(store: Store) -> None:
    store.alerts.add(new_alert("w1", "bank-01:1"))
    store.alerts.add(new_alert("w1", "bank-01:2"))
    store.alerts.add(new_alert("w2", "bank-01:3", case_number="(2025)冀0108执1号"))
    store.alerts.add(new_alert("w3", "bank-01:4", court=COURT_B, case_number=CASE_B))
    assert store.alerts.counts(COURT, [CASE, "(2025)冀0108执1号", "(2025)冀0108执2号"]) == {CASE: 2, "(2025)冀0108执1号": 1}
    assert store.alerts.counts(COURT, [CASE_B]) == {} and store.alerts.counts(COURT, []) == {}


def test_a_freeze_that_failed_lately_is_reconciled_and_taken_if_the_institution_applied_it(store: Store) -> None:
    store.orders.place(new_order("f1"), actor="OFFICER-A")
    store.orders.mark_sent(["f1"], T0)
    store.orders.apply_results([answer("f1", "failed", reason="no answer from bank-01 before the order deadline")], T0 + 5)
    store.orders.place(new_order("f2"), actor="OFFICER-A")
    store.orders.mark_sent(["f2"], T0)
    store.orders.apply_results([answer("f2", "failed", reason="after 4 attempts: 503")], T0 + 5)
    assert set(store.events.tracked(failed_since=T0)[BANK.id].freeze_ids) == {"f1", "f2"}
    assert store.events.tracked(failed_since=T0 + 6) == {}  # failed long enough ago: no longer asked
    # The bank did apply f1 (the connector gave up on its answer); it never had f2.
    report = ControlStatusReport(run_id="r1/0", institution_id=BANK.id, as_of_seq=3, freezes=[state("applied", 100_000)],
                                 unknown_freeze_ids=["f2"], answered_at=AT)
    found = {(d.subject, d.field) for d in store.events.apply_report(report, T0 + 10)}
    assert {("f1", "status"), ("f1", "held_fen")} <= found and not any(subject == "f2" for subject, _ in found)
    order = store.orders.get("f1")
    assert order is not None and (order.status, order.held_fen) == ("applied", 100_000)
    assert store.orders.case_money(CASE).held_fen == 100_000  # it counts against over-freezing again
    assert store.orders.get("f2").status == "failed"  # type: ignore[union-attr]


# -- two connections: the loop's and the store thread's ----------------------------------------------


@pytest.fixture(params=sorted(STORES))
def loop_and_thread(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """Two stores on one database, as a gateway opens them (gateway/service.py, gateway/store/thread.py)."""
    loop, thread = STORES[request.param](request, tmp_path), STORES[request.param](request, tmp_path)
    yield loop, thread
    thread.close()
    loop.close()


def test_a_read_view_sees_one_moment_while_the_other_connection_writes(loop_and_thread: tuple[Store, Store]) -> None:
    loop, thread = loop_and_thread
    loop.orders.place(new_order("o1"), actor="OFFICER-A")
    thread.orders.mark_sent(["o1"], T0 + 1)
    with loop.read_view():
        before = loop.orders.get("o1")
        assert before is not None and before.status == "sent"
        # The answer is stored on the other connection between the view's two reads.
        thread.orders.apply_results([answer("o1", "applied", held_fen=100_000)], T0 + 2)
        assert "answered" not in {e.event for e in loop.orders.events("o1")}
        assert loop.orders.get("o1") == before
    assert loop.orders.get("o1").status == "applied"  # type: ignore[union-attr]
    assert "answered" in {e.event for e in loop.orders.events("o1")}

