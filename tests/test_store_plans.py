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
