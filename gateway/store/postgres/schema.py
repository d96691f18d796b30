"""The PostgreSQL schema: the same tables as SQLite's (gateway/store/sqlite/schema.py), with
``seq`` columns where SQLite pages by rowid, the outbox's claim columns (several gateways share
one database), shared rate-limit buckets, and the append-only rules as triggers. Created on open
under an advisory lock, so two gateways starting together do not both create it."""

from __future__ import annotations

from gateway.inquiries.states import OPEN_LEG as OPEN_LEG_STATUSES

OPEN_LEG = f"status IN ({', '.join(repr(s) for s in OPEN_LEG_STATUSES)})"
# How long a relay's claim keeps other relays off a pending leg or order: a relay that died
# holding it leaves it to the others after this; one that lives marks it sent long before (a page
# is published in well under a second).
CLAIM_LEASE_MS = 15_000
SCHEMA_LOCK = 0x61737367  # pg_advisory_xact_lock key while creating the schema ("assg")

# Times are epoch milliseconds (BIGINT); JSON is text, decoded by gateway/store/rows.py as in SQLite.
TABLES = f"""
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY, created_at BIGINT NOT NULL, format TEXT NOT NULL,
    rows INTEGER NOT NULL, inquiries INTEGER NOT NULL, legs INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS inquiries (
    id TEXT PRIMARY KEY, seq BIGSERIAL UNIQUE, batch_id TEXT, case_number TEXT NOT NULL, court TEXT NOT NULL,
    amount_due_fen BIGINT NOT NULL, costs_fen BIGINT NOT NULL, notice_number TEXT NOT NULL,
    officer_credentials TEXT NOT NULL, officer_id TEXT, created_at BIGINT NOT NULL, deadline BIGINT NOT NULL,
    legs_total INTEGER NOT NULL, legs_done INTEGER NOT NULL DEFAULT 0, completed_at BIGINT);
CREATE INDEX IF NOT EXISTS inquiries_open ON inquiries(deadline) WHERE completed_at IS NULL;
CREATE INDEX IF NOT EXISTS inquiries_batch ON inquiries(batch_id, seq);
CREATE INDEX IF NOT EXISTS inquiries_case ON inquiries(case_number);
CREATE TABLE IF NOT EXISTS debtors (
    inquiry_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, id_number TEXT NOT NULL,
    name TEXT NOT NULL, PRIMARY KEY (inquiry_id, seq));
-- The legs table doubles as the outbox. A relay claims pending legs for CLAIM_LEASE_MS
-- (claimed_by, claimed_until): another gateway's relay skips them until the lease runs out.
CREATE TABLE IF NOT EXISTS legs (
    id TEXT PRIMARY KEY, inquiry_id TEXT NOT NULL, debtor_seq INTEGER NOT NULL,
    institution_id TEXT NOT NULL, institution_kind TEXT NOT NULL, status TEXT NOT NULL,
    sent_at BIGINT, finished_at BIGINT, reason TEXT, attempts INTEGER, latency_ms INTEGER,
    assets TEXT, late_status TEXT, late_reason TEXT, late_assets TEXT, late_at BIGINT,
    claimed_by TEXT, claimed_until BIGINT);
-- A debtor's legs of an inquiry (reports, a case's assets): by inquiry and debtor, not by inquiry
-- alone (a 1,000-debtor inquiry has 28,000 legs to filter per debtor).
CREATE INDEX IF NOT EXISTS legs_by_inquiry ON legs(inquiry_id, debtor_seq);
CREATE INDEX IF NOT EXISTS debtors_by_id ON debtors(id_number);
CREATE INDEX IF NOT EXISTS legs_open ON legs(status, sent_at) WHERE {OPEN_LEG};
CREATE TABLE IF NOT EXISTS access_audit (
    seq BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL, officer TEXT, court TEXT, method TEXT NOT NULL,
    path TEXT NOT NULL, status INTEGER NOT NULL, reason TEXT NOT NULL, client TEXT, count INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS cases (
    case_number TEXT PRIMARY KEY, seq BIGSERIAL UNIQUE, court TEXT NOT NULL, amount_due_fen BIGINT NOT NULL,
    costs_fen BIGINT NOT NULL, applicant TEXT, created_at BIGINT NOT NULL, created_by TEXT);
CREATE INDEX IF NOT EXISTS cases_court ON cases(court, seq);
CREATE TABLE IF NOT EXISTS case_events (
    seq BIGSERIAL PRIMARY KEY, case_number TEXT NOT NULL, at BIGINT NOT NULL,
    actor TEXT NOT NULL, event TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS case_events_by_case ON case_events(case_number, seq);
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY, seq BIGSERIAL UNIQUE, idempotency_key TEXT NOT NULL UNIQUE, request_digest TEXT NOT NULL,
    type TEXT NOT NULL, status TEXT NOT NULL, case_number TEXT NOT NULL, court TEXT NOT NULL,
    institution_id TEXT NOT NULL, institution_kind TEXT NOT NULL, asset_kind TEXT NOT NULL,
    asset_id TEXT NOT NULL, debtor_id_number TEXT NOT NULL, amount_fen BIGINT, term_days INTEGER,
    ruling_number TEXT NOT NULL, notice_number TEXT NOT NULL, officer_credentials TEXT NOT NULL,
    operator TEXT NOT NULL, checker TEXT, approved_at BIGINT, original_order_id TEXT,
    enforcement_account TEXT, created_at BIGINT NOT NULL, deadline BIGINT NOT NULL,
    sent_at BIGINT, updated_at BIGINT NOT NULL, held_fen BIGINT, deducted_fen BIGINT,
    queue_position INTEGER, start_date TEXT, end_date TEXT, reason TEXT, state_seq BIGINT,
    claimed_by TEXT, claimed_until BIGINT);
CREATE INDEX IF NOT EXISTS orders_unsent ON orders(status) WHERE status = 'requested';
CREATE INDEX IF NOT EXISTS orders_case ON orders(case_number);
CREATE INDEX IF NOT EXISTS orders_asset ON orders(institution_id, asset_id);
CREATE INDEX IF NOT EXISTS orders_court ON orders(court, seq);
CREATE TABLE IF NOT EXISTS order_events (
    seq BIGSERIAL PRIMARY KEY, order_id TEXT NOT NULL, at BIGINT NOT NULL,
    actor TEXT NOT NULL, event TEXT NOT NULL, status TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS order_events_by_order ON order_events(order_id, seq);
CREATE TABLE IF NOT EXISTS event_subjects (
    institution_id TEXT NOT NULL, subject TEXT NOT NULL, last_seq BIGINT NOT NULL, updated_at BIGINT NOT NULL,
    PRIMARY KEY (institution_id, subject));
CREATE TABLE IF NOT EXISTS known_assets (
    institution_id TEXT NOT NULL, asset_id TEXT NOT NULL, asset_kind TEXT NOT NULL,
    PRIMARY KEY (institution_id, asset_id));
CREATE TABLE IF NOT EXISTS asset_states (
    institution_id TEXT NOT NULL, asset_id TEXT NOT NULL, balance_fen BIGINT NOT NULL, as_of_seq BIGINT NOT NULL,
    at TEXT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (institution_id, asset_id));
CREATE TABLE IF NOT EXISTS reconciliations (
    run_id TEXT PRIMARY KEY, started_at BIGINT NOT NULL, requested_by TEXT NOT NULL, institutions TEXT NOT NULL,
    answered TEXT NOT NULL DEFAULT '{{}}', differences TEXT NOT NULL DEFAULT '[]', finished_at BIGINT);
CREATE TABLE IF NOT EXISTS watches (
    id TEXT PRIMARY KEY, idempotency_key TEXT NOT NULL UNIQUE, request_digest TEXT NOT NULL,
    case_number TEXT NOT NULL, court TEXT NOT NULL, debtor_id_number TEXT NOT NULL, kinds TEXT NOT NULL,
    until BIGINT NOT NULL, auto_freeze TEXT, officer_id TEXT NOT NULL, created_at BIGINT NOT NULL,
    ended_at BIGINT, ended_by TEXT);
CREATE INDEX IF NOT EXISTS watches_active ON watches(debtor_id_number, until) WHERE ended_at IS NULL;
CREATE INDEX IF NOT EXISTS watches_court ON watches(court, case_number);
CREATE TABLE IF NOT EXISTS alerts (
    seq BIGSERIAL PRIMARY KEY, watch_id TEXT NOT NULL, event_id TEXT NOT NULL,
    case_number TEXT NOT NULL, court TEXT NOT NULL, debtor_id_number TEXT NOT NULL, kind TEXT NOT NULL,
    event_type TEXT NOT NULL, institution_id TEXT NOT NULL, at BIGINT NOT NULL, summary TEXT NOT NULL,
    detail TEXT NOT NULL, created_at BIGINT NOT NULL, UNIQUE (watch_id, event_id));
CREATE INDEX IF NOT EXISTS alerts_court ON alerts(court, seq);
-- The officers' rate limits, one token bucket per officer (or client address), shared by every
-- gateway: tokens left and when they were counted (epoch seconds).
CREATE TABLE IF NOT EXISTS rate_buckets (
    key TEXT PRIMARY KEY, tokens DOUBLE PRECISION NOT NULL, at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS gateway_instances (
    instance TEXT PRIMARY KEY, seen_at TIMESTAMPTZ NOT NULL);
"""

# The append-only rules SQLite keeps with RAISE(ABORT) triggers: one function raising the
# trigger's message, and a trigger per rule.
REFUSE = """
CREATE OR REPLACE FUNCTION assetgw_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'integrity_constraint_violation'; END $$;
"""
_RULES: tuple[tuple[str, str, str, str], ...] = (
    # (trigger, table, what it guards, message)
    ("access_audit_append_only", "access_audit", "UPDATE OR DELETE", "the audit trail is append-only"),
    ("inquiries_append_only_d", "inquiries", "DELETE", "inquiries are append-only"),
    ("inquiries_identity_u", "inquiries", "UPDATE OF id, batch_id, case_number, court, amount_due_fen, costs_fen,"
     " notice_number, officer_credentials, officer_id, created_at, deadline, legs_total",
     "an inquiry's case, basis and officer are fixed once recorded"),
    ("debtors_append_only", "debtors", "UPDATE OR DELETE", "debtors of an inquiry are append-only"),
    ("legs_append_only_d", "legs", "DELETE", "legs are append-only"),
    ("legs_identity_u", "legs", "UPDATE OF id, inquiry_id, debtor_seq, institution_id, institution_kind",
     "a leg's inquiry, debtor and institution are fixed once recorded"),
    ("case_events_append_only", "case_events", "UPDATE OR DELETE", "the audit trail is append-only"),
    ("cases_kept", "cases", "DELETE", "a case record is never deleted"),
    ("order_events_append_only", "order_events", "UPDATE OR DELETE", "the audit trail is append-only"),
    ("watches_kept", "watches", "DELETE", "a watch is never deleted; end it"),
    ("watches_identity_u", "watches", "UPDATE OF id, idempotency_key, request_digest, case_number, court,"
     " debtor_id_number, kinds, until, auto_freeze, officer_id, created_at",
     "a watch is fixed once placed; end it and place another"),
    ("alerts_append_only", "alerts", "UPDATE OR DELETE", "alerts are append-only"),
)
# Ending a watch is allowed once: the rule needs a WHEN on the old row.
_ENDED_ONCE = ("CREATE OR REPLACE TRIGGER watches_ended_once BEFORE UPDATE OF ended_at, ended_by ON watches"
               " FOR EACH ROW WHEN (OLD.ended_at IS NOT NULL) EXECUTE FUNCTION assetgw_refuse('a watch is ended once');")


def triggers() -> list[str]:
    out = [f"CREATE OR REPLACE TRIGGER {name} BEFORE {what} ON {table} FOR EACH ROW"
           f" EXECUTE FUNCTION assetgw_refuse('{message.replace(chr(39), chr(39) * 2)}');"
           for name, table, what, message in _RULES]
    return [*out, _ENDED_ONCE]
