"""The order state machine.

    requested ──(relay)──▶ sent ──(institution)──▶ applied | partially_applied | queued | refused | failed
    a freeze: applied | partially_applied | queued ──▶ released (an unfreeze naming it applied)
                                                   └─▶ lapsed   (its term ran out: the institution says so)

A deduction waits in ``requested`` until a second officer approves it (two-person rule).
"""

from __future__ import annotations

# Every status is in schemas.orders.OrderStatus; these are the groups the rules use.
# Orders awaiting the institution's answer: the first answer decides them.
AWAITING_ANSWER = ("requested", "sent")
# Freezes that still hold, or may yet hold, the asset: they count against over-freezing.
LIVE_FREEZE = ("requested", "sent", "applied", "partially_applied", "queued")
HOLDING_FREEZE = ("applied", "partially_applied")


def next_status(order_type: str, institution_status: str) -> str:
    """The order's own status from the institution's answer. Institutions answer ``released``
    to an unfreeze: for the unfreeze order that means it was applied (its freeze is released)."""
    if institution_status == "released":
        return "applied"
    return institution_status
