"""Request fields most institutions want, taken from a leg."""

from __future__ import annotations

from schemas.messages import LegRequest


def legal_basis(leg: LegRequest) -> dict:
    return {
        "case_number": leg.case_number,
        "court": leg.court,
        "notice_number": leg.notice_number,
        "officer_credentials": leg.officer_credentials,
    }


def subject(leg: LegRequest) -> dict:
    id_type = "uscc" if leg.debtor.kind == "organisation" else "resident_id"
    return {"id_type": id_type, "id_number": leg.debtor.id_number, "name": leg.debtor.name}
