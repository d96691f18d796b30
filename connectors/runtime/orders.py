"""Sending a control order to its institution: always one result, never an exception. The
institution dedupes on the order id, so retries and redeliveries apply an order at most once.

An institution may defer an order (the securities depository outside its working hours): the
sender's result is then ``deferred`` with the time to submit it again (never past the order's
deadline: that fails it), and ``Resubmissions`` submits it again then."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import structlog

from connectors.contract.base import Connector, Permanent, Retryable
from connectors.runtime.calls import Attempts, InstitutionCalls, observe
from infra import metrics
from schemas.directory import Institution
from schemas.messages import utcnow
from schemas.orders import DEFERRED, OrderRequest, OrderResult

log = structlog.get_logger("connector")

# What the result carries over from the institution's control record.
_RECORD_FIELDS = ("freeze_id", "held_fen", "held_quantity", "requested_fen", "deducted_fen", "queue_position", "start_date", "end_date", "reason")


MIN_RESUBMIT_S = 0.05  # a deferral "now" (clocks a hair apart) waits a moment, not a busy loop

Publish = Callable[[OrderResult], Awaitable[None]]


class OrderSender:
    def __init__(self, connector: Connector, calls: InstitutionCalls) -> None:
        self.connector = connector
        self.calls = calls

    async def control(self, order: OrderRequest, institution: Institution) -> OrderResult:
        started = time.monotonic()
        result = await self._control(order, institution, Attempts())
        metrics.ORDERS.labels(institution.id, order.type, result.status).inc()
        observe(institution.id, "control", started, result.attempts)
        return result

    async def _control(self, order: OrderRequest, institution: Institution, attempts: Attempts) -> OrderResult:
        remaining = (order.deadline - utcnow()).total_seconds()
        if remaining <= 0:
            return _order_failed(order, "the order's deadline had passed before it reached the connector", 0)
        try:
            record = await self.calls.call(institution, lambda: self.connector.control(institution, order), attempts, remaining)
        except TimeoutError:
            return _order_failed(order, f"no answer from {institution.id} before the order deadline", attempts.count)
        except (Permanent, Retryable) as exc:
            return _order_failed(order, f"after {attempts.count} attempts: {exc}", attempts.count)
        except Exception as exc:  # a connector bug must still end the order
            log.exception("connector error", institution=institution.id)
            return _order_failed(order, f"connector error: {exc!r}"[:500], attempts.count)
        if record["status"] == DEFERRED:
            resubmit_at = utcnow() + timedelta(seconds=max(float(record["resubmit_in_s"]), MIN_RESUBMIT_S))
            if resubmit_at >= order.deadline:
                return _order_failed(order, f"{record.get('reason')}: later than the order's deadline", attempts.count)
            return OrderResult(order_id=order.order_id, institution_id=institution.id, status=DEFERRED, reason=record.get("reason"),
                               resubmit_at=resubmit_at, attempts=attempts.count, answered_at=utcnow())
        return OrderResult(order_id=order.order_id, institution_id=institution.id, status=record["status"],
                           duplicate=bool(record.get("duplicate")), attempts=attempts.count, answered_at=utcnow(),
                           **{k: record.get(k) for k in _RECORD_FIELDS})


class Resubmissions:
    """Orders their institution deferred, each submitted again when due by a task of its own: the
    order's Kafka message is settled with the ``deferred`` result, so nothing holds the worker's
    other work (inquiries are answered at any hour) or its partition's offsets. Each result of a
    resubmission is published with ``publish``. Held only in memory: if the worker stops, the
    gateway sends the order again once it has gone unanswered for its resend interval past the
    resubmission time (the deferred result set it as the order's time of sending)."""

    def __init__(self, sender: OrderSender, publish: Publish) -> None:
        self.sender = sender
        self.publish = publish
        self._tasks: dict[str, asyncio.Task[None]] = {}  # by order id: a redelivered order is held once

    def add(self, order: OrderRequest, institution: Institution, at: datetime) -> None:
        if order.order_id in self._tasks:
            return
        log.info("order deferred by the institution", institution=institution.id, order_id=order.order_id,
                 resubmit_in_s=round((at - utcnow()).total_seconds(), 3))
        task = asyncio.create_task(self._resubmit(order, institution, at), name=f"resubmit-{order.order_id}")
        self._tasks[order.order_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(order.order_id, None))

    def __len__(self) -> int:
        return len(self._tasks)

    async def _resubmit(self, order: OrderRequest, institution: Institution, at: datetime) -> None:
        try:
            while True:
                await asyncio.sleep(max((at - utcnow()).total_seconds(), MIN_RESUBMIT_S))
                result = await self.sender.control(order, institution)
                await self.publish(result)
                if result.status != DEFERRED or result.resubmit_at is None:
                    return
                at = result.resubmit_at
        except asyncio.CancelledError:
            raise
        except Exception:  # the gateway's resend takes it from here
            log.exception("resubmission failed", institution=institution.id, order_id=order.order_id)

    async def aclose(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)


def _order_failed(order: OrderRequest, reason: str, attempts: int) -> OrderResult:
    return OrderResult(order_id=order.order_id, institution_id=order.institution_id, status="failed",
                       reason=reason, attempts=attempts, answered_at=utcnow())
