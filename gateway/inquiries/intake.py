"""Turning accepted requests into durable inquiries and legs (debtor × institution)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from gateway.inquiries.batch_plan import BatchPlan, Group
from gateway.store.interfaces import CaseRepository, InquiryRepository
from gateway.store.records import NewBatch, NewInquiry
from gateway.store.thread import StoreThread
from infra.clock import now_ms
from schemas.api import CaseFields, InquiryCreate
from schemas.debtor import Debtor
from schemas.directory import Directory, UnknownInstitution
from schemas.messages import new_id

# About 10-40 ms of SQLite work on a busy 2-core machine: the longest another writer waits for a batch.
LEGS_PER_PART = 2000
CHECKS_PER_TURN = 500
T = TypeVar("T")


class ScopeError(ValueError):
    status = 422

    def __init__(self, field: str, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.field, self.line = field, line


class BatchBeingStored(ScopeError):
    """The same idempotency key again while the batch it names is still being stored."""

    status = 409


class CaseConflict(ScopeError):
    """An inquiry gives a case other amounts than its record: a change is an amendment, not a
    side effect of asking again."""

    status = 409


@dataclass(frozen=True)
class Accepted:
    id: str
    inquiries: int
    debtors: int
    legs: int


async def _inline(work: Callable[..., T], *args: Any) -> T:
    return work(*args)


class Intake:
    """``thread``: where a batch's parts are written (gateway/store/thread.py); without it, on the
    loop, on ``inquiries``."""

    def __init__(self, inquiries: InquiryRepository, cases: CaseRepository, directory: Directory, default_deadline_s: float,
                 on_accepted: Callable[[], None], thread: StoreThread | None = None) -> None:
        self.inquiries = inquiries
        self.thread = thread
        self.cases = cases
        self.directory = directory
        self.default_deadline_s = default_deadline_s
        self.on_accepted = on_accepted  # wakes the outbox relay
        self._storing: set[str] = set()  # batches being stored in parts right now

    async def submit(self, body: InquiryCreate, officer_id: str) -> Accepted:
        """Stores the inquiry as asked by ``officer_id``, the authenticated officer."""
        try:
            institutions = self.directory.resolve_scope(body.institutions)
        except UnknownInstitution as exc:
            raise ScopeError(f"institutions[{exc.index}]", str(exc)) from None
        self._check_case(body)
        inquiry = self._inquiry(body, body.debtors, institutions, None, body.deadline_seconds, officer_id)
        if self.thread is None:
            legs = self.inquiries.add([inquiry])
        else:  # next on the store thread: the loop never waits for the file's write lock
            legs = await self.thread.run(self.thread.store.inquiries.add, [inquiry], urgent=True)
        self.on_accepted()
        return Accepted(inquiry.id, 1, len(body.debtors), legs)

    async def submit_batch(self, plan: BatchPlan, officer_id: str, batch_id: str | None = None) -> Accepted:
        """Stores a planned batch (bulk.py and batch_plan.py read and validated it in a worker
        thread), one inquiry per part of at most 1,000 debtors of a case and legal basis.

        Every check is made before the first write, so a refused batch stores nothing. The writes
        then go in parts of about ``LEGS_PER_PART`` legs, each a short transaction on the store
        thread, ahead of the relay's work: a 100,000-row batch (2.8 million legs) never holds the
        loop, nor the database's one write lock for more than one part at a time; its first
        inquiries are in the outbox while the rest are stored. The batch itself is recorded
        last; a gateway that stops half-way through leaves the inquiries stored so far (they are
        asked as usual) and no batch, and the officer, who got no 202, submits it again.
        ``batch_id``: the one an idempotency key names (gateway/inquiries/batch_keys.py)."""
        groups = sorted(plan.groups, key=lambda g: g.first_line)
        first_of_case: dict[str, CaseFields] = {}
        for index, group in enumerate(groups):
            self._check_case(group.first, group.first_line, first_of_case.setdefault(group.first.case_number, group.first))
            if index % CHECKS_PER_TURN == CHECKS_PER_TURN - 1:
                await asyncio.sleep(0)
        # Shielded: once the first part is written, the rest follows even if the client goes away.
        batch_id = batch_id or new_id()
        if batch_id in self._storing:  # the same key again while its first request is still storing
            raise BatchBeingStored("Idempotency-Key", "a batch with this key is being stored; send it again shortly")
        self._storing.add(batch_id)
        try:
            return await asyncio.shield(asyncio.ensure_future(self._store_batch(plan, groups, officer_id, batch_id)))
        finally:
            self._storing.discard(batch_id)

    async def _store_batch(self, plan: BatchPlan, groups: Sequence[Group], officer_id: str, batch_id: str) -> Accepted:
        repository, run = (self.thread.store.inquiries, functools.partial(self.thread.run, urgent=True)) if self.thread \
            else (self.inquiries, _inline)
        inquiries = debtors = legs = 0
        for group in groups:
            institutions = self.directory.resolve_scope(group.first.institutions)
            step = max(1, LEGS_PER_PART // len(institutions))
            for part in group.parts():
                inquiry = self._inquiry(group.first, part, institutions, batch_id, group.first.deadline_seconds, officer_id)
                await run(repository.open_inquiry, inquiry)
                for start in range(0, len(part), step):
                    await asyncio.sleep(0)  # let others in between parts
                    legs += await run(repository.add_legs, inquiry, range(start, min(start + step, len(part))))
                self.on_accepted()
                inquiries += 1
                debtors += len(part)
        await run(repository.record_batch, NewBatch(batch_id, now_ms(), plan.format, plan.rows), inquiries, legs)
        return Accepted(batch_id, inquiries, debtors, legs)

    def _check_case(self, case: CaseFields, line: int | None = None, first: CaseFields | None = None) -> None:
        """Amounts must be the case record's (or, for a case this batch opens, its first row's)."""
        record = self.cases.get(case.case_number)
        given = (case.amount_due_fen, case.costs_fen)
        if record is not None and given != (record.amount_due_fen, record.costs_fen):
            raise CaseConflict("amount_due_fen", f"the case record holds amount due {record.amount_due_fen} and costs "
                               f"{record.costs_fen} fen; change them by amending the case "
                               f"(POST /v1/cases/{{case_number}}/amendments), not by a new inquiry", line)
        if record is None and first is not None and given != (first.amount_due_fen, first.costs_fen):
            raise CaseConflict("amount_due_fen", f"rows of case {case.case_number} give different amounts due or costs", line)

    def _inquiry(self, case: CaseFields, debtors: Sequence[Debtor], institutions, batch_id, deadline_s,  # type: ignore[no-untyped-def]
                 officer_id: str) -> NewInquiry:
        created = now_ms()
        return NewInquiry(
            id=new_id(),
            batch_id=batch_id,
            case_number=case.case_number,
            court=case.court,
            amount_due_fen=case.amount_due_fen,
            costs_fen=case.costs_fen,
            notice_number=case.notice_number,
            officer_credentials=list(case.officer_credentials),
            officer_id=officer_id,
            created_at=created,
            deadline=created + int(1000 * (deadline_s or self.default_deadline_s)),
            debtors=debtors,
            institutions=institutions,
            applicant=case.applicant,
        )
