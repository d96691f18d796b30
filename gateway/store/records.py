"""What the store hands in and out: plain, immutable values with no trace of the database.

Times are UTC epoch milliseconds, money integer fen. JSON the store keeps (officer credentials,
assets, event details) comes back decoded; treat the dicts inside as read-only."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from schemas.debtor import Debtor
from schemas.directory import Institution
from schemas.messages import leg_id

Asset = dict[str, Any]  # an asset as an institution reported it (schemas/json/asset.v3.json)


# -- inquiries ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class NewInquiry:
    id: str
    batch_id: str | None
    case_number: str
    court: str
    amount_due_fen: int
    costs_fen: int
    notice_number: str
    officer_credentials: Sequence[str]
    # The authenticated officer who asked; None only when rebuilt from messages older than that.
    officer_id: str | None
    created_at: int
    deadline: int
    debtors: Sequence[Debtor]
    institutions: Sequence[Institution]
    applicant: str | None = None  # 申请执行人, recorded on the case its first inquiry opens

    def legs(self) -> Iterator[tuple[str, int, Institution]]:
        """(leg id, debtor seq, institution): every debtor asked of every institution."""
        for seq in range(len(self.debtors)):
            for inst in self.institutions:
                yield leg_id(self.id, seq, inst.id), seq, inst

    @property
    def legs_total(self) -> int:
        return len(self.debtors) * len(self.institutions)


@dataclass(frozen=True, slots=True)
class NewBatch:
    id: str
    created_at: int
    format: str  # "csv" or "jsonl"
    rows: int


@dataclass(frozen=True, slots=True)
class InquiryRecord:
    id: str
    batch_id: str | None
    case_number: str
    court: str
    amount_due_fen: int
    costs_fen: int
    notice_number: str
    officer_credentials: tuple[str, ...]
    officer_id: str | None  # who asked; None for inquiries stored before it was recorded
    created_at: int
    deadline: int
    legs_total: int
    legs_done: int
    completed_at: int | None


@dataclass(frozen=True, slots=True)
class DebtorRecord:
    inquiry_id: str
    seq: int  # the debtor's place in the inquiry
    kind: str
    id_number: str
    name: str


@dataclass(frozen=True, slots=True)
class LegRecord:
    id: str
    inquiry_id: str
    debtor_seq: int
    institution_id: str
    institution_kind: str
    status: str
    sent_at: int | None
    finished_at: int | None
    reason: str | None
    attempts: int | None
    latency_ms: int | None
    assets: tuple[Asset, ...]
    # A result that came after the leg timed out: kept beside the timeout, never instead of it.
    late_status: str | None
    late_reason: str | None
    late_assets: tuple[Asset, ...]
    late_at: int | None


@dataclass(frozen=True, slots=True)
class PendingLeg:
    """A leg waiting in the outbox, with what its message must carry. Legs of one inquiry share
    one ``inquiry`` object."""

    id: str
    institution_id: str
    institution_kind: str
    debtor_kind: str
    debtor_id_number: str
    debtor_name: str
    inquiry: InquiryRecord


@dataclass(frozen=True, slots=True)
class InstitutionBacklog:
    """Legs published to one institution and not yet answered."""

    institution_id: str
    pending: int
    oldest_sent_at: int


@dataclass(frozen=True, slots=True)
class BatchRecord:
    id: str
    created_at: int
    format: str
    rows: int
    inquiries: int
    legs: int


@dataclass(frozen=True, slots=True)
class BatchProgress:
    inquiries: int
    completed: int
    legs_total: int
    legs_done: int
    last_completed_at: int | None


@dataclass(frozen=True, slots=True)
class InstitutionFigures:
    """One institution's legs for a court's inquiries: asked, answered (found or not), failed
    (refused, failed, timed out), found, and the mean latency of the answers."""
    institution_id: str
    legs: int
    answered: int
    failed: int
    found: int
    mean_latency_ms: float | None


@dataclass(frozen=True, slots=True)
class FiguresBucket:
    """Legs that ended in one interval (``at``: its start, epoch ms)."""
    at: int
    answered: int
    failed: int
    mean_latency_ms: float | None


@dataclass(frozen=True, slots=True)
class CourtFigures:
    """What a court's command centre counts: inquiries and their legs, cases, debtors, the assets
    found (``found_assets``: each as reported, for the caller to value by the one rule), per
    institution, and legs ended over time."""
    inquiries: int
    legs: int
    legs_sent: int
    answers: int
    cases: int
    debtors: int
    found_assets: list[Asset]
    institutions: list[InstitutionFigures]
    timeline: list[FiguresBucket]


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """A case as its first inquiry opened it, and as amendments since changed it."""

    case_number: str
    court: str
    amount_due_fen: int
    costs_fen: int
    applicant: str | None
    created_at: int
    created_by: str | None  # the officer whose inquiry opened it; None for cases from before that was kept

    @property
    def due_fen(self) -> int:
        return self.amount_due_fen + self.costs_fen


@dataclass(frozen=True, slots=True)
class CaseAmendment:
    """An explicit, audited change of what a case may take, under a ruling."""

    case_number: str
    amount_due_fen: int
    costs_fen: int
    ruling_number: str
    reason: str | None
    actor: str
    at: int


@dataclass(frozen=True, slots=True)
class CaseEvent:
    at: int
    actor: str
    event: str
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LiveFreeze:
    """A freeze of the case that holds, or may yet hold, its asset: just what the rules read."""

    id: str
    institution_id: str
    asset_kind: str
    asset_id: str
    debtor_id_number: str
    amount_fen: int | None


@dataclass(frozen=True, slots=True)
class CaseMoney:
    """The case's money as its orders stand: held by live money freezes, deducted, and released
    by unfreezes; ``open_by_freeze`` is what each live money freeze still covers (its amount less
    what was deducted from it)."""

    held_fen: int
    deducted_fen: int
    released_fen: int
    open_by_freeze: dict[str, int]


class FoundAsset(NamedTuple):
    """An asset an inquiry of the case found, and whose it is. A pair, so it unpacks as one."""

    debtor_id_number: str
    asset: Asset


# -- orders ---------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class NewOrder:
    id: str
    idempotency_key: str
    request_digest: str
    type: str
    case_number: str
    court: str
    institution_id: str
    institution_kind: str
    asset_kind: str
    asset_id: str
    debtor_id_number: str
    amount_fen: int | None
    term_days: int | None
    ruling_number: str
    notice_number: str
    officer_credentials: Sequence[str]
    operator: str
    original_order_id: str | None
    enforcement_account: str | None
    created_at: int
    deadline: int
    status: str = "requested"  # a rebuild re-inserts what was published as "sent"
    quantity: int | None = None  # securities: shares to freeze or release


@dataclass(frozen=True, slots=True)
class OrderRecord:
    id: str
    idempotency_key: str
    request_digest: str
    type: str
    status: str
    case_number: str
    court: str
    institution_id: str
    institution_kind: str
    asset_kind: str
    asset_id: str
    debtor_id_number: str
    amount_fen: int | None
    term_days: int | None
    ruling_number: str
    notice_number: str
    officer_credentials: tuple[str, ...]
    operator: str
    checker: str | None
    approved_at: int | None
    original_order_id: str | None
    enforcement_account: str | None
    created_at: int
    deadline: int
    sent_at: int | None
    updated_at: int
    # The institution's answer.
    held_fen: int | None
    deducted_fen: int | None
    queue_position: int | None
    start_date: str | None
    end_date: str | None
    reason: str | None
    state_seq: int | None  # the institution's feed position that last set the state (events, reconciliation)
    quantity: int | None = None  # securities: shares to freeze or release


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One entry of an order's append-only audit trail."""

    seq: int
    order_id: str
    at: int
    actor: str
    event: str
    status: str  # the order's status after the event
    detail: dict[str, Any]


# -- access audit ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AccessEntry:
    """A refused request: who (the officer, else only the client's address), what, and why;
    ``count`` > 1 when the row stands for that many identical refusals (gateway/http/refusals.py)."""

    at: int
    officer: str | None
    court: str | None
    method: str
    path: str
    status: int
    reason: str
    client: str | None = None
    count: int = 1


# -- institution events and reconciliation --------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AssetBalance:
    """A money asset's balance as its institution last told (an event or a reconciliation)."""

    institution_id: str
    asset_id: str
    balance_fen: int
    as_of_seq: int
    at: str  # when, on the institution's clock (ISO 8601, UTC)


@dataclass(frozen=True, slots=True)
class Difference:
    """Where the gateway's copy differed from the institution's ledger, and was repaired."""

    institution_id: str
    subject: str  # an order id, or an asset id for a balance
    field: str
    gateway: Any
    institution: Any


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """One reconciliation run: which institutions were asked, which answered, what differed."""

    run_id: str
    started_at: int
    requested_by: str
    institutions: tuple[str, ...]
    answered: dict[str, str]  # institution id → "answered" or the reason it failed
    differences: tuple[Difference, ...]
    finished_at: int | None


@dataclass(frozen=True, slots=True)
class Tracked:
    """What the gateway tracks at one institution: live freezes and money assets' balances."""

    freeze_ids: tuple[str, ...]
    asset_ids: tuple[str, ...]


# -- watches and alerts ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class NewWatch:
    id: str
    idempotency_key: str  # scoped to the court, like an order's
    request_digest: str
    case_number: str
    court: str
    debtor_id_number: str
    kinds: Sequence[str]  # funds, vehicle, lodging
    until: int  # the first instant no longer watched: the end of the last day, Asia/Shanghai
    auto_freeze: dict[str, Any] | None  # the documents and term of a freeze of arriving money
    officer_id: str
    created_at: int


@dataclass(frozen=True, slots=True)
class WatchRecord:
    id: str
    idempotency_key: str
    request_digest: str
    case_number: str
    court: str
    debtor_id_number: str
    kinds: tuple[str, ...]
    until: int
    auto_freeze: dict[str, Any] | None
    officer_id: str
    created_at: int
    # Watches are never deleted: ending one records who ended it and when.
    ended_at: int | None
    ended_by: str | None

    def active_at(self, at: int) -> bool:
        return self.ended_at is None and at < self.until


@dataclass(frozen=True, slots=True)
class NewAlert:
    """What a watch saw: one per watch and institution event."""

    watch_id: str
    event_id: str
    case_number: str
    court: str
    debtor_id_number: str
    kind: str  # the watch kind that matched
    event_type: str
    institution_id: str
    at: int  # when it happened, on the institution's clock
    summary: str  # in Chinese, for officers
    detail: dict[str, Any]  # machine fields: amount, asset, place, the automatic freeze or why none
    created_at: int


@dataclass(frozen=True, slots=True)
class AlertRecord:
    seq: int  # the alerts' cursor: later alerts have higher numbers
    watch_id: str
    event_id: str
    case_number: str
    court: str
    debtor_id_number: str
    kind: str
    event_type: str
    institution_id: str
    at: int
    summary: str
    detail: dict[str, Any]
    created_at: int


# -- lists ----------------------------------------------------------------------------------------

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list, newest first. ``next_cursor`` is opaque (each store has its own kind):
    passed back, it reads on after the last item; None on the last page."""

    items: tuple[T, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """What an officer lists of his court's orders; None means any."""

    case_number: str | None = None
    status: str | None = None
    type: str | None = None
    # True: only deductions waiting for a second officer's approval; False: all but those.
    awaiting_approval: bool | None = None
