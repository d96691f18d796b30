"""The benchmark harness runs end to end at tiny sizes and reports every section.

It starts its own stack (not the session's), so it checks what ``scripts/bench.py`` does on a
fresh machine: start, measure, stop cleanly, write the JSON. No figure is asserted against a
target; a benchmark is not a timed test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _positive(doc: dict, *path: str) -> float:
    value: object = doc
    for key in path:
        assert isinstance(value, dict) and key in value, f"missing {'.'.join(path)} in the bench JSON"
        value = value[key]
    assert isinstance(value, (int, float)) and value > 0, f"{'.'.join(path)} = {value!r}, expected a positive number"
    return float(value)


@pytest.mark.timeout(300)
def test_bench_smoke_reports_every_section(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    engine = os.environ.get("ASSETGW_TEST_ENGINE", "noida")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--smoke", "--json", str(out), "--engine", engine],
        cwd=tmp_path, capture_output=True, text=True, timeout=280, env={**os.environ, "COLUMNS": "120"},
    )
    assert proc.returncode == 0, f"bench exited {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    doc = json.loads(out.read_text())
    assert doc["errors"] == {}

    raw = _positive(doc, "raw_ceiling", "msgs_per_s")
    _positive(doc, "raw_ceiling", "message_bytes")
    assert doc["raw_ceiling"]["acks"] == "all"

    legs_s = _positive(doc, "bulk", "legs_per_s")
    assert doc["bulk"]["legs"] == doc["bulk"]["debtors"] * doc["meta"]["institutions"]
    assert doc["bulk"]["ratio_to_raw_ceiling"] == pytest.approx(legs_s / raw, rel=0.01)
    assert sum(doc["bulk"]["leg_outcomes"].values()) >= doc["bulk"]["legs"]
    # The direct fan-out asked the same debtors of the same institutions, and every leg got an answer.
    direct = doc["bulk"]["direct"]
    assert direct["legs"] == doc["bulk"]["legs"] and direct["answers"].get("missing", 0) == 0
    assert sum(direct["answers"].values()) == direct["legs"]
    assert doc["bulk"]["ratio_to_direct"] == pytest.approx(legs_s / _positive(doc, "bulk", "direct", "legs_per_s"), rel=0.01)
    _positive(doc, "bulk", "cpu_ms_per_leg", "gateway")
    _positive(doc, "bulk", "direct", "cpu_ms_per_leg", "bench")
    _positive(doc, "idle", "stack_share_of_one_core")

    for setting in ("zero", "realistic"):
        for stat in ("p50", "p95", "p99"):
            _positive(doc, "latency", setting, "total_ms", stat)
        _positive(doc, "latency", setting, "overhead_ms", "p99")
        assert doc["latency"][setting]["samples"] == doc["meta"]["sizes"]["latency_samples"]
    # The realistic setting really was slower at the institutions.
    assert doc["latency"]["realistic"]["slowest_leg_ms"]["p50"] > doc["latency"]["zero"]["slowest_leg_ms"]["p50"]

    _positive(doc, "orders", "orders_per_s")
    _positive(doc, "orders", "latency_ms", "p99")
    assert doc["orders"]["orders"] == doc["meta"]["sizes"]["orders"]
    assert set(doc["orders"]["statuses"]) <= {"applied", "partially_applied"}

    _positive(doc, "events", "auto_freeze", "credit_to_freeze_applied_ms", "p99")
    assert doc["events"]["auto_freeze"]["samples"] == doc["meta"]["sizes"]["event_samples"]
    assert doc["events"]["auto_freeze"]["credit_to_alert_ms"]["p50"] <= doc["events"]["auto_freeze"]["credit_to_freeze_applied_ms"]["p50"]
    _positive(doc, "events", "under_bulk", "events_applied")
    assert doc["events"]["under_bulk"]["drained_s_after_bulk"] is not None

    _positive(doc, "memory", "gateway_peak_rss_mb")
    _positive(doc, "memory", "connector_peak_rss_mb")
    _positive(doc, "memory", "gateway_rss_at_1m_legs_mb_extrapolated")

    _positive(doc, "scale_out", "one_worker_per_kind", "legs_per_s")
    _positive(doc, "scale_out", "two_workers_per_kind", "legs_per_s")
    _positive(doc, "scale_out", "speedup")
    by_process = doc["scale_out"]["two_workers_per_kind"]["legs_by_worker_process"]
    assert {p for p in by_process if p.endswith("-2")}, f"no second worker took legs: {by_process}"

    intake = doc["intake"]
    assert intake["rows"] == intake["debtors"] == intake["reports"] == doc["meta"]["sizes"]["intake_rows"]
    assert intake["legs"] == intake["debtors"] * doc["meta"]["institutions"]
    assert intake["inquiries"] == -(-intake["rows"] // 1000)  # at most 1,000 debtors per inquiry
    _positive(doc, "intake", "ingest_s")
    _positive(doc, "intake", "read_back_s")
    _positive(doc, "intake", "healthz_ms_before", "p99")  # the prober works; a tiny batch may leave no time for a probe
    for kind in ("healthz_ms", "inquiry_ms"):
        assert intake[kind]["n"] == 0 or intake[kind]["p99"] > 0
    _positive(doc, "intake", "gateway_peak_rss_mb")
    assert intake["probe_failures"] == 0

    names = {t["name"] for t in doc["targets"]}
    assert {"bulk legs/s", "bulk / raw ceiling"} <= names
    assert any(n.startswith("one-debtor p99 overhead") for n in names)
    assert any(n.startswith("gateway peak RSS") for n in names)
    assert any(n.startswith("money credited") for n in names)
    assert any(n.startswith("/healthz p99 during a batch") for n in names)
    assert "pass" in proc.stdout or "miss" in proc.stdout  # the table, with verdicts
