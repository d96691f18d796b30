"""Consumes institution events (schemas/events.py) into the store, one transaction per fetched
batch (a ``BatchHandler`` of the shared subscriber loop), then hands the new ones to the listeners
(watches and alerts). A consumer group of its own: a flood of events never delays inquiry results.

An event the gateway cannot place — from an institution not in its directory, about an asset no
inquiry found, naming a freeze that is not one of its orders — is dead-lettered with the reason
and changes nothing; once the directory or the store knows it, ops re-drive it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

import structlog
from pydantic import BaseModel

from gateway.events.listeners import EventListener
from gateway.store.interfaces import InstitutionEvents
from infra import metrics
from infra.clock import now_ms
from infra.kafka.protocols import Consumer, Producer
from infra.kafka.subscriber import Delivery, Subscriber
from infra.kafka.topics import deadletter_topic, institution_events_topic
from schemas.directory import Directory
from schemas.events import PERSON_EVENTS, InstitutionEvent
from schemas.identifiers import mask
from schemas.messages import UndecodableMessage

log = structlog.get_logger("events")


class EventConsumer:
    def __init__(self, events: InstitutionEvents, directory: Directory, consumer: Consumer, producer: Producer,
                 topic_prefix: str, group_id: str, listeners: Sequence[EventListener] = ()) -> None:
        self.events = events
        self.directory = directory
        self.listeners = list(listeners)
        self.subscriber: Subscriber[InstitutionEvent] = Subscriber(
            consumer, producer, [institution_events_topic(topic_prefix)], group_id=group_id, handler=self,
            deadletter_topic=deadletter_topic(topic_prefix), max_records=2000)

    async def run(self, stop: asyncio.Event, grace_s: float = 5.0) -> None:
        await self.subscriber.run(stop, grace_s)

    def accept(self, payload: BaseModel) -> InstitutionEvent:
        if not isinstance(payload, InstitutionEvent):
            metrics.IGNORED.labels("events", "wrong_type").inc()
            raise UndecodableMessage(f"expected an institution event, got {type(payload).__name__}")
        try:
            check_event(payload, self.events, self.directory)
        except UndecodableMessage:
            metrics.IGNORED.labels("events", "unplaceable").inc()
            raise
        return payload

    async def handle_batch(self, batch: list[Delivery[InstitutionEvent]]) -> None:
        received = [d.message for d in batch]
        new = self.events.apply(received, now_ms())
        fresh = {e.event_id for e in new}
        for (type_, outcome), n in Counter((e.type, "applied" if e.event_id in fresh else "repeat") for e in received).items():
            metrics.EVENTS_APPLIED.labels(type_, outcome).inc(n)
        metrics.DUPLICATES.labels("event").inc(len(received) - len(new))
        for listener in self.listeners:
            try:
                await listener.on_events(new)
            except Exception:  # a listener's bug must not stop the ledgers' copy
                log.exception("event listener failed", listener=type(listener).__name__, events=len(new))


def check_event(e: InstitutionEvent, events: InstitutionEvents, directory: Directory) -> None:
    """Raises ``UndecodableMessage`` (the reason) for an event the gateway cannot place: from an
    institution not in its directory, about an asset no inquiry found, naming a freeze that is not
    one of its orders on that asset."""
    inst = e.institution_id
    if inst not in directory.by_id:
        raise UndecodableMessage(f"unknown institution {inst!r}: not in the gateway's directory")
    if e.event_id != f"{inst}:{e.seq}":
        raise UndecodableMessage(f"event_id {e.event_id!r} is not {inst}:{e.seq}")
    if e.type in PERSON_EVENTS:
        if not e.holder_id_number:
            raise UndecodableMessage(f"{e.type} names no person (holder_id_number)")
        return
    if e.asset_id is None or e.asset_kind is None:
        raise UndecodableMessage(f"{e.type} names no asset (asset_kind, asset_id)")
    if not events.knows_asset(inst, e.asset_id):
        raise UndecodableMessage(f"unknown asset: {e.asset_kind} {mask(e.asset_id)} at {inst} is in no report and under no order")
    if e.freeze is not None and not events.knows_freeze(inst, e.asset_id, e.freeze.freeze_id):
        raise UndecodableMessage(f"unknown freeze {e.freeze.freeze_id!r}: no freeze order of the gateway's on that asset")
