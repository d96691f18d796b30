"""A court's command-centre figures, in SQL that SQLite and PostgreSQL read alike (aggregate
FILTER clauses, integer division of integers), so both stores count the same way. ``p`` is the
store's parameter marker."""

from __future__ import annotations

from typing import Any

import orjson

from gateway.inquiries.states import UNANSWERED as _UNANSWERED
from gateway.store.records import CourtFigures, FiguresBucket, InstitutionFigures

ANSWERED = "('found', 'not_found')"
UNANSWERED = "(" + ", ".join(f"'{s}'" for s in _UNANSWERED) + ")"


def _mean(value: Any) -> float | None:
    return None if value is None else float(value)  # PostgreSQL's avg is a numeric


def court_figures(db: Any, p: str, court: str, bucket_ms: int, buckets: int) -> CourtFigures:
    of_court = f"FROM legs l JOIN inquiries q ON q.id = l.inquiry_id WHERE q.court = {p}"
    inquiries, legs, cases = db.execute(
        f"SELECT count(*), coalesce(sum(legs_total), 0), count(DISTINCT case_number) FROM inquiries WHERE court = {p}",
        (court,)).fetchone()
    (debtors,) = db.execute(
        f"SELECT count(DISTINCT d.id_number) FROM debtors d JOIN inquiries q ON q.id = d.inquiry_id WHERE q.court = {p}",
        (court,)).fetchone()
    institutions = [InstitutionFigures(i, n, a, f, found, _mean(mean)) for i, n, a, f, found, mean in db.execute(
        f"SELECT l.institution_id, count(*), count(*) FILTER (WHERE l.status IN {ANSWERED}),"
        f" count(*) FILTER (WHERE l.status IN {UNANSWERED}), count(*) FILTER (WHERE l.status = 'found'),"
        f" avg(l.latency_ms) FILTER (WHERE l.status IN {ANSWERED})"
        f" {of_court} GROUP BY l.institution_id ORDER BY l.institution_id", (court,))]
    timeline = [FiguresBucket(int(at), a, f, _mean(mean)) for at, a, f, mean in db.execute(
        f"SELECT l.finished_at / {p} * {p} AS at, count(*) FILTER (WHERE l.status IN {ANSWERED}),"
        f" count(*) FILTER (WHERE l.status IN {UNANSWERED}), avg(l.latency_ms) FILTER (WHERE l.status IN {ANSWERED})"
        f" {of_court} AND l.finished_at IS NOT NULL GROUP BY at ORDER BY at DESC LIMIT {p}",
        (bucket_ms, bucket_ms, court, buckets))]
    (pending,) = db.execute(f"SELECT count(*) {of_court} AND l.status = 'pending'", (court,)).fetchone()
    found = [a for (assets,) in db.execute(f"SELECT l.assets {of_court} AND l.assets IS NOT NULL", (court,))
             for a in orjson.loads(assets)]
    return CourtFigures(inquiries=inquiries, legs=int(legs), legs_sent=sum(i.legs for i in institutions) - pending,
                        answers=sum(i.answered for i in institutions), cases=cases, debtors=debtors, found_assets=found,
                        institutions=institutions, timeline=timeline[::-1])
