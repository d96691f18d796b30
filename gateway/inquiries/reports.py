"""Merging leg answers into one asset report per debtor and case. Pure functions over store records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gateway.inquiries.live import NOTHING, LiveAssets
from gateway.inquiries.states import OPEN_LEG
from gateway.store.records import DebtorRecord, InquiryRecord, LegRecord
from infra.clock import shown
from schemas.assets import ASSET_KINDS, asset_id, attributable_fen
from schemas.directory import Directory


def merge_assets(assets: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Group assets by kind (sorted for stable output) and total each kind in fen."""
    by_kind: dict[str, list[Mapping[str, Any]]] = {kind: [] for kind in ASSET_KINDS}
    for asset in assets:
        by_kind[asset["kind"]].append(asset)
    for items in by_kind.values():
        items.sort(key=lambda a: (a["institution_id"], asset_id(a)))
    totals = {kind: sum(attributable_fen(a) for a in items) for kind, items in by_kind.items()}
    totals["all"] = sum(totals.values())
    return {"assets": by_kind, "totals_fen": totals}


def leg_view(leg: LegRecord, directory: Directory) -> dict[str, Any]:
    institution = directory.by_id.get(leg.institution_id)
    view = {
        "leg_id": leg.id,
        "institution_id": leg.institution_id,
        "institution_name": institution.name if institution else None,
        "kind": leg.institution_kind,
        "status": leg.status,
        "reason": leg.reason,
        "attempts": leg.attempts,
        "latency_ms": leg.latency_ms,
        "sent_at": shown(leg.sent_at),
        "finished_at": shown(leg.finished_at),
    }
    if institution is not None and institution.polls and leg.status in OPEN_LEG:
        # Not failing, not late: a bank that polls answers when it next looks into its inbox.
        view["waiting_for"] = "the bank's next poll of the file exchange (it takes no calls)"
    if leg.late_status:
        view["late_result"] = {
            "status": leg.late_status, "reason": leg.late_reason, "received_at": shown(leg.late_at),
        }
    return view


def debtor_report(debtor: DebtorRecord, legs: list[LegRecord], directory: Directory, live: LiveAssets = NOTHING) -> dict[str, Any]:
    """``live``: balances and freezes as they stand now (see live.py), over what the legs found."""
    assets: list[Mapping[str, Any]] = []
    for leg in legs:
        assets.extend(live.asset(a) for a in leg.assets)
        # Answered after the deadline: kept, and marked as late.
        assets.extend({**live.asset(a), "late": True} for a in leg.late_assets)
    done = sum(1 for leg in legs if leg.status not in OPEN_LEG)
    return {
        "debtor": {"kind": debtor.kind, "id_number": debtor.id_number, "name": debtor.name},
        "complete": done == len(legs),
        "legs_done": done,
        "legs_total": len(legs),
        **merge_assets(assets),
        "legs": [leg_view(leg, directory) for leg in legs],
    }


def group_legs(legs: Iterable[LegRecord]) -> dict[int, list[LegRecord]]:
    by_debtor: dict[int, list[LegRecord]] = {}
    for leg in legs:
        by_debtor.setdefault(leg.debtor_seq, []).append(leg)
    return by_debtor


def inquiry_view(inquiry: InquiryRecord, debtors: list[DebtorRecord], legs: list[LegRecord], directory: Directory,
                 live: LiveAssets = NOTHING) -> dict[str, Any]:
    legs_by_debtor = group_legs(legs)
    statuses: dict[str, int] = {}
    for leg in legs:
        statuses[leg.status] = statuses.get(leg.status, 0) + 1
    return {
        "id": inquiry.id,
        "batch_id": inquiry.batch_id,
        "status": "completed" if inquiry.completed_at is not None else "running",
        "case": {
            "case_number": inquiry.case_number,
            "court": inquiry.court,
            "amount_due_fen": inquiry.amount_due_fen,
            "costs_fen": inquiry.costs_fen,
            "notice_number": inquiry.notice_number,
            "officer_credentials": list(inquiry.officer_credentials),
        },
        "officer": inquiry.officer_id,
        "created_at": shown(inquiry.created_at),
        "deadline": shown(inquiry.deadline),
        "completed_at": shown(inquiry.completed_at),
        "progress": {"legs_total": inquiry.legs_total, "legs_done": inquiry.legs_done, "by_status": statuses},
        "reports": [debtor_report(d, legs_by_debtor.get(d.seq, []), directory, live) for d in debtors],
    }
