"""The command centre's figures for the officer's court: inquiries and legs sent, answers,
cases, debtors, assets and money found, frozen and deducted, per institution, and legs ended
over time (answers, failures, latency)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.http.access import officer_of
from gateway.http.io import json_response
from gateway.http.keys import CASES, STORE
from gateway.http.threads import ThreadReader
from gateway.store.records import CourtFigures
from infra.clock import shown
from schemas.assets import attributable_fen

BUCKET_MS = 60_000  # one point a minute
BUCKETS = 240  # the last four hours with activity
CASES_PAGE = 500


async def figures(request: web.Request) -> web.Response:
    court = officer_of(request).court
    with ThreadReader(request.app[STORE]) as reader:
        counted = await reader.run(lambda r: r.inquiries.court_figures(court, BUCKET_MS, BUCKETS))
    return json_response({**_view(counted), **_money(request, court)})


def _view(f: CourtFigures) -> dict[str, Any]:
    by_kind: dict[str, dict[str, int]] = {}
    for asset in f.found_assets:
        kind = by_kind.setdefault(asset["kind"], {"count": 0, "value_fen": 0})
        kind["count"] += 1
        kind["value_fen"] += attributable_fen(asset)
    return {
        "inquiries": f.inquiries, "legs": f.legs, "legs_sent": f.legs_sent, "answers": f.answers,
        "cases": f.cases, "debtors": f.debtors,
        "assets_found": len(f.found_assets), "found_value_fen": sum(k["value_fen"] for k in by_kind.values()),
        "found_by_kind": by_kind,
        "institutions": [{"institution_id": i.institution_id, "legs": i.legs, "answered": i.answered, "failed": i.failed,
                          "found": i.found, "answer_rate": round(i.answered / i.legs, 4) if i.legs else None,
                          "mean_latency_ms": None if i.mean_latency_ms is None else round(i.mean_latency_ms, 1)}
                         for i in f.institutions],
        "timeline": {"bucket_s": BUCKET_MS // 1000,
                     "points": [{"at": shown(b.at), "at_ms": b.at, "answered": b.answered, "failed": b.failed,
                                 "mean_latency_ms": None if b.mean_latency_ms is None else round(b.mean_latency_ms, 1)}
                                for b in f.timeline]},
    }


def _money(request: web.Request, court: str) -> dict[str, int]:
    """Frozen and collected over the court's cases, as each case's record reads them."""
    frozen = collected = 0
    cursor = None
    while True:
        page = request.app[CASES].of_court(court, CASES_PAGE, cursor)
        for case in page["cases"]:
            frozen += case["totals"]["frozen_fen"]
            collected += case["totals"]["collected_fen"]
        cursor = page["next_cursor"]
        if cursor is None:
            return {"frozen_fen": frozen, "deducted_fen": collected}


def setup(app: web.Application) -> None:
    app.router.add_get("/v1/figures", figures)
