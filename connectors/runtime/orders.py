"""Sending a control order to its institution: always one result, never an exception. The
institution dedupes on the order id, so retries and redeliveries apply an order at most once.

An institution may defer an order (the securities depository outside its working hours): the
sender tells the gateway when it will submit it again (a ``deferred`` result, ``on_deferred``),
holds it until then and submits it again, for as long as the order's deadline allows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

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

Progress = Callable[[OrderResult], Awaitable[None]]


class OrderSender:
    def __init__(self, connector: Connector, calls: InstitutionCalls) -> None:
        self.connector = connector
        self.calls = calls

    async def control(self, order: OrderRequest, institution: Institution, on_deferred: Progress | None = None) -> OrderResult:
        started = time.monotonic()
        attempts = Attempts()
        while True:
            result = await self._control(order, institution, attempts)
            if result.status != DEFERRED:
                break
            delay = (result.resubmit_at - utcnow()).total_seconds()  # type: ignore[operator]
            log.info("order deferred by the institution", institution=institution.id, resubmit_in_s=round(delay, 3))
            if on_deferred is not None:
                try:
                    await on_deferred(result)
                except Exception:  # only a note: the order goes on, and its result will tell
                    log.warning("could not tell the gateway of the deferral", exc_info=True)
            await asyncio.sleep(max(delay, MIN_RESUBMIT_S))
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


def _order_failed(order: OrderRequest, reason: str, attempts: int) -> OrderResult:
    return OrderResult(order_id=order.order_id, institution_id=order.institution_id, status="failed",
                       reason=reason, attempts=attempts, answered_at=utcnow())
