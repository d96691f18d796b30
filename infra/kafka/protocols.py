"""What our loops need of a Kafka consumer and producer. The composition injects the real clients
(infra/kafka/clients.py); unit tests inject in-memory doubles (tests/memory_bus.py)."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord

Headers = list[tuple[str, bytes]]


class Consumer(Protocol):
    """The part of ``AIOKafkaConsumer`` a subscriber uses (group membership, manual commits)."""

    def subscribe(self, topics: list[str], listener: ConsumerRebalanceListener) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def getmany(self, *partitions: TopicPartition, timeout_ms: int = 0,
                      max_records: int | None = None) -> dict[TopicPartition, list[ConsumerRecord]]: ...

    async def commit(self, offsets: dict[TopicPartition, int]) -> None: ...

    def assignment(self) -> set[TopicPartition]: ...

    def highwater(self, partition: TopicPartition) -> int | None: ...


class Producer(Protocol):
    """The part of ``clients.Publisher`` our loops use: sends with acks=all, and recovery of a
    producer that a fatal error left unusable."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, topic: str, value: bytes, key: bytes | None = None,
                   headers: Headers | None = None) -> asyncio.Future[Any]:
        """Queues the record; the returned future resolves once the broker acknowledged it."""
        ...

    async def send_and_wait(self, topic: str, value: bytes, key: bytes | None = None,
                            headers: Headers | None = None) -> Any: ...

    async def recover(self, exc: BaseException) -> bool:
        """Replace the producer if ``exc`` made it unusable; True if it did."""
        ...
