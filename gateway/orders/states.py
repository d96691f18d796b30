"""The order state machine.

    requested ──(relay)──▶ sent ──(institution)──▶ applied | partially_applied | queued | refused | failed
    a freeze: applied | partially_applied | queued ──▶ released (an unfreeze naming it applied)
                                                   └─▶ lapsed   (its term ran out: the institution says so)
    and, as the institution's events or a reconciliation tell, between those it holds: captured
    funds (partially_applied → applied), promoted from the queue (queued → applied), …

After its first answer a freeze's state is the institution's: events and reconciliation reports
carry its whole state, applied in the order of the institution's feed (``state_seq``).

A deduction waits in ``requested`` until a second officer approves it (two-person rule), or
declines it with a reason: ``declined``, never sent.
"""

from __future__ import annotations

# Every status is in schemas.orders.OrderStatus; these are the groups the rules use.
# Orders awaiting the institution's answer: the first answer decides them.
AWAITING_ANSWER = ("requested", "sent")
# Freezes that still hold, or may yet hold, the asset: they count against over-freezing.
LIVE_FREEZE = ("requested", "sent", "applied", "partially_applied", "queued")
HOLDING_FREEZE = ("applied", "partially_applied")
# Freezes in effect or in line at their institution: what events and reconciliation keep current.
TRACKED_FREEZE = ("applied", "partially_applied", "queued")
# Freezes that ended: they hold nothing any more, whatever they held last.
ENDED_FREEZE = ("released", "lapsed")
# Orders that end the measure they name once applied: an unfreeze its freeze, a lifting its
# restriction at a carrier (限制高消费 / 失信名单), which becomes ``released`` as a freeze does.
RELEASING = ("unfreeze", "lift_restriction")
# A restriction at a carrier that is, or may yet be, in force: it may be lifted once applied.
LIVE_RESTRICTION = ("requested", "sent", "applied")


def next_status(order_type: str, institution_status: str) -> str:
    """The order's own status from the institution's answer. Institutions answer ``released``
    to an unfreeze: for the unfreeze order that means it was applied (its freeze is released)."""
    if institution_status == "released":
        return "applied"
    return institution_status
