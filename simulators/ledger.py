"""One asset's ledger: its balance (money assets) and the court freezes on it, as a state machine.

Pure logic: no HTTP, no population, no order ids bookkeeping (``ledger_book`` does those). Every
operation takes ``now`` and first settles lapses up to it, so callers never see a freeze that
should already have ended. Refusals raise ``Refused`` *before* anything changes, so a refused
order leaves the ledger exactly as it was.

Money (deposit, wallet, and a court claim: money another court holds for the debtor, where a
freeze is that court's withholding, 扣留, and the free part is what it pays out to him): a
freeze names an exact amount and holds at most what is free; funds above the held amounts stay
usable. A short freeze keeps capturing later funds. Property
(vehicle, real estate, equity): a freeze takes the whole asset, further freezes queue (轮候).

Changes a court did not ask for in the same breath (funds in and out, captures, promotions, queue
moves, lapses, releases, deductions) go to the ``emit`` hook as ``(type, at, fields)``, ``fields``
being ``schemas.events.InstitutionEvent`` fields: a freeze's whole state after the change
(``freeze_state``) and, for money, the balance after it. Who holds the asset, and whether the
network hears of it at all, is the book's business.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

MONEY_KINDS = frozenset({"deposit", "wallet", "court_claim"})
# Statutory maxima: deposits/funds 1 year, movables 2 years, real estate and other property rights (equity) 3 years.
MAX_TERM_DAYS: dict[str, int] = {"deposit": 365, "wallet": 365, "vehicle": 730, "real_estate": 1095, "equity": 1095,
                                  "court_claim": 365}

FreezeState = Literal["queued", "active", "lapsed", "released"]


class Refused(Exception):
    """The institution declines the order; ``reason`` goes back to the court verbatim."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


@dataclass(slots=True)
class Freeze:
    freeze_id: str  # the order_id of the freeze order
    court: str
    case_number: str
    served_at: datetime
    seq: int  # arrival order: breaks ties between equal service times
    term_days: int
    requested_fen: int | None  # None for property: the whole asset is frozen
    held_fen: int = 0
    state: FreezeState = "queued"
    start: datetime | None = None  # set when the freeze takes effect (queued ones: on promotion)
    end: datetime | None = None

    @property
    def active(self) -> bool:
        return self.state == "active"

    @property
    def short_fen(self) -> int:
        return 0 if self.requested_fen is None else max(0, self.requested_fen - self.held_fen)

    @property
    def status(self) -> str:
        if self.state == "active":
            return "partially_applied" if self.short_fen > 0 else "applied"
        return self.state

    def order_key(self) -> tuple[datetime, int]:
        return (self.served_at, self.seq)


@dataclass(frozen=True, slots=True)
class Deduction:
    order_id: str
    freeze_id: str
    court: str
    amount_fen: int
    enforcement_account: str
    at: datetime


class AssetLedger:
    def __init__(
        self,
        institution_id: str,
        asset_id: str,
        kind: str,
        balance_fen: int = 0,
        protected_reason: str | None = None,
        emit: Callable[[str, datetime, dict[str, Any]], None] | None = None,
    ) -> None:
        if kind not in MAX_TERM_DAYS:
            raise ValueError(f"unknown asset kind {kind!r}")
        self.institution_id = institution_id
        self.asset_id = asset_id
        self.kind = kind
        self.money = kind in MONEY_KINDS
        self.balance_fen = balance_fen if self.money else 0
        self.protected_reason = protected_reason
        self.freezes: dict[str, Freeze] = {}  # insertion order = arrival order
        self.deductions: list[Deduction] = []
        # Tells the institution's event feed what changed: (event type, when, event fields).
        self._emit = emit or (lambda type_, at, fields: None)

    # --- reading -----------------------------------------------------------------------------------
    def active(self) -> list[Freeze]:
        return [f for f in self.freezes.values() if f.active]

    def queue(self) -> list[Freeze]:
        """Queued freezes, next in line first: by service time, then arrival."""
        return sorted((f for f in self.freezes.values() if f.state == "queued"), key=Freeze.order_key)

    def queue_position(self, freeze: Freeze) -> int | None:
        if freeze.state != "queued":
            return None
        return next(i for i, f in enumerate(self.queue(), start=1) if f is freeze)

    @property
    def held_fen(self) -> int:
        return sum(f.held_fen for f in self.active())

    @property
    def available_fen(self) -> int:
        return self.balance_fen - self.held_fen

    @property
    def deducted_fen(self) -> int:
        return sum(d.amount_fen for d in self.deductions)

    def freeze_state(self, freeze: Freeze) -> dict[str, Any]:
        """The freeze as ``schemas.events.FreezeState`` has it: what the court's copy should equal."""
        return {
            "freeze_id": freeze.freeze_id,
            "court": freeze.court,
            "status": freeze.status,
            "held_fen": freeze.held_fen if self.money else None,
            "requested_fen": freeze.requested_fen if self.money else None,
            "deducted_fen": sum(d.amount_fen for d in self.deductions if d.freeze_id == freeze.freeze_id),
            "queue_position": self.queue_position(freeze),
            "start_date": iso(freeze.start),
            "end_date": iso(freeze.end),
        }

    # --- time --------------------------------------------------------------------------------------
    def sweep(self, now: datetime) -> None:
        """Lapse every freeze whose term ended by ``now``, one at a time in end order, promoting
        the queue at each lapse instant: a promoted freeze's own term starts then, not now, so a
        long jump of the clock gives the same history as living through it."""
        while True:
            due = [f for f in self.active() if f.end is not None and f.end <= now]
            if not due:
                return
            first = min(due, key=lambda f: (f.end, f.seq))
            at: datetime = first.end  # type: ignore[assignment]
            before = self._positions()
            first.state, first.held_fen = "lapsed", 0
            self._emit_freeze("freeze_lapsed", at, first)
            self._settle(at)
            self._emit_queue_moves(before, at)

    # --- orders ------------------------------------------------------------------------------------
    def freeze(
        self,
        freeze_id: str,
        *,
        court: str,
        case_number: str,
        served_at: datetime,
        amount_fen: int | None,
        term_days: int | None,
        now: datetime,
    ) -> Freeze:
        self.sweep(now)
        if self.protected_reason is not None:
            raise Refused(f"protected funds cannot be frozen: {self.protected_reason}")
        term = self._term(term_days)
        if self.money and (amount_fen is None or amount_fen <= 0):
            raise Refused("amount_fen must be a positive amount: a money freeze names an exact sum")
        if freeze_id in self.freezes:
            raise Refused(f"freeze {freeze_id!r} already exists on this asset")
        before = self._positions()
        # Freezes are never removed, so the count is the arrival number: nothing else to restore.
        freeze = Freeze(freeze_id, court, case_number, served_at, len(self.freezes) + 1, term,
                        amount_fen if self.money else None)
        self.freezes[freeze_id] = freeze
        if self.money:
            free = self.available_fen
            # Nothing free and someone else holding it: wait in line. An empty, unfrozen
            # account instead takes the freeze at once, so it captures the first funds in.
            if free > 0 or not self.active():
                self._activate(freeze, now, min(amount_fen or 0, free))
        elif not self.active():
            self._activate(freeze, now)
        # A freeze served earlier than some already queued goes ahead of them: their state changed.
        self._emit_queue_moves(before, now)
        return freeze

    def continue_(self, freeze_id: str | None, *, court: str, term_days: int | None, now: datetime) -> Freeze:
        self.sweep(now)
        freeze = self._own(freeze_id, court, "continue")
        if freeze.state != "active":
            raise Refused(_not_active(freeze, "continued"))
        term = self._term(term_days)
        assert freeze.end is not None  # an active freeze always has a term
        # A continuation extends the live freeze from its end date, but never to more than one
        # term of its kind beyond the day it is served: renewals cannot be stacked in advance.
        latest = now + timedelta(days=MAX_TERM_DAYS[self.kind])
        if freeze.end + timedelta(days=term) > latest:
            raise Refused(f"the freeze would end on {iso(freeze.end + timedelta(days=term))}, more than "
                          f"{MAX_TERM_DAYS[self.kind]} days (one {self.kind} term) after this continuation")
        freeze.end += timedelta(days=term)
        return freeze

    def release(self, freeze_id: str | None, *, court: str, now: datetime) -> Freeze:
        self.sweep(now)
        freeze = self._own(freeze_id, court, "unfreeze")
        if freeze.state in ("lapsed", "released"):
            raise Refused(_not_active(freeze, "released"))
        was_active = freeze.active
        before = self._positions()
        freeze.state, freeze.held_fen = "released", 0
        self._emit_freeze("freeze_released", now, freeze)
        if was_active:
            self._settle(now)
        self._emit_queue_moves(before, now)
        return freeze

    def deduct(
        self,
        order_id: str,
        freeze_id: str | None,
        *,
        court: str,
        amount_fen: int | None,
        enforcement_account: str | None,
        now: datetime,
    ) -> Deduction:
        self.sweep(now)
        if not self.money:
            raise Refused(f"deduction applies to money assets only; a {self.kind} cannot be deducted")
        if self.protected_reason is not None:
            raise Refused(f"protected funds cannot be deducted: {self.protected_reason}")
        if not enforcement_account:
            raise Refused("enforcement_account (the court's 执行款专户) is required for a deduction")
        freeze = self._own(freeze_id, court, "deduct")
        if freeze.state != "active":
            raise Refused(_not_active(freeze, "deducted from"))
        if amount_fen is None or amount_fen <= 0:
            raise Refused("amount_fen must be a positive amount to deduct")
        if amount_fen > freeze.held_fen:
            raise Refused(f"amount {amount_fen} fen exceeds the {freeze.held_fen} fen this freeze holds")
        # The funds leave the account; the freeze's target shrinks with them, so it does not
        # go on to capture what it has already collected.
        self.balance_fen -= amount_fen
        freeze.held_fen -= amount_fen
        freeze.requested_fen = (freeze.requested_fen or 0) - amount_fen
        deduction = Deduction(order_id, freeze.freeze_id, court, amount_fen, enforcement_account, now)
        self.deductions.append(deduction)
        self._emit_freeze("deduction_executed", now, freeze, amount_fen=amount_fen, court=court)
        return deduction

    def freeze_and_deduct(self, order_id: str, *, court: str, amount_fen: int | None, enforcement_account: str | None,
                          now: datetime) -> Deduction:
        """Control code 08 (冻结并扣划): free funds, up to ``amount_fen``, frozen and moved to the court's
        account in one step; no freeze is left behind. Funds other courts hold stay where they are;
        a short balance gives what is free (the record says how much), an account with nothing
        free refuses."""
        self.sweep(now)
        if not self.money:
            raise Refused(f"freeze-and-deduct applies to money assets only; a {self.kind} cannot be deducted")
        if self.protected_reason is not None:
            raise Refused(f"protected funds cannot be deducted: {self.protected_reason}")
        if not enforcement_account:
            raise Refused("enforcement_account (the court's 执行款专户) is required for a deduction")
        if amount_fen is None or amount_fen <= 0:
            raise Refused("amount_fen must be a positive amount to deduct")
        take = min(amount_fen, self.available_fen)
        if take <= 0:
            raise Refused(f"no free funds to deduct (balance {self.balance_fen} fen, held by freezes {self.held_fen} fen)")
        self.balance_fen -= take
        deduction = Deduction(order_id, order_id, court, take, enforcement_account, now)
        self.deductions.append(deduction)
        self._emit("funds_deducted", now, {"amount_fen": take, "balance_fen": self.balance_fen, "court": court})
        return deduction

    def credit(self, amount_fen: int, now: datetime) -> None:
        """Funds arrive: short freezes capture first, then the queue moves up."""
        if not self.money:
            raise Refused(f"a {self.kind} holds no funds to credit")
        if amount_fen <= 0:
            raise Refused("a credit must be a positive amount")
        self.sweep(now)
        before = self._positions()
        self.balance_fen += amount_fen
        self._emit("funds_credited", now, {"amount_fen": amount_fen, "balance_fen": self.balance_fen})
        self._settle(now)
        self._emit_queue_moves(before, now)

    def debit(self, amount_fen: int, now: datetime) -> None:
        """The holder spends or moves money out: only what no freeze holds."""
        if not self.money:
            raise Refused(f"a {self.kind} holds no funds to debit")
        if amount_fen <= 0:
            raise Refused("a debit must be a positive amount")
        self.sweep(now)
        if amount_fen > self.available_fen:
            raise Refused(f"amount_fen {amount_fen} exceeds the {self.available_fen} fen available "
                          f"(balance {self.balance_fen}, held by freezes {self.held_fen})")
        self.balance_fen -= amount_fen
        self._emit("funds_debited", now, {"amount_fen": amount_fen, "balance_fen": self.balance_fen})

    # --- internals ---------------------------------------------------------------------------------
    def _term(self, term_days: int | None) -> int:
        limit = MAX_TERM_DAYS[self.kind]
        if term_days is None or term_days <= 0:
            raise Refused("term_days must be a positive number of days")
        if term_days > limit:
            raise Refused(f"term exceeds {limit} days, the limit for a {self.kind} freeze")
        return term_days

    def _own(self, freeze_id: str | None, court: str, action: str) -> Freeze:
        if not freeze_id:
            raise Refused(f"original_freeze_id is required to {action}")
        freeze = self.freezes.get(freeze_id)
        if freeze is None:
            raise Refused(f"no freeze {freeze_id!r} on this asset")
        if freeze.court != court:
            raise Refused(f"freeze {freeze_id!r} was ordered by another court; only that court may {action} it")
        return freeze

    def _activate(self, freeze: Freeze, at: datetime, take_fen: int = 0) -> None:
        freeze.state, freeze.held_fen = "active", take_fen
        freeze.start, freeze.end = at, at + timedelta(days=freeze.term_days)

    def _settle(self, at: datetime) -> None:
        """After funds arrive or are freed: short freezes top up in service order, then queued
        freezes take effect in service order while funds remain (or while nothing else is in
        effect: the next in line then waits on an empty account as an active freeze)."""
        if not self.money:
            queue = self.queue()
            if queue and not self.active():
                self._promote(queue[0], at)
            return
        free = self.available_fen
        for freeze in sorted((f for f in self.active() if f.short_fen > 0), key=Freeze.order_key):
            take = min(freeze.short_fen, free)
            if take > 0:
                freeze.held_fen += take
                free -= take
                self._emit_freeze("freeze_captured", at, freeze, amount_fen=take)
        for freeze in self.queue():
            if free <= 0 and self.active():
                break
            take = min(freeze.requested_fen or 0, free)
            self._promote(freeze, at, take)
            free -= take

    def _promote(self, freeze: Freeze, at: datetime, take_fen: int = 0) -> None:
        """A queued freeze takes effect (its own term starts now)."""
        self._activate(freeze, at, take_fen)
        self._emit_freeze("freeze_promoted", at, freeze)

    # --- events ------------------------------------------------------------------------------------
    def _emit_freeze(self, type_: str, at: datetime, freeze: Freeze, **fields: Any) -> None:
        if self.money:
            fields["balance_fen"] = self.balance_fen
        self._emit(type_, at, {"freeze": self.freeze_state(freeze), **fields})

    def _positions(self) -> dict[str, int]:
        return {f.freeze_id: n for n, f in enumerate(self.queue(), start=1)}

    def _emit_queue_moves(self, before: dict[str, int], at: datetime) -> None:
        """``queue_advanced`` for every freeze still queued whose place changed since ``before``
        (a promoted one has had its ``freeze_promoted``; a new one is the answer to its order)."""
        for position, freeze in enumerate(self.queue(), start=1):
            if before.get(freeze.freeze_id, position) != position:
                self._emit_freeze("queue_advanced", at, freeze)

    # --- views -------------------------------------------------------------------------------------
    def view(self) -> dict[str, Any]:
        out: dict[str, Any] = {"institution_id": self.institution_id, "asset_id": self.asset_id, "kind": self.kind}
        if self.money:
            out["balance_fen"] = self.balance_fen
        out["freezes"] = [
            {
                "freeze_id": f.freeze_id,
                "court": f.court,
                "case_number": f.case_number,
                "status": f.status,
                "requested_fen": f.requested_fen,
                "held_fen": f.held_fen if self.money else None,
                "served_at": iso(f.served_at),
                "start_date": iso(f.start),
                "end_date": iso(f.end),
                "queue_position": self.queue_position(f),
            }
            for f in self.freezes.values()
        ]
        out["deductions"] = [
            {
                "order_id": d.order_id,
                "freeze_id": d.freeze_id,
                "court": d.court,
                "amount_fen": d.amount_fen,
                "enforcement_account": d.enforcement_account,
                "at": iso(d.at),
            }
            for d in self.deductions
        ]
        return out


def _not_active(freeze: Freeze, verb: str) -> str:
    why = {
        "queued": "is queued (轮候) and not yet in effect",
        "lapsed": "has lapsed",
        "released": "has been released",
    }.get(freeze.state, "is not in effect")
    return f"the freeze {why}; it cannot be {verb}"
