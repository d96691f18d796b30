"""``assetgw rebuild``: re-derive the gateway's store from the topics into a fresh database, and
report how it differs from the live one.

The topics hold every leg and order the gateway published and every answer it got; replaying them
through the same store code (first result wins, follow-ups of unfreeze/continue/deduct, deadline
expiry) must give the same state. What never left the gateway cannot be derived and is left out
of the comparison: legs still ``pending`` and orders still ``requested`` (e.g. a deduction waiting
for its second officer).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

import orjson
from aiokafka import TopicPartition
from pydantic import BaseModel

from infra.kafka.topics import legs_topic, order_results_topic, orders_topic, results_topic
from infra.clock import now_ms
from infra.settings import Settings
from assetgw.ops.reading import partitions_of, reader, scan
from gateway.store.sqlite.orders import OrderStore
from gateway.store.sqlite.inquiries import NewInquiry, Store, Transaction
from schemas.directory import KINDS, Institution
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
            try:
                out.append(decode(record.value)[1])
            except UndecodableMessage:
                pass  # dead-lettered when it was consumed; not part of the state
    return out


async def rebuild(settings: Settings, out: Path, progress: Progress | None = None) -> Path:
    prefix = settings.topic_prefix
    work = await read_topics(settings, [legs_topic(prefix, k) for k in KINDS] + [orders_topic(prefix, k) for k in KINDS], progress)
    answers = await read_topics(settings, [results_topic(prefix), order_results_topic(prefix)], progress)
    if out.exists():
        raise FileExistsError(f"{out} exists; rebuild writes a fresh database")
    store = Store(out)
    orders = OrderStore(store.db)
    legs = {leg.leg_id: (m, leg) for m in work if isinstance(m, LegBatch) for leg in m.legs}  # a leg published twice is one leg
    _insert_inquiries(store, list(legs.values()))
    store.mark_sent(list(legs), now_ms())
    _insert_orders(store, orders, {m.order_id: m for m in work if isinstance(m, OrderRequest)})
    _replay_answers(store, orders, answers)
    store.expire_overdue(now_ms())
    store.close()
    return out


def _replay_answers(store: Store, orders: OrderStore, answers: list[BaseModel]) -> None:
    """Apply answers in the order they were given (partitions interleave; a deduction's answer
    must follow its freeze's), expiring each inquiry when the answers pass its deadline, so an
    answer that came after the deadline is recorded as late, as it was live."""
    answers.sort(key=lambda m: m.answered_at)  # type: ignore[attr-defined]
    legs: list[LegBatchResult] = []
    order_answers: list[OrderResult] = []

    def flush(at: int) -> None:
        store.apply_results(legs, at)
        orders.apply_results(order_answers, at)
        legs.clear()
        order_answers.clear()

    next_deadline = store.next_open_deadline()
    for answer in answers:
        at = int(answer.answered_at.timestamp() * 1000)  # type: ignore[attr-defined]
        if next_deadline is not None and at > next_deadline:
            flush(at)
            store.expire_overdue(at)
            next_deadline = store.next_open_deadline()
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
            officer_credentials=first.officer_credentials, created_at=deadline, deadline=deadline,
            debtors=[debtors[seq] for seq in sorted(debtors)], institutions=sorted(institutions.values(), key=lambda i: i.id),
        ))
    store.add_inquiries(inquiries)


def _insert_orders(store: Store, orders: OrderStore, requests: dict[str, OrderRequest]) -> None:
    with Transaction(store.db) as db:
        for o in requests.values():
            at = int(o.served_at.timestamp() * 1000)
            orders.insert(db, {
                "id": o.order_id, "idempotency_key": o.order_id, "request_digest": "", "type": o.type, "status": "sent",
                "case_number": o.case_number, "court": o.court, "institution_id": o.institution_id,
                "institution_kind": o.institution_kind, "asset_kind": o.asset.kind, "asset_id": o.asset.id,
                "debtor_id_number": o.debtor_id_number, "amount_fen": o.amount_fen, "term_days": o.term_days,
                "ruling_number": o.ruling_number, "notice_number": o.notice_number,
                "officer_credentials": orjson.dumps(o.officer_credentials).decode(), "operator": o.operator or "",
                "original_order_id": o.original_freeze_id, "enforcement_account": o.enforcement_account,
                "created_at": at, "deadline": int(o.deadline.timestamp() * 1000), "updated_at": at,
            }, actor=o.operator or "rebuild")


# -- comparison -----------------------------------------------------------------------------------

_PROJECTIONS = {
    "inquiries": ("SELECT id, batch_id, case_number, court, amount_due_fen, costs_fen, notice_number, legs_total, legs_done,"
                  " completed_at IS NOT NULL AS completed FROM inquiries"),
    "legs": "SELECT id, inquiry_id, debtor_seq, institution_id, status, assets FROM legs WHERE status != 'pending'",
    "orders": ("SELECT id, type, status, case_number, court, institution_id, asset_kind, asset_id, debtor_id_number,"
               " amount_fen, term_days, original_order_id, held_fen, deducted_fen, queue_position, end_date"
               " FROM orders WHERE status != 'requested'"),
}


def compare(live_path: Path, rebuilt_path: Path, examples: int = 5) -> dict[str, Any]:
    """Per table: rows only live, only rebuilt, and different (with a few examples of each)."""
    live = sqlite3.connect(f"file:{live_path}?mode=ro", uri=True)
    rebuilt = sqlite3.connect(f"file:{rebuilt_path}?mode=ro", uri=True)
    report: dict[str, Any] = {}
    try:
        for table, query in _PROJECTIONS.items():
            a = {row[0]: row[1:] for row in live.execute(query)}
            b = {row[0]: row[1:] for row in rebuilt.execute(query)}
            if table == "inquiries":  # inquiries whose legs were never published are not derivable
                a = {k: v for k, v in a.items() if k in b or _published(live, k)}
            different = sorted(k for k in a.keys() & b.keys() if a[k] != b[k])
            report[table] = {
                "live": len(a), "rebuilt": len(b),
                "only_live": sorted(a.keys() - b.keys())[:examples], "only_live_count": len(a.keys() - b.keys()),
                "only_rebuilt": sorted(b.keys() - a.keys())[:examples], "only_rebuilt_count": len(b.keys() - a.keys()),
                "different": [{"id": k, "live": a[k], "rebuilt": b[k]} for k in different[:examples]],
                "different_count": len(different),
            }
    finally:
        live.close()
        rebuilt.close()
    report["equal"] = all(t["only_live_count"] == t["only_rebuilt_count"] == t["different_count"] == 0 for t in report.values())
    return report


def _published(db: sqlite3.Connection, inquiry_id: str) -> bool:
    return db.execute("SELECT 1 FROM legs WHERE inquiry_id = ? AND status != 'pending' LIMIT 1", (inquiry_id,)).fetchone() is not None
