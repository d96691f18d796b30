"""A connector worker: consumes one institution kind's batches of inquiry legs, its control
orders and control status queries, calls the institutions, and publishes exactly one result per
leg or order and one report per query; alongside, it relays the institutions' event feeds to
Kafka (``events.py``).

A message carries one inquiry's legs for institutions of one kind. They are asked of their
institutions, per institution in chunks of at most the connector's ``max_batch``, all
concurrently, and the answers go back as they come (``legs.py``): a slow institution holds back
only its own legs. Messages are handled concurrently too (capped in messages and in legs, and calls
per institution, ``calls.py``). A message's offset is committed once all its results are
acknowledged by the broker (``publisher.py``); a crash redelivers unfinished messages, and the
gateway ignores a second result for a finished leg. The loop around it all is the shared
``infra.kafka.subscriber``.
"""

from __future__ import annotations

import asyncio

import structlog
from aiokafka import TopicPartition
from pydantic import BaseModel

from connectors.contract.base import Connector
from connectors.runtime.calls import InstitutionCalls
from connectors.runtime.cursors import FileCursorStore, cursor_dir
from connectors.runtime.event_sink import EventSink
from connectors.runtime.events import EventRelay
from connectors.runtime.legs import LegAnswers
from connectors.runtime.orders import OrderSender, Resubmissions
from connectors.runtime.publisher import ResultPublisher
from connectors.runtime.status import StatusReporter
from infra.kafka.protocols import Consumer, Producer
from infra.kafka.subscriber import Delivery, Subscriber
from infra.kafka.topics import deadletter_topic, legs_topic, orders_topic
from infra.settings import Settings
from schemas.events import ControlStatusQuery
from schemas.messages import LegBatch, UndecodableMessage
from schemas.orders import DEFERRED, OrderRequest

log = structlog.get_logger("connector")

Work = LegBatch | OrderRequest | ControlStatusQuery


class ConnectorWorker:
    """The subscriber's handler for one kind: many messages at once (``ConcurrentHandler``)."""

    def __init__(self, kind: str, connector: Connector, settings: Settings, consumer: Consumer, producer: Producer,
                 relay_events: bool = True) -> None:
        self.kind = kind
        self.connector = connector
        self.settings = settings
        calls = InstitutionCalls(settings)
        self.legs = LegAnswers(connector, settings, calls)
        self.orders = OrderSender(connector, calls)
        self.status = StatusReporter(connector, calls, settings)
        self.publisher = ResultPublisher(producer, settings.topic_prefix)
        self.resubmissions = Resubmissions(self.orders, self.publisher.publish_order_update)
        prefix = settings.topic_prefix
        self.group_id = connector_group(prefix, kind)
        self.subscriber: Subscriber[Work] = Subscriber(
            consumer, producer, [legs_topic(prefix, kind), orders_topic(prefix, kind)], group_id=self.group_id,
            handler=self, deadletter_topic=deadletter_topic(prefix), max_records=settings.max_inflight)
        self._legs_in_flight = 0
        # One relaying instance per kind: the one holding partition 0 of the kind's orders topic.
        first_orders = TopicPartition(orders_topic(prefix, kind), 0)
        # Calls of its own (cap, breaker): a 10-second long-poll must never be the half-open probe
        # the legs wait on, nor hold one of their slots.
        self.relay = EventRelay(
            connector, settings.directory.of_kind(kind), settings, InstitutionCalls(settings, metered=False),
            EventSink(producer, prefix, consumer=f"{self.group_id}.relay"), FileCursorStore(cursor_dir(settings.data_dir)),
            leading=lambda: first_orders in consumer.assignment(),
        ) if relay_events else None

    async def run(self, stop: asyncio.Event, grace_s: float = 20.0) -> None:
        log.info("worker starting", kind=self.kind, group=self.group_id)
        relay = asyncio.create_task(self.relay.run(stop)) if self.relay is not None else None
        try:
            await self.subscriber.run(stop, grace_s)
        finally:
            if relay is not None:  # it ends with ``stop``; cancelled if the subscriber ended otherwise
                if not stop.is_set():
                    relay.cancel()
                await asyncio.gather(relay, return_exceptions=True)
            await self.resubmissions.aclose()
            await self.connector.aclose()
            log.info("worker stopped", kind=self.kind)

    def accept(self, payload: BaseModel) -> Work:
        if not isinstance(payload, (LegBatch, OrderRequest, ControlStatusQuery)):
            raise UndecodableMessage(f"expected legs, an order or a status query, got {type(payload).__name__}")
        for institution_id in sorted(_institutions(payload)):
            institution = self.settings.directory.by_id.get(institution_id)
            if institution is None or institution.kind != self.kind:
                # A configuration gap, not a bad message: mend the directory, then re-drive it.
                raise UndecodableMessage(f"institution {institution_id!r} is not a {self.kind} in this worker's directory")
        return payload

    def room(self, in_flight: int) -> int:
        if self._legs_in_flight >= self.settings.max_inflight_legs:
            return 0
        return self.settings.max_inflight - in_flight

    async def handle(self, delivery: Delivery[Work]) -> None:
        work = delivery.message
        ids = ({"inquiry_id": work.inquiry_id, "batch_id": work.batch_id} if isinstance(work, LegBatch)
               else {"run_id": work.run_id} if isinstance(work, ControlStatusQuery)
               else {"order_id": work.order_id, "case_number": work.case_number})
        with structlog.contextvars.bound_contextvars(institution=",".join(sorted(_institutions(work))), **ids):
            if isinstance(work, LegBatch):
                self._legs_in_flight += len(work.legs)
                try:
                    await self.publisher.publish_parts(delivery, self.legs.answers(work))  # type: ignore[arg-type]
                finally:
                    self._legs_in_flight -= len(work.legs)
            elif isinstance(work, ControlStatusQuery):
                report = await self.status.report(work, self.settings.directory.by_id[work.institution_id])
                await self.publisher.publish_status_report(delivery, report)  # type: ignore[arg-type]
            else:
                institution = self.settings.directory.by_id[work.institution_id]
                result = await self.orders.control(work, institution)
                await self.publisher.publish_order_result(delivery, result)  # type: ignore[arg-type]
                if result.status == DEFERRED and result.resubmit_at is not None:
                    self.resubmissions.add(work, institution, result.resubmit_at)


def connector_group(topic_prefix: str, kind: str) -> str:
    """The consumer group of one kind's workers: they share its partitions."""
    return f"{topic_prefix}.connector.{kind}"


def _institutions(work: Work) -> set[str]:
    return {leg.institution_id for leg in work.legs} if isinstance(work, LegBatch) else {work.institution_id}
