"""Request fields most institutions want, taken from a batch of legs and from each leg."""

from __future__ import annotations

from schemas.messages import LegBatch, LegItem


def legal_basis(batch: LegBatch) -> dict:
    return {
        "case_number": batch.case_number,
        "court": batch.court,
        "notice_number": batch.notice_number,
        "officer_credentials": batch.officer_credentials,
    }


def subject(leg: LegItem) -> dict:
    id_type = "uscc" if leg.debtor.kind == "organisation" else "resident_id"
    return {"request_id": leg.leg_id, "id_type": id_type, "id_number": leg.debtor.id_number, "name": leg.debtor.name}
