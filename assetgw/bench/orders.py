"""Phase 4, orders: freezes/s end to end and per-order created→answered latency."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import orjson
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from assetgw.bench.bulk import run_bulk
from assetgw.bench.common import COURT, ORDERS_STALL_S, console, parse_shown
from assetgw.bench.context import Ctx
from assetgw.bench.stack import Sampler
from assetgw.bench.stats import dist, percentile
from gateway.orders.states import AWAITING_ANSWER
from infra.settings import Settings


def _eligible(asset: dict[str, Any]) -> bool:
    return asset["kind"] == "deposit" and not asset.get("protected") and asset["value_fen"] >= 2


async def phase_orders(ctx: Ctx) -> None:
    m = ctx.opts.orders
    # Debtors whose accounts can take a freeze, enough for M orders; found by a bank-only inquiry.
    # Each account is frozen for half its balance, so a natural person must hold at least twice
    # the living allowance the gateway keeps free of his deposits.
    allowance = Settings.from_env().living_allowance_fen
    chosen, count = [], 0
    for d in ctx.population.debtors:
        eligible = [a for a in ctx.population.assets_of(d.id_number) if _eligible(a.model_dump(mode="json"))]
        if d.kind == "person" and sum(a.value_fen for a in eligible) < 2 * allowance:
            continue
        k = len(eligible)
        if k:
            chosen.append(d)
            count += k
            if count >= m:
                break
    console.print(f"inquiry first: {len(chosen)} debtors over the banks, to find {m} accounts to freeze …")
    found = await run_bulk(ctx, "orders inquiry", chosen, 9001, institutions=["bank"], sample=False, quiet=True)
    # Rows of one case form one inquiry; cases 9001.. each hold CASE_SIZE debtors.
    accounts: list[tuple[str, dict[str, Any]]] = []
    for case_number, report in await batch_reports(ctx, found["batch_ids"]):
        for asset in report["assets"]["deposit"]:
            if _eligible(asset):
                accounts.append((case_number, asset))
    accounts = accounts[:m]
    if not accounts:
        raise RuntimeError("the inquiry found no account to freeze")
    bodies = [{
        "type": "freeze", "case_number": c, "court": COURT, "institution_id": a["institution_id"],
        "asset": {"kind": "deposit", "id": a["account_no"]}, "amount_fen": a["value_fen"] // 2, "term_days": 365,
        "ruling_number": f"{c}之一", "notice_number": f"{c}-协执", "officer_credentials": [ctx.credential],
        "idempotency_key": uuid.uuid4().hex,
    } for c, a in accounts]

    sem = asyncio.Semaphore(16)
    ids: list[str] = [""] * len(bodies)

    async def place(i: int, body: dict[str, Any]) -> None:
        async with sem:
            async with ctx.http.post("/v1/orders", json=body) as r:
                reply = await r.json(content_type=None)
                if r.status != 202:
                    raise RuntimeError(f"order refused ({r.status}): {reply}")
            ids[i] = reply["id"]

    sampler = Sampler(ctx.stack.pids())
    answered: dict[str, dict[str, Any]] = {}
    with sampler, Progress(TextColumn("freeze orders answered"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                           console=console, transient=True) as bar:
        task = bar.add_task("orders", total=len(bodies))
        wall0 = time.time()
        t0 = time.monotonic()
        await asyncio.gather(*(place(i, b) for i, b in enumerate(bodies)))
        placed_after = time.monotonic() - t0
        pending = list(ids)
        cursor = 0
        last_progress = time.monotonic()

        async def get(order_id: str) -> dict[str, Any]:
            async with ctx.http.get(f"/v1/orders/{order_id}") as r:
                return await r.json()

        # Poll the unanswered orders 32 at a time, round the list; stop when all are answered or
        # when none has been answered for ORDERS_STALL_S (then they are reported, not waited on).
        while pending:
            window = pending[cursor:cursor + 32] or pending[:32]
            cursor = cursor + 32 if cursor + 32 < len(pending) else 0
            got = await asyncio.gather(*(get(i) for i in window))
            settled = {o["id"]: o for o in got if o["status"] not in AWAITING_ANSWER}
            if settled:
                answered.update(settled)
                pending = [i for i in pending if i not in settled]
                cursor = 0
                last_progress = time.monotonic()
                bar.update(task, completed=len(answered))
            elif time.monotonic() - last_progress > ORDERS_STALL_S:
                break
            else:
                await asyncio.sleep(0.05)
        observed = time.monotonic() - t0
    latencies, statuses = [], {}
    last_answer = 0.0
    for order in answered.values():
        statuses[order["status"]] = statuses.get(order["status"], 0) + 1
        created = next(parse_shown(e["at"]) for e in order["history"] if e["event"] == "requested")
        answer = next((parse_shown(e["at"]) for e in order["history"] if e["event"] == "answered"), None)
        if answer is None:  # e.g. failed by the gateway itself: the order's last event
            answer = parse_shown(order["history"][-1]["at"])
        latencies.append((answer - created) * 1000)
        last_answer = max(last_answer, answer)
    n = len(answered)
    stuck: dict[str, Any] = {}
    if pending:
        left = await asyncio.gather(*(get(i) for i in pending))
        stuck = {"count": len(left), "statuses": {st: sum(1 for o in left if o["status"] == st) for st in {o["status"] for o in left}},
                 "order_ids": [o["id"] for o in left[:20]],
                 "last_events": [o["history"][-1] for o in left[:3]]}
        ctx.errors["orders"] = (f"{len(left)} of {len(bodies)} freeze orders were still unanswered {ORDERS_STALL_S:.0f} s after the last "
                                f"answer (statuses {stuck['statuses']}); e.g. order {left[0]['id']}")
        console.print(f"[red]{ctx.errors['orders']}")
    if not answered:
        raise RuntimeError("no freeze order was answered")
    seconds = max(last_answer - wall0, 0.001)
    ctx.results["orders"] = {
        "orders": len(bodies), "answered": n, "unanswered": stuck or 0, "type": "freeze",
        "accounts_from": "a bank-only bulk inquiry of the same cases",
        "seconds": round(seconds, 3), "orders_per_s": round(n / seconds, 1), "placed_after_s": round(placed_after, 3),
        "seconds_observed_by_polling": round(observed, 3), "post_concurrency": 16,
        "latency_ms": dist(latencies), "statuses": statuses, **sampler.report(),
        "method": "first POST to the last 'answered' event in the orders' history (same host clock); "
                  "latency per order from its 'requested' to its 'answered' history event",
    }
    console.print(f"orders: {n} freezes answered in {seconds:.2f}s = [bold]{n / seconds:,.0f} orders/s[/bold]; "
                  f"created→answered p50 {percentile(latencies, 50):.0f} / p99 [bold]{percentile(latencies, 99):.0f} ms[/bold]; {statuses}")


async def batch_reports(ctx: Ctx, batch_ids: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """(case number, report) for every debtor of the batches, from the streamed reports."""
    out: list[tuple[str, dict[str, Any]]] = []
    for batch_id in batch_ids:
        async with ctx.http.get(f"/v1/inquiry-batches/{batch_id}/reports") as r:
            body = await r.read()
        for line in body.splitlines():
            if line.strip():
                report = orjson.loads(line)
                out.append((report["case_number"], report))
    return out
