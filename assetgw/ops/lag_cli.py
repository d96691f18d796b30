"""``assetgw lag``: consumer lag and the oldest unanswered leg per institution, for a person."""

from __future__ import annotations

import argparse
import asyncio
import os

import orjson
from rich.console import Console
from rich.table import Table

from assetgw.ops.lag import consumer_lag, pending_legs
from assetgw.tables import id_column, lines
from assetgw.terminal import inert
from infra.settings import Settings


async def show_lag(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    rows = await consumer_lag(settings.kafka_bootstrap, groups=args.group or None,
                              prefix=None if args.group else f"{settings.topic_prefix}.")
    pending = await pending_legs(args.api, args.token)
    if args.json:
        print(orjson.dumps({"partitions": [r.as_dict() for r in rows], "pending_legs": pending}).decode())
        return 0
    console = Console()
    # Group and topic/partition whole, one above the other: four connector groups stay apart at 80 columns.
    table = Table(title="consumer lag (committed -: nothing yet)", title_justify="left", show_edge=False, show_lines=True)
    cells = [lines(r.group, f"{r.topic}/{r.partition}") for r in rows]
    id_column(table, "group · topic/partition", cells)
    for column in ("committed", "end", "lag"):
        table.add_column(column, justify="right")
    for cell, r in zip(cells, rows, strict=True):
        table.add_row(cell, inert(r.committed if r.committed >= 0 else "-"), inert(r.end), inert(r.lag))
    console.print(table)
    totals: dict[str, int] = {}
    for r in rows:
        totals[r.group] = totals.get(r.group, 0) + r.lag
    console.print("total lag:" + ("".join(f"\n  {inert(g)} {n}" for g, n in totals.items()) or " no groups"), soft_wrap=True)
    if pending is None:
        console.print(f"[yellow]gateway at {args.api} not reachable, or no ops token (--token): no per-institution view")
    elif pending:
        legs = Table(title="oldest unanswered leg per institution", title_justify="left", show_edge=False)
        id_column(legs, "institution", (p["institution_id"] for p in pending))
        for column in ("pending", "oldest sent (+08:00)", "age (s)"):
            legs.add_column(column, justify="right")
        for p in pending:
            legs.add_row(*(inert(p[k]) for k in ("institution_id", "pending", "oldest_sent_at", "oldest_age_s")))
        console.print(legs)
    else:
        console.print("no leg is waiting for an institution")
    return 0


def add_lag_command(sub: argparse._SubParsersAction, api_default: str) -> None:
    p = sub.add_parser("lag", help="consumer lag per group and partition, and the oldest pending leg per institution")
    p.add_argument("--group", action="append", help="only this consumer group (repeatable; default: all of this deployment's)")
    p.add_argument("--api", default=api_default, help=f"gateway URL for pending legs (default {api_default})")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--token", default=os.environ.get("ASSETGW_TOKEN"), help="an ops bearer token (default $ASSETGW_TOKEN)")
    p.set_defaults(func=lambda args: asyncio.run(show_lag(args)))
