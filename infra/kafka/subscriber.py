"""The one Kafka subscriber loop of every consumer of ours: fetch → decode → dead-letter what cannot
be handled → hand the rest to a handler → commit what is finished, on an interval → graceful stop.

A message counts as finished only once its outcome is durable elsewhere (its results acknowledged
by the broker, or applied to the store); offsets are committed per partition only up to the first
unfinished message (``OffsetTracker``), so a crash redelivers unfinished work (at-least-once) and
the receivers' idempotence makes the repeat harmless.

Two shapes of handler share the loop:

* ``BatchHandler`` takes a fetched batch at once (the gateway applies results in one store
  transaction); the batch is finished when the handler returns.
* ``ConcurrentHandler`` takes one message at a time, many at once, capped by its ``room``; a
  message is finished when the handler settles its outcome (``Delivery.settle``) or calls
  ``Delivery.finish``.

Stopping (the arq model): fetch no more, let what was fetched finish for a grace period, cancel
what still waits (it is redelivered), let outcomes already on their way to the broker land, commit,
leave the group. Partitions taken away by a rebalance are drained and committed the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import structlog
from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from pydantic import BaseModel

from infra import metrics
from infra.kafka.clients import start_with_retry
from infra.kafka.deadletter import send_to_deadletter
from infra.kafka.offsets import OffsetTracker
from infra.kafka.protocols import Consumer, Producer
from schemas.messages import UndecodableMessage, decode

log = structlog.get_logger("subscriber")

M = TypeVar("M")

# How often finished offsets are committed. A commit is a broker round trip, so not per message;
# a crash replays at most this much, which idempotent receivers shrug off.
COMMIT_INTERVAL_S = 0.2
FETCH_TIMEOUT_MS = 100
# With nothing fetched left to finish or commit, a fetch waits longer: it still returns as soon as
# records arrive, so only an idle consumer's loop turns less often (measured, alternating runs: an
# idle stack 11.1-12.2% of a core at 100 ms, 7.0-8.1% at 1,000 ms).
IDLE_FETCH_TIMEOUT_MS = 1000
# Bounds on each step of the final commit and leaving: with the broker gone they could wait for ever.
CLOSE_STEP_TIMEOUT_S = 10.0
REBALANCE_DRAIN_S = 20.0


@dataclass(eq=False)
class Delivery(Generic[M]):
    """One fetched record and its decoded message, on its way to being finished."""

    record: ConsumerRecord
    message: M
    _subscriber: Subscriber[M] = field(repr=False)

    @property
    def partition(self) -> TopicPartition:
        return TopicPartition(self.record.topic, self.record.partition)

    def finish(self) -> None:
        """The message's outcome is durable: its offset may be committed."""
        self._subscriber._finished(self)  # noqa: SLF001 - a delivery is its subscriber's own part

    async def settle(self, publish: Callable[[], Awaitable[Any]]) -> bool:
        """Publish the message's outcome with ``publish`` (retried through broker errors, the
        producer recovered), then finish the message. From here on the handling is not cancelled
        at shutdown: an outcome that reached the broker must have its offset finished, or a restart
        would handle the message again. Once the subscriber stops waiting, a failing publish gives
        up instead (False): the offset stays uncommitted and the message is redelivered."""
        return await self._subscriber._settle(self, publish)  # noqa: SLF001 - as above


class Handler(Protocol[M]):
    def accept(self, payload: BaseModel) -> M:
        """The decoded payload as this consumer's message. Raise ``UndecodableMessage`` for one it
        cannot take; the reason goes with the dead letter."""
        ...


@runtime_checkable
class BatchHandler(Handler[M], Protocol):
    async def handle_batch(self, batch: list[Delivery[M]]) -> None:
        """Handle the messages of one fetch together; they are finished when this returns."""
        ...


@runtime_checkable
class ConcurrentHandler(Handler[M], Protocol):
    def room(self, in_flight: int) -> int:
        """How many more messages to take now, with ``in_flight`` still unfinished (0 holds
        fetching until one finishes)."""
        ...

    async def handle(self, delivery: Delivery[M]) -> None:
        """Handle one message alongside others and finish it (``settle`` or ``finish``)."""
        ...


class Subscriber(Generic[M]):
    def __init__(self, consumer: Consumer, producer: Producer, topics: list[str], *, group_id: str,
                 handler: BatchHandler[M] | ConcurrentHandler[M], deadletter_topic: str, max_records: int = 1000) -> None:
        self.consumer = consumer
        self.producer = producer
        self.topics = topics
        self.group_id = group_id
        self.handler = handler
        self.deadletter_topic = deadletter_topic
        self.max_records = max_records
        self.tracker = OffsetTracker()
        self._batched = isinstance(handler, BatchHandler)
        self._tasks: set[asyncio.Task[None]] = set()  # handling and dead-lettering under way
        self._settling: set[asyncio.Task[Any]] = set()  # of those, the ones publishing an outcome
        self._giving_up = False
        self._progress = asyncio.Event()  # set whenever a message finishes or a task ends

    async def run(self, stop: asyncio.Event, grace_s: float = 20.0) -> None:
        """Until ``stop``; then stop gracefully (see the module docstring). The consumer is started
        here and stopped at the end; the producer belongs to the caller."""
        self.consumer.subscribe(self.topics, listener=_DrainOnRevoke(self))
        await start_with_retry(self.consumer)
        log.info("subscribed", group=self.group_id, topics=self.topics)
        try:
            last_commit = time.monotonic()
            while not stop.is_set():
                await self._fetch_some()
                if time.monotonic() - last_commit >= COMMIT_INTERVAL_S:
                    await self.commit()
                    last_commit = time.monotonic()
        finally:
            await self._stop(grace_s)

    async def _fetch_some(self) -> None:
        room = self.max_records if self._batched else min(self.max_records, self.handler.room(len(self._tasks)))  # type: ignore[union-attr]
        if room <= 0:  # back-pressure: fetch no more until something finishes
            await self._wait_for_progress(0.1)
            return
        busy = self.tracker.in_flight() or self.tracker.committable()  # a commit is due soon
        fetched = await self.consumer.getmany(timeout_ms=FETCH_TIMEOUT_MS if busy else IDLE_FETCH_TIMEOUT_MS, max_records=room)
        accepted: list[Delivery[M]] = []
        for tp, records in fetched.items():
            for record in records:
                self.tracker.started(tp, record.offset)
                try:
                    accepted.append(Delivery(record, self.handler.accept(decode(record.value)[1]), self))
                except UndecodableMessage as exc:
                    self._spawn(self._dead_letter(record, str(exc)))
        if not accepted:
            return
        if self._batched:
            await self.handler.handle_batch(accepted)  # type: ignore[union-attr]
            for delivery in accepted:
                delivery.finish()
        else:
            for delivery in accepted:
                self._spawn(self.handler.handle(delivery))  # type: ignore[union-attr]

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._progress.set()
        if not task.cancelled() and task.exception() is not None:
            # Its offset stays unfinished, holding back its partition's commits until a restart.
            log.error("handling failed", group=self.group_id, exc_info=task.exception())

    async def _dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        log.warning("dead-lettering", reason=reason, topic=record.topic, partition=record.partition, offset=record.offset)
        metrics.DEAD_LETTERS.labels(self.group_id, record.topic).inc()
        # A redriven message failing again counts on from its earlier attempts (infra.kafka.deadletter).
        await Delivery(record, None, self).settle(lambda: send_to_deadletter(
            self.producer, self.deadletter_topic, record, reason, self.group_id))

    def _finished(self, delivery: Delivery[Any]) -> None:
        self.tracker.finished(delivery.partition, delivery.record.offset)
        self._progress.set()

    async def _settle(self, delivery: Delivery[Any], publish: Callable[[], Awaitable[Any]]) -> bool:
        task = asyncio.current_task()
        assert task is not None
        self._settling.add(task)
        try:
            if await self._publish(publish):
                delivery.finish()
                return True
            return False
        finally:
            self._settling.discard(task)

    async def _publish(self, publish: Callable[[], Awaitable[Any]]) -> bool:
        """Keep trying through broker hiccups; once the subscriber gives up, leave it unpublished."""
        delay = 0.1
        while True:
            try:
                await publish()
                return True
            except KafkaError as exc:
                if self._giving_up:
                    return False
                log.warning("publish failed, retrying", error=repr(exc))
                await self.producer.recover(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _wait_for_progress(self, timeout_s: float) -> None:
        self._progress.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._progress.wait(), timeout=timeout_s)

    async def commit(self) -> None:
        """Commit what is finished on the partitions still assigned to us."""
        offsets = self.tracker.committable()
        if not offsets:
            return
        assigned = self.consumer.assignment()
        offsets = {tp: o for tp, o in offsets.items() if tp in assigned}
        try:
            await self.consumer.commit(offsets)
            self.tracker.mark_committed(offsets)
        except KafkaError as exc:  # e.g. a rebalance in progress: the next commit catches up
            log.warning("commit failed", group=self.group_id, error=repr(exc))
        metrics.record_lag(self.group_id, self.consumer, self.tracker.committed)

    async def drain(self, partitions: set[TopicPartition], timeout_s: float = REBALANCE_DRAIN_S) -> None:
        """Before partitions go to another member: finish their messages and commit them."""
        deadline = time.monotonic() + timeout_s
        while self.tracker.in_flight(partitions) and (left := deadline - time.monotonic()) > 0:
            await self._wait_for_progress(left)
        await self.commit()
        self.tracker.forget(partitions)

    async def _stop(self, grace_s: float) -> None:
        """Fetching has ended: let what was fetched finish for ``grace_s``, hand back the rest
        uncommitted (it is redelivered), let outcomes being published land, commit, leave."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace_s)
        waiting = self._tasks - self._settling
        for task in waiting:
            task.cancel()  # still waiting on its work: handed back
        await asyncio.gather(*waiting, return_exceptions=True)
        self._giving_up = True  # an outcome still publishing gives up retrying now; its offset stays uncommitted
        if self._settling:
            await asyncio.wait(self._settling, timeout=CLOSE_STEP_TIMEOUT_S)
        for step in (self.commit(), self.consumer.stop()):
            try:
                await asyncio.wait_for(step, timeout=CLOSE_STEP_TIMEOUT_S)
            except (TimeoutError, KafkaError) as exc:
                log.warning("shutdown step gave up", group=self.group_id, error=repr(exc))
        log.info("unsubscribed", group=self.group_id)


class _DrainOnRevoke(ConsumerRebalanceListener):
    def __init__(self, subscriber: Subscriber[Any]) -> None:
        self.subscriber = subscriber

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.subscriber.drain(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        # Which member holds which partitions: the first thing to look at when a partition's work waits.
        log.info("partitions assigned", group=self.subscriber.group_id,
                 partitions=",".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(assigned)))
