"""A carrier's restriction ledger (限制高消费, 失信被执行人名单): which courts restrict whom, since when,
and who lifted it — and the ticket counter that consults it.

One record per (carrier, person): his restrictions by the order that placed them, and every answer
the carrier gave about him (a repeated order_id gets the first answer back and changes nothing, as
the asset ledgers' desk does). Each change is told to the book's ``Journal`` and stored with the
answer that tells of it (``simulators.store``), so a restart forgets no restriction.

A purchase the rules forbid (``refuses``) while a restriction is in force is refused and reported
on the carrier's event feed as ``purchase_refused``, naming every restriction that refused it so
each court hears of it. Allowed fares (a hard seat on an ordinary train) are sold, and nothing is
reported: the restriction is on high consumption, not on travel.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from schemas.events import InstitutionEvent
from schemas.orders import RESTRICTING
from simulators.control_order import ControlOrder
from simulators.events import EventLog
from simulators.journal import Journal
from simulators.ledger import iso
from simulators.population import REFUSAL_UNREGISTERED, Population

Key = tuple[str, str]  # (carrier, person's id number)

# 限高规定 art. 3: on the railway, soft sleepers on any train, every seat of a G-series train and
# first class and above on the other bullet trains (C, D); an airline sells nothing to him.
RAIL_ALWAYS_REFUSED_SEATS = ("软卧", "高级软卧")
RAIL_FIRST_CLASS = ("一等座", "商务座", "特等座", "动卧")
AIRLINE_CABINS = ("economy", "premium_economy", "business", "first")
RAIL_SEATS = ("硬座", "硬卧", "二等座", "无座", *RAIL_FIRST_CLASS, *RAIL_ALWAYS_REFUSED_SEATS)


def refuses(kind: str, service: str, seat: str) -> bool:
    """Whether the rules forbid a restricted person this fare: ``service`` a flight or train number."""
    if kind == "airline":
        return True
    train = service.strip().upper()[:1]
    return seat in RAIL_ALWAYS_REFUSED_SEATS or train == "G" or (train in ("C", "D") and seat in RAIL_FIRST_CLASS)


def valid_service(kind: str, service: str) -> bool:
    """A flight number (two-letter carrier code and digits) or a train number (a letter or none, digits)."""
    pattern = r"[A-Z0-9]{2}\d{1,4}" if kind == "airline" else r"[GCDZTKYL]?\d{1,4}"
    return re.fullmatch(pattern, service.strip().upper()) is not None


@dataclass
class Restriction:
    order_id: str
    measure: str
    court: str
    case_number: str
    decision_number: str
    served_at: str
    placed_at: str
    lifted_at: str | None = None
    lift_order_id: str | None = None
    lift_decision_number: str | None = None

    @property
    def in_force(self) -> bool:
        return self.lifted_at is None


@dataclass
class Passenger:
    """What a carrier keeps about one person: his restrictions, its answers about him, refusals."""

    restrictions: dict[str, Restriction] = field(default_factory=dict)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    refused_purchases: int = 0

    def dump(self) -> dict[str, Any]:
        return {"restrictions": [asdict(r) for r in self.restrictions.values()], "answers": self.answers,
                "refused_purchases": self.refused_purchases}

    @classmethod
    def load(cls, state: dict[str, Any]) -> Passenger:
        return cls({r["order_id"]: Restriction(**r) for r in state["restrictions"]}, dict(state["answers"]),
                   state.get("refused_purchases", 0))


class RestrictionBook:
    """Every carrier's restriction ledger in one simulator process, sharing the process's
    population, journal, event feeds and clock (``now``) with its ``LedgerBook``."""

    def __init__(self, population: Population, journal: Journal, events: EventLog, now: Callable[[], datetime]) -> None:
        self.population, self.journal, self.events, self.now = population, journal, events, now
        self._people: dict[Key, Passenger] = {}

    def restore(self, saved: dict[Key, dict[str, Any]]) -> None:
        self._people = {key: Passenger.load(state) for key, state in saved.items()}

    def passenger(self, institution_id: str, id_number: str) -> Passenger:
        return self._people.get((institution_id, id_number)) or Passenger()

    def in_force(self, institution_id: str, id_number: str) -> list[Restriction]:
        return [r for r in self.passenger(institution_id, id_number).restrictions.values() if r.in_force]

    # --- orders ------------------------------------------------------------------------------------
    def execute(self, institution_id: str, order: ControlOrder) -> dict[str, Any]:
        """The carrier's record for a restriction or lifting order; refusals are answers too."""
        key = (institution_id, order.debtor_id_number)
        person = self._people.setdefault(key, Passenger())
        first = person.answers.get(order.order_id)
        if first is not None:
            return {**first, "duplicate": True}
        record = self._run(person, order)
        person.answers[order.order_id] = record
        self.journal.restrictions_changed(institution_id, order.debtor_id_number, person.dump())
        return dict(record)

    def _run(self, person: Passenger, order: ControlOrder) -> dict[str, Any]:
        if not self.population.is_registered(order.officer_credentials):
            return _record(order, "refused", reason=REFUSAL_UNREGISTERED)
        record = self.population.find(order.debtor_id_number)
        if record is None or record.kind != "person" or order.asset.kind != "person" or order.asset.id != order.debtor_id_number:
            return _record(order, "refused", reason="no such passenger: the order must name a person by his resident ID")
        now = iso(self.now())
        if order.type in RESTRICTING:
            restriction = Restriction(order.order_id, order.type, order.court, order.case_number, order.ruling_number,
                                      iso(order.served_at), now)  # type: ignore[arg-type]
            person.restrictions[order.order_id] = restriction
            return _record(order, "applied", restriction)
        if order.type != "lift_restriction":
            return _record(order, "refused", reason=f"a carrier takes no {order.type} orders: it holds no assets")
        restriction = person.restrictions.get(order.original_freeze_id or "")
        if restriction is None:
            return _record(order, "refused", reason="no such restriction of this person here")
        if restriction.court != order.court:
            return _record(order, "refused", reason=f"only the court that placed the restriction ({restriction.court}) may lift it")
        if not restriction.in_force:
            return _record(order, "refused", reason=f"the restriction was already lifted on {restriction.lifted_at}")
        restriction.lifted_at, restriction.lift_order_id, restriction.lift_decision_number = now, order.order_id, order.ruling_number
        return _record(order, "released", restriction)

    # --- the ticket counter ------------------------------------------------------------------------
    def purchase(self, institution_id: str, kind: str, id_number: str, service: str, seat: str,
                 route: str) -> tuple[list[Restriction], InstitutionEvent | None]:
        """A person buys a ticket. Returns the restrictions that refuse it (none: sold) and the
        event reporting the refusal."""
        blocking = self.in_force(institution_id, id_number) if refuses(kind, service, seat) else []
        if not blocking:
            return [], None
        person = self._people[(institution_id, id_number)]
        person.refused_purchases += 1
        self.journal.restrictions_changed(institution_id, id_number, person.dump())
        event = self.events.append(
            institution_id, "purchase_refused", self.now(), holder_id_number=id_number,
            place=f"{service.strip().upper()} {route} {seat}"[:200],
            restriction_ids=[r.order_id for r in blocking])
        return blocking, event


def _record(order: ControlOrder, status: str, restriction: Restriction | None = None, *, reason: str | None = None) -> dict[str, Any]:
    """The control record, as the asset ledgers answer: ``freeze_id`` names the restriction."""
    return {
        "order_id": order.order_id, "status": status,
        "freeze_id": (restriction.order_id if restriction is not None else None),
        "held_fen": None, "requested_fen": None, "deducted_fen": None, "queue_position": None,
        "start_date": restriction.placed_at if restriction is not None else None,
        "end_date": restriction.lifted_at if restriction is not None else None,
        "reason": reason, "duplicate": False,
    }
