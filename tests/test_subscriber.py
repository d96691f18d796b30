"""The shared subscriber loop (infra/kafka/subscriber.py) on the in-memory bus: dead letters with
their reason, commits only up to the first unfinished message, a graceful stop that finishes and
commits what was fetched, and a rebalance that drains the partitions it takes away."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import TopicPartition
from pydantic import BaseModel

from infra.kafka.subscriber import Delivery, Subscriber
from schemas.messages import LegBatchResult, LegResult, UndecodableMessage, encode, utcnow
from schemas.orders import OrderResult
from tests.memory_bus import MemoryBus, MemoryConsumer, MemoryProducer

TOPIC, DLQ, GROUP = "t.inquiry.results", "t.deadletter", "t.group"
TP = TopicPartition(TOPIC, 0)


def result(inquiry_id: str) -> bytes:
    leg = LegResult(leg_id=f"{inquiry_id}.0.bank-01", institution_id="bank-01", status="not_found")
    return encode(LegBatchResult(inquiry_id=inquiry_id, results=[leg], answered_at=utcnow()), inquiry_id=inquiry_id)


def accept_leg_results(payload: BaseModel) -> LegBatchResult:
    if not isinstance(payload, LegBatchResult):
        raise UndecodableMessage(f"expected leg results, got {type(payload).__name__}")
    return payload


class Batches:
    """A batch handler that records what it applied, and can request a stop mid-batch."""

    def __init__(self, on_batch: Callable[[], None] = lambda: None) -> None:
        self.applied: list[str] = []
        self.on_batch = on_batch

    accept = staticmethod(accept_leg_results)

    async def handle_batch(self, batch: list[Delivery[LegBatchResult]]) -> None:
        self.on_batch()
        await asyncio.sleep(0)  # a stop requested now must still let this batch finish
        self.applied += [d.message.inquiry_id for d in batch]


class OneByOne:
    """A concurrent handler: a message finishes once its inquiry's gate opens (open unless held)."""

    def __init__(self, held: set[str] = frozenset(), cap: int = 10) -> None:  # type: ignore[assignment]
        self.gates = {q: asyncio.Event() for q in held}
        self.started: list[str] = []
        self.cap = cap

    accept = staticmethod(accept_leg_results)

    def room(self, in_flight: int) -> int:
        return self.cap - in_flight

    async def handle(self, delivery: Delivery[LegBatchResult]) -> None:
        inquiry_id = delivery.message.inquiry_id
        self.started.append(inquiry_id)
        if inquiry_id in self.gates:
            await self.gates[inquiry_id].wait()
        delivery.finish()


def subscriber(bus: MemoryBus, handler: Batches | OneByOne) -> tuple[Subscriber[LegBatchResult], MemoryConsumer]:
    consumer = MemoryConsumer(bus, GROUP)
    return Subscriber(consumer, MemoryProducer(bus), [TOPIC], group_id=GROUP, handler=handler, deadletter_topic=DLQ), consumer


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 - the condition is the double's state, with no event to wait on
            await asyncio.sleep(0.01)


async def test_an_undecodable_or_unwanted_record_is_dead_lettered_with_its_reason_and_committed() -> None:
    bus = MemoryBus()
    bus.append(TOPIC, b"not an envelope")
    bus.append(TOPIC, encode(OrderResult(order_id="o1", institution_id="bank-01", status="failed", attempts=1,
                                         answered_at=utcnow()), order_id="o1"))
    bus.append(TOPIC, result("q1"))
    handler, stop = Batches(), asyncio.Event()
    sub, _ = subscriber(bus, handler)
    running = asyncio.create_task(sub.run(stop))
    await until(lambda: bus.committed[GROUP] == {TP: 3})
    stop.set()
    await running

    assert handler.applied == ["q1"]
    letters = bus.values(DLQ)
    assert [r.value for r in letters] == [bus.logs[TP][0].value, bus.logs[TP][1].value]  # unchanged
    headers = [dict(r.headers) for r in letters]
    assert [h["dlq.source.offset"] for h in headers] == [b"0", b"1"]
    assert {(h["dlq.source.topic"], h["dlq.consumer"], h["dlq.attempts"]) for h in headers} == {(TOPIC.encode(), GROUP.encode(), b"1")}
    assert headers[1]["dlq.reason"] == b"expected leg results, got OrderResult"
    assert headers[0]["dlq.reason"]  # the decoder's own words


async def test_a_dead_letter_is_retried_through_broker_errors() -> None:
    bus = MemoryBus()
    bus.append(TOPIC, b"not an envelope")
    stop = asyncio.Event()
    sub, _ = subscriber(bus, Batches())
    sub.producer.failing = True  # type: ignore[attr-defined]
    running = asyncio.create_task(sub.run(stop))
    await until(lambda: sub.tracker.in_flight() == 1)
    assert bus.values(DLQ) == [] and bus.committed[GROUP] == {}
    sub.producer.failing = False  # type: ignore[attr-defined]
    await until(lambda: bus.committed[GROUP] == {TP: 1})
    stop.set()
    await running
    assert len(bus.values(DLQ)) == 1


async def test_commits_go_only_up_to_the_first_unfinished_message() -> None:
    bus = MemoryBus()
    for q in ("q0", "q1", "q2"):
        bus.append(TOPIC, result(q))
    handler, stop = OneByOne(held={"q1"}), asyncio.Event()
    sub, _ = subscriber(bus, handler)
    running = asyncio.create_task(sub.run(stop))
    await until(lambda: bus.committed[GROUP] == {TP: 1} and sub.tracker.in_flight() == 1)
    assert sorted(handler.started) == ["q0", "q1", "q2"]  # q2 finished, but q1 holds back the commit

    handler.gates["q1"].set()
    await until(lambda: bus.committed[GROUP] == {TP: 3})
    stop.set()
    await running


async def test_the_messages_in_flight_are_capped_by_the_handlers_room() -> None:
    bus = MemoryBus()
    for q in ("q0", "q1", "q2"):
        bus.append(TOPIC, result(q))
    handler, stop = OneByOne(held={"q0", "q1"}, cap=2), asyncio.Event()
    sub, _ = subscriber(bus, handler)
    running = asyncio.create_task(sub.run(stop))
    await until(lambda: len(handler.started) == 2)
    for _ in range(5):  # a few turns of the loop: nothing more is fetched while the handler is full
        await sub._fetch_some()
    assert handler.started == ["q0", "q1"]
    handler.gates["q0"].set()
    await until(lambda: handler.started == ["q0", "q1", "q2"])
    handler.gates["q1"].set()
    await until(lambda: bus.committed[GROUP] == {TP: 3})
    stop.set()
    await running


async def test_a_batch_fetched_before_the_stop_is_finished_and_committed() -> None:
    bus = MemoryBus()
    for q in ("q0", "q1", "q2"):
        bus.append(TOPIC, result(q))
    stop = asyncio.Event()
    handler = Batches(on_batch=stop.set)  # the stop comes while the batch is being applied
    sub, consumer = subscriber(bus, handler)
    await sub.run(stop)
    assert handler.applied == ["q0", "q1", "q2"]
    assert bus.committed[GROUP] == {TP: 3} and consumer.stopped


async def test_on_stop_messages_finish_within_the_grace_and_the_rest_are_handed_back_uncommitted() -> None:
    bus = MemoryBus()
    for q in ("q0", "q1", "q2"):
        bus.append(TOPIC, result(q))
    handler, stop = OneByOne(held={"q0", "q1"}), asyncio.Event()
    sub, consumer = subscriber(bus, handler)
    running = asyncio.create_task(sub.run(stop, grace_s=0.3))
    await until(lambda: len(handler.started) == 3)
    stop.set()
    handler.gates["q0"].set()  # finishes during the grace; q1 never does and is cancelled after it
    await running
    assert bus.committed[GROUP] == {TP: 1} and consumer.stopped  # q1 (and q2 behind it) are redelivered


async def test_revoked_partitions_are_drained_and_committed_before_they_go() -> None:
    bus = MemoryBus(partitions=2)
    bus.append(TOPIC, result("q0"), partition=0)
    bus.append(TOPIC, result("q1"), partition=1)
    handler, stop = OneByOne(held={"q0"}), asyncio.Event()
    sub, consumer = subscriber(bus, handler)
    running = asyncio.create_task(sub.run(stop))
    await until(lambda: len(handler.started) == 2)
    revoking = asyncio.create_task(consumer.revoke({TP}))
    await until(lambda: bus.committed[GROUP].get(TopicPartition(TOPIC, 1)) == 1)
    assert not revoking.done() and bus.committed[GROUP].get(TP, 0) == 0  # waits for q0 to finish
    handler.gates["q0"].set()
    await revoking
    assert bus.committed[GROUP][TP] == 1 and TP not in sub.tracker.committed
    stop.set()
    await running
