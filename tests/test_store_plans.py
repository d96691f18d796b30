"""The store's polling queries search the partial indexes on open work instead of scanning every
leg ever asked. They run every second or so; a scan made each of them cost time in proportion to
the whole history (~1.5 ms per outbox pass after ~10,000 legs, measured with py-spy)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gateway.store.sqlite.store import SqliteStore


def _statements(store: SqliteStore, calls) -> list[str]:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    store.connection.set_trace_callback(seen.append)
    try:
        calls()
    finally:
        store.connection.set_trace_callback(None)
    return [s for s in seen if s.lstrip().upper().startswith(("SELECT", "UPDATE"))]


def _plan(db: sqlite3.Connection, statement: str) -> str:
    return " | ".join(row[3] for row in db.execute("EXPLAIN QUERY PLAN " + statement))


def test_open_leg_queries_search_the_open_legs_index(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "gateway.db")
    statements = _statements(store, lambda: (
        store.legs.claim_pending(100),
        store.legs.requeue_unanswered(now=10_000, older_than_ms=1_000),
        store.legs.backlog(),
    ))
    assert len(statements) == 3, statements
    for statement in statements:
        plan = _plan(store.connection, statement)
        assert "USING INDEX legs_open" in plan, f"{statement}\n  plan: {plan}"
        assert "SCAN l" not in plan and "SCAN legs" not in plan, f"{statement}\n  plan: {plan}"
    store.close()


def test_an_officers_lists_search_his_courts_rows_only(tmp_path: Path) -> None:
    """The lists behind the officer's console (GET /v1/cases, /v1/orders) read the court's rows
    through an index, newest first by rowid, however many other courts' rows the table holds."""
    from gateway.store.records import OrderFilter

    store = SqliteStore(tmp_path / "gateway.db")
    court = "石家庄市裕华区人民法院"
    statements = _statements(store, lambda: (
        store.cases.of_court(court, 100),
        store.orders.of_court(court, OrderFilter(), 100, "42"),
        store.orders.of_court(court, OrderFilter(awaiting_approval=True, type="deduct"), 100),
        store.orders.of_court(court, OrderFilter(case_number="(2025)冀0108执1号", status="applied"), 100),
    ))
    assert len(statements) == 4, statements
    for statement, index in zip(statements, ("cases_court", "orders_court", "orders_court", "orders_"), strict=True):
        plan = _plan(store.connection, statement)
        assert f"USING INDEX {index}" in plan, f"{statement}\n  plan: {plan}"
        assert "SCAN" not in plan and "TEMP B-TREE" not in plan, f"{statement}\n  plan: {plan}"
    store.close()


def test_a_database_whose_ended_freezes_still_hold_money_is_mended_on_open(tmp_path: Path) -> None:
    """Before a released or lapsed freeze was recorded as holding nothing, it kept what it last held."""
    path = tmp_path / "old.sqlite3"
    store = SqliteStore(path)
    rows = [(f"f{i}", status, held) for i, (status, held) in enumerate([("released", 500), ("lapsed", 7), ("applied", 900), ("released", None)])]
    for order_id, status, held in rows:
        store.connection.execute(
            "INSERT INTO orders (id, idempotency_key, request_digest, type, status, case_number, court, institution_id,"
            " institution_kind, asset_kind, asset_id, debtor_id_number, ruling_number, notice_number, officer_credentials,"
            " operator, created_at, deadline, updated_at, held_fen) VALUES (?, ?, '', 'freeze', ?, 'c', 'court', 'bank-01', 'bank',"
            " 'deposit', 'a', 'd', 'r', 'n', '[]', 'o', 0, 0, 0, ?)", (order_id, order_id, status, held))
    store.close()
    reopened = SqliteStore(path)
    assert [reopened.orders.get(o).held_fen for o, _, _ in rows] == [0, 0, 900, None]  # type: ignore[union-attr]
    reopened.close()
