"""The restriction desk: consumption restrictions (限制高消费) and dishonest-debtor listings
(失信被执行人名单) at the carriers, and lifting them (解除限制).

Why one order per carrier, placed by one officer action: the order model is one order to one
institution, each with its own answer, retries, deadline and audit trail, and that is what a
restriction needs — an airline that is down must not hold back the railway, and the officer must
see where it is in force and where not. So ``place`` stores one order per carrier in one unit of
work (all or none, as a freeze plan's orders), and the relay, connectors and results take them
like any order. Lifting is the unfreeze of a restriction: one ``lift_restriction`` order per
restriction in force, naming it; once the carrier applies it the restriction becomes ``released``
with the lifting in its trail.

The checks, all before anything is stored: the case is the court's (an inquiry opened it), the
person is a debtor some inquiry of the case asked about, the same measure is not already in force
or on its way for him in this case (placing it again reaches only the carriers where it is not,
as after one failed), and a lifting finds every restriction it lifts applied (one
still awaiting its carrier's answer is refused: nothing is half-lifted).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from gateway.orders.desk import OrderRejected, body_digest, held_case, log_placed, order_summary, scoped_key
from gateway.orders.states import AWAITING_ANSWER, LIVE_RESTRICTION
from gateway.store.interfaces import Store, UnitOfWork
from gateway.store.records import NewOrder, OrderFilter, OrderRecord
from infra.clock import now_ms
from schemas.directory import RESTRICTION_KINDS, Directory, Institution
from schemas.messages import new_id
from schemas.orders import RESTRICTING
from schemas.restrictions import LEGAL_BASIS, LIFT_TITLE, RestrictionCreate, RestrictionLift

log = structlog.get_logger("orders")
PAGE = 500


class RestrictionDesk:
    def __init__(self, store: Store, directory: Directory, deadline_s: float, on_ready: Callable[[], None]) -> None:
        self.store = store
        self.carriers = [i for i in directory.institutions if i.kind in RESTRICTION_KINDS]
        self.deadline_s = deadline_s
        self.on_ready = on_ready  # wakes the relay

    def place(self, body: RestrictionCreate) -> tuple[list[OrderRecord], bool]:
        """One ``body.measure`` order per carrier (still missing it); (orders, replayed)."""
        return self._act(body, self._restrictions, "restriction")

    def lift(self, body: RestrictionLift) -> tuple[list[OrderRecord], bool]:
        """One ``lift_restriction`` order per restriction of the case in force on the debtor."""
        return self._act(body, self._liftings, "restriction lifted")

    def _act(self, body: RestrictionCreate | RestrictionLift, orders_for: Callable[[UnitOfWork, Any], list[NewOrder]],
             via: str) -> tuple[list[OrderRecord], bool]:
        """The checks every action shares, then ``orders_for``'s orders stored in one unit of work."""
        with self.store.unit_of_work() as uow:
            replayed = _replayed(uow, body)
            if replayed is not None:
                return replayed, True
            held_case(uow, body.case_number, body.court)
            if body.debtor_id_number not in uow.inquiries.case_debtors(body.case_number):
                raise OrderRejected(422, "debtor_id_number", "not a debtor of this case: no inquiry of the case asked about them")
            orders = orders_for(uow, body)
            for order in orders:
                uow.orders.place(order, actor=body.operator)  # type: ignore[arg-type]
        log_placed(orders, via)
        self.on_ready()
        return [self.store.orders.get(o.id) for o in orders], False  # type: ignore[misc]

    def _restrictions(self, uow: UnitOfWork, body: RestrictionCreate) -> list[NewOrder]:
        if not self.carriers:
            raise OrderRejected(422, "measure", "no carrier (airline, railway) in the directory to restrict at")
        live = {o.institution_id: o for o in _person_orders(uow, body, (body.measure,)) if o.status in LIVE_RESTRICTION}
        missing = [carrier for carrier in self.carriers if carrier.id not in live]
        if not missing:
            raise OrderRejected(409, "debtor_id_number", f"{LEGAL_BASIS[body.measure].title} is already in force or on its way for "
                                                         f"this debtor in this case at every carrier (orders "
                                                         f"{', '.join(o.id for o in live.values())})")
        # Placing again after a carrier failed or refused reaches just the carriers still missing it.
        return [self._order(body, carrier, body.measure) for carrier in missing]

    def _liftings(self, uow: UnitOfWork, body: RestrictionLift) -> list[NewOrder]:
        measures = (body.measure,) if body.measure else RESTRICTING
        restrictions = [o for o in _person_orders(uow, body, measures) if o.status in LIVE_RESTRICTION]
        waiting = [o for o in restrictions if o.status in AWAITING_ANSWER]
        if waiting:
            raise OrderRejected(409, "debtor_id_number", "a restriction is still awaiting its carrier's answer "
                                                         f"({', '.join(f'{o.id} at {o.institution_id}' for o in waiting)}); "
                                                         "lift once it is applied")
        lifting = {o.original_order_id for o in _person_orders(uow, body, ("lift_restriction",)) if o.status in LIVE_RESTRICTION}
        to_lift = [o for o in restrictions if o.id not in lifting]
        if not to_lift:
            raise OrderRejected(422, "debtor_id_number", "no restriction of this case is in force on the debtor"
                                                         + (" that is not already being lifted" if restrictions else ""))
        return [self._order(body, carrier, "lift_restriction", original)
                for original in to_lift for carrier in self.carriers if carrier.id == original.institution_id]

    def _order(self, body: RestrictionCreate | RestrictionLift, carrier: Institution, type_: str,
               original: OrderRecord | None = None) -> NewOrder:
        now = now_ms()
        return NewOrder(
            id=new_id(), idempotency_key=scoped_key(body.case_number, f"{body.idempotency_key}:{carrier.id}:{original.id if original else ''}"),
            request_digest=body_digest(body.model_dump(mode="json")), type=type_, case_number=body.case_number, court=body.court,
            institution_id=carrier.id, institution_kind=carrier.kind, asset_kind="person", asset_id=body.debtor_id_number,
            debtor_id_number=body.debtor_id_number, amount_fen=None, term_days=None, ruling_number=body.decision_number,
            notice_number=body.notice_number, officer_credentials=tuple(body.officer_credentials), operator=body.operator,  # type: ignore[arg-type]
            original_order_id=original.id if original else None, enforcement_account=None,
            created_at=now, deadline=now + int(self.deadline_s * 1000),
        )


def _replayed(uow: UnitOfWork, body: RestrictionCreate | RestrictionLift) -> list[OrderRecord] | None:
    """The orders a repeated key placed, or None; the same key with another request is a 409."""
    placed = uow.orders.with_key_prefix(scoped_key(body.case_number, f"{body.idempotency_key}:"))
    if not placed:
        return None
    if placed[0].request_digest != body_digest(body.model_dump(mode="json")):
        raise OrderRejected(409, "idempotency_key", "this key already names a different restriction request")
    return placed


def _person_orders(uow: UnitOfWork, body: RestrictionCreate | RestrictionLift, types: tuple[str, ...]) -> list[OrderRecord]:
    """The case's orders of these types about the debtor, every page."""
    out: list[OrderRecord] = []
    for type_ in types:
        cursor = None
        while True:
            page = uow.orders.of_court(body.court, OrderFilter(case_number=body.case_number, type=type_), PAGE, cursor)
            out += [o for o in page.items if o.debtor_id_number == body.debtor_id_number]
            cursor = page.next_cursor
            if cursor is None:
                break
    return out


def restriction_view(orders: list[OrderRecord], replayed: bool) -> dict[str, Any]:
    """What the officer reads back: the measure, its legal basis and every carrier's order."""
    first = orders[0]
    measure = first.type if first.type in LEGAL_BASIS else None
    return {
        "case_number": first.case_number, "debtor_id_number": first.debtor_id_number, "type": first.type,
        "title": LEGAL_BASIS[measure].title if measure else LIFT_TITLE,
        "legal_basis": LEGAL_BASIS[measure].basis if measure else None,
        "decision_number": first.ruling_number, "order_ids": [o.id for o in orders],
        "orders": [order_summary(o) for o in orders], "replayed": replayed,
    }
