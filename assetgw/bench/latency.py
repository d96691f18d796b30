"""Phase 3, latency: one-debtor inquiries in sequence, with simulator latency 0 and realistic."""

from __future__ import annotations

import time
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from assetgw.bench.common import AMOUNT_DUE_FEN, COURT, console, parse_shown
from assetgw.bench.context import Ctx
from assetgw.bench.stack import process_cpu_seconds
from assetgw.bench.stats import dist, percentile


async def simulator_institutions(ctx: Ctx) -> dict[str, list[str]]:
    out = {}
    for kind, port in ctx.stack.sim_ports.items():
        async with ctx.plain.get(f"http://127.0.0.1:{port}/healthz") as r:
            out[kind] = (await r.json())["institutions"]
    return out


async def set_latency(ctx: Ctx, latency: str | None) -> int:
    """Every institution's latency at run time through the simulators' admin API (None: reset)."""
    count = 0
    for kind, ids in (await simulator_institutions(ctx)).items():
        base = f"http://127.0.0.1:{ctx.stack.sim_ports[kind]}/admin/institutions"
        for inst in ids:
            if latency is None:
                async with ctx.plain.delete(f"{base}/{inst}/behaviour") as r:
                    ok = r.status == 200
            else:
                async with ctx.plain.put(f"{base}/{inst}/behaviour", json={"latency": latency}) as r:
                    ok = r.status == 200
            if not ok:
                raise RuntimeError(f"simulator refused the behaviour change for {inst}: {r.status}")
            count += 1
    return count


async def one_inquiry(ctx: Ctx, debtor: Any, case: str) -> tuple[float, dict[str, Any]]:
    body = {"case_number": case, "court": COURT, "amount_due_fen": AMOUNT_DUE_FEN, "costs_fen": 500_000,
            "notice_number": f"{case}-查", "officer_credentials": [ctx.credential],
            "debtors": [{"kind": debtor.kind, "id_number": debtor.id_number, "name": debtor.name}]}
    t0 = time.perf_counter()
    async with ctx.http.post("/v1/inquiries", json=body) as r:
        accepted = await r.json(content_type=None)
        if r.status != 202:
            raise RuntimeError(f"inquiry refused ({r.status}): {accepted}")
    deadline = t0 + 120
    while True:  # long-poll: the gateway answers as soon as the inquiry completes
        async with ctx.http.get(accepted["location"], params={"wait": "30"}) as r:
            inquiry = await r.json()
        if inquiry["status"] == "completed":
            return (time.perf_counter() - t0) * 1000, inquiry
        if time.perf_counter() > deadline:
            raise RuntimeError(f"inquiry {accepted['id']} not complete after 120 s")


async def latency_run(ctx: Ctx, label: str, latency: str, debtors: list[Any], case: str) -> dict[str, Any]:
    totals, slowest, overheads, server, statuses, samples = [], [], [], [], {}, []
    parts: dict[str, list[float]] = {"outbox": [], "kafka_and_connector": [], "completion": [], "http_and_polling": []}
    pids = ctx.stack.pids()
    cpu_before = {name: process_cpu_seconds(name, pid) for name, pid in pids.items()}
    with Progress(TextColumn(f"latency {label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task(label, total=len(debtors))
        for d in debtors:
            total_ms, inquiry = await one_inquiry(ctx, d, case)
            legs = inquiry["reports"][0]["legs"]
            worst = max(leg["latency_ms"] for leg in legs)
            totals.append(total_ms)
            slowest.append(worst)
            overheads.append(total_ms - worst)
            created, completed = parse_shown(inquiry["created_at"]), parse_shown(inquiry["completed_at"])
            server.append((completed - created) * 1000)
            # Where the time beyond the institutions went (server timestamps, ms precision).
            if all(leg["sent_at"] and leg["finished_at"] for leg in legs):
                last = max(legs, key=lambda leg: parse_shown(leg["finished_at"]))
                sample = {
                    "overhead": round(total_ms - worst, 1),
                    "outbox": (min(parse_shown(leg["sent_at"]) for leg in legs) - created) * 1000,
                    "kafka_and_connector": (parse_shown(last["finished_at"]) - parse_shown(last["sent_at"])) * 1000 - last["latency_ms"],
                    "completion": (completed - parse_shown(last["finished_at"])) * 1000,
                    "http_and_polling": total_ms - (completed - created) * 1000,
                }
                for k in parts:
                    parts[k].append(sample[k])
                samples.append({**{k: round(v, 1) for k, v in sample.items()}, "last_leg": last["institution_id"]})
            for leg in legs:
                statuses[leg["status"]] = statuses.get(leg["status"], 0) + 1
            bar.advance(task)
    cpu = {name: round((after - before) * 1000 / len(debtors), 2) for name, pid in pids.items()
           if (before := cpu_before[name]) is not None and (after := process_cpu_seconds(name, pid)) is not None}
    result = {
        "simulator_latency": latency, "samples": len(debtors), "legs_per_inquiry": len(inquiry["reports"][0]["legs"]),
        "total_ms": dist(totals), "slowest_leg_ms": dist(slowest), "overhead_ms": dist(overheads),
        "server_created_to_completed_ms": dist(server), "leg_outcomes": statuses,
        "overhead_parts_p50_ms": {k: round(percentile(v, 50), 1) for k, v in parts.items() if v},
        "overhead_parts_p95_ms": {k: round(percentile(v, 95), 1) for k, v in parts.items() if v},
        "worst_overheads": sorted(samples, key=lambda s: -s["overhead"])[:5],
        "cpu_ms_per_inquiry": {"total": round(sum(cpu.values()), 1), **cpu},
        "overhead_parts_help": {
            "outbox": "inquiry created → its first leg published and acknowledged by the broker",
            "kafka_and_connector": "last-finished leg: published → result stored, minus its institution latency_ms",
            "completion": "last leg's result stored → inquiry marked completed",
            "http_and_polling": "client total minus the server's created → completed (HTTP both ways)",
            "worst_overheads": "the five inquiries with the most overhead: their parts and the institution answered last",
        },
        "method": "client POST to the answer of GET ?wait=30 (long-poll) that shows the inquiry completed; overhead per inquiry = "
                  "total minus the largest leg latency_ms (the connector's own timing of its institution call)",
    }
    console.print(f"latency {label} ({latency} ms): total p50 {result['total_ms']['p50']:.0f} / p95 {result['total_ms']['p95']:.0f} / "
                  f"p99 {result['total_ms']['p99']:.0f} ms; overhead over the slowest institution p50 "
                  f"{result['overhead_ms']['p50']:.0f} / p99 [bold]{result['overhead_ms']['p99']:.0f} ms[/bold]")
    return result


async def phase_latency(ctx: Ctx) -> None:
    n = ctx.opts.latency_samples
    # Different debtors (some holding much, some nothing), the same ones for both settings.
    pool = list(ctx.population.debtors)
    step = max(1, len(pool) // (n + 1))
    debtors = [pool[(i * step + 7) % len(pool)] for i in range(n)]
    # Warm-up (connections, first-request costs), not counted.
    for d in debtors[:3]:
        await one_inquiry(ctx, d, ctx.case(7000))
    out: dict[str, Any] = {}
    out["zero"] = await latency_run(ctx, "zero", "0", debtors, ctx.case(7001))
    changed = await set_latency(ctx, ctx.opts.realistic_latency)
    try:
        out["realistic"] = await latency_run(ctx, "realistic", ctx.opts.realistic_latency, debtors, ctx.case(7002))
        out["realistic"]["institutions_changed"] = changed
    finally:
        await set_latency(ctx, None)  # back to the simulators' default: latency 0
    ctx.results["latency"] = out
