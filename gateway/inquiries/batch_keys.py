"""Idempotent batch submission: an ``Idempotency-Key`` header names the batch it creates.

A client whose POST got no answer (the gateway restarted, the connection broke) cannot know
whether the batch was stored; it sends the same request with the same key again. The batch's id is
derived from the officer and the key, so the second POST finds the first batch (the batches
table's primary key is the guard) instead of creating another, and nothing new is stored."""

from __future__ import annotations

import hashlib

from gateway.store.interfaces import InquiryRepository
from gateway.store.records import BatchRecord

HEADER = "Idempotency-Key"
MIN_LEN, MAX_LEN = 8, 128  # as an order's idempotency_key


def key_problem(key: str) -> str | None:
    if not MIN_LEN <= len(key) <= MAX_LEN:
        return f"{MIN_LEN} to {MAX_LEN} characters"
    if not key.isascii() or not key.isprintable():
        return "printable ASCII only"
    return None


def batch_id_for(officer_id: str, key: str) -> str:
    """A batch id of the usual shape (32 hex digits), one per officer and key."""
    return hashlib.sha256(f"batch\0{officer_id}\0{key}".encode()).hexdigest()[:32]


def replayed_acceptance(inquiries: InquiryRepository, batch: BatchRecord) -> dict[str, object]:
    """The body the first POST answered with."""
    ids = inquiries.batch_inquiry_ids(batch.id)
    debtors = sum(len(inquiries.debtors(i)) for i in ids)
    location = f"/v1/inquiry-batches/{batch.id}"
    return {"id": batch.id, "inquiries": batch.inquiries, "debtors": debtors, "legs": batch.legs, "location": location,
            "replayed": True}
