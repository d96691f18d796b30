"""Reading topics for the ops tools: a consumer outside any group (it reads by explicit
position and commits nothing, so looking never disturbs a group), the partitions of a topic, and
a scan of per-partition offset ranges. Shared by replay, dlq and rebuild."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError
from aiokafka.structs import ConsumerRecord

from infra.settings import Settings


class OpsError(RuntimeError):
    """An operator's mistake or an unreachable cluster; the message says what to do."""


@asynccontextmanager
async def reader(settings: Settings, client_id: str) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer outside any group: it reads by explicit position and commits nothing."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, client_id=client_id, group_id=None,
        enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=500,
    )
    try:
        await consumer.start()
    except KafkaConnectionError as exc:
        await consumer.stop()
        raise OpsError(f"cannot reach Kafka at {settings.kafka_bootstrap}: {exc} (set KAFKA_BOOTSTRAP)") from None
    try:
        yield consumer
    finally:
        await consumer.stop()


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[int]:
    topics = await consumer.topics()
    if topic not in topics:
        near = sorted(t for t in topics if not t.startswith("__"))
        raise OpsError(f"unknown topic {topic!r}; topics on this cluster: {', '.join(near) or 'none'}")
    parts = consumer.partitions_for_topic(topic)
    if not parts:  # created after this client's last metadata refresh
        await consumer._client.force_metadata_update()  # noqa: SLF001 - aiokafka has no public refresh
        parts = consumer.partitions_for_topic(topic)
    if not parts:
        raise OpsError(f"topic {topic!r} has no partitions yet; try again")
    return sorted(parts)


async def scan(
    consumer: AIOKafkaConsumer,
    ranges: dict[TopicPartition, tuple[int, int]],
    on_record: Callable[[], None] | None = None,
    idle_timeout_s: float = 15.0,
) -> AsyncIterator[ConsumerRecord]:
    """Yields each partition's records in ``[start, end)``, in offset order per partition."""
    consumer.assign(list(ranges))
    todo = {tp: r for tp, r in ranges.items() if r[1] > r[0]}
    for tp, (start, _) in todo.items():
        consumer.seek(tp, start)
    done = [tp for tp in ranges if tp not in todo]
    if done:
        consumer.pause(*done)
    last_data = time.monotonic()
    while todo:
        batches = await consumer.getmany(*todo, timeout_ms=500, max_records=500)
        for tp, records in batches.items():
            end = todo[tp][1] if tp in todo else -1
            for record in records:
                if record.offset >= end:
                    break
                if on_record:
                    on_record()
                yield record
        if batches:
            last_data = time.monotonic()
        for tp in list(todo):
            if await consumer.position(tp) >= todo[tp][1]:
                del todo[tp]
                consumer.pause(tp)  # stop prefetching what we will not read
        if todo and time.monotonic() - last_data > idle_timeout_s:
            where = ", ".join(f"{tp.topic}/{tp.partition} at {await consumer.position(tp)} of {end}" for tp, (_, end) in todo.items())
            raise OpsError(f"no records arrived for {idle_timeout_s:g}s before the end of the range: {where}")
