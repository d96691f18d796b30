"""Case records and their append-only history (opened, amended)."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from gateway.store.pages import before, page
from gateway.store.records import CaseAmendment, CaseEvent, CaseRecord, Page
from gateway.store.sqlite.connection import Transaction

_COLUMNS = "case_number, court, amount_due_fen, costs_fen, applicant, created_at, created_by"


def record_case_event(db: sqlite3.Connection, case_number: str, at: int, actor: str, event: str, detail: dict[str, Any]) -> None:
    db.execute("INSERT INTO case_events (case_number, at, actor, event, detail) VALUES (?,?,?,?,?)",
               (case_number, at, actor, event, orjson.dumps(detail).decode()))


class SqliteCases:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def get(self, case_number: str) -> CaseRecord | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM cases WHERE case_number = ?", (case_number,)).fetchone()
        return CaseRecord(*row) if row else None

    def amend(self, amendment: CaseAmendment) -> CaseRecord:
        with Transaction(self.db) as db:
            before = db.execute("SELECT amount_due_fen, costs_fen FROM cases WHERE case_number = ?",
                                (amendment.case_number,)).fetchone()
            if before is None:
                raise LookupError(f"no case {amendment.case_number}")
            db.execute("UPDATE cases SET amount_due_fen = ?, costs_fen = ? WHERE case_number = ?",
                       (amendment.amount_due_fen, amendment.costs_fen, amendment.case_number))
            record_case_event(db, amendment.case_number, amendment.at, amendment.actor, "amended", {
                "amount_due_fen": {"from": before[0], "to": amendment.amount_due_fen},
                "costs_fen": {"from": before[1], "to": amendment.costs_fen},
                "ruling_number": amendment.ruling_number, "reason": amendment.reason,
            })
        return self.get(amendment.case_number)  # type: ignore[return-value]

    def events(self, case_number: str) -> list[CaseEvent]:
        return [CaseEvent(at, actor, event, orjson.loads(detail)) for at, actor, event, detail in self.db.execute(
            "SELECT at, actor, event, detail FROM case_events WHERE case_number = ? ORDER BY seq", (case_number,))]

    def of_court(self, court: str, limit: int, cursor: str | None = None) -> Page[CaseRecord]:
        # Rowids follow the order cases were opened in (by their first inquiry).
        return page(self.db.execute(
            f"SELECT rowid, {_COLUMNS} FROM cases WHERE court = ? AND rowid < ? ORDER BY rowid DESC LIMIT ?",
            (court, before(cursor), limit + 1)), limit, lambda r: CaseRecord(*r))
