"""``assetgw rebuild``: re-derive the gateway's store from the topics into a fresh database, and
report how it differs from the live one.

The topics hold every leg and order the gateway published and every answer it got; replaying them
through the same store code (first result wins, follow-ups of unfreeze/continue/deduct, deadline
expiry) must give the same state. What never left the gateway cannot be derived and is left out
of the comparison: legs still ``pending`` and orders still ``requested`` (e.g. a deduction waiting
for its second officer).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition
from pydantic import BaseModel

from assetgw.ops.reading import partitions_of, reader, scan
from gateway.events.consumer import check_event
from gateway.store.factory import Location, open_snapshot, open_store
from gateway.store.interfaces import Store
from gateway.store.records import InquiryRecord, LegRecord, NewInquiry, NewOrder, OrderRecord
from infra.clock import now_ms
from infra.kafka.topics import institution_events_topic, legs_topic, order_results_topic, orders_topic, results_topic
from infra.settings import Settings
from schemas.directory import KINDS, Directory, Institution
from schemas.events import ControlStatusReport, InstitutionEvent
from schemas.messages import LegBatch, LegBatchResult, LegItem, UndecodableMessage, debtor_seq_of, decode
from schemas.orders import OrderRequest, OrderResult

Progress = Callable[[int], None]


async def read_topics(settings: Settings, topics: list[str], progress: Progress | None = None) -> list[BaseModel]:
    """Every decodable message of the topics, from their start to their end at this moment."""
    out: list[BaseModel] = []
    async with reader(settings, "rebuild") as consumer:
        tps = [TopicPartition(t, p) for t in topics for p in await partitions_of(consumer, t)]
        starts, ends = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
        async for record in scan(consumer, {tp: (starts[tp], ends[tp]) for tp in tps},
                                 on_record=(lambda: progress(1)) if progress else None):
            with contextlib.suppress(UndecodableMessage):  # dead-lettered when it was consumed; not part of the state
                out.append(decode(record.value)[1])
    return out


async def rebuild(settings: Settings, out: Path, progress: Progress | None = None) -> Path:
    prefix = settings.topic_prefix
    work = await read_topics(settings, [legs_topic(prefix, k) for k in KINDS] + [orders_topic(prefix, k) for k in KINDS], progress)
    answers = await read_topics(settings, [results_topic(prefix), order_results_topic(prefix)], progress)
    told = await read_topics(settings, [institution_events_topic(prefix)], progress)
    if out.exists():
        raise FileExistsError(f"{out} exists; rebuild writes a fresh database")
    store = open_store(out)
    legs = {leg.leg_id: (m, leg) for m in work if isinstance(m, LegBatch) for leg in m.legs}  # a leg published twice is one leg
    _insert_inquiries(store, list(legs.values()))
    store.legs.mark_sent(list(legs), now_ms())
    _insert_orders(store, {m.order_id: m for m in work if isinstance(m, OrderRequest)})
    _replay_answers(store, [a for a in answers if not isinstance(a, ControlStatusReport)])
    _replay_institutions(store, settings.directory, told, [a for a in answers if isinstance(a, ControlStatusReport)])
    store.legs.expire_overdue(now_ms())
    store.close()
    return out


def _replay_institutions(store: Store, directory: Directory, told: list[BaseModel], reports: list[ControlStatusReport]) -> None:
    """After the answers: what institutions said since (events, each once, in feed order; those the
    gateway could not place were dead-lettered live and are skipped here), then reconciliation
    reports (each applied only over older state, as live)."""
    events = []
    for e in sorted((m for m in told if isinstance(m, InstitutionEvent)), key=lambda m: (m.institution_id, m.seq)):
        try:
            check_event(e, store.events, directory)
        except UndecodableMessage:
            continue
        events.append(e)
    store.events.apply(events, now_ms())
    for report in sorted((r for r in reports if r.status == "answered"), key=lambda r: r.as_of_seq):
        store.events.apply_report(report, now_ms())


def _replay_answers(store: Store, answers: list[BaseModel]) -> None:
    """Apply answers in the order they were given (partitions interleave; a deduction's answer
    must follow its freeze's), expiring each inquiry when the answers pass its deadline, so an
    answer that came after the deadline is recorded as late, as it was live."""
    answers.sort(key=lambda m: m.answered_at)  # type: ignore[attr-defined]
    legs: list[LegBatchResult] = []
    order_answers: list[OrderResult] = []

    def flush(at: int) -> None:
        store.legs.apply_results(legs, at)
        store.orders.apply_results(order_answers, at)
        legs.clear()
        order_answers.clear()

    next_deadline = store.legs.next_open_deadline()
    for answer in answers:
        at = int(answer.answered_at.timestamp() * 1000)  # type: ignore[attr-defined]
        if next_deadline is not None and at > next_deadline:
            flush(at)
            store.legs.expire_overdue(at)
            next_deadline = store.legs.next_open_deadline()
        (legs if isinstance(answer, LegBatchResult) else order_answers).append(answer)  # type: ignore[arg-type]
    flush(now_ms())


def _insert_inquiries(store: Store, legs: list[tuple[LegBatch, LegItem]]) -> None:
    by_inquiry: dict[str, list[tuple[LegBatch, LegItem]]] = defaultdict(list)
    for batch, leg in legs:
        by_inquiry[batch.inquiry_id].append((batch, leg))
    inquiries = []
    for inquiry_id, members in by_inquiry.items():
        first = members[0][0]
        debtors = {debtor_seq_of(leg.leg_id): leg.debtor for _, leg in members}
        institutions = {leg.institution_id: Institution(leg.institution_id, b.institution_kind, "") for b, leg in members}
        deadline = int(first.deadline.timestamp() * 1000)
        inquiries.append(NewInquiry(
            id=inquiry_id, batch_id=first.batch_id, case_number=first.case_number, court=first.court,
            amount_due_fen=first.amount_due_fen or 0, costs_fen=first.costs_fen or 0, notice_number=first.notice_number,
            officer_credentials=first.officer_credentials, officer_id=first.officer_id, created_at=deadline, deadline=deadline,
            debtors=[debtors[seq] for seq in sorted(debtors)], institutions=sorted(institutions.values(), key=lambda i: i.id),
        ))
    store.inquiries.add(inquiries)


def _insert_orders(store: Store, requests: dict[str, OrderRequest]) -> None:
    with store.unit_of_work() as uow:
        for o in requests.values():
            uow.orders.place(NewOrder(
                id=o.order_id, idempotency_key=o.order_id, request_digest="", type=o.type, status="sent",
                case_number=o.case_number, court=o.court, institution_id=o.institution_id,
                institution_kind=o.institution_kind, asset_kind=o.asset.kind, asset_id=o.asset.id,
                debtor_id_number=o.debtor_id_number, amount_fen=o.amount_fen, term_days=o.term_days,
                ruling_number=o.ruling_number, notice_number=o.notice_number,
                officer_credentials=tuple(o.officer_credentials), operator=o.operator or "",
                original_order_id=o.original_freeze_id, enforcement_account=o.enforcement_account,
                created_at=int(o.served_at.timestamp() * 1000), deadline=int(o.deadline.timestamp() * 1000),
            ), actor=o.operator or "rebuild")


# -- comparison -----------------------------------------------------------------------------------

# What a rebuild can derive of each record; the rest (e.g. when a leg was sent) differs run to run.
def _inquiry_fields(q: InquiryRecord) -> tuple:  # type: ignore[type-arg]
    return (q.batch_id, q.case_number, q.court, q.amount_due_fen, q.costs_fen, q.notice_number, q.officer_id,
            q.legs_total, q.legs_done, q.completed_at is not None)


def _leg_fields(leg: LegRecord) -> tuple:  # type: ignore[type-arg]
    return leg.inquiry_id, leg.debtor_seq, leg.institution_id, leg.status, leg.assets


def _order_fields(o: OrderRecord) -> tuple:  # type: ignore[type-arg]
    return (o.type, o.status, o.case_number, o.court, o.institution_id, o.asset_kind, o.asset_id, o.debtor_id_number,
            o.amount_fen, o.term_days, o.original_order_id, o.held_fen, o.deducted_fen, o.queue_position, o.end_date)


@dataclass(frozen=True, slots=True)
class _Derivable:
    """Per table, id → derivable fields of what left the gateway; and which inquiries had a leg published."""

    tables: dict[str, dict[str, tuple]]  # type: ignore[type-arg]
    published_inquiries: set[str]


def _derivable(path: Location) -> _Derivable:
    snapshot = open_snapshot(path)
    try:
        legs = {leg.id: _leg_fields(leg) for leg in snapshot.published_legs()}
        return _Derivable({
            "inquiries": {q.id: _inquiry_fields(q) for q in snapshot.inquiries()},
            "legs": legs,
            "orders": {o.id: _order_fields(o) for o in snapshot.published_orders()},
        }, {fields[0] for fields in legs.values()})
    finally:
        snapshot.close()


def compare(live_path: Location, rebuilt_path: Path, examples: int = 5) -> dict[str, Any]:
    """Per table: records only live, only rebuilt, and different (with a few examples of each)."""
    live, rebuilt = _derivable(live_path), _derivable(rebuilt_path)
    # Inquiries whose legs were never published are not derivable.
    live.tables["inquiries"] = {k: v for k, v in live.tables["inquiries"].items()
                                if k in rebuilt.tables["inquiries"] or k in live.published_inquiries}
    report: dict[str, Any] = {}
    for table in ("inquiries", "legs", "orders"):
        a, b = live.tables[table], rebuilt.tables[table]
        different = sorted(k for k in a.keys() & b.keys() if a[k] != b[k])
        report[table] = {
            "live": len(a), "rebuilt": len(b),
            "only_live": sorted(a.keys() - b.keys())[:examples], "only_live_count": len(a.keys() - b.keys()),
            "only_rebuilt": sorted(b.keys() - a.keys())[:examples], "only_rebuilt_count": len(b.keys() - a.keys()),
            "different": [{"id": k, "live": a[k], "rebuilt": b[k]} for k in different[:examples]],
            "different_count": len(different),
        }
    report["equal"] = all(t["only_live_count"] == t["only_rebuilt_count"] == t["different_count"] == 0 for t in report.values())
    return report
