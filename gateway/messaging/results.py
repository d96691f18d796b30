"""Consumes leg results and order results into the store, one transaction per fetched batch.

Offsets are committed after the transaction, every ``COMMIT_INTERVAL_S`` rather than per batch (a
commit is a broker round trip, and results arrive in many small batches): a crash replays at most
that much, and the store's first-result-wins update makes the replay harmless."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Callable, Iterable

import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from infra import metrics
from infra.kafka.deadletter import send_to_deadletter
from infra.kafka.clients import Publisher, start_with_retry
from infra.kafka.topics import deadletter_topic
from infra.clock import now_ms
from gateway.store.interfaces import LegQueue, OrderRepository
from schemas.messages import LegBatchResult, UndecodableMessage, decode
from schemas.orders import OrderResult

log = structlog.get_logger("results")

COMMIT_INTERVAL_S = 0.5


class ResultConsumer:
    def __init__(self, store: LegQueue, orders: OrderRepository, consumer: AIOKafkaConsumer, producer: Publisher,
                 topic_prefix: str, group_id: str, on_touched: Callable[[Iterable[str]], None] = lambda ids: None) -> None:
        self.store = store
        self.orders = orders
        self.consumer = consumer
        self.producer = producer
        self.deadletters = deadletter_topic(topic_prefix)
        self.group_id = group_id
        self.on_touched = on_touched  # wakes API requests waiting for these inquiries
        self.applied = 0
        self.committed: dict = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: a batch that was fetched is always applied and committed before leaving."""
        # Joining the group is done here, not before the API starts: intake must not wait on it.
        await start_with_retry(self.consumer)
        uncommitted: dict = {}
        last_commit = time.monotonic()
        try:
            while not stop.is_set():
                uncommitted.update(await self._consume_some())
                if uncommitted and time.monotonic() - last_commit >= COMMIT_INTERVAL_S:
                    await self._commit(uncommitted)
                    uncommitted, last_commit = {}, time.monotonic()
        finally:
            if uncommitted:  # bounded: the broker may be gone, and a replay is harmless
                await asyncio.wait_for(self._commit(uncommitted), timeout=10)

    async def _consume_some(self) -> dict:
        """Fetches, applies and returns the offsets to commit (none if nothing came)."""
        batches = await self.consumer.getmany(timeout_ms=200, max_records=2000)
        if not batches:
            return {}
        results: list[LegBatchResult] = []
        order_results: list[OrderResult] = []
        for records in batches.values():
            for record in records:
                try:
                    _, payload = decode(record.value)
                    if isinstance(payload, LegBatchResult):
                        results.append(payload)
                        for status, n in Counter(leg.status for leg in payload.results).items():
                            metrics.RESULTS.labels("leg", status).inc(n)
                    elif isinstance(payload, OrderResult):
                        order_results.append(payload)
                        metrics.RESULTS.labels("order", payload.status).inc()
                    else:
                        raise UndecodableMessage(f"expected leg or order results, got {type(payload).__name__}")
                except UndecodableMessage as exc:
                    log.warning("dead-lettering undecodable result", reason=str(exc), offset=record.offset)
                    metrics.DEAD_LETTERS.labels(self.group_id, record.topic).inc()
                    await send_to_deadletter(self.producer, self.deadletters, record, str(exc), self.group_id)
        if results:
            self.applied += self.store.apply_results(results, now_ms())
            self.on_touched({r.inquiry_id for r in results})
        if order_results:
            self.applied += self.orders.apply_results(order_results, now_ms())
        return {tp: records[-1].offset + 1 for tp, records in batches.items()}

    async def _commit(self, offsets: dict) -> None:
        try:
            await self.consumer.commit(offsets)
            self.committed.update(offsets)
        except KafkaError as exc:  # the results will be replayed; applying them again changes nothing
            log.warning("commit failed", error=repr(exc))
        metrics.record_lag(self.group_id, self.consumer, self.committed)
