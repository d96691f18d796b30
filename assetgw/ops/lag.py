"""Consumer lag per group and partition: committed offset, end offset, and the difference.

Read-only: it asks the group coordinator for committed offsets and a group-less consumer for
end offsets, so looking never disturbs a group."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(self.end - max(self.committed, 0), 0)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lag": self.lag}


async def consumer_lag(bootstrap: str, *, groups: list[str] | None = None, prefix: str | None = None) -> list[PartitionLag]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        if groups is None:
            listed = [g[0] if isinstance(g, tuple) else g for g in await admin.list_consumer_groups()]
            groups = sorted(g for g in listed if prefix is None or g.startswith(prefix))
        committed: dict[str, dict[TopicPartition, int]] = {}
        for group in groups:
            offsets = await admin.list_consumer_group_offsets(group)
            committed[group] = {tp: meta.offset for tp, meta in offsets.items()}
        # Partitions with nothing committed yet count from the start of their topic.
        rows = []
        for group, offsets in committed.items():
            topics = {tp.topic for tp in offsets}
            tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or await _partitions(consumer, t))]
            ends = await consumer.end_offsets(tps) if tps else {}
            rows += [PartitionLag(group, tp.topic, tp.partition, offsets.get(tp, -1), ends[tp]) for tp in tps]
        return sorted(rows, key=lambda r: (r.group, r.topic, r.partition))
    finally:
        await consumer.stop()
        await admin.close()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # noqa: SLF001 - no public "refresh metadata"
    return consumer.partitions_for_topic(topic) or set()


async def pending_legs(api: str, token: str | None) -> list[dict[str, Any]] | None:
    """The gateway's view (needs an ops token): legs sent but unanswered, per institution, with the oldest's age."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    try:
        async with aiohttp.ClientSession(api, headers=headers) as http, http.get("/v1/ops/pending-legs", timeout=aiohttp.ClientTimeout(total=5)) as r:
            return (await r.json()) if r.status == 200 else None
    except (aiohttp.ClientError, OSError, TimeoutError):
        return None
