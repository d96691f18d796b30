"""Dead letters: what a consumer cannot process goes, unchanged, to the dead-letter topic with
headers that say why and where it came from, so ops can inspect and re-drive it.

Not everything rejected comes from a topic: the connectors' event relay rejects events read from
an institution's feed (``send_rejected``). Their ``dlq.source.topic`` is the topic the message was
bound for, so a redrive (after the cause is mended) sends it on there, and ``dlq.origin`` says
where it really came from; they have no source partition or offset."""

from __future__ import annotations

from aiokafka.structs import ConsumerRecord

from infra.kafka.protocols import Producer
from schemas.messages import utcnow

ORIGIN = "dlq.origin"
ATTEMPTS = "dlq.attempts"
REDRIVEN_FROM = "dlq.redriven-from"  # set by ``assetgw dlq redrive`` on what it sends back


def earlier_attempts(record: ConsumerRecord) -> int:
    """Attempts counted before a redrive brought the message back (its ``dlq.attempts`` header, which
    ``assetgw dlq redrive`` carries along): a letter that fails again counts on from there."""
    values = [v for k, v in record.headers or () if k == ATTEMPTS]
    try:
        return max(int(values[-1]), 0) if values else 0
    except ValueError:
        return 0


def deadletter_headers(record: ConsumerRecord, reason: str, consumer: str, attempts: int = 1) -> list[tuple[str, bytes]]:
    attempts += earlier_attempts(record)
    return [
        ("dlq.reason", reason[:1000].encode()),
        ("dlq.source.topic", record.topic.encode()),
        ("dlq.source.partition", str(record.partition).encode()),
        ("dlq.source.offset", str(record.offset).encode()),
        *_what_and_when(attempts, consumer),
        *((k, v) for k, v in record.headers or () if k in (REDRIVEN_FROM, ORIGIN)),  # the history it came back with
    ]


def rejected_headers(reason: str, consumer: str, *, bound_for: str, origin: str) -> list[tuple[str, bytes]]:
    """For a message rejected before it reached any topic (see the module docstring)."""
    return [
        ("dlq.reason", reason[:1000].encode()),
        ("dlq.source.topic", bound_for.encode()),
        (ORIGIN, origin.encode()),
        *_what_and_when(1, consumer),
    ]


def _what_and_when(attempts: int, consumer: str) -> list[tuple[str, bytes]]:
    return [
        (ATTEMPTS, str(attempts).encode()),
        ("dlq.consumer", consumer.encode()),
        ("dlq.failed_at", utcnow().isoformat().encode()),
    ]


async def send_to_deadletter(
    producer: Producer, topic: str, record: ConsumerRecord, reason: str, consumer: str, attempts: int = 1
) -> None:
    await producer.send_and_wait(
        topic, record.value, key=record.key, headers=deadletter_headers(record, reason, consumer, attempts)
    )
