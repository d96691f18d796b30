"""Turning accepted requests into durable inquiries and legs (debtor × institution)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Sequence

from infra.clock import now_ms
from gateway.store.interfaces import InquiryRepository
from gateway.store.records import NewBatch, NewInquiry
from schemas.api import BatchRow, CaseFields, InquiryCreate
from schemas.debtor import Debtor
from schemas.directory import Directory, UnknownInstitution
from schemas.messages import new_id


class ScopeError(ValueError):
    def __init__(self, field: str, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.field, self.line = field, line


@dataclass(frozen=True)
class Accepted:
    id: str
    inquiries: int
    debtors: int
    legs: int


class Intake:
    def __init__(self, inquiries: InquiryRepository, directory: Directory, default_deadline_s: float, on_accepted: Callable[[], None]) -> None:
        self.inquiries = inquiries
        self.directory = directory
        self.default_deadline_s = default_deadline_s
        self.on_accepted = on_accepted  # wakes the outbox relay

    def submit(self, body: InquiryCreate, officer_id: str) -> Accepted:
        """Stores the inquiry as asked by ``officer_id``, the authenticated officer."""
        try:
            institutions = self.directory.resolve_scope(body.institutions)
        except UnknownInstitution as exc:
            raise ScopeError(f"institutions[{exc.index}]", str(exc)) from None
        inquiry = self._inquiry(body, body.debtors, institutions, None, body.deadline_seconds, officer_id)
        legs = self.inquiries.add([inquiry])
        self.on_accepted()
        return Accepted(inquiry.id, 1, len(body.debtors), legs)

    def submit_batch(self, rows: Sequence[BatchRow], fmt: str, lines: Sequence[int], officer_id: str) -> Accepted:
        """Rows sharing a case and legal basis become one inquiry; all are stored in one transaction."""
        batch_id = new_id()
        groups: dict[tuple, list[BatchRow]] = defaultdict(list)
        for index, row in enumerate(rows):
            try:
                self.directory.resolve_scope(row.institutions)
            except UnknownInstitution as exc:
                raise ScopeError(f"institutions[{exc.index}]", str(exc), lines[index]) from None
            key = (row.case_number, row.court, row.amount_due_fen, row.costs_fen, row.notice_number,
                   tuple(row.officer_credentials), tuple(row.institutions or ()), row.deadline_seconds)
            groups[key].append(row)
        inquiries = []
        for members in groups.values():
            debtors = list({r.debtor.id_number: r.debtor for r in members}.values())  # a debtor once per case
            institutions = self.directory.resolve_scope(members[0].institutions)
            inquiries.append(self._inquiry(members[0], debtors, institutions, batch_id, members[0].deadline_seconds, officer_id))
        legs = self.inquiries.add(inquiries, NewBatch(batch_id, now_ms(), fmt, len(rows)))
        self.on_accepted()
        return Accepted(batch_id, len(inquiries), sum(len(q.debtors) for q in inquiries), legs)

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
        )
