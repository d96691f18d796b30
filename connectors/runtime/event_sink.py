"""Puts one page of an institution's feed on Kafka: each event validated on its own as an
``InstitutionEvent`` and sent to the events topic keyed by ``event_key`` (one asset's events on one
partition, in feed order), each one that fails — not valid, or naming another institution than
the feed it came from — to the dead-letter topic with the reason. Returns once the broker has
acknowledged every record of the page (acks=all), retrying through broker errors; only then may
the relay move its cursor. A retry sends the whole page again: the gateway dedupes by ``event_id``
and orders by ``seq``, so a repeat changes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from infra import metrics
from infra.kafka.deadletter import rejected_headers
from infra.kafka.protocols import Headers, Producer
from infra.kafka.topics import deadletter_topic, institution_events_topic
from schemas.events import InstitutionEvent, event_key
from schemas.messages import encode, encode_payload

log = structlog.get_logger("connector")

MAX_RETRY_DELAY_S = 5.0


class RejectedEvent(ValueError):
    pass


def check_event(raw: Any, institution_id: str) -> InstitutionEvent:
    """The event as the contract has it, from the feed of ``institution_id``; ``RejectedEvent``
    with the reason otherwise (field names only: a value may be personal data)."""
    try:
        event = InstitutionEvent.model_validate(raw)
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in exc.errors()[:5])
        raise RejectedEvent(f"not a valid institution event: {fields}") from None
    if event.institution_id != institution_id:
        raise RejectedEvent(f"event of {event.institution_id!r} in the feed of {institution_id!r}")
    if event.event_id != f"{institution_id}:{event.seq}":
        raise RejectedEvent(f"event_id {event.event_id!r} is not {institution_id}:{event.seq}")
    return event


@dataclass(frozen=True, slots=True)
class _Record:
    topic: str
    key: bytes
    value: bytes
    headers: Headers | None
    event: InstitutionEvent | None  # None: dead-lettered


class EventSink:
    def __init__(self, producer: Producer, topic_prefix: str, consumer: str) -> None:
        self.producer = producer
        self.topic = institution_events_topic(topic_prefix)
        self.deadletter_topic = deadletter_topic(topic_prefix)
        self.consumer = consumer  # names the relay in dead letters

    async def publish(self, institution_id: str, raw_events: Sequence[Any]) -> None:
        records = [self._record(institution_id, raw) for raw in raw_events]
        delay = 0.1
        while True:
            try:
                acks = [await self.producer.send(r.topic, r.value, key=r.key, headers=r.headers) for r in records]
                failed = [o for o in await asyncio.gather(*acks, return_exceptions=True) if isinstance(o, BaseException)]
                if failed:
                    raise failed[0]
                break
            except KafkaError as exc:
                log.warning("publishing events failed, sending the page again", institution=institution_id, error=repr(exc))
                await self.producer.recover(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_DELAY_S)
        for r in records:
            if r.event is not None:
                metrics.EVENTS_RELAYED.labels(institution_id, r.event.type).inc()
            else:
                metrics.EVENTS_REJECTED.labels(institution_id).inc()
                metrics.DEAD_LETTERS.labels(self.consumer, self.topic).inc()

    def _record(self, institution_id: str, raw: Any) -> _Record:
        try:
            event = check_event(raw, institution_id)
        except RejectedEvent as exc:
            seq = raw.get("seq") if isinstance(raw, dict) else None
            log.warning("dead-lettering an institution event", institution=institution_id, seq=seq, reason=str(exc))
            # The envelope the event would have travelled in, so a redrive after a schema fix is a
            # message like any other (its consumer validates it again).
            value = encode_payload("institution.event", raw if isinstance(raw, dict) else {"raw": raw}, institution_id=institution_id)
            subject = raw.get("asset_id") if isinstance(raw, dict) else None
            return _Record(self.deadletter_topic, f"{institution_id}/{subject or f'seq:{seq}'}".encode(), value,
                           rejected_headers(str(exc), self.consumer, bound_for=self.topic,
                                            origin=f"{institution_id}/events#{seq}"), None)
        return _Record(self.topic, event_key(event), encode(event, institution_id=institution_id, event_id=event.event_id),
                       None, event)
