"""What every kind's connector does alike: the request fields most institutions want (from a
batch of legs and from each leg), and reading an institution's batch answer into one ``Answer``
per leg."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from connectors.contract.base import Answer, Refused, Retryable
from schemas.directory import Institution
from schemas.messages import LegBatch, LegItem


def legal_basis(batch: LegBatch) -> dict:
    return {
        "case_number": batch.case_number,
        "court": batch.court,
        "notice_number": batch.notice_number,
        "officer_credentials": batch.officer_credentials,
    }


def batch_key(batch: LegBatch) -> str:
    """A batch's id from its legs: the same legs asked again (a retry, a redelivered message) are
    the same batch, so an institution answering by file can serve them its first answer."""
    return hashlib.sha256("\n".join(sorted(leg.leg_id for leg in batch.legs)).encode()).hexdigest()[:32]


def subject(leg: LegItem) -> dict:
    id_type = "uscc" if leg.debtor.kind == "organisation" else "resident_id"
    return {"request_id": leg.leg_id, "id_type": id_type, "id_number": leg.debtor.id_number, "name": leg.debtor.name}


def refuse_all(batch: LegBatch, reason: str) -> dict[str, Answer]:
    """The batch's legal basis was refused, so every leg is."""
    refused = Refused(reason)
    return {leg.leg_id: refused for leg in batch.legs}


def answers_by_leg(institution: Institution, batch: LegBatch, items: Any, id_key: str,
                   answer: Callable[[dict, LegItem], Answer]) -> dict[str, Answer]:
    """``answer(item, leg)`` for each item of the institution's batch answer that names a leg of
    ``batch`` by ``id_key``; items naming no leg of ours are ignored, and legs no item names are
    left out (the worker asks for them again). An unreadable answer is worth another try."""
    legs = {leg.leg_id: leg for leg in batch.legs}
    answers: dict[str, Answer] = {}
    try:
        for item in items:
            leg = legs.get(item[id_key])
            if leg is not None:
                answers[leg.leg_id] = answer(item, leg)
    except (AttributeError, KeyError, TypeError, ValidationError) as exc:
        raise Retryable(f"{institution.id} sent an unreadable batch answer: {exc!r}"[:300]) from None
    return answers
