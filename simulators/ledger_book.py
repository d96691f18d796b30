"""Every institution's ledgers in one simulator process, and the order desk in front of them.

The book turns a wire ``ControlOrder`` into a ledger operation and a control record: it finds
the asset in the population (creating its ledger on first touch), checks what is not a ledger
rule (registered officers, the asset exists here), executes each order_id exactly once and
keeps every answer, refusals included, for replay and audit.

It is also where a ledger's changes become the institution's events: the book knows who holds
each asset, and which assets the network knows of. A real bank notifies the court only about
accounts under its inquiry or control, so an asset's events reach the feed only once the
institution has reported it in an answer to a query (the apps call ``note_reported``) or a
control order has named it; changes before that are not news to anyone.

Every change is told to the book's ``Journal`` as it is made (a ledger that changed, an answer
given, an asset the network learnt of, the clock moved; the feeds tell theirs), and a simulator
with a data directory stores them (``simulators.store``); ``restore`` puts a restarted process back
where it was. A ledger's changes all emit (lapses included) or come through ``execute``, ``credit``
and ``debit``: those are the places that tell the journal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from schemas.assets import Asset, DepositAccount, SecuritiesHolding
from schemas.events import InstitutionEvent
from simulators import ledger_state
from simulators.clock import SimClock
from simulators.control_order import ControlOrder
from simulators.events import EventLog
from simulators.journal import Journal, NullJournal
from simulators.known_assets import KnownAssets
from simulators.ledger import MONEY_KINDS, AssetLedger, Freeze, Refused, iso
from simulators.population import REFUSAL_UNREGISTERED, Population
from simulators.restrictions import RestrictionBook

NO_SUCH_ASSET = "no such asset"

Key = tuple[str, str]  # (institution_id, asset_id) or (institution_id, order_id)


@dataclass
class Saved:
    """What a simulator stored, to start again from (``simulators.store`` loads it)."""

    clock_offset: timedelta = timedelta(0)
    ledgers: dict[Key, dict[str, Any]] = field(default_factory=dict)  # ledger_state.dump
    answers: dict[Key, tuple[dict[str, Any], bool]] = field(default_factory=dict)  # the record; whether it changed a ledger
    known: list[Key] = field(default_factory=list)  # in the order the network learnt of them
    events: list[InstitutionEvent] = field(default_factory=list)  # served, in seq order per institution
    feeds: dict[str, tuple[int, int]] = field(default_factory=dict)  # institution → (last seq, losses pending)
    restrictions: dict[Key, dict[str, Any]] = field(default_factory=dict)  # (carrier, person) → restrictions.Passenger.dump


class LedgerBook:
    def __init__(self, population: Population, clock: SimClock | None = None, journal: Journal | None = None) -> None:
        self.population = population
        self.clock = clock or SimClock()
        self.journal: Journal = journal or NullJournal()
        self._ledgers: dict[Key, AssetLedger] = {}
        self._responses: dict[Key, dict[str, Any]] = {}
        self._changed: set[Key] = set()  # orders that changed a ledger
        self._assets: dict[Key, Asset] | None = None
        self._holders: dict[Key, str] = {}  # asset → the debtor holding it (a joint unit's first owner)
        self.known = KnownAssets(self.journal)  # their changes are events
        self._freezes: dict[Key, str] = {}  # (institution_id, freeze_id) → asset_id
        self.events = EventLog(self.journal)
        # The carriers' (airlines, railway): on this book's clock, which a restore replaces.
        self.restrictions = RestrictionBook(population, self.journal, self.events, lambda: self.clock.now())

    def restore(self, saved: Saved) -> None:
        """Back to what was stored: call once, on a new book, before serving."""
        self.clock = SimClock(offset=saved.clock_offset)
        self.known.restore(saved.known)
        self.events.restore(saved.events, saved.feeds)
        self.restrictions.restore(saved.restrictions)
        for (institution_id, asset_id), state in saved.ledgers.items():
            ledger = self._new_ledger(institution_id, asset_id)
            if ledger is None:
                raise ValueError(f"stored ledger {institution_id}/{asset_id} is not an asset of this population")
            ledger_state.load(ledger, state)
            self._freezes.update({(institution_id, f): asset_id for f in ledger.freezes})
        for key, (record, changed) in saved.answers.items():
            self._responses[key] = record
            if changed:
                self._changed.add(key)

    # --- assets ------------------------------------------------------------------------------------
    def asset(self, institution_id: str, asset_id: str) -> Asset | None:
        if self._assets is None:
            # Built on first use: a process that never controls anything pays nothing. A joint
            # unit appears under both owners with the same unit_no; it is one asset, one ledger.
            index: dict[Key, Asset] = {}
            for debtor in self.population.debtors:
                for a in self.population.assets_of(debtor.id_number):
                    key = (a.institution_id, a.asset_id)  # type: ignore[attr-defined]
                    if key not in index:
                        index[key] = a
                        self._holders[key] = debtor.id_number
            self._assets = index
        return self._assets.get((institution_id, asset_id))

    def ledger(self, institution_id: str, asset_id: str) -> AssetLedger | None:
        """The asset's ledger, settled up to now; ``None`` for an asset not held there."""
        ledger = self._ledgers.get((institution_id, asset_id)) or self._new_ledger(institution_id, asset_id)
        if ledger is not None:
            ledger.sweep(self.clock.now())
        return ledger

    def _new_ledger(self, institution_id: str, asset_id: str) -> AssetLedger | None:
        """The asset's ledger as the population opens it (nothing stored until it changes)."""
        asset = self.asset(institution_id, asset_id)
        if asset is None:
            return None
        protected = None
        if isinstance(asset, DepositAccount) and asset.protected:
            protected = asset.protected_reason or "protected account"
        # A securities holding's ledger counts shares, priced at the holding's price when it speaks.
        opening, unit = (asset.quantity, asset.price_fen) if isinstance(asset, SecuritiesHolding) else (asset.value_fen, 1)
        ledger = self._ledgers[(institution_id, asset_id)] = AssetLedger(
            institution_id, asset_id, asset.kind, opening, protected, emit=self._emitter(institution_id, asset_id), unit_fen=unit)
        return ledger

    def holder(self, institution_id: str, asset_id: str) -> str | None:
        return self._holders.get((institution_id, asset_id)) if self.asset(institution_id, asset_id) is not None else None

    def _emitter(self, institution_id: str, asset_id: str):  # type: ignore[no-untyped-def]
        key = (institution_id, asset_id)

        def emit(type_: str, at: datetime, fields: dict[str, Any]) -> None:
            self.journal.ledger_changed(self._ledgers[key])  # every change emits, news or not (lapses in a sweep too)
            if not self.known.knows(institution_id, asset_id):
                return  # the network has not heard of this asset: nothing to tell
            asset = self.asset(institution_id, asset_id)
            assert asset is not None  # a ledger exists only for an asset held here
            self.events.append(institution_id, type_, at, asset_kind=asset.kind, asset_id=asset_id,
                               holder_id_number=self._holders[key], **fields)
        return emit

    # --- what the network knows ----------------------------------------------------------------------
    def note_reported(self, institution_id: str, assets: Iterable[Asset]) -> None:
        """The institution reported these assets to the network: from now on their changes are events."""
        for a in assets:
            self.known.add(institution_id, a.asset_id)  # type: ignore[attr-defined]

    # --- time and funds ----------------------------------------------------------------------------
    def advance(self, days: float) -> datetime:
        self.clock.advance(days)
        self.journal.clock_moved(self.clock.offset)
        return self.sweep_all()

    def sweep_all(self) -> datetime:
        """Every ledger settled up to now (lapses and the promotions they bring)."""
        now = self.clock.now()
        for ledger in self._ledgers.values():
            ledger.sweep(now)
        return now

    def credit(self, institution_id: str, asset_id: str, amount_fen: int) -> AssetLedger:
        """Funds arriving in a money asset; ``LookupError`` or ``Refused`` when not possible."""
        ledger = self._existing(institution_id, asset_id)
        ledger.credit(amount_fen, self.clock.now())
        self.journal.ledger_changed(ledger)
        return ledger

    def debit(self, institution_id: str, asset_id: str, amount_fen: int) -> AssetLedger:
        """The holder spends free funds; ``LookupError`` or ``Refused`` (beyond what is free)."""
        ledger = self._existing(institution_id, asset_id)
        ledger.debit(amount_fen, self.clock.now())
        self.journal.ledger_changed(ledger)
        return ledger

    def _existing(self, institution_id: str, asset_id: str) -> AssetLedger:
        ledger = self.ledger(institution_id, asset_id)
        if ledger is None:
            raise LookupError(NO_SUCH_ASSET)
        return ledger

    def freeze_ledger(self, institution_id: str, freeze_id: str) -> AssetLedger | None:
        """The ledger holding the freeze ``freeze_id`` at the institution, settled up to now."""
        asset_id = self._freezes.get((institution_id, freeze_id))
        return None if asset_id is None else self.ledger(institution_id, asset_id)

    # --- orders ------------------------------------------------------------------------------------
    def execute(self, institution_id: str, order: ControlOrder) -> dict[str, Any]:
        """The control record for ``order``; a repeated order_id replays the first answer and
        changes nothing (institutions dedupe on the request number, not the content)."""
        key = (institution_id, order.order_id)
        stored = self._responses.get(key)
        if stored is not None:
            return {**stored, "duplicate": True}
        response = self._run(institution_id, order)
        self._responses[key] = response
        changed = response["status"] != "refused"
        if changed:
            self._changed.add(key)
            self.journal.ledger_changed(self._ledgers[(institution_id, order.asset.id)])
        # The answer is stored with the change it made: a repeat after a restart gets it back.
        self.journal.answered(institution_id, order.order_id, response, changed)
        return dict(response)

    def _run(self, institution_id: str, order: ControlOrder) -> dict[str, Any]:
        if not self.population.is_registered(order.officer_credentials):
            return _record(order, "refused", reason=REFUSAL_UNREGISTERED)
        ledger = self.ledger(institution_id, order.asset.id)
        if ledger is None or ledger.kind != order.asset.kind:
            return _record(order, "refused", reason=NO_SUCH_ASSET)
        self.known.add(institution_id, order.asset.id)  # a court's order names it: the network knows it now
        # Assistance is owed only against the debtor the documents name.
        held = self.population.assets_at(institution_id, order.debtor_id_number)
        if not any(a.asset_id == order.asset.id for a in held):  # type: ignore[attr-defined]
            return _record(order, "refused", reason="the asset is not held by the debtor named in the order")
        now = self.clock.now()
        try:
            if order.type == "freeze":
                freeze = ledger.freeze(
                    order.order_id, court=order.court, case_number=order.case_number, served_at=order.served_at,
                    amount_fen=order.quantity if ledger.shares else order.amount_fen, term_days=order.term_days, now=now,
                )
                self._freezes[(institution_id, freeze.freeze_id)] = order.asset.id
                return _record(order, freeze.status, ledger, freeze)
            if order.type == "continue":
                freeze = ledger.continue_(order.original_freeze_id, court=order.court, term_days=order.term_days, now=now)
                return _record(order, "applied", ledger, freeze)
            if order.type == "unfreeze":
                freeze = ledger.release(order.original_freeze_id, court=order.court, now=now, quantity=order.quantity)
                # Part of a securities freeze released: the freeze goes on holding the rest.
                return _record(order, "released" if freeze.state == "released" else "partially_applied", ledger, freeze)
            if order.type == "freeze_deduct":
                deduction = ledger.freeze_and_deduct(order.order_id, court=order.court, amount_fen=order.amount_fen,
                                                     enforcement_account=order.enforcement_account, now=now)
                status = "applied" if deduction.amount_fen == order.amount_fen else "partially_applied"
                return _record(order, status, ledger, deducted_fen=deduction.amount_fen)
            deduction = ledger.deduct(
                order.order_id, order.original_freeze_id, court=order.court, amount_fen=order.amount_fen,
                enforcement_account=order.enforcement_account, now=now,
            )
            return _record(order, "applied", ledger, ledger.freezes[deduction.freeze_id], deducted_fen=deduction.amount_fen)
        except Refused as refusal:
            return _record(order, "refused", reason=refusal.reason)

    # --- reporting ---------------------------------------------------------------------------------
    def summary(self, institution_ids: Iterable[str]) -> dict[str, Any]:
        """Totals over the given institutions (one kind's app reports its own)."""
        wanted = set(institution_ids)
        now = self.clock.now()
        held = deducted = 0
        by_court: dict[str, dict[str, int]] = defaultdict(lambda: {"held_fen": 0, "deducted_fen": 0})
        for (inst, _), ledger in self._ledgers.items():
            if inst not in wanted:
                continue
            ledger.sweep(now)
            for f in ledger.freezes.values():
                court = by_court[f.court]
                if f.active:
                    court["held_fen"] += ledger.priced(f.held_fen) or 0
                    held += ledger.priced(f.held_fen) or 0
            for d in ledger.deductions:
                by_court[d.court]["deducted_fen"] += d.amount_fen
                deducted += d.amount_fen
        return {
            "orders_applied": sum(1 for inst, _ in self._changed if inst in wanted),
            "held_fen": held,
            "deducted_fen": deducted,
            "by_court": dict(by_court),
            "responses": sum(1 for inst, _ in self._responses if inst in wanted),
        }


def _record(
    order: ControlOrder,
    status: str,
    ledger: AssetLedger | None = None,
    freeze: Freeze | None = None,
    *,
    reason: str | None = None,
    deducted_fen: int | None = None,
) -> dict[str, Any]:
    """The control record. ``freeze_id`` names the freeze concerned: the new one for a freeze
    order (none when refused), else the one the order named."""
    counted = ledger.counted if ledger is not None else order.asset.kind in MONEY_KINDS
    freeze_id = (freeze.freeze_id if freeze is not None else None) if order.type == "freeze" else order.original_freeze_id
    # What was asked: the order's own amount (or shares) for a freeze or deduction, else the freeze's target.
    if order.type in ("freeze", "deduct", "freeze_deduct") and counted:
        requested = order.quantity if ledger is not None and ledger.shares else order.amount_fen
    else:
        requested = freeze.requested_fen if freeze is not None else None
    shares = ledger is not None and ledger.shares and freeze is not None
    return {
        "order_id": order.order_id,
        "status": status,
        "freeze_id": freeze_id,
        "held_fen": ledger.priced(freeze.held_fen) if ledger is not None and freeze is not None else None,
        **({"held_quantity": freeze.held_fen, "requested_quantity": requested} if shares else {}),  # type: ignore[union-attr]
        # Fen as the world reads it (a refusal, with no ledger at hand, echoes what was asked).
        "requested_fen": ledger.priced(requested) if ledger is not None else requested,
        "deducted_fen": deducted_fen,
        "queue_position": ledger.queue_position(freeze) if ledger is not None and freeze is not None else None,
        "start_date": iso(freeze.start) if freeze is not None else None,
        "end_date": iso(freeze.end) if freeze is not None else None,
        "reason": reason,
        "duplicate": False,
    }
