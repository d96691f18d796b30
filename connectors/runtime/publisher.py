"""Publishing a message's results with acks=all; the message is finished (its offset committable)
only once every part of its answer is acknowledged by the broker. Retries through broker errors,
and recovery of a producer a fatal error broke, are the subscriber's (``Delivery.settle``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

from aiokafka.errors import KafkaError

from infra.kafka.protocols import Producer
from infra.kafka.subscriber import Delivery
from infra.kafka.topics import order_results_topic, results_topic
from schemas.events import ControlStatusQuery, ControlStatusReport
from schemas.messages import LegBatch, LegBatchResult, encode
from schemas.orders import OrderRequest, OrderResult


class ResultPublisher:
    def __init__(self, producer: Producer, topic_prefix: str) -> None:
        self.producer = producer
        self.results_topic = results_topic(topic_prefix)
        self.order_results_topic = order_results_topic(topic_prefix)

    async def publish_parts(self, delivery: Delivery[LegBatch],
                            answers: AsyncGenerator[tuple[LegBatchResult, bool], None]) -> None:
        """Sends each part of the answer (``LegAnswers.answers``) as it comes, without waiting for the broker in between
        (the last part must not queue behind an earlier one's acknowledgement); the message is
        finished once every part is acknowledged."""
        batch = delivery.message
        topic, key = self.results_topic, batch.inquiry_id.encode()
        values: list[bytes] = []
        acks: list[asyncio.Future[object] | None] = []
        async with contextlib.aclosing(answers) as parts:  # abandoned (shutdown): stop asking at once
            async for part, _ in parts:
                values.append(encode(part, inquiry_id=batch.inquiry_id, batch_id=batch.batch_id))
                try:
                    acks.append(await self.producer.send(topic, values[-1], key=key))
                except KafkaError:
                    acks.append(None)  # sent again below

        confirmed = 0  # parts acknowledged, in order

        async def confirm_all() -> None:
            nonlocal confirmed
            for i in range(confirmed, len(values)):
                ack, acks[i] = acks[i], None  # should this try fail, the next one sends the part again
                if ack is None:
                    await self.producer.send_and_wait(topic, values[i], key=key)
                else:
                    try:
                        await ack
                    except KafkaError:  # again, at once; the gateway ignores a repeat of a part that did land
                        await self.producer.send_and_wait(topic, values[i], key=key)
                confirmed = i + 1

        await delivery.settle(confirm_all)

    async def publish_order_result(self, delivery: Delivery[OrderRequest], result: OrderResult) -> None:
        order_id = delivery.message.order_id
        value = encode(result, order_id=order_id)
        await delivery.settle(lambda: self.producer.send_and_wait(self.order_results_topic, value, key=order_id.encode()))

    async def publish_order_update(self, result: OrderResult) -> None:
        """The result of an order submitted again after its institution deferred it: its message was
        settled with the deferral, so this is sent on its own, keyed like every result of the order."""
        await self.producer.send_and_wait(self.order_results_topic, encode(result, order_id=result.order_id), key=result.order_id.encode())

    async def publish_status_report(self, delivery: Delivery[ControlStatusQuery], report: ControlStatusReport) -> None:
        """On the control results topic, keyed by the reconciliation run: one run's reports together."""
        run_id = delivery.message.run_id
        value = encode(report, run_id=run_id, institution_id=report.institution_id)
        await delivery.settle(lambda: self.producer.send_and_wait(self.order_results_topic, value, key=run_id.encode()))
