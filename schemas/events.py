"""What institutions say on their own, and what they answer when the gateway reconciles.

**Institution events.** Every institution keeps an append-only feed of the changes that matter to
a court — funds in and out of an account the network knows, a freeze capturing funds, a queued
(轮候) freeze promoted, a freeze lapsing or released, a deduction executed, a registered vehicle
seen by a camera, a debtor checking in at a hotel — read by cursor (``GET /{inst}/events``). The
connector puts each on the ``institution.events`` topic, keyed by ``event_key`` so one asset's
events stay in order. ``event_id`` is ``{institution_id}:{seq}``: a repeat changes nothing.

An event about a freeze carries the freeze's whole state after the change (``FreezeState``), and
one about an account its balance after it, so the gateway sets its copy equal to the ledger rather
than adding up deltas: applying the same event twice, or an older one after a newer, is harmless
(``seq`` orders them).

**Reconciliation.** The gateway asks an institution for the current state of the freezes and
accounts it tracks (``ControlStatusQuery`` on the kind's orders topic); the connector answers with
a ``ControlStatusReport`` on the control results topic, stamped with the institution's feed
position at that moment (``as_of_seq``), so a report older than an event already applied is not
applied over it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.orders import AssetKind

EventType = Literal[
    "funds_credited",      # money arrived in an account (salary, transfer in)
    "funds_debited",       # the debtor spent or moved free money out
    "freeze_captured",     # a short freeze took some of the money that arrived
    "freeze_promoted",     # a queued (轮候) freeze took effect when the one before it ended
    "queue_advanced",      # a queued freeze moved up the 轮候 queue (one ahead of it ended or took effect)
    "freeze_lapsed",       # a freeze ran out at its end date
    "freeze_released",     # an unfreeze was applied
    "deduction_executed",  # frozen funds moved to a court's enforcement-fund account
    "funds_deducted",      # free funds frozen and moved to a court's account in one order (冻结并扣划)
    "vehicle_sighted",     # a car-park or road camera saw a registered vehicle
    "guest_checked_in",    # a lodging registry recorded a person's hotel check-in
    "purchase_refused",    # a carrier refused a restricted person's ticket (限制高消费, 失信名单)
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]
FUNDS_EVENTS = ("funds_credited", "funds_debited", "funds_deducted")
FREEZE_EVENTS = ("freeze_captured", "freeze_promoted", "queue_advanced", "freeze_lapsed", "freeze_released", "deduction_executed")
# Events about a person rather than an asset: no asset_kind/asset_id, keyed by the person.
PERSON_EVENTS = ("guest_checked_in", "purchase_refused")

# What a freeze is at its institution (``Freeze.status`` in the simulators' ledger).
FreezeStatus = Literal["applied", "partially_applied", "queued", "lapsed", "released"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FreezeState(_Model):
    """A freeze as its institution's ledger holds it now."""

    freeze_id: str = Field(description="the order_id of the freeze order that made it")
    court: str
    status: FreezeStatus
    held_fen: int | None = Field(None, ge=0, description="money assets: what the freeze holds now")
    requested_fen: int | None = Field(None, ge=0, description="money assets: what it still seeks to hold")
    deducted_fen: int = Field(0, ge=0, description="deducted from it so far, in total")
    queue_position: int | None = Field(None, ge=1, description="place in the 轮候 queue while queued")
    start_date: str | None = None
    end_date: str | None = None


class InstitutionEvent(_Model):
    event_id: str = Field(description="{institution_id}:{seq}; the same id is the same event")
    seq: int = Field(ge=1, description="the institution's feed position, one more per event")
    institution_id: str
    type: EventType
    at: AwareDatetime = Field(description="when it happened, on the institution's clock")
    asset_kind: AssetKind | None = Field(None, description="the asset concerned; none for a person's event")
    asset_id: str | None = Field(None, description="account_no, wallet_id, unit_no or plate, as in reports")
    holder_id_number: str | None = Field(None, description="whose asset, or who checked in")
    amount_fen: int | None = Field(None, ge=0, description="credited, debited, captured or deducted")
    balance_fen: int | None = Field(None, ge=0, description="money assets: the balance after the change")
    freeze: FreezeState | None = Field(None, description="the freeze concerned, as it stands after the change")
    court: str | None = Field(None, description="deduction: the court the money went to")
    place: str | None = Field(None, max_length=200, description="sighting: camera location; check-in: hotel and address; "
                                                                   "purchase refused: the flight or train, route and seat")
    region: str | None = Field(None, max_length=64, description="city or province of the place")
    restriction_ids: list[str] | None = Field(None, max_length=100, description="purchase refused: the restriction orders in force "
                                              "that refused it (the order_id of each court's order), so each court hears of it")


def event_subject(event: InstitutionEvent) -> str:
    """What an event is about, within its institution: the asset, or the person."""
    return event.asset_id if event.asset_id is not None else f"person:{event.holder_id_number}"


def event_key(event: InstitutionEvent) -> bytes:
    """One asset's (or one person's) events share a partition, so they stay in order."""
    return f"{event.institution_id}/{event_subject(event)}".encode()


class ControlStatusQuery(_Model):
    """Gateway → connector: report the current state of these freezes and accounts."""

    run_id: str
    institution_id: str
    freeze_ids: list[str] = Field(default_factory=list, max_length=1000)
    asset_ids: list[str] = Field(default_factory=list, max_length=1000, description="money assets whose balance to report")


class AccountBalance(_Model):
    asset_id: str
    balance_fen: int = Field(ge=0)


class ControlStatusReport(_Model):
    """Connector → gateway: the institution's answer to a ``ControlStatusQuery``, or ``failed``."""

    run_id: str
    institution_id: str
    status: Literal["answered", "failed"] = "answered"
    reason: str | None = None
    as_of_seq: int = Field(0, ge=0, description="the institution's last event seq when it answered")
    freezes: list[FreezeState] = Field(default_factory=list)
    unknown_freeze_ids: list[str] = Field(default_factory=list, description="freezes the institution has no record of")
    balances: list[AccountBalance] = Field(default_factory=list)
    answered_at: AwareDatetime
