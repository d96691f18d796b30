"""``assetgw reconcile``: compare the gateway's copy of freezes and balances with every
institution's ledger now, repair it, and show each difference (needs an ops token)."""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

import aiohttp
import orjson
from rich.console import Console
from rich.table import Table

from assetgw.terminal import inert
from schemas.money import yuan

POLL_S = 0.2


async def reconcile(api: str, token: str | None, timeout_s: float) -> tuple[int, dict[str, Any]]:
    """Starts a run and waits for it: (exit code, the run). 0 all answered, 1 some institution
    failed to answer, 2 not finished within ``timeout_s``."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with aiohttp.ClientSession(api, headers=headers) as http:
        async with http.post("/v1/ops/reconciliations") as r:
            run = await r.json()
            if r.status != 202:
                raise SystemExit(f"assetgw reconcile: {r.status} {run.get('message', run)}")
        deadline = time.monotonic() + timeout_s
        while run["status"] != "finished" and time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)  # the gateway answers at once; this paces the asking
            async with http.get(f"/v1/ops/reconciliations/{run['run_id']}") as r:
                run = await r.json()
    if run["status"] != "finished":
        return 2, run
    return (1 if run["failed"] else 0), run


def show(run: dict[str, Any], console: Console) -> None:
    console.print(f"reconciliation {inert(run['run_id'])} ({inert(run['status'])}): started {inert(run['started_at'])}, "
                  f"{inert(run['answered'])} of {inert(run['questions'])} questions answered")
    for part, reason in run["failed"].items():
        console.print(f"[red]{inert(part)}: {inert(reason)}")
    if not run["differences"]:
        console.print("no differences: the gateway agrees with every institution that answered")
        return
    table = Table(title=f"{len(run['differences'])} differences, repaired from the institutions' ledgers", title_justify="left")
    for column in ("institution", "order or asset", "field", "gateway had", "institution has"):
        table.add_column(column)
    for d in run["differences"]:
        table.add_row(*(inert(v) for v in (d["institution_id"], d["subject"], d["field"], _value(d["field"], d["gateway"]),
                                           _value(d["field"], d["institution"]))))
    console.print(table)


def _value(field: str, value: Any) -> str:
    if isinstance(value, int) and field.endswith("_fen"):
        return yuan(value)
    return "—" if value is None else str(value)


def cmd_reconcile(args: argparse.Namespace) -> None:
    code, run = asyncio.run(reconcile(args.api, args.token, args.timeout))
    if args.json:
        print(orjson.dumps(run).decode())
    else:
        show(run, Console())
        if code == 2:
            Console(stderr=True).print(f"[yellow]not finished after {args.timeout:.0f}s; see GET /v1/ops/reconciliations/{run['run_id']}")
    raise SystemExit(code)


def add_reconcile_command(sub: argparse._SubParsersAction, api_default: str) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("reconcile", help="compare the gateway's freezes and balances with every institution's ledger and repair them")
    p.add_argument("--api", default=api_default, help=f"gateway URL (default {api_default})")
    p.add_argument("--token", default=os.environ.get("ASSETGW_TOKEN"), help="an ops bearer token (default $ASSETGW_TOKEN)")
    p.add_argument("--timeout", type=float, default=120, help="seconds to wait for every institution (default 120)")
    p.add_argument("--json", action="store_true", help="print the run as JSON")
    p.set_defaults(func=cmd_reconcile)
