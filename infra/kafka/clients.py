"""Kafka client factories with the project's delivery settings in one place."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError

from infra.kafka import pacing
from infra.kafka.assignor import StaticRoundRobinAssignor
from infra.kafka.protocols import Consumer, Producer
from infra.settings import Settings

pacing.install()


def make_producer(settings: Settings, client_id: str) -> Publisher:
    return Publisher(lambda: _producer(settings, client_id))


def _producer(settings: Settings, client_id: str) -> AIOKafkaProducer:
    # acks=all: a result or leg counts as published only once every in-sync replica has it.
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=settings.kafka_idempotence,
        # No linger: legs already travel in batches, and a single inquiry's legs should not wait.
        linger_ms=0,
        max_batch_size=256 * 1024,
        request_timeout_ms=30000,
    )


def make_consumer(settings: Settings, *, group_id: str, client_id: str) -> AIOKafkaConsumer:
    """A group consumer (its subscriber subscribes it to the topics, with a rebalance listener) with
    static membership (KIP-345): a process restarted after a crash takes its old place at once
    instead of waiting for the dead member to expire (noida-db was seen to hold a dynamic rejoin for
    minutes). Partitions are assigned by instance id (infra/kafka/assignor.py), so such a rejoin
    never reshuffles them. Offsets are committed by hand, only after the work a
    message caused is durable elsewhere."""
    instance_id = f"{client_id}-{settings.instance}"
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group_id,
        group_instance_id=instance_id,
        # Only this strategy: noida-db was seen to break a rebalance when members offer two.
        partition_assignment_strategy=(StaticRoundRobinAssignor(instance_id),),
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=1000,
        # Apache Kafka answers a waiting fetch as soon as data arrives; a broker that only answers
        # when the wait ends (Tansu) then costs at most this much latency per hop.
        fetch_max_wait_ms=50,
        session_timeout_ms=15000,
        heartbeat_interval_ms=1500,
        max_poll_interval_ms=300000,
    )


# Errors after which an idempotent producer can never send again (its id or sequence is no longer
# known to the broker, e.g. after a broker lost recent state): the producer must be replaced.
_FATAL = ("OutOfOrderSequenceNumber", "UnknownProducerId", "InvalidProducerEpoch", "ProducerFenced")


class Publisher:
    """An AIOKafkaProducer that replaces itself after a fatal producer error. Callers retry their
    send as they would after any KafkaError; the consumers' idempotence makes the retry safe."""

    def __init__(self, factory: Callable[[], AIOKafkaProducer]) -> None:
        self._factory = factory
        self._producer = factory()
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(self, *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        producer = self._producer
        return await self._guard(producer, producer.send(*args, **kwargs))

    async def send_and_wait(self, *args: Any, **kwargs: Any) -> Any:
        producer = self._producer
        return await self._guard(producer, producer.send_and_wait(*args, **kwargs))

    async def recover(self, exc: BaseException, broken: AIOKafkaProducer | None = None) -> bool:
        """Replace the producer if ``exc`` made it unusable. Many sends fail together when that
        happens; only the first replaces it, the rest find it already replaced."""
        if not any(name in type(exc).__name__ for name in _FATAL):
            return False
        async with self._lock:
            if broken is not None and broken is not self._producer:
                return True  # another send already replaced it
            old, self._producer = self._producer, self._factory()
            await start_with_retry(self._producer)
        with contextlib.suppress(Exception):  # it is broken; we only want it gone
            await old.stop()
        return True

    async def _guard(self, producer: AIOKafkaProducer, call: Awaitable[Any]) -> Any:
        try:
            return await call
        except KafkaError as exc:
            await self.recover(exc, producer)
            raise


async def start_with_retry(client: AIOKafkaProducer | Consumer | Producer, attempts: int = 30) -> None:
    """The broker may still be starting (or restarting) when a component comes up."""
    for attempt in range(attempts):
        try:
            await client.start()
            return
        except KafkaConnectionError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(min(0.2 * 2**attempt, 2.0))
