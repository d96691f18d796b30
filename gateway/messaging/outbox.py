"""The outbox relay: publishes what the store holds as ``requested``/``pending`` to Kafka, then
marks it sent.

It reads from the store rather than from memory, so the same loop that sends new work also
sends, after a restart, whatever was acknowledged but not yet published. Each kind of work
(inquiry legs, control orders) is an ``Outbox`` source.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog
from aiokafka.errors import KafkaError

from gateway.store.interfaces import LegQueue, OrderRepository
from gateway.store.records import PendingLeg
from gateway.store.thread import StoreThread
from infra.clock import ms_to_dt, now_ms
from infra.kafka.clients import Publisher
from infra.kafka.topics import legs_topic, orders_topic
from schemas.messages import TYPE_OF, LegBatch, encode, encode_payload
from schemas.orders import AssetRef, OrderRequest

log = structlog.get_logger("outbox")

PAGE = 5000  # rows per read of the outbox


@dataclass(frozen=True, slots=True)
class Outgoing:
    ids: Sequence[str]  # the rows this message carries (a batch of legs, or one order)
    topic: str
    key: bytes
    value: bytes


class Outbox(Protocol):
    def pending(self, limit: int) -> list[Outgoing]: ...

    def mark_sent(self, ids: Sequence[str], now: int) -> None: ...


class Relay:
    """Publishes each source's pending rows; reading, encoding and marking run in ``thread``,
    whose store the sources were built on."""

    def __init__(self, producer: Publisher, sources: Sequence[Outbox], thread: StoreThread) -> None:
        self.producer = producer
        self.sources = sources
        self.thread = thread
        self._wake = asyncio.Event()
        self.published = 0

    def wake(self) -> None:
        self._wake.set()

    async def poll(self, every_s: float) -> None:
        """Wakes the relay every ``every_s``: with several gateways on one store, work may be
        waiting that no wake of this process announced."""
        while True:
            await asyncio.sleep(every_s)
            self._wake.set()

    async def run(self) -> None:
        self._wake.set()  # first pass: whatever a previous run left unsent
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                for source in self.sources:
                    while await self._publish_page(source):
                        pass
            except KafkaError as exc:
                log.warning("publishing failed; will retry", error=repr(exc))
                await self.producer.recover(exc)
                await asyncio.sleep(1.0)
                self._wake.set()

    async def _publish_page(self, source: Outbox) -> int:
        items = await self.thread.run(source.pending, PAGE)
        if not items:
            return 0
        futures = [await self.producer.send(i.topic, i.value, key=i.key) for i in items]
        await asyncio.gather(*futures)
        ids = [row_id for i in items for row_id in i.ids]
        await self.thread.run(source.mark_sent, ids, now_ms())
        self.published += len(ids)
        return len(ids)


class LegOutbox:
    """Pending legs as ``LegBatch`` messages: per inquiry and institution kind, up to
    ``legs_per_message`` legs each, grouped by institution so a message's legs make few calls.
    The payload is built straight from the store's records, which were validated at intake; the
    connectors validate it again on decode."""

    def __init__(self, legs: LegQueue, topic_prefix: str, legs_per_message: int) -> None:
        self.legs, self.prefix, self.legs_per_message = legs, topic_prefix, legs_per_message

    def pending(self, limit: int) -> list[Outgoing]:
        groups: dict[tuple[str, str], list[PendingLeg]] = defaultdict(list)
        for leg in self.legs.claim_pending(limit):
            groups[(leg.inquiry.id, leg.institution_kind)].append(leg)
        out = []
        for legs in groups.values():
            legs.sort(key=lambda leg: leg.institution_id)  # stable: debtors stay in order
            for start in range(0, len(legs), self.legs_per_message):
                out.append(self._message(legs[start:start + self.legs_per_message]))
        return out

    def _message(self, legs: list[PendingLeg]) -> Outgoing:
        first, inquiry = legs[0], legs[0].inquiry
        payload = {
            "inquiry_id": inquiry.id, "batch_id": inquiry.batch_id, "case_number": inquiry.case_number,
            "court": inquiry.court, "notice_number": inquiry.notice_number,
            "officer_credentials": inquiry.officer_credentials, "officer_id": inquiry.officer_id,
            "amount_due_fen": inquiry.amount_due_fen, "costs_fen": inquiry.costs_fen,
            "institution_kind": first.institution_kind, "deadline": ms_to_dt(inquiry.deadline).isoformat(),
            "legs": [{"leg_id": leg.id, "institution_id": leg.institution_id,
                      "debtor": {"kind": leg.debtor_kind, "id_number": leg.debtor_id_number, "name": leg.debtor_name}}
                     for leg in legs],
        }
        value = encode_payload(TYPE_OF[LegBatch], payload, inquiry_id=inquiry.id, batch_id=inquiry.batch_id)
        # Keyed by the first leg: spreads a large inquiry's messages over the partitions (and so
        # over a kind's workers); legs need no order among themselves.
        key = first.id.encode()
        return Outgoing([leg.id for leg in legs], legs_topic(self.prefix, first.institution_kind), key, value)

    def mark_sent(self, ids: Sequence[str], now: int) -> None:
        self.legs.mark_sent(ids, now)


class OrderOutbox:
    def __init__(self, orders: OrderRepository, topic_prefix: str) -> None:
        self.orders, self.prefix = orders, topic_prefix

    def pending(self, limit: int) -> list[Outgoing]:
        out = []
        for o in self.orders.claim_sendable(limit):
            order = OrderRequest(
                order_id=o.id, type=o.type, court=o.court, case_number=o.case_number,
                institution_id=o.institution_id, institution_kind=o.institution_kind,
                asset=AssetRef(kind=o.asset_kind, id=o.asset_id), debtor_id_number=o.debtor_id_number,
                amount_fen=o.amount_fen, quantity=o.quantity, term_days=o.term_days, ruling_number=o.ruling_number,
                notice_number=o.notice_number, officer_credentials=list(o.officer_credentials),
                # Institutions know a freeze by the id of the order that placed it.
                original_freeze_id=o.original_order_id, enforcement_account=o.enforcement_account,
                operator=o.operator, checker=o.checker,
                served_at=ms_to_dt(o.created_at), deadline=ms_to_dt(o.deadline),
            )
            # Keyed by asset: orders on one asset stay in order on one partition.
            out.append(Outgoing([order.order_id], orders_topic(self.prefix, order.institution_kind),
                                f"{order.institution_id}/{order.asset.id}".encode(), encode(order, order_id=order.order_id)))
        return out

    def mark_sent(self, ids: Sequence[str], now: int) -> None:
        self.orders.mark_sent(ids, now)
