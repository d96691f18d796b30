"""``assetgw report`` with what a 100-debtor case needs: one debtor (--debtor), the debtors who
hold something (--only-found), the N who hold most (--top). Filtering happens here, on the
inquiry the API returns; the rendering is assetgw/officer.py's."""

from __future__ import annotations

import argparse
from typing import Any

import orjson
from rich.console import Console

from assetgw.cli_args import positive
from assetgw.gateway_client import Gateway, path_part
from assetgw.officer import render_inquiry
from assetgw.terminal import inert
from schemas.identifiers import halfwidth


def select_reports(reports: list[dict[str, Any]], debtor: str | None, top: int | None, only_found: bool) -> list[dict[str, Any]]:
    chosen = reports
    if debtor is not None:
        wanted = halfwidth(debtor).strip().upper()
        chosen = [r for r in chosen if r["debtor"]["id_number"].upper() == wanted]
    if only_found:
        chosen = [r for r in chosen if r["totals_fen"]["all"] > 0 or any(r["assets"].values())]
    if top is not None:  # the largest holdings first: where an officer's time goes furthest
        chosen = sorted(chosen, key=lambda r: -r["totals_fen"]["all"])[:top]
    return chosen


async def report(args: argparse.Namespace) -> int:
    async with Gateway(args.api, args.token) as gw:
        inquiry = await gw.call("GET", f"/v1/inquiries/{path_part(args.inquiry_id)}")
    shown = select_reports(inquiry["reports"], args.debtor, args.top, args.only_found)
    if args.debtor is not None and not shown:
        Console(stderr=True, emoji=False).print(inert(f"no debtor {args.debtor} in inquiry {args.inquiry_id}"))
        return 1
    if args.json:
        print(orjson.dumps({**inquiry, "reports": shown}, option=orjson.OPT_INDENT_2).decode())
        return 0
    console = Console(emoji=False)  # ":name:" in a stored name stays text
    render_inquiry({**inquiry, "reports": shown}, console)
    if len(shown) < len(inquiry["reports"]):
        console.print(f"\nshown {len(shown)} of {len(inquiry['reports'])} debtors", soft_wrap=True)
    return 0


def add_report_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debtor", metavar="ID", help="only this debtor (resident ID or credit code)")
    p.add_argument("--top", type=positive, metavar="N", help="only the N debtors who hold most, largest first")
    p.add_argument("--only-found", action="store_true", help="leave out debtors in whom nothing was found")
