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
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
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
from infra.kafka.topics import (
    carried_types,
    institution_events_topic,
    legs_topic,
    order_results_topic,
    orders_topic,
    results_topic,
)
from infra.settings import Settings
from schemas.directory import KINDS, Directory, Institution
from schemas.events import ControlStatusReport, InstitutionEvent
from schemas.messages import LegBatch, LegBatchResult, LegItem, UndecodableMessage, debtor_seq_of, decode
from schemas.orders import OrderRequest, OrderResult

Progress = Callable[[int], None]


@dataclass
class Rebuilt:
    """The fresh database, and what was set aside on the way: messages of a type their topic does
    not carry (a mistaken replay; the gateway dead-lettered them live), per (topic, type)."""

    path: Path
    skipped: Counter[tuple[str, str]] = field(default_factory=Counter)

    def skipped_lines(self) -> list[str]:
        return [f"skipped {n} {mtype} message(s) on {topic}, which carries no such messages"
                for (topic, mtype), n in sorted(self.skipped.items())]


async def read_topics(settings: Settings, topics: list[str], progress: Progress | None = None,
                      skipped: Counter[tuple[str, str]] | None = None) -> list[BaseModel]:
    """Every decodable message of the topics of a type its topic carries, from their start to
    their end at this moment; the others are counted in ``skipped``."""
    out: list[BaseModel] = []
    carried = carried_types(settings.topic_prefix)
    async with reader(settings, "rebuild") as consumer:
        tps = [TopicPartition(t, p) for t in topics for p in await partitions_of(consumer, t)]
        starts, ends = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
        async for record in scan(consumer, {tp: (starts[tp], ends[tp]) for tp in tps},
                                 on_record=(lambda: progress(1)) if progress else None):
            with contextlib.suppress(UndecodableMessage):  # dead-lettered when it was consumed; not part of the state
                envelope, message = decode(record.value)
                if envelope.type not in carried.get(record.topic, (envelope.type,)):
                    if skipped is not None:
                        skipped[(record.topic, envelope.type)] += 1
                    continue
                out.append(message)
    return out


async def rebuild(settings: Settings, out: Path, progress: Progress | None = None) -> Rebuilt:
    prefix = settings.topic_prefix
    if out.exists():
        raise FileExistsError(f"{out} exists; rebuild writes a fresh database")
    rebuilt = Rebuilt(out)
    work = await read_topics(settings, [legs_topic(prefix, k) for k in KINDS] + [orders_topic(prefix, k) for k in KINDS],
                             progress, rebuilt.skipped)
    answers = await read_topics(settings, [results_topic(prefix), order_results_topic(prefix)], progress, rebuilt.skipped)
    told = await read_topics(settings, [institution_events_topic(prefix)], progress, rebuilt.skipped)
    store = open_store(out)
    try:
        legs = {leg.leg_id: (m, leg) for m in work if isinstance(m, LegBatch) for leg in m.legs}  # a leg published twice is one leg
        _insert_inquiries(store, list(legs.values()))
        store.legs.mark_sent(list(legs), now_ms())
        _insert_orders(store, {m.order_id: m for m in work if isinstance(m, OrderRequest)})
        _replay_answers(store, [a for a in answers if not isinstance(a, ControlStatusReport)])
        _replay_institutions(store, settings.directory, told, [a for a in answers if isinstance(a, ControlStatusReport)])
        store.legs.expire_overdue(now_ms())
    except BaseException:
        store.close()
        for leftover in out.parent.glob(out.name + "*"):  # no partial database left behind (nor its -wal, -shm)
            leftover.unlink()
        raise
    store.close()
    return rebuilt


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
                debtor_id_number=o.debtor_id_number, amount_fen=o.amount_fen, quantity=o.quantity, term_days=o.term_days,
                ruling_number=o.ruling_number, notice_number=o.notice_number,
                officer_credentials=tuple(o.officer_credentials), operator=o.operator or "",
                original_order_id=o.original_freeze_id, enforcement_account=o.enforcement_account,
                created_at=int(o.served_at.timestamp() * 1000), deadline=int(o.deadline.timestamp() * 1000),
            ), actor=o.operator or "rebuild")


# -- comparison -----------------------------------------------------------------------------------

# What a rebuild can derive of each record, by name; the rest (e.g. when a leg was sent) differs run to run.
Fields = dict[str, Any]


def _inquiry_fields(q: InquiryRecord) -> Fields:
    names = ("batch_id", "case_number", "court", "amount_due_fen", "costs_fen", "notice_number", "officer_id",
             "legs_total", "legs_done")
    return {**{n: getattr(q, n) for n in names}, "completed": q.completed_at is not None}


def _leg_fields(leg: LegRecord) -> Fields:
    return {**{n: getattr(leg, n) for n in ("inquiry_id", "debtor_seq", "institution_id", "status")},
            "assets": list(leg.assets)}


def _order_fields(o: OrderRecord) -> Fields:
    return {n: getattr(o, n) for n in (
        "type", "status", "case_number", "court", "institution_id", "asset_kind", "asset_id", "debtor_id_number",
        "amount_fen", "quantity", "term_days", "original_order_id", "held_fen", "deducted_fen", "queue_position", "end_date")}


@dataclass(frozen=True, slots=True)
class _Derivable:
    """Per table, id → derivable fields of what left the gateway; and which inquiries had a leg published."""

    tables: dict[str, dict[str, Fields]]
    published_inquiries: set[str]


def _derivable(path: Location) -> _Derivable:
    snapshot = open_snapshot(path)
    try:
        legs = {leg.id: _leg_fields(leg) for leg in snapshot.published_legs()}
        return _Derivable({
            "inquiries": {q.id: _inquiry_fields(q) for q in snapshot.inquiries()},
            "legs": legs,
            "orders": {o.id: _order_fields(o) for o in snapshot.published_orders()},
        }, {fields["inquiry_id"] for fields in legs.values()})
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
            "different": [{"id": k, "fields": {n: {"live": a[k][n], "rebuilt": b[k][n]} for n in a[k] if a[k][n] != b[k].get(n)}}
                          for k in different[:examples]],
            "different_count": len(different),
        }
    report["equal"] = all(t["only_live_count"] == t["only_rebuilt_count"] == t["different_count"] == 0 for t in report.values())
    return report
