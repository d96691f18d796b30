"""Turning accepted requests into durable inquiries and legs (debtor × institution)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gateway.store.interfaces import CaseRepository, InquiryRepository
from gateway.store.records import NewBatch, NewInquiry
from infra.clock import now_ms
from schemas.api import BatchRow, CaseFields, InquiryCreate
from schemas.debtor import Debtor
from schemas.directory import Directory, UnknownInstitution
from schemas.messages import new_id


class ScopeError(ValueError):
    status = 422

    def __init__(self, field: str, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.field, self.line = field, line


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


class Intake:
    def __init__(self, inquiries: InquiryRepository, cases: CaseRepository, directory: Directory, default_deadline_s: float,
                 on_accepted: Callable[[], None]) -> None:
        self.inquiries = inquiries
        self.cases = cases
        self.directory = directory
        self.default_deadline_s = default_deadline_s
        self.on_accepted = on_accepted  # wakes the outbox relay

    def submit(self, body: InquiryCreate, officer_id: str) -> Accepted:
        """Stores the inquiry as asked by ``officer_id``, the authenticated officer."""
        try:
            institutions = self.directory.resolve_scope(body.institutions)
        except UnknownInstitution as exc:
            raise ScopeError(f"institutions[{exc.index}]", str(exc)) from None
        self._check_case(body)
        inquiry = self._inquiry(body, body.debtors, institutions, None, body.deadline_seconds, officer_id)
        legs = self.inquiries.add([inquiry])
        self.on_accepted()
        return Accepted(inquiry.id, 1, len(body.debtors), legs)

    def submit_batch(self, rows: Sequence[BatchRow], fmt: str, lines: Sequence[int], officer_id: str,
                     batch_id: str | None = None) -> Accepted:
        """Rows sharing a case and legal basis become one inquiry; all are stored in one transaction.
        ``batch_id``: the one an idempotency key names (gateway/inquiries/batch_keys.py)."""
        batch_id = batch_id or new_id()
        groups: dict[tuple, list[BatchRow]] = defaultdict(list)
        first_of_case: dict[str, BatchRow] = {}
        for index, row in enumerate(rows):
            try:
                self.directory.resolve_scope(row.institutions)
            except UnknownInstitution as exc:
                raise ScopeError(f"institutions[{exc.index}]", str(exc), lines[index]) from None
            self._check_case(row, lines[index], first_of_case.setdefault(row.case_number, row))
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
