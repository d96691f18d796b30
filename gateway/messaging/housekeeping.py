"""The gateway's timed chores: inquiry deadlines and re-sending work that went unanswered."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

import structlog

from gateway.store.interfaces import LegQueue, OrderRepository
from infra.clock import now_ms

log = structlog.get_logger("housekeeping")


async def housekeeping(legs: LegQueue, orders: OrderRepository, resend_after_s: float, wake_relay,  # type: ignore[no-untyped-def]
                       on_touched: Callable[[Iterable[str]], None] = lambda ids: None, interval_s: float = 0.5,
                       leads: Callable[[], bool] = lambda: True) -> None:
    """Ends inquiries whose deadline passed (open legs become ``timed_out``), and sends again what
    was published but has gone unanswered for ``resend_after_s``. With several gateways on one
    store only the one that ``leads`` does it (another takes over when it dies)."""
    last_requeue = 0.0
    while True:
        if not leads():
            await asyncio.sleep(interval_s)
            continue
        now = now_ms()
        overdue = legs.expire_overdue(now)
        if overdue:
            log.info("inquiries reached their deadline", count=len(overdue))
            on_touched(overdue)
        if now - last_requeue >= 1000:
            last_requeue = now
            older = int(resend_after_s * 1000)
            again = legs.requeue_unanswered(now, older) + orders.requeue_unanswered(now, older)
            if again:
                log.warning("sending unanswered work again", count=again, after_s=resend_after_s)
                wake_relay()
        await asyncio.sleep(interval_s)
