"""What institutions observe rather than control: a registered vehicle seen by a camera (the
vehicle office, 网猎 style) and a person checking in at a hotel (the provincial lodging registry).
Both become events in the observing institution's feed; neither touches a ledger.

A sighting is news only for a vehicle the network knows of (reported or under control); every
person of the population is a listed judgment debtor, so every check-in is reported.
"""

from __future__ import annotations

from schemas.assets import Vehicle
from schemas.events import InstitutionEvent
from simulators.ledger_book import LedgerBook


class NotObservable(LookupError):
    """No such vehicle at the office, or no such person: ``field`` is the input at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def sight_vehicle(book: LedgerBook, institution_id: str, plate: str, place: str, region: str | None = None) -> InstitutionEvent | None:
    """A camera at ``place`` read ``plate``; the event, or ``None`` when the network does not know
    the vehicle. ``region`` defaults to the holder's city."""
    asset = book.asset(institution_id, plate)
    if not isinstance(asset, Vehicle):
        raise NotObservable("plate", f"no vehicle {plate!r} registered at {institution_id}")
    if not book.known.knows(institution_id, plate):
        return None
    holder = book.holder(institution_id, plate)
    if region is None:
        record = book.population.find(holder) if holder else None
        region = record.region.city if record is not None else None
    return book.events.append(institution_id, "vehicle_sighted", book.clock.now(), asset_kind="vehicle", asset_id=plate,
                              holder_id_number=holder, place=place, region=region)


def check_in(book: LedgerBook, institution_id: str, id_number: str, hotel: str, city: str) -> InstitutionEvent:
    """A person checked in at ``hotel`` in ``city``."""
    record = book.population.find(id_number)
    if record is None or record.kind != "person":
        raise NotObservable("id_number", f"no person {id_number!r} in the population (an organisation does not check in)")
    return book.events.append(institution_id, "guest_checked_in", book.clock.now(), holder_id_number=id_number,
                              place=hotel, region=city)
