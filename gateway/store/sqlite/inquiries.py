"""Inquiries, their debtors and legs, and batches, as officers submit and read them."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable

from gateway.store import figures, found, rows
from gateway.store.records import (
    BatchProgress,
    BatchRecord,
    CourtFigures,
    DebtorRecord,
    FoundAsset,
    InquiryRecord,
    LegRecord,
    NewBatch,
    NewInquiry,
)
from gateway.store.sqlite.cases import record_case_event
from gateway.store.sqlite.connection import Transaction
from schemas.messages import leg_id


class SqliteInquiries:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def add(self, inquiries: Iterable[NewInquiry], batch: NewBatch | None = None) -> int:
        legs = 0
        with Transaction(self.db) as db:
            count = 0
            for q in inquiries:
                _insert_inquiry(db, q)
                legs += _insert_legs(db, q, range(len(q.debtors)))
                count += 1
            if batch is not None:
                _insert_batch(db, batch, count, legs)
        return legs

    def open_inquiry(self, inquiry: NewInquiry) -> None:
        with Transaction(self.db) as db:
            _insert_inquiry(db, inquiry)

    def add_legs(self, inquiry: NewInquiry, debtors: range) -> int:
        with Transaction(self.db) as db:
            return _insert_legs(db, inquiry, debtors)

    def record_batch(self, batch: NewBatch, inquiries: int, legs: int) -> None:
        with Transaction(self.db) as db:
            _insert_batch(db, batch, inquiries, legs)

    def get(self, inquiry_id: str) -> InquiryRecord | None:
        row = self.db.execute(f"SELECT {rows.INQUIRY_COLUMNS} FROM inquiries WHERE id = ?", (inquiry_id,)).fetchone()
        return rows.inquiry(row) if row else None

    def debtors(self, inquiry_id: str) -> list[DebtorRecord]:
        return [rows.debtor(r) for r in self.db.execute(
            f"SELECT {rows.DEBTOR_COLUMNS} FROM debtors WHERE inquiry_id = ? ORDER BY seq", (inquiry_id,)
        )]

    def legs(self, inquiry_id: str) -> list[LegRecord]:
        return [rows.leg(r) for r in self.db.execute(
            f"SELECT {rows.LEG_COLUMNS} FROM legs WHERE inquiry_id = ? ORDER BY debtor_seq, institution_id", (inquiry_id,)
        )]

    def batch(self, batch_id: str) -> BatchRecord | None:
        row = self.db.execute(
            "SELECT id, created_at, format, rows, inquiries, legs FROM batches WHERE id = ?", (batch_id,)
        ).fetchone()
        return BatchRecord(*row) if row else None

    def batch_progress(self, batch_id: str) -> BatchProgress:
        return BatchProgress(*self.db.execute(
            "SELECT count(*) AS inquiries, count(completed_at) AS completed,"
            " coalesce(sum(legs_total), 0) AS legs_total, coalesce(sum(legs_done), 0) AS legs_done,"
            " max(completed_at) AS last_completed_at FROM inquiries WHERE batch_id = ?",
            (batch_id,),
        ).fetchone())

    def batch_inquiry_ids(self, batch_id: str) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT id FROM inquiries WHERE batch_id = ? ORDER BY rowid", (batch_id,)
        )]

    def case_assets(self, case_number: str, *, institutions: Collection[str] | None = None,
                    debtors: Collection[str] | None = None) -> list[FoundAsset]:
        return found.case_assets(self.db, "?", case_number, "q.created_at", institutions=institutions, debtors=debtors)

    def case_persons(self, case_number: str) -> set[str]:
        return {id_number for (id_number,) in self.db.execute(
            "SELECT DISTINCT d.id_number FROM debtors d JOIN inquiries q ON q.id = d.inquiry_id"
            " WHERE q.case_number = ? AND d.kind = 'person'", (case_number,))}

    def case_debtors(self, case_number: str) -> set[str]:
        return {id_number for (id_number,) in self.db.execute(
            "SELECT DISTINCT d.id_number FROM debtors d JOIN inquiries q ON q.id = d.inquiry_id"
            " WHERE q.case_number = ?", (case_number,))}

    def case_inquiry_ids(self, case_number: str) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT id FROM inquiries WHERE case_number = ? ORDER BY created_at, rowid", (case_number,))]

    def court_figures(self, court: str, bucket_ms: int, buckets: int) -> CourtFigures:
        return figures.court_figures(self.db, "?", court, bucket_ms, buckets)


def _insert_inquiry(db: sqlite3.Connection, q: NewInquiry) -> None:
    """The inquiry and its debtors; the case record too if this is the case's first inquiry."""
    opened = db.execute(
        "INSERT OR IGNORE INTO cases (case_number, court, amount_due_fen, costs_fen, applicant, created_at,"
        " created_by) VALUES (?,?,?,?,?,?,?)",
        (q.case_number, q.court, q.amount_due_fen, q.costs_fen, q.applicant, q.created_at, q.officer_id),
    ).rowcount
    if opened:
        record_case_event(db, q.case_number, q.created_at, q.officer_id or "gateway", "opened", {
            "amount_due_fen": q.amount_due_fen, "costs_fen": q.costs_fen, "applicant": q.applicant,
            "inquiry_id": q.id})
    db.execute(
        "INSERT INTO inquiries (id, batch_id, case_number, court, amount_due_fen, costs_fen, notice_number,"
        " officer_credentials, officer_id, created_at, deadline, legs_total) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (q.id, q.batch_id, q.case_number, q.court, q.amount_due_fen, q.costs_fen, q.notice_number,
         rows.dump(list(q.officer_credentials)), q.officer_id, q.created_at, q.deadline, q.legs_total),
    )
    db.executemany(
        "INSERT INTO debtors (inquiry_id, seq, kind, id_number, name) VALUES (?,?,?,?,?)",
        [(q.id, seq, d.kind, d.id_number, d.name) for seq, d in enumerate(q.debtors)],
    )


def _insert_legs(db: sqlite3.Connection, q: NewInquiry, debtors: range) -> int:
    """Legs of the debtors at ``debtors`` (their seq), ``pending``: in the outbox from the commit on."""
    before = db.total_changes
    db.executemany(
        "INSERT INTO legs (id, inquiry_id, debtor_seq, institution_id, institution_kind, status) VALUES (?,?,?,?,?,?)",
        ((leg_id(q.id, seq, inst.id), q.id, seq, inst.id, inst.kind, "pending") for seq in debtors for inst in q.institutions),
    )
    return db.total_changes - before


def _insert_batch(db: sqlite3.Connection, batch: NewBatch, inquiries: int, legs: int) -> None:
    db.execute(
        "INSERT INTO batches (id, created_at, format, rows, inquiries, legs) VALUES (?,?,?,?,?,?)",
        (batch.id, batch.created_at, batch.format, batch.rows, inquiries, legs),
    )
