"""Rows to records, for every store (a row is a plain tuple in sqlite3 and psycopg alike). Each
``*_COLUMNS`` lists a table's columns in its record's field order, so a row converts
positionally; JSON columns are text in every store and decoded here, once."""

from __future__ import annotations

from typing import Any

import orjson

from gateway.store.records import (
    AccessEntry,
    Asset,
    DebtorRecord,
    InquiryRecord,
    LegRecord,
    OrderEvent,
    OrderRecord,
)

INQUIRY_COLUMNS = ("id, batch_id, case_number, court, amount_due_fen, costs_fen, notice_number, officer_credentials,"
                   " officer_id, created_at, deadline, legs_total, legs_done, completed_at")
DEBTOR_COLUMNS = "inquiry_id, seq, kind, id_number, name"
LEG_COLUMNS = ("id, inquiry_id, debtor_seq, institution_id, institution_kind, status, sent_at, finished_at, reason,"
               " attempts, latency_ms, assets, late_status, late_reason, late_assets, late_at")
ORDER_COLUMNS = ("id, idempotency_key, request_digest, type, status, case_number, court, institution_id,"
                 " institution_kind, asset_kind, asset_id, debtor_id_number, amount_fen, term_days, ruling_number,"
                 " notice_number, officer_credentials, operator, checker, approved_at, original_order_id,"
                 " enforcement_account, created_at, deadline, sent_at, updated_at, held_fen, deducted_fen,"
                 " queue_position, start_date, end_date, reason, state_seq, quantity")
EVENT_COLUMNS = "seq, order_id, at, actor, event, status, detail"
ACCESS_COLUMNS = "at, officer, court, method, path, status, reason, client, count"


def prefixed(columns: str, alias: str) -> str:
    """``a, b`` → ``q.a, q.b``, for joins."""
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


def dump(value: Any) -> str:
    return orjson.dumps(value).decode()


def assets(text: str | None) -> tuple[Asset, ...]:
    return tuple(orjson.loads(text)) if text else ()


def inquiry(row: tuple) -> InquiryRecord:  # type: ignore[type-arg]
    return InquiryRecord(*row[:7], tuple(orjson.loads(row[7])), *row[8:14])


def debtor(row: tuple) -> DebtorRecord:  # type: ignore[type-arg]
    return DebtorRecord(*row)


def leg(row: tuple) -> LegRecord:  # type: ignore[type-arg]
    return LegRecord(*row[:11], assets(row[11]), row[12], row[13], assets(row[14]), row[15])


def order(row: tuple) -> OrderRecord:  # type: ignore[type-arg]
    return OrderRecord(*row[:16], tuple(orjson.loads(row[16])), *row[17:])


def event(row: tuple) -> OrderEvent:  # type: ignore[type-arg]
    return OrderEvent(*row[:6], orjson.loads(row[6]))


def access_entry(row: tuple) -> AccessEntry:  # type: ignore[type-arg]
    return AccessEntry(*row)
