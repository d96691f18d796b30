"""The order desk: checks an officer's control order against the case and the law before it is
stored and sent — the asset must be one the case's inquiries found, the court must hold the case,
freezes may not exceed the amount due plus costs, and a continue, unfreeze or deduction must name
a freeze of the same court on the same asset. Deductions wait for a second officer.

Each check and the write it allows are one unit of work, so no other order can slip in between
(two freezes that each fit alone but over-freeze together)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import structlog

from gateway.inquiries.live import LiveAssets
from gateway.orders.freeze_plan import deposit_cap, plan_freezes
from gateway.orders.shown import shown_times
from gateway.orders.states import HOLDING_FREEZE, LIVE_FREEZE
from gateway.store.interfaces import Store, UnitOfWork
from gateway.store.records import CaseMoney, CaseRecord, FoundAsset, LiveFreeze, NewOrder, OrderEvent, OrderRecord
from infra.clock import ms_to_dt, now_ms, shown, shown_date, shown_iso
from schemas.assets import asset_id, attributable_fen
from schemas.courts import Courts
from schemas.directory import Directory
from schemas.identifiers import court_code
from schemas.messages import new_id
from schemas.money import yuan
from schemas.orders import DEDUCTING, MAX_TERM_DAYS, MONEY_KINDS, QUANTITY_KINDS, Approval, AssetRef, Decline, FreezePlanRequest, OrderCreate

log = structlog.get_logger("orders")

INSTITUTION_KIND_OF = {"deposit": "bank", "wallet": "payment", "real_estate": "land", "vehicle": "vehicle",
                       "equity": "equity", "fund_account": "fund", "court_claim": "court",
                       "securities": "securities"}


@dataclass(frozen=True)
class CaseState:
    """What the checks of one order read about its case, read once: the assets its inquiries found,
    its money (collected, held) and its live freezes."""

    found: list[FoundAsset]
    money: CaseMoney
    live: list[LiveFreeze]

    @classmethod
    def read(cls, uow: UnitOfWork, case_number: str) -> CaseState:
        """The whole case, as a freeze plan weighs it."""
        return cls._with(uow, case_number, uow.inquiries.case_assets(case_number), uow.orders.live_freezes_of_case(case_number))

    @classmethod
    def read_for(cls, uow: UnitOfWork, case_number: str, institution_id: str, ref: AssetRef) -> CaseState:
        """What one order's checks read: of the found assets, only the holder's (the asset itself, and
        his deposits for the living allowance) and those under the case's live property freezes
        (their values count as covered). Reading every asset of a large case for each order made
        placing orders cost as much as the case was large."""
        live = uow.orders.live_freezes_of_case(case_number)
        holders = {f.debtor_id_number for f in uow.inquiries.case_assets(case_number, institutions=[institution_id])
                   if f.asset["kind"] == ref.kind and asset_id(f.asset) == ref.id}
        frozen_at = {f.institution_id for f in live if f.asset_kind not in MONEY_KINDS}
        found = {(f.debtor_id_number, f.asset["institution_id"], asset_id(f.asset)): f
                 for f in [*uow.inquiries.case_assets(case_number, debtors=holders),
                           *uow.inquiries.case_assets(case_number, institutions=frozen_at)]}
        return cls._with(uow, case_number, list(found.values()), live)

    @classmethod
    def _with(cls, uow: UnitOfWork, case_number: str, found: list[FoundAsset], live: list[LiveFreeze]) -> CaseState:
        assets = LiveAssets.read(uow.events, uow.orders, (f.asset for f in found), controls=False)
        found = [FoundAsset(f.debtor_id_number, assets.asset(f.asset)) for f in found]  # balances as they stand now
        return cls(found, uow.orders.case_money(case_number), live)


@dataclass
class OrderRejected(Exception):
    status: int
    field: str
    message: str


class OrderDesk:
    def __init__(self, store: Store, directory: Directory, courts: Courts, deadline_s: float,
                 on_ready: Callable[[], None], living_allowance_fen: int = 0) -> None:
        self.store = store
        self.directory = directory
        self.courts = courts
        # What a natural person keeps free of his deposits (the local minimum-living standard).
        self.living_allowance_fen = living_allowance_fen
        self.deadline_s = deadline_s
        self.on_ready = on_ready  # wakes the relay

    # -- placing ------------------------------------------------------------------------------------

    def place(self, body: OrderCreate) -> tuple[OrderRecord, bool]:
        """Returns (order, replayed). A repeated idempotency key with the same request returns the
        first order; with a different request it is refused, so a key never names two orders."""
        digest = body_digest(body.model_dump(mode="json"))
        with self.store.unit_of_work() as uow:
            existing = uow.orders.by_key(scoped_key(body.case_number, body.idempotency_key))
            if existing is not None:
                if existing.request_digest != digest:
                    raise OrderRejected(409, "idempotency_key", "this key already names a different order")
                return existing, True
            order = self._prepare(uow, body, digest)
            uow.orders.place(order, actor=body.operator)
        log_placed([order], "officer")
        self.on_ready()
        return self.get(order.id), False

    def freeze_arrival(self, body: OrderCreate, credited_fen: int) -> tuple[OrderRecord, bool]:
        """Freezes money that has just arrived in a money asset (a watch's automatic action): as much
        of ``credited_fen`` as the case may still freeze under the same rules as any freeze —
        over-freezing and the living allowance, judged on the live balances (the arrival's event is
        applied before listeners hear of it). ``body.amount_fen`` is replaced by that amount. Returns
        (order, replayed): the key names one arrival, so a repeat returns the first order whatever
        the case's room is by then. Raises ``OrderRejected`` when nothing may be frozen, saying why."""
        with self.store.unit_of_work() as uow:
            existing = uow.orders.by_key(scoped_key(body.case_number, body.idempotency_key))
            if existing is not None:
                return existing, True
            case = self._case(uow, body.case_number, body.court)
            state = CaseState.read_for(uow, body.case_number, body.institution_id, body.asset)
            debtor, asset = self._found_asset(state.found, body.institution_id, body.asset)
            if asset.get("protected"):  # the institution would refuse: say so now, as the freeze plan skips it
                raise OrderRejected(422, "asset.id", f"a protected account ({asset.get('protected_reason') or 'protected funds'}) cannot be frozen")
            amount = min(credited_fen, self._freezable_fen(uow, case, state, debtor, body.asset.kind))
            body = body.model_copy(update={"amount_fen": amount})
            order = self._prepare(uow, body, body_digest(body.model_dump(mode="json")), state=state)
            uow.orders.place(order, actor=body.operator)  # type: ignore[arg-type]
        log_placed([order], "watch")
        self.on_ready()
        return self.get(order.id), False

    def _freezable_fen(self, uow: UnitOfWork, case: CaseRecord, state: CaseState, debtor: str, kind: str) -> int:
        """The most a new freeze of the debtor's money asset of ``kind`` may hold now: what remains
        to secure, and for a natural person's deposits what his living allowance leaves. Raises
        ``OrderRejected`` naming the rule when that is nothing."""
        remaining = self._remaining_fen(case, state)
        if remaining <= 0:
            raise OrderRejected(422, "amount_fen", f"over-freezing: nothing remains to secure (due {yuan(case.due_fen)}, "
                                                   f"collected {yuan(state.money.deducted_fen)}, frozen {yuan(_covered_fen(state))})")
        if kind != "deposit":
            return remaining
        cap = self._deposit_caps(uow, case.case_number, state, only=debtor).get(debtor)
        if cap is not None and cap <= 0:
            raise OrderRejected(422, "amount_fen", f"the debtor's living allowance of {yuan(self.living_allowance_fen)} stays free: "
                                                   "none of his deposits may be frozen beyond it")
        return remaining if cap is None else min(remaining, cap)

    def _prepare(self, uow: UnitOfWork, body: OrderCreate, digest: str, planned_fen: int = 0,
                 planned_deposits: dict[str, int] | None = None, state: CaseState | None = None) -> NewOrder:
        """Checks an order against the case and the law; ``planned_fen`` (all kinds) and
        ``planned_deposits`` (per debtor) are what a plan being executed placed before it, and
        ``state`` the case as that plan read it (its orders are stored only once all are checked)."""
        institution = self.directory.by_id.get(body.institution_id)
        if institution is None:
            raise OrderRejected(422, "institution_id", f"unknown institution {body.institution_id!r}")
        if INSTITUTION_KIND_OF[body.asset.kind] != institution.kind:
            raise OrderRejected(422, "asset.kind", f"a {institution.kind} institution holds no {body.asset.kind}")
        if body.type in DEDUCTING:
            self._check_enforcement_account(body)
        case = self._case(uow, body.case_number, body.court)
        state = state or CaseState.read_for(uow, body.case_number, body.institution_id, body.asset)  # read once: every check below uses it
        debtor, asset = self._found_asset(state.found, body.institution_id, body.asset)
        if asset.get("protected") and body.type in ("freeze", *DEDUCTING):
            # The institution would refuse it: say so now, with the law's reason, and send nothing.
            raise OrderRejected(422, "asset.id", f"protected funds cannot be {'frozen' if body.type == 'freeze' else 'deducted'}: "
                                                 f"{asset.get('protected_reason') or 'protected account'}")
        original = self._check_original(uow, body) if body.original_order_id else None
        amount_fen = body.amount_fen
        if body.asset.kind in QUANTITY_KINDS and body.quantity is not None:
            amount_fen = self._check_shares(body, asset, original, case, state, planned_fen)
        elif body.type in ("freeze", "freeze_deduct"):
            # Freezing and deducting at once takes no more than a freeze could: what remains due.
            self._check_not_over_freezing(case, state, body.asset.kind, body.amount_fen, planned_fen)
            if body.asset.kind == "deposit":
                # What the freeze holds at once: beyond the balance it only captures later funds.
                holds_now = min(body.amount_fen, attributable_fen(asset))  # type: ignore[type-var]
                self._check_living_allowance(uow, case, state, debtor, holds_now, (planned_deposits or {}).get(debtor, 0))
        if body.type == "continue":
            self._check_continuation(original, body.term_days)  # type: ignore[arg-type]
        now = now_ms()
        return NewOrder(
            id=new_id(), idempotency_key=scoped_key(body.case_number, body.idempotency_key), request_digest=digest,
            type=body.type,
            case_number=body.case_number, court=body.court, institution_id=institution.id,
            institution_kind=institution.kind, asset_kind=body.asset.kind, asset_id=body.asset.id,
            debtor_id_number=debtor, amount_fen=amount_fen, quantity=body.quantity, term_days=body.term_days,
            ruling_number=body.ruling_number, notice_number=body.notice_number,
            officer_credentials=tuple(body.officer_credentials), operator=body.operator,
            original_order_id=original.id if original else None, enforcement_account=body.enforcement_account,
            created_at=now, deadline=now + int(self.deadline_s * 1000),
        )

    def _check_shares(self, body: OrderCreate, asset: dict[str, Any], original: OrderRecord | None, case: CaseRecord,
                      state: CaseState, planned_fen: int) -> int | None:
        """Securities: a freeze names no more shares than the holding has, and no more than cover what
        remains (one share fewer must fall short: shares are the smallest part, 超标的 by less than one);
        an unfreeze no more than its freeze names. Returns what a freeze secures: its shares' value."""
        quantity: int = body.quantity  # type: ignore[assignment]
        if body.type == "unfreeze":
            if original is not None and original.quantity is not None and quantity > original.quantity:
                raise OrderRejected(422, "quantity", f"the freeze names {original.quantity} shares; no more can be released")
            return None
        if quantity > asset["quantity"]:
            raise OrderRejected(422, "quantity", f"the holding has {asset['quantity']} shares; no more can be frozen")
        remaining = self._remaining_fen(case, state, planned_fen)
        if (quantity - 1) * asset["price_fen"] >= remaining:
            raise OrderRejected(422, "quantity", f"over-freezing: {quantity - 1} shares at {yuan(asset['price_fen'])} already cover what "
                                                 f"remains to secure, {yuan(max(remaining, 0))}")
        return quantity * asset["price_fen"]

    def _check_enforcement_account(self, body: OrderCreate) -> None:
        """Deducted money goes to the deciding court's enforcement-fund account (执行款专户) only."""
        court = self.courts.get(court_code(body.case_number))
        if court is None or body.enforcement_account != court.enforcement_account:
            expected = court.enforcement_account if court else "none: the court is not in the directory"
            raise OrderRejected(422, "enforcement_account", f"must be the court's enforcement-fund account (执行款专户) {expected}")

    def _case(self, uow: UnitOfWork, case_number: str, court: str) -> CaseRecord:
        return held_case(uow, case_number, court)

    def _found_asset(self, found: list[FoundAsset], institution_id: str, ref: AssetRef) -> FoundAsset:
        for item in found:
            asset = item.asset
            if asset["institution_id"] == institution_id and asset["kind"] == ref.kind and asset_id(asset) == ref.id:
                return item
        raise OrderRejected(422, "asset.id", f"{ref.kind} {ref.id} at {institution_id} is in no report of this case")

    def _check_original(self, uow: UnitOfWork, body: OrderCreate) -> OrderRecord:
        original = uow.orders.get(body.original_order_id)  # type: ignore[arg-type]
        if original is None or original.type != "freeze":
            raise OrderRejected(422, "original_order_id", "names no freeze order")
        if (original.institution_id, original.asset_id) != (body.institution_id, body.asset.id):
            raise OrderRejected(422, "original_order_id", "names a freeze on another asset")
        if original.court != body.court:
            raise OrderRejected(422, "court", f"only the court that froze the asset ({original.court}) may {body.type} it")
        allowed = HOLDING_FREEZE if body.type in ("deduct", "continue") else LIVE_FREEZE
        if original.status not in allowed:
            raise OrderRejected(422, "original_order_id", f"the freeze is {original.status}; a {body.type} needs it {' or '.join(allowed)}")
        if body.type == "deduct" and body.amount_fen > (original.held_fen or 0):  # type: ignore[operator]
            raise OrderRejected(422, "amount_fen", f"the freeze holds {yuan(original.held_fen or 0)}; a deduction moves frozen funds only")
        return original

    def _check_not_over_freezing(self, case: CaseRecord, state: CaseState, kind: str, amount: int | None, planned_fen: int) -> None:
        """Judged against what remains: due plus costs, less what was collected and what the case's
        live freezes still cover."""
        collected = state.money.deducted_fen
        covered = _covered_fen(state) + planned_fen
        remaining = self._remaining_fen(case, state, planned_fen)
        if kind in MONEY_KINDS:
            if amount > remaining:  # type: ignore[operator]
                raise OrderRejected(422, "amount_fen", f"over-freezing: {yuan(amount)} exceeds what remains to secure, "  # type: ignore[arg-type]
                                                       f"{yuan(max(remaining, 0))} (due {yuan(case.due_fen)}, collected "
                                                       f"{yuan(collected)}, frozen {yuan(covered)})")
        elif remaining <= 0:
            raise OrderRejected(422, "asset.id", f"over-freezing: nothing remains to secure (due {yuan(case.due_fen)}, "
                                                 f"collected {yuan(collected)}, frozen {yuan(covered)})")

    @staticmethod
    def _remaining_fen(case: CaseRecord, state: CaseState, planned_fen: int = 0) -> int:
        """What remains to secure: due plus costs, less what was collected and what the case's live
        freezes (and ``planned_fen`` of a plan being placed) still cover."""
        return case.due_fen - state.money.deducted_fen - _covered_fen(state) - planned_fen

    def _check_living_allowance(self, uow: UnitOfWork, case: CaseRecord, state: CaseState, debtor: str,
                                amount: int, planned_fen: int) -> None:
        """A natural person keeps his living allowance free across his deposit accounts."""
        caps = self._deposit_caps(uow, case.case_number, state, only=debtor)
        if debtor in caps and amount > caps[debtor] - planned_fen:
            raise OrderRejected(422, "amount_fen", f"the debtor's living allowance of {yuan(self.living_allowance_fen)} stays free: "
                                                   f"at most {yuan(max(caps[debtor] - planned_fen, 0))} more of his deposits may be frozen")

    def _deposit_caps(self, uow: UnitOfWork, case_number: str, state: CaseState, only: str | None = None) -> dict[str, int]:
        """Per natural person of the case (or just ``only``): the most of his deposits that may
        still be frozen."""
        if not self.living_allowance_fen:
            return {}
        persons = uow.inquiries.case_persons(case_number)
        found = state.found
        if only is not None:
            if only not in persons:
                return {}
            persons, found = {only}, [f for f in found if f.debtor_id_number == only]
        frozen: dict[str, int] = {}
        for f in state.live:
            if f.asset_kind == "deposit":
                frozen[f.debtor_id_number] = frozen.get(f.debtor_id_number, 0) + state.money.open_by_freeze.get(f.id, 0)
        return {person: deposit_cap(found, person, frozen.get(person, 0), self.living_allowance_fen) for person in persons}

    @staticmethod
    def _check_continuation(original: OrderRecord, term_days: int) -> None:
        """A continuation extends the live freeze from its end date, and never to more than one term
        of its kind beyond the day it is served: renewals cannot be stacked in advance."""
        if original.end_date is None:
            return  # the institution has not said when it ends: its own ledger applies the same rule
        limit = MAX_TERM_DAYS[original.asset_kind]
        end = datetime.fromisoformat(original.end_date) + timedelta(days=term_days)
        if end > ms_to_dt(now_ms()) + timedelta(days=limit):
            raise OrderRejected(422, "term_days", f"the freeze would end on {shown_date(end)}, more than {limit} days "
                                                  f"(one {original.asset_kind} term) after this continuation is served")

    # -- approving ----------------------------------------------------------------------------------

    def approve(self, order_id: str, approval: Approval) -> OrderRecord:
        with self.store.unit_of_work() as uow:
            order = _existing(uow.orders.get(order_id), order_id)
            now = now_ms()
            problem = _second_officer_problem(order, approval.checker)  # type: ignore[arg-type]
            if problem:
                uow.orders.note(order_id, now, approval.checker, "approval_refused", {"reason": problem.message})
            else:
                uow.orders.approve(order_id, approval.checker, now)
        if problem:
            raise problem  # after the unit of work: the refusal stays in the audit trail
        self.on_ready()
        return self.get(order_id)

    def decline(self, order_id: str, decline: Decline) -> OrderRecord:
        """The second officer turns the deduction down: it is never sent, and why is in its trail."""
        with self.store.unit_of_work() as uow:
            order = _existing(uow.orders.get(order_id), order_id)
            problem = _second_officer_problem(order, decline.checker)  # type: ignore[arg-type]
            if problem is None:
                uow.orders.decline(order_id, decline.checker, decline.reason, now_ms())  # type: ignore[arg-type]
        if problem:
            raise problem
        log.info("deduction declined", order_id=order_id, checker=decline.checker)
        return self.get(order_id)

    def get(self, order_id: str) -> OrderRecord:
        return _existing(self.store.orders.get(order_id), order_id)

    def events(self, order_id: str) -> list[OrderEvent]:
        return self.store.orders.events(order_id)

    def with_history(self, order_id: str) -> tuple[OrderRecord, list[OrderEvent]]:
        """The order and its audit trail as of one moment (its status agrees with its history)."""
        with self.store.read_view():
            return self.get(order_id), self.events(order_id)

    # -- planning -----------------------------------------------------------------------------------

    def plan(self, case_number: str, req: FreezePlanRequest) -> dict[str, Any]:
        """Freezes that cover the amount due plus costs without over-freezing: money first (largest
        first, protected accounts skipped), then vehicles, then real estate, each whole."""
        with self.store.unit_of_work() as uow:  # the whole plan or nothing
            if req.execute:
                placed = uow.orders.with_key_prefix(scoped_key(case_number, f"{req.idempotency_key}:"))
                if placed:
                    return self._plan_view(case_number, placed, replayed=True)
            case = self._case(uow, case_number, req.court)
            state = CaseState.read(uow, case_number)
            collected, covered = state.money.deducted_fen, _covered_fen(state)
            live = {(f.institution_id, f.asset_id) for f in state.live}
            plan = plan_freezes(state.found, live, self._remaining_fen(case, state), self._deposit_caps(uow, case_number, state),
                                self.living_allowance_fen)
            planned, remaining = plan.orders, plan.remaining_fen
            result = {
                "case_number": case_number, "due_fen": case.due_fen, "collected_fen": collected, "covered_fen": covered,
                "planned_fen": sum(p["amount_fen"] if p["amount_fen"] is not None else p["value_fen"] for p in planned),
                "shortfall_fen": max(remaining, 0), "orders": planned, "skipped_protected": plan.skipped_protected,
                "kept_for_living": plan.kept_for_living, "executed": False,
            }
            placed_now: list[NewOrder] = []
            if req.execute and planned:
                placed_now = self._execute(uow, case_number, req, planned, state)
                result["order_ids"] = [order.id for order in placed_now]
                result["executed"] = True
        if result["executed"]:
            log_placed(placed_now, "freeze plan")
            self.on_ready()
        return result

    def _execute(self, uow: UnitOfWork, case_number: str, req: FreezePlanRequest, planned: list[dict[str, Any]],
                 state: CaseState) -> list[NewOrder]:
        orders, running, deposits = [], 0, {}  # type: ignore[var-annotated]
        for p in planned:
            body = OrderCreate(
                type="freeze", case_number=case_number, court=req.court, institution_id=p["institution_id"],
                asset=AssetRef(**p["asset"]), amount_fen=p["amount_fen"], quantity=p.get("quantity"), term_days=p["term_days"],
                ruling_number=req.ruling_number, notice_number=req.notice_number,
                officer_credentials=req.officer_credentials, operator=req.operator,
                idempotency_key=f"{req.idempotency_key}:{p['institution_id']}:{p['asset']['id']}",
            )
            orders.append(self._prepare(uow, body, body_digest(body.model_dump(mode="json")), running, deposits, state))
            running += p["amount_fen"] if p["amount_fen"] is not None else p["value_fen"]
            if p["asset"]["kind"] == "deposit":
                deposits[p["debtor_id_number"]] = deposits.get(p["debtor_id_number"], 0) + p["amount_fen"]
        for order in orders:
            uow.orders.place(order, actor=req.operator)
        return orders

    def _plan_view(self, case_number: str, placed: list[OrderRecord], replayed: bool) -> dict[str, Any]:
        return {"case_number": case_number, "executed": True, "replayed": replayed, "order_ids": [o.id for o in placed]}


def held_case(uow: UnitOfWork, case_number: str, court: str) -> CaseRecord:
    """The case an order acts in: opened by an inquiry, and held by the ordering court."""
    case = uow.cases.get(case_number)
    if case is None:
        raise OrderRejected(422, "case_number", "no inquiry for this case; orders act on what an inquiry found")
    if case.court != court:
        raise OrderRejected(422, "court", f"the case is held by {case.court}")
    return case


def log_placed(orders: list[NewOrder], via: str) -> None:
    """One line per order placed, whatever placed it (an officer, a freeze plan, a watch): once
    committed, so the log never tells of an order that is not there."""
    for o in orders:
        log.info("order placed", order_id=o.id, type=o.type, institution=o.institution_id, case_number=o.case_number,
                 amount_fen=o.amount_fen, operator=o.operator, via=via)


def order_summary(order: OrderRecord) -> dict[str, Any]:
    """An order as lists show it: everything but its history."""
    return {
        "id": order.id, "type": order.type, "status": order.status,
        "case_number": order.case_number, "court": order.court,
        "institution_id": order.institution_id, "asset": {"kind": order.asset_kind, "id": order.asset_id},
        "debtor_id_number": order.debtor_id_number, "amount_fen": order.amount_fen, "quantity": order.quantity,
        "term_days": order.term_days,
        "documents": {"ruling_number": order.ruling_number, "notice_number": order.notice_number,
                      "officer_credentials": list(order.officer_credentials)},
        "operator": order.operator, "checker": order.checker, "approved_at": shown(order.approved_at),
        "awaiting_approval": order.type in DEDUCTING and order.approved_at is None and order.status == "requested",
        "original_order_id": order.original_order_id, "enforcement_account": order.enforcement_account,
        "idempotency_key": unscoped_key(order.idempotency_key), "created_at": shown(order.created_at),
        "sent_at": shown(order.sent_at), "updated_at": shown(order.updated_at),
        "result": {"held_fen": order.held_fen,
                   "deducted_fen": order.deducted_fen, "queue_position": order.queue_position,
                   "start_date": shown_iso(order.start_date), "end_date": shown_iso(order.end_date), "reason": order.reason},
    }


def order_view(order: OrderRecord, events: list[OrderEvent]) -> dict[str, Any]:
    return {
        **order_summary(order),
        "history": [
            {"at": shown(e.at), "actor": e.actor, "event": e.event, "status": e.status, "detail": shown_times(e.detail)}
            for e in events
        ],
    }


def _covered_fen(state: CaseState) -> int:
    """What the case's live freezes still cover: money by amount less what was deducted from it,
    property by the debtor's share of its value."""
    values = {(a["institution_id"], asset_id(a)): attributable_fen(a) for _, a in state.found}
    # Securities count as money does: by the value of the shares frozen (the order's amount).
    return sum(state.money.open_by_freeze.get(f.id, 0) if f.asset_kind in (*MONEY_KINDS, *QUANTITY_KINDS)
               else values.get((f.institution_id, f.asset_id), 0) for f in state.live)


def scoped_key(case_number: str, key: str) -> str:
    """Idempotency keys belong to a court: one court's key never names another court's orders."""
    return f"{court_code(case_number)}/{key}"


def unscoped_key(stored: str) -> str:
    return stored.partition("/")[2] or stored


def _existing(order: OrderRecord | None, order_id: str) -> OrderRecord:
    if order is None:
        raise OrderRejected(404, "order_id", f"no order {order_id}")
    return order


def body_digest(data: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _second_officer_problem(order: OrderRecord, checker: str) -> OrderRejected | None:
    """What stops ``checker`` from approving or declining ``order`` (the two-person rule)."""
    if order.type not in DEDUCTING:
        return OrderRejected(422, "order_id", "only deductions need a second officer's approval")
    if order.status == "declined":
        return OrderRejected(409, "order_id", f"already declined by {order.checker}")
    if order.approved_at is not None or order.status != "requested":
        return OrderRejected(409, "order_id", f"already approved by {order.checker}")
    if checker == order.operator:
        return OrderRejected(422, "checker", "must be a different officer from the operator (two-person rule)")
    return None
