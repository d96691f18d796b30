"""The case record: what a case may take (amount due plus costs), what it has collected, frozen
and released, and the audited amendments that alone change its amounts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.store.interfaces import Store
from gateway.store.records import CaseAmendment, CaseRecord, Page
from infra.clock import now_ms, shown
from schemas.api import CaseAmendmentRequest
from schemas.courts import Courts
from schemas.identifiers import court_code
from schemas.money import yuan


@dataclass
class CaseRejected(Exception):
    status: int
    field: str
    message: str


class CaseDesk:
    def __init__(self, store: Store, courts: Courts | None = None) -> None:
        self.store = store
        self.courts = courts

    def view(self, case_number: str) -> dict[str, Any]:
        with self.store.read_view():  # the record and its money as of one moment
            return self._view(self._existing(self.store.cases.get(case_number), case_number))

    def of_court(self, court: str, limit: int, cursor: str | None = None) -> dict[str, Any]:
        """The court's cases, the most recently opened first, each with its money and how many
        alerts its watches raised: what an officer scans to pick the case to work on."""
        page: Page[CaseRecord] = self.store.cases.of_court(court, limit, cursor)
        alerts = self.store.alerts.counts(court, (c.case_number for c in page.items))
        return {"cases": [{**self._summary(c), "alerts": alerts.get(c.case_number, 0)} for c in page.items],
                "next_cursor": page.next_cursor}

    def _summary(self, case: CaseRecord) -> dict[str, Any]:
        money = self.store.orders.case_money(case.case_number)
        court = self.courts.get(court_code(case.case_number)) if self.courts else None
        return {
            "case_number": case.case_number, "court": case.court, "applicant": case.applicant,
            "amount_due_fen": case.amount_due_fen, "costs_fen": case.costs_fen,
            "opened_at": shown(case.created_at), "opened_by": case.created_by,
            # Where a deduction of the case must go: the court's 执行款专户 in the directory.
            "enforcement_account": court.enforcement_account if court else None,
            "totals": {"due_fen": case.due_fen, "collected_fen": money.deducted_fen, "frozen_fen": money.held_fen,
                       "released_fen": money.released_fen,
                       "remaining_fen": max(case.due_fen - money.deducted_fen, 0)},
        }

    def amend(self, case_number: str, body: CaseAmendmentRequest, actor: str) -> dict[str, Any]:
        with self.store.unit_of_work() as uow:
            case = self._existing(uow.cases.get(case_number), case_number)
            if body.court != case.court:
                raise CaseRejected(422, "court", f"the case is held by {case.court}")
            costs = case.costs_fen if body.costs_fen is None else body.costs_fen
            collected = uow.orders.case_money(case_number).deducted_fen
            if body.amount_due_fen + costs < collected:
                raise CaseRejected(422, "amount_due_fen", f"the case has already collected {yuan(collected)}; "
                                                          "amount due plus costs cannot be less")
            amended = uow.cases.amend(CaseAmendment(case_number, body.amount_due_fen, costs, body.ruling_number,
                                                    body.reason, actor, now_ms()))
        return self._view(amended)

    def _view(self, case: CaseRecord) -> dict[str, Any]:
        return {
            **self._summary(case),
            "history": [{"at": shown(e.at), "actor": e.actor, "event": e.event, "detail": e.detail}
                        for e in self.store.cases.events(case.case_number)],
        }

    @staticmethod
    def _existing(case: CaseRecord | None, case_number: str) -> CaseRecord:
        if case is None:
            raise CaseRejected(404, "case_number", f"no case {case_number}: a case is opened by its first inquiry")
        return case
