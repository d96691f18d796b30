"""Dead letters: what a consumer cannot process goes, unchanged, to the dead-letter topic with
headers that say why and where it came from, so ops can inspect and re-drive it."""

from __future__ import annotations

from aiokafka.structs import ConsumerRecord

from infra.kafka.protocols import Producer
from schemas.messages import utcnow


def deadletter_headers(record: ConsumerRecord, reason: str, consumer: str, attempts: int = 1) -> list[tuple[str, bytes]]:
    return [
        ("dlq.reason", reason[:1000].encode()),
        ("dlq.source.topic", record.topic.encode()),
        ("dlq.source.partition", str(record.partition).encode()),
        ("dlq.source.offset", str(record.offset).encode()),
        ("dlq.attempts", str(attempts).encode()),
        ("dlq.consumer", consumer.encode()),
        ("dlq.failed_at", utcnow().isoformat().encode()),
    ]


async def send_to_deadletter(
    producer: Producer, topic: str, record: ConsumerRecord, reason: str, consumer: str, attempts: int = 1
) -> None:
    await producer.send_and_wait(
        topic, record.value, key=record.key, headers=deadletter_headers(record, reason, consumer, attempts)
    )
