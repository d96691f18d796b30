"""The SQLite schema: tables, the partial indexes on open work, and the triggers that keep the
audit trails and the record of inquiries append-only. Created on open when missing; columns added
since a database was first made are added on open too (``ADDED_COLUMNS``)."""

from __future__ import annotations

from gateway.inquiries.states import OPEN_LEG as OPEN_LEG_STATUSES
from gateway.orders.states import ENDED_FREEZE

# SQLite uses a partial index only for a query that repeats the index's WHERE term word for word
# (``status = 'pending'`` alone does not count as implying it), so queries for open legs add
# ``AND {OPEN_LEG}``; tests/test_store_plans.py checks that they search the index.
OPEN_LEG = f"status IN ({', '.join(repr(s) for s in OPEN_LEG_STATUSES)})"

# The legs table doubles as the outbox: a leg is written ``pending`` in the same transaction that
# acknowledges the inquiry, and the relay marks it ``sent`` once Kafka has it. So an acknowledged
# inquiry survives any crash, and an unsent leg is sent after restart.
INQUIRY_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, format TEXT NOT NULL,
    rows INTEGER NOT NULL, inquiries INTEGER NOT NULL, legs INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS inquiries (
    id TEXT PRIMARY KEY, batch_id TEXT, case_number TEXT NOT NULL, court TEXT NOT NULL,
    amount_due_fen INTEGER NOT NULL, costs_fen INTEGER NOT NULL, notice_number TEXT NOT NULL,
    officer_credentials TEXT NOT NULL, created_at INTEGER NOT NULL, deadline INTEGER NOT NULL,
    legs_total INTEGER NOT NULL, legs_done INTEGER NOT NULL DEFAULT 0, completed_at INTEGER,
    officer_id TEXT);
CREATE INDEX IF NOT EXISTS inquiries_open ON inquiries(deadline) WHERE completed_at IS NULL;
CREATE INDEX IF NOT EXISTS inquiries_batch ON inquiries(batch_id);
CREATE INDEX IF NOT EXISTS inquiries_case ON inquiries(case_number);
CREATE TABLE IF NOT EXISTS debtors (
    inquiry_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, id_number TEXT NOT NULL,
    name TEXT NOT NULL, PRIMARY KEY (inquiry_id, seq));
CREATE TABLE IF NOT EXISTS legs (
    id TEXT PRIMARY KEY, inquiry_id TEXT NOT NULL, debtor_seq INTEGER NOT NULL,
    institution_id TEXT NOT NULL, institution_kind TEXT NOT NULL, status TEXT NOT NULL,
    sent_at INTEGER, finished_at INTEGER, reason TEXT, attempts INTEGER, latency_ms INTEGER,
    assets TEXT, late_status TEXT, late_reason TEXT, late_assets TEXT, late_at INTEGER);
CREATE INDEX IF NOT EXISTS legs_by_inquiry ON legs(inquiry_id);
-- A debtor's legs in a case (the checks of one order read only its holder's answers).
CREATE INDEX IF NOT EXISTS debtors_by_id ON debtors(id_number);
-- Open legs only: the outbox reads 'pending', the re-send of unanswered work reads 'sent' by age.
DROP INDEX IF EXISTS legs_unsent;
CREATE INDEX IF NOT EXISTS legs_open ON legs(status, sent_at) WHERE {OPEN_LEG};
CREATE TABLE IF NOT EXISTS access_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, officer TEXT, court TEXT,
    method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL, reason TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS access_audit_append_only_u BEFORE UPDATE ON access_audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS access_audit_append_only_d BEFORE DELETE ON access_audit
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""

# Columns added to a table after databases were made with it, in the order they came: (table,
# column, declaration). SQLite adds a column only at the end and nullable (or with a default), so
# a fresh table declares them last as well; rows from before a column came hold NULL in it.
ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("inquiries", "officer_id", "TEXT"),  # the authenticated officer who asked; NULL before it was recorded
    # The institution's feed position of the last event or reconciliation that set a freeze's
    # state: an older one arriving later is not applied over it. NULL: only its answer so far.
    ("orders", "state_seq", "INTEGER"),
    # The access audit: the client's address (who an unauthenticated refusal came from), and how
    # many identical refusals a row stands for (repeats within a minute are counted, not written).
    ("access_audit", "client", "TEXT"),
    ("access_audit", "count", "INTEGER NOT NULL DEFAULT 1"),
)

# Who asked what, of whom, on what authority stays as written: inquiries, their debtors and legs
# are never deleted, and only their progress columns (status, results, legs_done, completed_at …)
# change. Created after ADDED_COLUMNS are in place, since they name them.
INQUIRY_TRIGGERS = """
CREATE TRIGGER IF NOT EXISTS inquiries_append_only_d BEFORE DELETE ON inquiries
    BEGIN SELECT RAISE(ABORT, 'inquiries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS inquiries_identity_u BEFORE UPDATE OF id, batch_id, case_number, court, amount_due_fen,
    costs_fen, notice_number, officer_credentials, officer_id, created_at, deadline, legs_total ON inquiries
    BEGIN SELECT RAISE(ABORT, 'an inquiry''s case, basis and officer are fixed once recorded'); END;
CREATE TRIGGER IF NOT EXISTS debtors_append_only_u BEFORE UPDATE ON debtors
    BEGIN SELECT RAISE(ABORT, 'debtors of an inquiry are append-only'); END;
CREATE TRIGGER IF NOT EXISTS debtors_append_only_d BEFORE DELETE ON debtors
    BEGIN SELECT RAISE(ABORT, 'debtors of an inquiry are append-only'); END;
CREATE TRIGGER IF NOT EXISTS legs_append_only_d BEFORE DELETE ON legs
    BEGIN SELECT RAISE(ABORT, 'legs are append-only'); END;
CREATE TRIGGER IF NOT EXISTS legs_identity_u BEFORE UPDATE OF id, inquiry_id, debtor_seq, institution_id,
    institution_kind ON legs
    BEGIN SELECT RAISE(ABORT, 'a leg''s inquiry, debtor and institution are fixed once recorded'); END;
"""

# A case is opened by its first inquiry; its amounts change only by an amendment, recorded in
# its append-only history. Databases from before the case record get their cases from their
# first inquiries (CASE_BACKFILL, run on open; it only inserts what is missing).
CASE_SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    case_number TEXT PRIMARY KEY, court TEXT NOT NULL, amount_due_fen INTEGER NOT NULL,
    costs_fen INTEGER NOT NULL, applicant TEXT, created_at INTEGER NOT NULL, created_by TEXT);
CREATE TABLE IF NOT EXISTS case_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, case_number TEXT NOT NULL, at INTEGER NOT NULL,
    actor TEXT NOT NULL, event TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS case_events_by_case ON case_events(case_number, seq);
-- An officer's list of his court's cases, newest first (the rowid rides in the index).
CREATE INDEX IF NOT EXISTS cases_court ON cases(court);
CREATE TRIGGER IF NOT EXISTS case_events_append_only_u BEFORE UPDATE ON case_events
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS case_events_append_only_d BEFORE DELETE ON case_events
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS cases_kept BEFORE DELETE ON cases
    BEGIN SELECT RAISE(ABORT, 'a case record is never deleted'); END;
"""
# Freezes released or lapsed before a freeze that ended was recorded as holding nothing keep the
# amount they last held; set them to 0 on open (only what is still wrong is touched).
ENDED_FREEZE_BACKFILL = f"""
UPDATE orders SET held_fen = 0 WHERE type = 'freeze' AND held_fen > 0
    AND status IN ({', '.join(repr(s) for s in ENDED_FREEZE)});
"""
CASE_BACKFILL = """
INSERT OR IGNORE INTO cases (case_number, court, amount_due_fen, costs_fen, created_at)
    SELECT case_number, court, amount_due_fen, costs_fen, min(created_at) FROM inquiries
    WHERE case_number NOT IN (SELECT case_number FROM cases) GROUP BY case_number;
"""

# Like legs, an order row is its own outbox entry: ``requested`` (and, for a deduction, approved)
# orders are published by the relay and become ``sent``.
ORDER_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE, request_digest TEXT NOT NULL,
    type TEXT NOT NULL, status TEXT NOT NULL, case_number TEXT NOT NULL, court TEXT NOT NULL,
    institution_id TEXT NOT NULL, institution_kind TEXT NOT NULL, asset_kind TEXT NOT NULL,
    asset_id TEXT NOT NULL, debtor_id_number TEXT NOT NULL, amount_fen INTEGER, term_days INTEGER,
    ruling_number TEXT NOT NULL, notice_number TEXT NOT NULL, officer_credentials TEXT NOT NULL,
    operator TEXT NOT NULL, checker TEXT, approved_at INTEGER, original_order_id TEXT,
    enforcement_account TEXT, created_at INTEGER NOT NULL, deadline INTEGER NOT NULL,
    sent_at INTEGER, updated_at INTEGER NOT NULL, held_fen INTEGER, deducted_fen INTEGER,
    queue_position INTEGER, start_date TEXT, end_date TEXT, reason TEXT);
CREATE INDEX IF NOT EXISTS orders_unsent ON orders(status) WHERE status = 'requested';
CREATE INDEX IF NOT EXISTS orders_case ON orders(case_number);
CREATE INDEX IF NOT EXISTS orders_asset ON orders(institution_id, asset_id);
-- An officer's list of his court's orders, newest first (the rowid rides in the index).
CREATE INDEX IF NOT EXISTS orders_court ON orders(court);
CREATE TABLE IF NOT EXISTS order_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, order_id TEXT NOT NULL, at INTEGER NOT NULL,
    actor TEXT NOT NULL, event TEXT NOT NULL, status TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS order_events_by_order ON order_events(order_id, seq);
CREATE TRIGGER IF NOT EXISTS order_events_append_only_u BEFORE UPDATE ON order_events
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS order_events_append_only_d BEFORE DELETE ON order_events
    BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""

# What institutions said on their own (schemas/events.py). One asset's (or person's) events come in
# feed order on one partition, so an event is new exactly when its seq is above the last one seen
# for its subject: ``event_subjects`` is the dedupe, bounded by the number of subjects, not events.
# ``known_assets`` are the assets some inquiry found (filled as results arrive): an event about any
# other asset is refused. ``asset_states`` hold money assets' balances as the institution last told.
EVENT_SCHEMA = """
CREATE TABLE IF NOT EXISTS event_subjects (
    institution_id TEXT NOT NULL, subject TEXT NOT NULL, last_seq INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    PRIMARY KEY (institution_id, subject)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS known_assets (
    institution_id TEXT NOT NULL, asset_id TEXT NOT NULL, asset_kind TEXT NOT NULL,
    PRIMARY KEY (institution_id, asset_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS asset_states (
    institution_id TEXT NOT NULL, asset_id TEXT NOT NULL, balance_fen INTEGER NOT NULL, as_of_seq INTEGER NOT NULL,
    at TEXT NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (institution_id, asset_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reconciliations (
    run_id TEXT PRIMARY KEY, started_at INTEGER NOT NULL, requested_by TEXT NOT NULL, institutions TEXT NOT NULL,
    answered TEXT NOT NULL DEFAULT '{}', differences TEXT NOT NULL DEFAULT '[]', finished_at INTEGER);
"""

# Watches are never deleted, and what a watch is (its case, debtor, kinds, term, action, officer)
# is fixed once placed: only ending it changes it, once. Alerts are append-only, one per watch and
# institution event (a repeated event makes no second alert); ``seq`` is the officers' cursor.
WATCH_SCHEMA = """
CREATE TABLE IF NOT EXISTS watches (
    id TEXT PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE, request_digest TEXT NOT NULL,
    case_number TEXT NOT NULL, court TEXT NOT NULL, debtor_id_number TEXT NOT NULL, kinds TEXT NOT NULL,
    until INTEGER NOT NULL, auto_freeze TEXT, officer_id TEXT NOT NULL, created_at INTEGER NOT NULL,
    ended_at INTEGER, ended_by TEXT);
CREATE INDEX IF NOT EXISTS watches_active ON watches(debtor_id_number, until) WHERE ended_at IS NULL;
CREATE INDEX IF NOT EXISTS watches_court ON watches(court, case_number);
CREATE TRIGGER IF NOT EXISTS watches_kept BEFORE DELETE ON watches
    BEGIN SELECT RAISE(ABORT, 'a watch is never deleted; end it'); END;
CREATE TRIGGER IF NOT EXISTS watches_identity_u BEFORE UPDATE OF id, idempotency_key, request_digest, case_number,
    court, debtor_id_number, kinds, until, auto_freeze, officer_id, created_at ON watches
    BEGIN SELECT RAISE(ABORT, 'a watch is fixed once placed; end it and place another'); END;
CREATE TRIGGER IF NOT EXISTS watches_ended_once BEFORE UPDATE OF ended_at, ended_by ON watches
    WHEN OLD.ended_at IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'a watch is ended once'); END;
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, watch_id TEXT NOT NULL, event_id TEXT NOT NULL,
    case_number TEXT NOT NULL, court TEXT NOT NULL, debtor_id_number TEXT NOT NULL, kind TEXT NOT NULL,
    event_type TEXT NOT NULL, institution_id TEXT NOT NULL, at INTEGER NOT NULL, summary TEXT NOT NULL,
    detail TEXT NOT NULL, created_at INTEGER NOT NULL, UNIQUE (watch_id, event_id));
CREATE INDEX IF NOT EXISTS alerts_court ON alerts(court, seq);
CREATE TRIGGER IF NOT EXISTS alerts_append_only_u BEFORE UPDATE ON alerts
    BEGIN SELECT RAISE(ABORT, 'alerts are append-only'); END;
CREATE TRIGGER IF NOT EXISTS alerts_append_only_d BEFORE DELETE ON alerts
    BEGIN SELECT RAISE(ABORT, 'alerts are append-only'); END;
"""
