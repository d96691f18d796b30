"""Consumes leg results and order results into the store (a ``BatchHandler`` of the shared
subscriber loop, infra/kafka/subscriber.py), on the store thread (gateway/store/thread.py), in
transactions of at most ``LEGS_PER_TRANSACTION`` legs so the loop's own writes wait little.

Offsets are committed after the transaction, on the subscriber's interval rather than per batch
(a commit is a broker round trip, and results arrive in many small batches): a crash replays at
most that much, and the store's first-result-wins update makes the replay harmless."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from pydantic import BaseModel

from gateway.store.thread import StoreThread
from infra import metrics
from infra.clock import now_ms
from infra.kafka.protocols import Consumer, Producer
from infra.kafka.subscriber import Delivery, Subscriber
from infra.kafka.topics import deadletter_topic, order_results_topic, results_topic
from schemas.events import ControlStatusReport
from schemas.messages import LegBatchResult, UndecodableMessage
from schemas.orders import DEFERRED, OrderResult

Result = LegBatchResult | OrderResult | ControlStatusReport
# A transaction holds the file's write lock, which a request on the event loop may be waiting for;
# 1,000 instead of 4,000 kept /healthz no faster and the gateway's peak RSS up by half (20,000-row batch).
LEGS_PER_TRANSACTION = 4000


def in_slices(results: list[LegBatchResult], legs: int) -> Iterator[list[LegBatchResult]]:
    """Whole messages, about ``legs`` legs to a slice."""
    chunk: list[LegBatchResult] = []
    size = 0
    for result in results:
        chunk.append(result)
        size += len(result.results)
        if size >= legs:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


class ResultConsumer:
    def __init__(self, thread: StoreThread, consumer: Consumer, producer: Producer,
                 topic_prefix: str, group_id: str, on_touched: Callable[[Iterable[str]], None] = lambda ids: None,
                 on_reports: Callable[[list[ControlStatusReport]], None] = lambda reports: None) -> None:
        self.thread = thread
        self.on_reports = on_reports  # reconciliation's answers (gateway/events/reconcile.py)
        self.on_touched = on_touched  # wakes API requests waiting for these inquiries
        self.applied = 0
        self.subscriber: Subscriber[Result] = Subscriber(
            consumer, producer, [results_topic(topic_prefix), order_results_topic(topic_prefix)], group_id=group_id,
            handler=self, deadletter_topic=deadletter_topic(topic_prefix), max_records=2000)

    async def run(self, stop: asyncio.Event, grace_s: float = 5.0) -> None:
        """Until ``stop``: a batch that was fetched is always applied and committed before leaving.
        Joining the group happens here, not before the API starts: intake must not wait on it."""
        await self.subscriber.run(stop, grace_s)

    def accept(self, payload: BaseModel) -> Result:
        if isinstance(payload, LegBatchResult):
            for status, n in Counter(leg.status for leg in payload.results).items():
                metrics.RESULTS.labels("leg", status).inc(n)
        elif isinstance(payload, OrderResult):
            metrics.RESULTS.labels("order", payload.status).inc()
        elif isinstance(payload, ControlStatusReport):
            metrics.RESULTS.labels("control_status", payload.status).inc()
        else:
            metrics.IGNORED.labels("results", "wrong_type").inc()
            raise UndecodableMessage(f"expected leg or order results, got {type(payload).__name__}")
        return payload

    async def handle_batch(self, batch: list[Delivery[Result]]) -> None:
        results = [d.message for d in batch if isinstance(d.message, LegBatchResult)]
        order_results = [d.message for d in batch if isinstance(d.message, OrderResult)]
        legs, orders = self.thread.store.legs, self.thread.store.orders
        for chunk in in_slices(results, LEGS_PER_TRANSACTION):
            ended = await self.thread.run(legs.apply_results, chunk, now_ms())
            self.applied += ended
            metrics.DUPLICATES.labels("leg_result").inc(sum(len(r.results) for r in chunk) - ended)
            self.on_touched({r.inquiry_id for r in chunk})
        if order_results:
            moved = await self.thread.run(orders.apply_results, order_results, now_ms())
            self.applied += moved
            # A deferral (the institution takes the order later) is a note, never a duplicate answer.
            answers = sum(1 for r in order_results if r.status != DEFERRED)
            metrics.DUPLICATES.labels("order_result").inc(max(answers - moved, 0))
        reports = [d.message for d in batch if isinstance(d.message, ControlStatusReport)]
        if reports:
            self.on_reports(reports)
