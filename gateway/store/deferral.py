"""An order its institution will take only later (the securities depository outside its working
hours), in SQL both databases read alike (``p`` is the store's parameter marker, as in ``money.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schemas.orders import OrderResult

EventWriter = Callable[[Any, str, int, str, str, str, dict[str, Any]], None]  # the store's own audit-trail insert


def queue_for_submission(db: Any, p: str, r: OrderResult, now: int, event: EventWriter) -> None:
    """Not an answer: the connector holds the order until ``r.resubmit_at``. The order is sent as of
    then, so the resend of unanswered orders waits for it too; its trail says when and why."""
    resubmit_ms = int(r.resubmit_at.timestamp() * 1000)  # type: ignore[union-attr]
    db.execute(f"UPDATE orders SET status = 'sent', sent_at = {p}, updated_at = {p} WHERE id = {p}", (resubmit_ms, now, r.order_id))
    event(db, r.order_id, now, r.institution_id, "queued_for_submission", "sent", r.model_dump(mode="json"))
