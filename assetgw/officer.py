"""The officer's CLI side: bulk submission with a progress bar, and reports for a person to read."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from assetgw.tables import keep_whole
from gateway.inquiries.states import UNANSWERED
from schemas.assets import ASSET_KINDS, asset_id
from schemas.money import yuan

KIND_TITLES = {"deposit": "存款 Deposits", "real_estate": "不动产 Real estate", "vehicle": "车辆 Vehicles", "wallet": "网络资金 Payment wallets"}
CONTENT_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson"}


def _session(api: str, token: str | None) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(api, headers={"Authorization": f"Bearer {token}"} if token else None)


async def inquire(api: str, token: str | None, source: Path, fmt: str, out: Path, timeout: float) -> int:
    console = Console(stderr=True)
    if not source.is_file():
        console.print(f"[red]no such file: {source}")
        return 2
    async with _session(api, token) as http:
        async with http.post("/v1/inquiry-batches", data=source.read_bytes(), headers={"Content-Type": CONTENT_TYPES[fmt]}) as r:
            body = await r.json(content_type=None)
            if r.status != 202:
                console.print(f"[red]the gateway refused the batch ({r.status}): {body.get('message')}")
                for err in body.get("errors", [])[:20]:
                    line = f"line {err['line']}: " if err.get("line") is not None else ""
                    console.print(f"  {line}{err['field']}: {err['message']}")
                return 1
        batch_id = body["id"]
        console.print(f"batch {batch_id}: {body['debtors']} debtors in {body['inquiries']} inquiries, {body['legs']} legs")
        started = time.monotonic()
        with Progress(TextColumn("legs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task("legs", total=body["legs"])
            while True:
                async with http.get(f"/v1/inquiry-batches/{batch_id}") as r:
                    progress = await r.json()
                bar.update(task, completed=progress["legs"]["done"])
                if progress["status"] == "completed":
                    break
                if time.monotonic() - started > timeout:
                    console.print(f"[red]gave up waiting after {timeout:.0f}s; the batch goes on: assetgw report or GET {body['location']}")
                    return 1
                await asyncio.sleep(0.5)
        count = 0
        with out.open("wb") as f:
            async with http.get(f"/v1/inquiry-batches/{batch_id}/reports") as r:
                async for line in r.content:
                    if line.strip():
                        f.write(line if line.endswith(b"\n") else line + b"\n")
                        count += 1
        console.print(f"wrote {count} reports to {out} in {time.monotonic() - started:.1f}s")
    return 0


def render_inquiry(inquiry: dict[str, Any], console: Console) -> None:
    case = inquiry["case"]
    console.rule(f"查控报告 Asset report · {case['case_number']}")
    console.print(f"court {case['court']} · due {yuan(case['amount_due_fen'])} + costs {yuan(case['costs_fen'])} · "
                  f"notice {case['notice_number']}")
    console.print(f"inquiry {inquiry['id']} · {inquiry['status']} · created {inquiry['created_at']} · "
                  f"completed {inquiry['completed_at'] or '-'}")
    for rep in inquiry["reports"]:
        render_debtor(rep, console)


def render_debtor(rep: dict[str, Any], console: Console) -> None:
    d = rep["debtor"]
    console.print()
    console.print(f"[bold]被执行人 {d['name']}[/bold] ({d['kind']}, {d['id_number']}) — "
                  f"{rep['legs_done']}/{rep['legs_total']} institutions answered")
    for kind in ASSET_KINDS:
        assets = rep["assets"][kind]
        if not assets:
            continue
        table = Table(title=KIND_TITLES[kind], title_justify="left", show_edge=False)
        for column in ("institution", "asset", "detail", "share", "value", "控制 control"):
            table.add_column(column, justify="right" if column in ("share", "value") else "left")
        keep_whole(table, 1, (asset_id(a) for a in assets))  # the asset id is pasted into orders: never cut
        for a in assets:
            table.add_row(a["institution_id"], asset_id(a), _detail(a), f"{a.get('share_percent', 100)}%", _value(a), _control(a))
        console.print(table)
    totals = rep["totals_fen"]
    console.print("totals (debtor's share): " + " · ".join(f"{k} {yuan(totals[k])}" for k in ASSET_KINDS)
                  + f" · [bold]all {yuan(totals['all'])}[/bold]")
    troubles = [leg for leg in rep["legs"] if leg["status"] in UNANSWERED]
    for leg in troubles:
        console.print(f"  [yellow]{leg['institution_id']} {leg['status']}[/yellow]: {leg['reason']}")


def _value(a: dict[str, Any]) -> str:
    """The value now; a balance the bank has told of since the inquiry says so."""
    if "reported_value_fen" in a:
        return f"{yuan(a['value_fen'])}\n[dim]as of {a['balance_as_of'][:16].replace('T', ' ')}[/dim]"
    return yuan(a["value_fen"])


def _control(a: dict[str, Any]) -> str:
    """Each freeze on the asset: whose, how much, until when, or its place in the 轮候 queue."""
    lines = []
    for c in a.get("control", []):
        until = (c["end_date"] or "")[:10]
        if c["status"] == "queued":
            lines.append(f"轮候 #{c['queue_position']} {c['court']}")
        else:
            held = f" {yuan(c['held_fen'])}" if c["held_fen"] is not None else ""
            lines.append(f"冻结{held} {c['court']} 至 {until}")
    return "\n".join(lines)


def _detail(a: dict[str, Any]) -> str:
    if a["kind"] == "deposit":
        return a["account_type"] + (f" · PROTECTED: {a['protected_reason']}" if a.get("protected") else "")
    if a["kind"] == "real_estate":
        return f"{a['address']} · {a['floor_area_dm2'] / 100:.2f} m²"
    if a["kind"] == "vehicle":
        return f"{a['model']} · {a['vin']}"
    return ""
