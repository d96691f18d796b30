"""The store's contract: what the gateway needs from durable state, grouped by who needs it.

Callers take the narrowest of these they can (the intake an ``InquiryRepository``, the result
consumer a ``LegQueue`` and an ``OrderRepository``); only the process entry sees a whole
``Store``. Nothing here names a database: SQLite implements it today (gateway/store/sqlite), and a
server database must be able to implement it too.

Every write method is atomic on its own. A ``UnitOfWork`` makes several calls one transaction:
the order desk checks a case and places its orders in one, so no concurrent order slips between
the check and the write. Calls are short and synchronous; do not await inside a unit of work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Protocol

from gateway.store.records import (
    AccessEntry,
    AlertRecord,
    AssetBalance,
    BatchProgress,
    BatchRecord,
    CaseAmendment,
    CaseEvent,
    CaseMoney,
    CaseRecord,
    CourtFigures,
    DebtorRecord,
    Difference,
    FoundAsset,
    InquiryRecord,
    InstitutionBacklog,
    LegRecord,
    LiveFreeze,
    NewAlert,
    NewBatch,
    NewInquiry,
    NewOrder,
    NewWatch,
    OrderEvent,
    OrderFilter,
    OrderRecord,
    Page,
    PendingLeg,
    Reconciliation,
    Tracked,
    WatchRecord,
)
from schemas.events import ControlStatusReport, InstitutionEvent
from schemas.messages import LegBatchResult
from schemas.orders import OrderResult


class InquiryRepository(Protocol):
    """Inquiries as officers submit and read them."""

    def add(self, inquiries: Iterable[NewInquiry], batch: NewBatch | None = None) -> int:
        """Stores the inquiries, their debtors and their legs (``pending``, so in the outbox) and
        the batch they came in, all or nothing; returns the number of legs. The first inquiry of
        a case opens its case record (``CaseRepository``) with its amounts, applicant and officer."""
        ...

    def open_inquiry(self, inquiry: NewInquiry) -> None:
        """A large batch is stored in parts, each its own short transaction, so no one write holds
        the store for long: the inquiry with its debtors (and its case record, as ``add``) first,
        then ``add_legs`` for ranges of its debtors, then ``record_batch``. Its legs are in the
        outbox as each part commits."""
        ...

    def add_legs(self, inquiry: NewInquiry, debtors: range) -> int:
        """The ``pending`` legs of the inquiry's debtors at these places; returns how many."""
        ...

    def record_batch(self, batch: NewBatch, inquiries: int, legs: int) -> None:
        """The batch, once all its inquiries are stored: until then no one can name it."""
        ...

    def get(self, inquiry_id: str) -> InquiryRecord | None: ...

    def debtors(self, inquiry_id: str) -> list[DebtorRecord]:
        """In their order in the inquiry."""
        ...

    def legs(self, inquiry_id: str) -> list[LegRecord]:
        """By debtor, then institution."""
        ...

    def batch(self, batch_id: str) -> BatchRecord | None: ...

    def batch_progress(self, batch_id: str) -> BatchProgress: ...

    def batch_inquiry_ids(self, batch_id: str) -> list[str]:
        """In the order they were stored."""
        ...

    def case_assets(self, case_number: str, *, institutions: Collection[str] | None = None,
                    debtors: Collection[str] | None = None) -> list[FoundAsset]:
        """Every asset any inquiry of the case found, once each; or only those held at
        ``institutions`` or by ``debtors``."""
        ...

    def case_persons(self, case_number: str) -> set[str]:
        """Id numbers of the case's debtors who are natural persons."""
        ...

    def case_debtors(self, case_number: str) -> set[str]:
        """Id numbers of every debtor any inquiry of the case asked about."""
        ...

    def case_inquiry_ids(self, case_number: str) -> list[str]:
        """The case's inquiries, the oldest first."""
        ...

    def court_figures(self, court: str, bucket_ms: int, buckets: int) -> CourtFigures:
        """The court's figures over all its inquiries; the timeline is the last ``buckets``
        intervals of ``bucket_ms`` in which legs ended."""
        ...


class CaseRepository(Protocol):
    """Cases: opened by their first inquiry; what a case may take changes only by an explicit,
    audited amendment, never as a side effect of a later inquiry."""

    def get(self, case_number: str) -> CaseRecord | None: ...

    def amend(self, amendment: CaseAmendment) -> CaseRecord:
        """New amount due and costs, with the amendment appended to the case's history."""
        ...

    def events(self, case_number: str) -> list[CaseEvent]:
        """Oldest first: ``opened``, then each ``amended``."""
        ...

    def of_court(self, court: str, limit: int, cursor: str | None = None) -> Page[CaseRecord]:
        """The court's cases, the most recently opened first, ``limit`` a page; raises ValueError
        for a cursor this store did not give."""
        ...


class LegQueue(Protocol):
    """Legs as work: the outbox relay takes them, results and deadlines settle them."""

    def claim_pending(self, limit: int) -> list[PendingLeg]:
        """Up to ``limit`` legs to publish. A store shared by several gateways must hand a leg to
        one relay at a time (e.g. ``FOR UPDATE SKIP LOCKED`` with a lease); publishing a leg twice
        is harmless, the answers are idempotent."""
        ...

    def mark_sent(self, leg_ids: Sequence[str], now: int) -> None:
        """Pending legs the broker acknowledged become ``sent``."""
        ...

    def apply_results(self, batches: Sequence[LegBatchResult], now: int) -> int:
        """In one transaction: the first terminal result of a leg wins, a result for a leg that
        timed out is kept as its late result, repeats change nothing. Returns legs ended."""
        ...

    def requeue_unanswered(self, now: int, older_than_ms: int) -> int:
        """Legs of open inquiries sent longer ago than ``older_than_ms`` go back to pending."""
        ...

    def next_open_deadline(self) -> int | None: ...

    def expire_overdue(self, now: int) -> list[str]:
        """Open legs of inquiries past their deadline become ``timed_out``; returns those inquiries."""
        ...

    def backlog(self) -> list[InstitutionBacklog]:
        """Sent and unanswered legs per institution, the oldest first."""
        ...


class OrderRepository(Protocol):
    """Control orders, their outbox and their append-only audit trail."""

    def place(self, order: NewOrder, actor: str) -> None:
        """Stores the order with its first event."""
        ...

    def approve(self, order_id: str, checker: str, now: int) -> None: ...

    def decline(self, order_id: str, checker: str, reason: str, now: int) -> None:
        """A deduction still awaiting approval becomes ``declined``, with the reason in its trail."""
        ...

    def note(self, order_id: str, now: int, actor: str, event: str, detail: dict[str, Any]) -> None:
        """An event that changes no state, e.g. a refused attempt to approve."""
        ...

    def get(self, order_id: str) -> OrderRecord | None: ...

    def by_key(self, idempotency_key: str) -> OrderRecord | None: ...

    def with_key_prefix(self, prefix: str) -> list[OrderRecord]:
        """In the order they were placed."""
        ...

    def events(self, order_id: str) -> list[OrderEvent]:
        """Oldest first."""
        ...

    def live_freezes_of_case(self, case_number: str) -> list[LiveFreeze]:
        """Freezes that hold, or may yet hold, their asset (requested, sent, applied, queued), and
        freeze-and-deduct orders not yet answered (they will take their amount)."""
        ...

    def freezes_on(self, assets: Iterable[tuple[str, str]]) -> list[OrderRecord]:
        """Freezes in effect or in line (applied, partially applied, queued) on these
        (institution_id, asset_id), of any case and court."""
        ...

    def case_money(self, case_number: str) -> CaseMoney:
        """Held, deducted and released money of the case's orders."""
        ...

    def of_court(self, court: str, where: OrderFilter, limit: int, cursor: str | None = None) -> Page[OrderRecord]:
        """The court's orders that match ``where``, the newest first, ``limit`` a page; raises
        ValueError for a cursor this store did not give."""
        ...

    def claim_sendable(self, limit: int) -> list[OrderRecord]:
        """Requested orders ready to publish (a deduction once approved); claimed as legs are."""
        ...

    def mark_sent(self, order_ids: Sequence[str], now: int) -> None: ...

    def requeue_unanswered(self, now: int, older_than_ms: int) -> int: ...

    def apply_results(self, results: Iterable[OrderResult], now: int) -> int:
        """In one transaction: the first answer to a sent order decides it, with its follow-up on
        the freeze it names; repeats change nothing. Returns orders moved."""
        ...


class WatchRepository(Protocol):
    """Watches officers placed on debtors. Never deleted: ending one records who and when."""

    def add(self, watch: NewWatch) -> None: ...

    def get(self, watch_id: str) -> WatchRecord | None: ...

    def by_key(self, idempotency_key: str) -> WatchRecord | None: ...

    def of_court(self, court: str, case_number: str | None = None) -> list[WatchRecord]:
        """The court's watches (of one case, if given), oldest first."""
        ...

    def active_on(self, debtor_id_number: str, kind: str, at: int) -> list[WatchRecord]:
        """Watches of ``kind`` on the debtor that are not ended and whose ``until`` is after ``at``,
        oldest first."""
        ...

    def end(self, watch_id: str, by: str, at: int) -> bool:
        """Ends a watch; False (and nothing changed) if it was ended already."""
        ...


class AlertRepository(Protocol):
    """Alerts, append-only; at most one per watch and event."""

    def add(self, alert: NewAlert) -> AlertRecord | None:
        """Stores the alert with the next ``seq``; None, storing nothing, when the watch already has
        an alert for that event."""
        ...

    def exists(self, watch_id: str, event_id: str) -> bool: ...

    def after(self, court: str, after_seq: int, limit: int, case_number: str | None = None) -> list[AlertRecord]:
        """The court's alerts (of one case, if given) with ``seq`` above ``after_seq``, oldest first."""
        ...

    def counts(self, court: str, case_numbers: Iterable[str]) -> dict[str, int]:
        """How many alerts each of these cases of the court has had (cases with none left out)."""
        ...


class InstitutionEvents(Protocol):
    """What institutions say on their own (schemas/events.py), applied to the gateway's copy of
    their ledgers: freezes' states and money assets' balances equal to the institution's."""

    def knows_asset(self, institution_id: str, asset_id: str) -> bool:
        """Some inquiry found the asset there, or an order acts on it."""
        ...

    def knows_freeze(self, institution_id: str, asset_id: str, freeze_id: str) -> bool:
        """``freeze_id`` is a freeze order of the gateway's on that asset."""
        ...

    def apply(self, events: Sequence[InstitutionEvent], now: int) -> list[InstitutionEvent]:
        """In one transaction: each event once (an event is new when its seq is above the last
        seen for its institution and subject — one subject's events arrive in feed order); sets
        the balances and freeze states it carries unless a later position already did, each
        change of an order in its audit trail. Returns the new events, in order."""
        ...

    def balances(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], AssetBalance]:
        """Balances the institutions told of, for these (institution_id, asset_id)."""
        ...

    def tracked(self, failed_since: int) -> dict[str, Tracked]:
        """What reconciliation asks each institution about: live freezes, freezes that failed since
        ``failed_since`` (an institution may have applied one its connector gave up on), balances."""
        ...

    def apply_report(self, report: ControlStatusReport, now: int) -> list[Difference]:
        """An institution's answer to reconciliation, applied as ``apply`` applies events (as of
        ``report.as_of_seq``); returns every difference it repaired or found."""
        ...


class Reconciliations(Protocol):
    """Reconciliation runs and what each found."""

    def start(self, run_id: str, now: int, requested_by: str, institutions: Sequence[str]) -> None: ...

    def record(self, run_id: str, institution_id: str, outcome: str, differences: Sequence[Difference], now: int) -> None:
        """One institution's outcome ("answered" or why not); the last one finishes the run."""
        ...

    def get(self, run_id: str) -> Reconciliation | None: ...

    def recent(self, limit: int = 20) -> list[Reconciliation]:
        """Newest first."""
        ...


class AccessAudit(Protocol):
    """Refused requests, append-only."""

    def record(self, entry: AccessEntry) -> None: ...

    def recent(self, limit: int = 200) -> list[AccessEntry]:
        """Newest first."""
        ...


class UnitOfWork(Protocol):
    """One transaction over the repositories: committed when the ``with`` block ends, rolled back
    if it raises. Reads inside it see its own writes."""

    @property
    def inquiries(self) -> InquiryRepository: ...

    @property
    def orders(self) -> OrderRepository: ...

    @property
    def cases(self) -> CaseRepository: ...

    @property
    def watches(self) -> WatchRepository: ...

    @property
    def alerts(self) -> AlertRepository: ...

    @property
    def events(self) -> InstitutionEvents: ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...


class RateBuckets(Protocol):
    """Token buckets kept where every gateway sees them (the officers' rate limits)."""

    def take(self, key: str, rate: float, burst: float, now: float) -> float:
        """0 if a request may go now (and takes a token), else seconds until one is free;
        ``now`` in epoch seconds."""
        ...

    def prune(self, prefix: str, rate: float, burst: float, now: float) -> None:
        """Forgets the buckets under ``prefix`` that have filled up again."""
        ...


class Peers(Protocol):
    """What gateway processes sharing one store tell each other. A store that one process owns
    (SQLite: ``gateway/store/peers.py``) leads every chore, tells nothing and has no shared buckets."""

    @property
    def rate_buckets(self) -> RateBuckets | None: ...

    def leads(self, chore: str) -> bool:
        """Whether this process runs ``chore`` (a loop that must run once for all: deadlines and
        re-sends, scheduled reconciliation); asked each round, so another takes over when it dies."""
        ...

    def beat(self, instance: str) -> None:
        """Says that gateway ``instance`` is alive (every few seconds)."""
        ...

    def silent(self, instance: str, for_s: float) -> list[str]:
        """The other gateways that have not beaten for ``for_s`` seconds (dead or stopped)."""
        ...

    def announce(self, topic: str, ids: Iterable[str]) -> None:
        """Tells every process listening on ``topic`` (this one too) about ``ids``."""
        ...

    async def listen(self, topic: str, on_ids: Callable[[list[str]], None], stop: asyncio.Event) -> None:
        """Calls ``on_ids`` with what is announced on ``topic`` until ``stop``."""
        ...


class Store(Protocol):
    """The whole store, as the process entry wires it."""

    @property
    def inquiries(self) -> InquiryRepository: ...

    @property
    def legs(self) -> LegQueue: ...

    @property
    def cases(self) -> CaseRepository: ...

    @property
    def orders(self) -> OrderRepository: ...

    @property
    def access(self) -> AccessAudit: ...

    @property
    def watches(self) -> WatchRepository: ...

    @property
    def alerts(self) -> AlertRepository: ...

    @property
    def events(self) -> InstitutionEvents: ...

    @property
    def reconciliations(self) -> Reconciliations: ...

    @property
    def peers(self) -> Peers: ...

    def unit_of_work(self) -> UnitOfWork: ...

    def read_view(self) -> AbstractContextManager[None]:
        """Several reads that see the store at one moment: the bulk writes go on meanwhile on the
        store thread (gateway/store/thread.py), so an order read twice could otherwise show its
        answer in its history and not yet in its status. Reads only; takes no write lock."""
        ...

    def reader(self) -> Reader: ...

    def close(self) -> None: ...


class Reader(Protocol):
    """Reads on a connection of their own, for building large answers (reports) in a worker thread
    while the event loop goes on with the store's own connection. One thread at a time; it sees
    what was committed. Close it when done."""

    @property
    def inquiries(self) -> InquiryRepository: ...

    @property
    def orders(self) -> OrderRepository: ...

    @property
    def events(self) -> InstitutionEvents: ...

    def close(self) -> None: ...


class Snapshot(Protocol):
    """A read-only view of a store for comparing two of them (``assetgw rebuild``)."""

    def inquiries(self) -> Iterator[InquiryRecord]: ...

    def published_legs(self) -> Iterator[LegRecord]:
        """Legs that left the gateway: all but ``pending``."""
        ...

    def published_orders(self) -> Iterator[OrderRecord]:
        """Orders that left the gateway: all but ``requested``."""
        ...

    def close(self) -> None: ...
