"""Phase 7, events (institutions speak first).

* **Credit → automatic freeze.** Companies' accounts under a watch on funds with an automatic
  freeze; money is credited at the simulated bank, one account at a time, and the time is taken
  from the credit to the bank's answer to the freeze the gateway placed (the order's ``answered``
  entry: the freeze is in the bank's ledger by then). The path: the bank's feed, the connector's
  relay, Kafka, the gateway's event consumer and watch listener, the order desk, the outbox, Kafka,
  the connector, the bank, Kafka back. Simulator latency 1:10 ms, as the target names.
* **Events under load.** Credits driven as fast as a few clients can while a bulk inquiry runs;
  the gateway's event consumer lag sampled every second: it must not grow without bound, and must
  drain soon after the bulk ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import timedelta
from typing import Any

import aiohttp
import orjson

from assetgw.bench.bulk import bulk_debtors, run_bulk
from assetgw.bench.common import COURT, console, parse_shown
from assetgw.bench.context import Ctx
from assetgw.bench.latency import set_latency
from assetgw.bench.orders import batch_reports
from assetgw.bench.stats import dist
from assetgw.ops.lag import consumer_lag
from schemas.watches import today_in_china

EVENT_LATENCY = "1:10"
CREDIT_FEN = 10_000  # ¥100 per arrival
LOAD_CLIENTS = 8
DRAIN_LIMIT_S = 60.0


def _eligible(asset: dict[str, Any]) -> bool:
    return asset["kind"] == "deposit" and not asset.get("protected")


async def phase_events(ctx: Ctx) -> None:
    n = ctx.opts.event_samples
    # Companies (no living allowance in the way), from the end of the list: other phases take from its start.
    companies = [d for d in reversed(ctx.population.debtors) if d.kind != "person"
                 and any(_eligible(a.model_dump(mode="json")) for a in ctx.population.assets_of(d.id_number))][:2 * n]
    if len(companies) < 2:
        raise RuntimeError("the population holds too few companies with an account")
    console.print(f"inquiry first: {len(companies)} companies over the banks, to find accounts to watch and to credit …")
    found = await run_bulk(ctx, "events inquiry", companies, 9501, institutions=["bank"], sample=False, quiet=True)
    accounts: dict[str, tuple[str, dict[str, Any]]] = {}  # debtor → (case, one account)
    for case_number, report in await batch_reports(ctx, found["batch_ids"]):
        for asset in report["assets"]["deposit"]:
            if _eligible(asset):
                accounts.setdefault(report["debtor"]["id_number"], (case_number, asset))
    debtors = list(accounts)
    watched, load = debtors[: len(debtors) // 2], debtors[len(debtors) // 2:]
    results: dict[str, Any] = {}
    ctx.results["events"] = results
    results["auto_freeze"] = await _credit_to_freeze(ctx, [(d, *accounts[d]) for d in watched])
    results["under_bulk"] = await _events_under_bulk(ctx, [accounts[d][1] for d in load])


async def _credit_to_freeze(ctx: Ctx, watched: list[tuple[str, str, dict[str, Any]]]) -> dict[str, Any]:
    until = (today_in_china() + timedelta(days=30)).isoformat()
    watch_of: dict[str, str] = {}
    for debtor, case, _ in watched:
        body = {"case_number": case, "court": COURT, "debtor_id_number": debtor, "kinds": ["funds"], "until": until,
                "auto_freeze": {"ruling_number": f"{case}之三", "notice_number": f"{case}-协冻",
                                "officer_credentials": [ctx.credential], "term_days": 365},
                "idempotency_key": uuid.uuid4().hex}
        async with ctx.http.post("/v1/watches", json=body) as r:
            watch = await r.json()
            if r.status != 202:
                raise RuntimeError(f"watch refused ({r.status}): {watch}")
        watch_of[debtor] = watch["id"]
    await set_latency(ctx, EVENT_LATENCY)
    latencies: list[float] = []
    alert_ms: list[float] = []
    try:
        async with ctx.http.get("/v1/alerts/stream", timeout=aiohttp.ClientTimeout(total=None, sock_read=60)) as stream:
            for debtor, _, account in watched:
                t0 = time.time()
                await _credit(ctx, account, CREDIT_FEN)
                alert = await _next_alert(stream, watch_of[debtor])
                alert_ms.append((time.time() - t0) * 1000)
                order_id = (alert.get("auto_freeze") or {}).get("order_id")
                if order_id is None:
                    raise RuntimeError(f"no automatic freeze for watch {watch_of[debtor]}: {alert.get('auto_freeze')}")
                answered = await _answered_at(ctx, order_id)
                latencies.append((answered - t0) * 1000)
    finally:
        await set_latency(ctx, None)
    out = {"samples": len(latencies), "simulator_latency": EVENT_LATENCY, "credit_to_freeze_applied_ms": dist(latencies),
           "credit_to_alert_ms": dist(alert_ms)}
    d = out["credit_to_freeze_applied_ms"]
    console.print(f"credit → automatic freeze applied at the bank: p50 {d['p50']} ms, p99 {d['p99']} ms over {d['n']} arrivals")
    return out


async def _credit(ctx: Ctx, account: dict[str, Any], amount_fen: int) -> None:
    url = (f"http://127.0.0.1:{ctx.stack.sim_ports['bank']}/admin/institutions/{account['institution_id']}"
           f"/assets/{account['account_no']}/credit")
    async with ctx.plain.post(url, json={"amount_fen": amount_fen}) as r:
        if r.status != 200:
            raise RuntimeError(f"credit refused ({r.status}): {await r.text()}")


async def _next_alert(stream: Any, watch_id: str, timeout_s: float = 30) -> dict[str, Any]:
    """The next alert of ``watch_id`` on an open server-sent-event stream."""
    data: list[str] = []
    async with asyncio.timeout(timeout_s):
        while True:
            line = (await stream.content.readline()).decode()
            if not line:
                raise RuntimeError("the alert stream ended")
            line = line.rstrip("\n")
            if line.startswith("data: "):
                data.append(line[6:])
            elif line == "" and data:
                alert = orjson.loads("\n".join(data))
                data = []
                if alert.get("watch_id") == watch_id:
                    return alert


async def _answered_at(ctx: Ctx, order_id: str, timeout_s: float = 30) -> float:
    """When the gateway took the institution's answer to the order (epoch seconds)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        async with ctx.http.get(f"/v1/orders/{order_id}") as r:
            order = await r.json()
        answered = [e for e in order["history"] if e["event"] == "answered"]
        if answered:
            if order["status"] not in ("applied", "partially_applied"):
                raise RuntimeError(f"automatic freeze {order_id} was {order['status']}: {order['result']['reason']}")
            return parse_shown(answered[0]["at"])
        await asyncio.sleep(0.005)
    raise RuntimeError(f"automatic freeze {order_id} not answered after {timeout_s:.0f} s")


async def _events_under_bulk(ctx: Ctx, accounts: list[dict[str, Any]]) -> dict[str, Any]:
    group = f"{ctx.prefix}.gateway.events"
    applied_before = await _events_applied(ctx)
    credits = 0
    lag_samples: list[tuple[float, int]] = []
    stop = asyncio.Event()

    async def drive(i: int) -> None:
        nonlocal credits
        k = i
        while not stop.is_set():
            await _credit(ctx, accounts[k % len(accounts)], 100)
            credits += 1
            k += LOAD_CLIENTS

    async def sample_lag(t0: float) -> None:
        while True:
            rows = await consumer_lag(ctx.stack.kafka_bootstrap, groups=[group])
            lag_samples.append((time.monotonic() - t0, sum(r.lag for r in rows)))
            await asyncio.sleep(1.0)

    t0 = time.monotonic()
    drivers = [asyncio.create_task(drive(i)) for i in range(LOAD_CLIENTS)]
    sampler = asyncio.create_task(sample_lag(t0))
    try:
        bulk = await run_bulk(ctx, "bulk under events", bulk_debtors(ctx, ctx.opts.debtors), 9701, sample=False)
    finally:
        stop.set()
        await asyncio.gather(*drivers, return_exceptions=True)
    loaded_s = time.monotonic() - t0
    lag_at_end = lag_samples[-1][1] if lag_samples else 0
    drained_at = None
    while time.monotonic() - t0 < loaded_s + DRAIN_LIMIT_S:
        if lag_samples and lag_samples[-1][0] > loaded_s and lag_samples[-1][1] == 0:
            drained_at = lag_samples[-1][0]
            break
        await asyncio.sleep(0.5)
    sampler.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sampler
    applied = await _events_applied(ctx) - applied_before
    out = {
        "bulk_debtors": ctx.opts.debtors, "bulk_legs_per_s": bulk["legs_per_s"], "seconds": round(loaded_s, 1),
        "credits": credits, "events_applied": int(applied), "events_per_s": round(applied / loaded_s, 1),
        "lag_max": max((lag for _, lag in lag_samples), default=0), "lag_at_bulk_end": lag_at_end,
        "drained_s_after_bulk": None if drained_at is None else round(max(drained_at - loaded_s, 0.0), 1),
        "lag_samples": [[round(t, 1), lag] for t, lag in lag_samples],
    }
    console.print(f"events under a {ctx.opts.debtors:,}-debtor bulk: {out['events_per_s']:,.0f} events/s applied "
                  f"({credits:,} credits), lag max {out['lag_max']}, drained {out['drained_s_after_bulk']} s after the bulk")
    return out


async def _events_applied(ctx: Ctx) -> float:
    """The gateway's count of institution events applied (not repeats)."""
    async with ctx.http.get("/metrics") as r:
        text = await r.text()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("assetgw_institution_events_total{") and 'outcome="applied"' in line:
            total += float(line.rpartition(" ")[2])
    return total
