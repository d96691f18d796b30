"""``assetgw up``: the whole stack in one process tree, with an optional demo inquiry."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from pathlib import Path

import aiohttp
from rich.console import Console

from assetgw import endpoints
from assetgw.officer import render_inquiry
from assetgw.stack.supervisor import Stack
from assetgw.stack.watchdog import Watchdog

console = Console()
WATCH_EVERY_S = 0.5  # how soon an exit is noticed (and a dead child reaped)


async def run_up(args: argparse.Namespace, stop: asyncio.Event) -> None:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP")
    stack = Stack(Path(args.data_dir), engine=args.engine, kafka_bootstrap=bootstrap, ports=args.ports,
                  simulator_args=["--latency", args.latency, "--activity", args.activity],
                  store=args.store, gateways=args.gateways)
    where = f"cluster {bootstrap}" if bootstrap else f"embedded {args.engine} broker on {stack.kafka_bootstrap}"
    console.print(f"starting asset-gateway on the {where} …")
    started = time.monotonic()
    try:
        await stack.start()
        console.print(f"[green]up in {time.monotonic() - started:.1f}s[/green]: API {' · '.join(stack.api_urls)}  "
                      f"(logs in {stack.logs}; Ctrl-C stops everything)")
        if args.store == "postgres":
            console.print(f"  store: PostgreSQL, {len(stack.api_urls)} gateway instance(s) sharing it; any API URL serves every request",
                          markup=False)
        console.print(f"  try: export ASSETGW_API={stack.api_url} ASSETGW_TOKEN=$(assetgw token --officer A1 "
                      "--court 石家庄市裕华区人民法院 --court-code 冀0108 --role officer --credential ZF20886323)", markup=False)
        console.print('       curl -H "Authorization: Bearer $ASSETGW_TOKEN" $ASSETGW_API/v1/institutions', markup=False)
        where = endpoints.write(stack.data_dir, stack.endpoints())
        for line in endpoints.lines(stack.endpoints()):
            console.print(f"  {line}", markup=False, soft_wrap=True)
        console.print(f"  written to {where}: every assetgw command run with this data directory finds them", markup=False,
                      soft_wrap=True)
        watchdog = Watchdog(stack, lambda text: console.print(text, style="yellow", markup=False, soft_wrap=True))
        if args.demo:
            await demo_inquiry(stack)
        while not stop.is_set():
            watchdog.check()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=WATCH_EVERY_S)
        await watchdog.close()
    finally:
        endpoints.remove(stack.data_dir)
        console.print("stopping …")
        await stack.stop()
        console.print("stopped.")


async def demo_inquiry(stack: Stack) -> None:
    from simulators.cli import demo_debtor

    debtor, credential = demo_debtor()
    body = {
        "case_number": "(2025)冀0108执4502号",
        "court": "石家庄市裕华区人民法院",
        "amount_due_fen": 128_000_000,
        "costs_fen": 1_250_000,
        "notice_number": "(2025)冀0108执4502号之一",
        "officer_credentials": [credential],
        "debtors": [debtor],
    }
    console.print(f"demo inquiry: case {body['case_number']}, debtor {debtor['name']}, all institutions …")
    token = stack.token("DEMO-OFFICER", body["court"], "冀0108", ["officer", "deduct"], credentials=[credential])
    started = time.monotonic()
    async with aiohttp.ClientSession(stack.api_url, headers={"Authorization": f"Bearer {token}"}) as http:
        async with http.post("/v1/inquiries", json=body) as r:
            accepted = await r.json()
            if r.status != 202:
                console.print(f"[red]demo inquiry refused: {accepted}")
                return
        while True:
            async with http.get(accepted["location"]) as r:
                inquiry = await r.json()
            if inquiry["status"] == "completed":
                break
            await asyncio.sleep(0.2)
    render_inquiry(inquiry, console)
    console.print(f"\n[green]report complete in {time.monotonic() - started:.2f}s[/green] — again with:\n"
                  f"  ASSETGW_TOKEN={token} assetgw report {inquiry['id']} --api {stack.api_url}")
