"""An in-memory Kafka for unit tests of the loops: a consumer and a producer that fit the
``infra.kafka.protocols`` seams, over partitioned topics held in lists. One group member holds
every partition of its topics; commits are kept per group. It lives with the tests, not in
``infra``, because nothing in production may run on it: the end-to-end tests run on a real broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import zlib
from collections import defaultdict
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaConnectionError
from aiokafka.structs import ConsumerRecord, RecordMetadata

Headers = list[tuple[str, bytes]]


class MemoryBus:
    def __init__(self, partitions: int = 1) -> None:
        self.partitions = partitions
        self.logs: dict[TopicPartition, list[ConsumerRecord]] = defaultdict(list)
        self.committed: dict[str, dict[TopicPartition, int]] = defaultdict(dict)  # by group
        self._appended = asyncio.Event()

    def append(self, topic: str, value: bytes | None, key: bytes | None = None, headers: Headers | None = None,
               partition: int | None = None) -> ConsumerRecord:
        if partition is None:
            partition = zlib.crc32(key) % self.partitions if key is not None else 0
        tp = TopicPartition(topic, partition)
        log = self.logs[tp]
        record = ConsumerRecord(topic, partition, len(log), int(time.time() * 1000), 0, key, value, None,
                                len(key or b""), len(value or b""), tuple(headers or ()))
        log.append(record)
        self._appended.set()
        return record

    def values(self, topic: str) -> list[ConsumerRecord]:
        return [r for tp, log in sorted(self.logs.items()) if tp.topic == topic for r in log]

    async def wait_for_append(self, timeout_s: float) -> None:
        self._appended.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._appended.wait(), timeout_s)


class MemoryConsumer:
    def __init__(self, bus: MemoryBus, group_id: str) -> None:
        self.bus = bus
        self.group_id = group_id
        self.topics: list[str] = []
        self.listener: ConsumerRebalanceListener | None = None
        self.positions: dict[TopicPartition, int] = {}
        self.started = self.stopped = False

    def subscribe(self, topics: list[str], listener: ConsumerRebalanceListener) -> None:
        self.topics, self.listener = list(topics), listener

    async def start(self) -> None:
        self.started = True
        committed = self.bus.committed[self.group_id]
        self.positions = {tp: committed.get(tp, 0) for tp in self._partitions()}

    async def stop(self) -> None:
        self.stopped = True

    async def getmany(self, *partitions: TopicPartition, timeout_ms: int = 0,
                      max_records: int | None = None) -> dict[TopicPartition, list[ConsumerRecord]]:
        out = self._take(max_records)
        if not out and timeout_ms:
            await self.bus.wait_for_append(timeout_ms / 1000)  # long-polls, as Apache Kafka does
            out = self._take(max_records)
        return out

    def _take(self, max_records: int | None) -> dict[TopicPartition, list[ConsumerRecord]]:
        left = max_records if max_records is not None else 1000
        out = {}
        for tp in sorted(self.positions):
            records = self.bus.logs[tp][self.positions[tp]:][:left]
            if records:
                out[tp] = records
                self.positions[tp] += len(records)
                left -= len(records)
        return out

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.bus.committed[self.group_id].update(offsets)

    def assignment(self) -> set[TopicPartition]:
        return set(self.positions)

    def highwater(self, partition: TopicPartition) -> int | None:
        return len(self.bus.logs[partition])

    async def revoke(self, partitions: set[TopicPartition]) -> None:
        """A rebalance takes these partitions away, as the group coordinator would."""
        assert self.listener is not None
        await self.listener.on_partitions_revoked(partitions)
        for tp in partitions:
            self.positions.pop(tp, None)

    def _partitions(self) -> set[TopicPartition]:
        return {TopicPartition(t, p) for t in self.topics for p in range(self.bus.partitions)}


class MemoryProducer:
    """Acknowledges at once, or fails sends while ``failing`` is set (the broker unreachable)."""

    def __init__(self, bus: MemoryBus) -> None:
        self.bus = bus
        self.failing = False

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, topic: str, value: bytes, key: bytes | None = None,
                   headers: Headers | None = None) -> asyncio.Future[Any]:
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        ack.set_result(await self.send_and_wait(topic, value, key=key, headers=headers))
        return ack

    async def send_and_wait(self, topic: str, value: bytes, key: bytes | None = None,
                            headers: Headers | None = None) -> RecordMetadata:
        if self.failing:
            raise KafkaConnectionError("the in-memory broker is unreachable")
        record = self.bus.append(topic, value, key, headers)
        return RecordMetadata(topic, record.partition, TopicPartition(topic, record.partition), record.offset,
                              record.timestamp, 0, None)

    async def recover(self, exc: BaseException) -> bool:
        return False
