"""The outbox relay: publishes what the store holds as ``requested``/``pending`` to Kafka, then
marks it sent.

It reads from the store rather than from memory, so the same loop that sends new work also
sends, after a restart, whatever was acknowledged but not yet published. Each kind of work
(inquiry legs, control orders) is an ``Outbox`` source.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol, Sequence

import orjson
import structlog
from aiokafka.errors import KafkaError

from gateway.bus.kafka import Publisher
from gateway.bus.topics import legs_topic, orders_topic
from gateway.clock import ms_to_dt, now_ms
from gateway.order_store import OrderStore
from gateway.store import Store
from schemas.debtor import Debtor
from schemas.messages import LegRequest, encode
from schemas.orders import AssetRef, OrderRequest

log = structlog.get_logger("outbox")

PAGE = 2000


@dataclass(frozen=True, slots=True)
class Outgoing:
    id: str
    topic: str
    key: bytes
    value: bytes


class Outbox(Protocol):
    def pending(self, limit: int) -> list[Outgoing]: ...

    def mark_sent(self, ids: Sequence[str], now: int) -> None: ...


class Relay:
    def __init__(self, producer: Publisher, sources: Sequence[Outbox]) -> None:
        self.producer = producer
        self.sources = sources
        self._wake = asyncio.Event()
        self.published = 0

    def wake(self) -> None:
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
        items = source.pending(PAGE)
        if not items:
            return 0
        futures = [await self.producer.send(i.topic, i.value, key=i.key) for i in items]
        await asyncio.gather(*futures)
        source.mark_sent([i.id for i in items], now_ms())
        self.published += len(items)
        return len(items)


class LegOutbox:
    def __init__(self, store: Store, topic_prefix: str) -> None:
        self.store, self.prefix = store, topic_prefix

    def pending(self, limit: int) -> list[Outgoing]:
        out = []
        for row in self.store.pending_legs(limit):
            leg = LegRequest(
                leg_id=row["id"], inquiry_id=row["inquiry_id"], batch_id=row["batch_id"],
                case_number=row["case_number"], court=row["court"], notice_number=row["notice_number"],
                officer_credentials=orjson.loads(row["officer_credentials"]),
                amount_due_fen=row["amount_due_fen"], costs_fen=row["costs_fen"],
                debtor=Debtor(kind=row["debtor_kind"], id_number=row["id_number"], name=row["name"]),
                institution_id=row["institution_id"], institution_kind=row["institution_kind"],
                deadline=ms_to_dt(row["deadline"]),
            )
            # Keyed by debtor: spreads load over partitions while one debtor's legs stay together.
            out.append(Outgoing(leg.leg_id, legs_topic(self.prefix, leg.institution_kind), leg.debtor.id_number.encode(),
                                encode(leg, inquiry_id=leg.inquiry_id, leg_id=leg.leg_id, batch_id=leg.batch_id)))
        return out

    def mark_sent(self, ids: Sequence[str], now: int) -> None:
        self.store.mark_sent(ids, now)


class OrderOutbox:
    def __init__(self, orders: OrderStore, topic_prefix: str) -> None:
        self.orders, self.prefix = orders, topic_prefix

    def pending(self, limit: int) -> list[Outgoing]:
        out = []
        for row in self.orders.sendable(limit):
            order = OrderRequest(
                order_id=row["id"], type=row["type"], court=row["court"], case_number=row["case_number"],
                institution_id=row["institution_id"], institution_kind=row["institution_kind"],
                asset=AssetRef(kind=row["asset_kind"], id=row["asset_id"]), debtor_id_number=row["debtor_id_number"],
                amount_fen=row["amount_fen"], term_days=row["term_days"], ruling_number=row["ruling_number"],
                notice_number=row["notice_number"], officer_credentials=orjson.loads(row["officer_credentials"]),
                # Institutions know a freeze by the id of the order that placed it.
                original_freeze_id=row["original_order_id"], enforcement_account=row["enforcement_account"],
                operator=row["operator"], checker=row["checker"],
                served_at=ms_to_dt(row["created_at"]), deadline=ms_to_dt(row["deadline"]),
            )
            # Keyed by asset: orders on one asset stay in order on one partition.
            out.append(Outgoing(order.order_id, orders_topic(self.prefix, order.institution_kind),
                                f"{order.institution_id}/{order.asset.id}".encode(), encode(order, order_id=order.order_id)))
        return out

    def mark_sent(self, ids: Sequence[str], now: int) -> None:
        self.orders.mark_sent(ids, now)
