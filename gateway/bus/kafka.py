"""Kafka client factories with the project's delivery settings in one place."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from gateway.bus import pacing
from gateway.config import Settings

pacing.install()


def make_producer(settings: Settings, client_id: str) -> AIOKafkaProducer:
    # acks=all: a result or leg counts as published only once every in-sync replica has it.
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=settings.kafka_idempotence,
        linger_ms=5,
        max_batch_size=256 * 1024,
        request_timeout_ms=30000,
    )


def make_consumer(settings: Settings, *topics: str, group_id: str, client_id: str) -> AIOKafkaConsumer:
    """A group consumer with static membership (KIP-345): a process restarted after a crash takes
    its old place at once instead of waiting for the dead member to expire (noida-db was seen to
    hold a dynamic rejoin for minutes). Offsets are committed by hand, only after the work a
    message caused is durable elsewhere."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group_id,
        group_instance_id=f"{client_id}-{settings.instance}",
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=1000,
        session_timeout_ms=15000,
        heartbeat_interval_ms=1500,
        max_poll_interval_ms=300000,
    )


async def start_with_retry(client: AIOKafkaProducer | AIOKafkaConsumer, attempts: int = 30) -> None:
    """The broker may still be starting (or restarting) when a component comes up."""
    for attempt in range(attempts):
        try:
            await client.start()
            return
        except KafkaConnectionError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(min(0.2 * 2**attempt, 2.0))
