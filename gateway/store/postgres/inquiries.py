"""Inquiries, their debtors and legs, and batches (the SQL of gateway/store/sqlite/inquiries.py,
in PostgreSQL's words)."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from gateway.store import figures, found, rows
from gateway.store.postgres.cases import record_case_event
from gateway.store.postgres.connection import Connection, transaction
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
from schemas.messages import leg_id


class PgInquiries:
    def __init__(self, db: Connection) -> None:
        self.db = db

    def add(self, inquiries: Iterable[NewInquiry], batch: NewBatch | None = None) -> int:
        legs = 0
        with transaction(self.db):
            count = 0
            for q in inquiries:
                _insert_inquiry(self.db, q)
                legs += _insert_legs(self.db, q, range(len(q.debtors)))
                count += 1
            if batch is not None:
                _insert_batch(self.db, batch, count, legs)
        return legs

    def open_inquiry(self, inquiry: NewInquiry) -> None:
        with transaction(self.db):
            _insert_inquiry(self.db, inquiry)

    def add_legs(self, inquiry: NewInquiry, debtors: range) -> int:
        with transaction(self.db):
            return _insert_legs(self.db, inquiry, debtors)

    def record_batch(self, batch: NewBatch, inquiries: int, legs: int) -> None:
        _insert_batch(self.db, batch, inquiries, legs)

    def get(self, inquiry_id: str) -> InquiryRecord | None:
        row = self.db.execute(f"SELECT {rows.INQUIRY_COLUMNS} FROM inquiries WHERE id = %s", (inquiry_id,)).fetchone()
        return rows.inquiry(row) if row else None

    def debtors(self, inquiry_id: str) -> list[DebtorRecord]:
        return [rows.debtor(r) for r in self.db.execute(
            f"SELECT {rows.DEBTOR_COLUMNS} FROM debtors WHERE inquiry_id = %s ORDER BY seq", (inquiry_id,))]

    def legs(self, inquiry_id: str) -> list[LegRecord]:
        return [rows.leg(r) for r in self.db.execute(
            f"SELECT {rows.LEG_COLUMNS} FROM legs WHERE inquiry_id = %s ORDER BY debtor_seq, institution_id", (inquiry_id,))]

    def batch(self, batch_id: str) -> BatchRecord | None:
        row = self.db.execute(
            "SELECT id, created_at, format, rows, inquiries, legs FROM batches WHERE id = %s", (batch_id,)).fetchone()
        return BatchRecord(*row) if row else None

    def batch_progress(self, batch_id: str) -> BatchProgress:
        return BatchProgress(*self.db.execute(
            "SELECT count(*), count(completed_at), coalesce(sum(legs_total), 0)::bigint, coalesce(sum(legs_done), 0)::bigint,"
            " max(completed_at) FROM inquiries WHERE batch_id = %s", (batch_id,)).fetchone())

    def batch_inquiry_ids(self, batch_id: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM inquiries WHERE batch_id = %s ORDER BY seq", (batch_id,))]

    def case_assets(self, case_number: str, *, institutions: Collection[str] | None = None,
                    debtors: Collection[str] | None = None) -> list[FoundAsset]:
        return found.case_assets(self.db, "%s", case_number, "q.created_at, q.seq", institutions=institutions, debtors=debtors)

    def case_persons(self, case_number: str) -> set[str]:
        return {id_number for (id_number,) in self.db.execute(
            "SELECT DISTINCT d.id_number FROM debtors d JOIN inquiries q ON q.id = d.inquiry_id"
            " WHERE q.case_number = %s AND d.kind = 'person'", (case_number,))}

    def case_debtors(self, case_number: str) -> set[str]:
        return {id_number for (id_number,) in self.db.execute(
            "SELECT DISTINCT d.id_number FROM debtors d JOIN inquiries q ON q.id = d.inquiry_id"
            " WHERE q.case_number = %s", (case_number,))}

    def case_inquiry_ids(self, case_number: str) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT id FROM inquiries WHERE case_number = %s ORDER BY created_at, seq", (case_number,))]

    def court_figures(self, court: str, bucket_ms: int, buckets: int) -> CourtFigures:
        return figures.court_figures(self.db, "%s", court, bucket_ms, buckets)


def _insert_inquiry(db: Connection, q: NewInquiry) -> None:
    """The inquiry and its debtors; the case record too if this is the case's first inquiry."""
    opened = db.execute(
        "INSERT INTO cases (case_number, court, amount_due_fen, costs_fen, applicant, created_at, created_by)"
        " VALUES (%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (case_number) DO NOTHING",
        (q.case_number, q.court, q.amount_due_fen, q.costs_fen, q.applicant, q.created_at, q.officer_id)).rowcount
    if opened:
        record_case_event(db, q.case_number, q.created_at, q.officer_id or "gateway", "opened", {
            "amount_due_fen": q.amount_due_fen, "costs_fen": q.costs_fen, "applicant": q.applicant,
            "inquiry_id": q.id})
    db.execute(
        "INSERT INTO inquiries (id, batch_id, case_number, court, amount_due_fen, costs_fen, notice_number,"
        " officer_credentials, officer_id, created_at, deadline, legs_total) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
        (q.id, q.batch_id, q.case_number, q.court, q.amount_due_fen, q.costs_fen, q.notice_number,
         rows.dump(list(q.officer_credentials)), q.officer_id, q.created_at, q.deadline, q.legs_total))
    with db.cursor() as cur:
        cur.executemany("INSERT INTO debtors (inquiry_id, seq, kind, id_number, name) VALUES (%s,%s,%s,%s,%s)",
                        [(q.id, seq, d.kind, d.id_number, d.name) for seq, d in enumerate(q.debtors)])


def _insert_legs(db: Connection, q: NewInquiry, debtors: range) -> int:
    """Legs of the debtors at ``debtors`` (their seq), ``pending``: in the outbox from the commit on.
    COPY, since a batch part is ~2,000 rows."""
    legs = [(leg_id(q.id, seq, inst.id), q.id, seq, inst.id, inst.kind, "pending") for seq in debtors for inst in q.institutions]
    with db.cursor() as cur, cur.copy(
            "COPY legs (id, inquiry_id, debtor_seq, institution_id, institution_kind, status) FROM STDIN") as copy:
        for leg in legs:
            copy.write_row(leg)
    return len(legs)


def _insert_batch(db: Connection, batch: NewBatch, inquiries: int, legs: int) -> None:
    db.execute("INSERT INTO batches (id, created_at, format, rows, inquiries, legs) VALUES (%s,%s,%s,%s,%s,%s)",
               (batch.id, batch.created_at, batch.format, batch.rows, inquiries, legs))
