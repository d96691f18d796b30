"""Phase 2, bulk (legs/s end to end for a bulk inquiry), and phase 6, scale-out (the same with
two connector worker processes per kind); both measure with ``run_bulk``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import Any

import aiohttp
import orjson
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from assetgw.bench.common import AMOUNT_DUE_FEN, CASE_SIZE, COURT, MAX_BATCH_ROWS, console, parse_shown
from assetgw.bench.context import Ctx
from assetgw.bench.direct import direct_fan_out
from assetgw.bench.stack import Sampler


def bulk_debtors(ctx: Ctx, count: int, offset: int = 0) -> list[Any]:
    """``count`` distinct debtors, 90% people and 10% companies; ``offset`` picks a disjoint set."""
    people = [d for d in ctx.population.debtors if d.kind == "person"]
    companies = [d for d in ctx.population.debtors if d.kind != "person"]
    n_companies = count // 10
    n_people = count - n_companies
    p0, c0 = offset - offset // 10, offset // 10
    chosen = people[p0:p0 + n_people] + companies[c0:c0 + n_companies]
    if len(chosen) < count:
        raise RuntimeError(f"the population holds too few debtors for {count} (from {offset}); raise --persons")
    return chosen


def batch_lines(ctx: Ctx, debtors: list[Any], first_case: int, institutions: list[str] | None = None) -> list[bytes]:
    lines = []
    for i, d in enumerate(debtors):
        case = ctx.case(first_case + i // CASE_SIZE)
        row: dict[str, Any] = {"case_number": case, "court": COURT, "amount_due_fen": AMOUNT_DUE_FEN, "costs_fen": 500_000,
                               "notice_number": f"{case}-查", "officer_credentials": [ctx.credential],
                               "debtor": {"kind": d.kind, "id_number": d.id_number, "name": d.name}}
        if institutions:
            row["institutions"] = institutions
        lines.append(orjson.dumps(row))
    return lines


async def scrape_legs(ctx: Ctx) -> dict[str, dict[str, float]]:
    """assetgw_legs_total per connector worker process, by outcome."""
    out: dict[str, dict[str, float]] = {}
    for name, url in ctx.stack.connector_metrics_urls().items():
        counts: dict[str, float] = {}
        try:
            async with ctx.plain.get(url) as r:
                text = await r.text()
        except (TimeoutError, aiohttp.ClientError):
            continue
        for line in text.splitlines():
            if line.startswith("assetgw_legs_total{"):
                labels, _, value = line.rpartition(" ")
                outcome = labels.split('outcome="', 1)[1].split('"', 1)[0] if 'outcome="' in labels else "?"
                counts[outcome] = counts.get(outcome, 0.0) + float(value)
        out[name] = counts
    return out


def _delta(after: dict[str, dict[str, float]], before: dict[str, dict[str, float]]) -> tuple[dict[str, int], dict[str, int]]:
    by_outcome: dict[str, int] = {}
    by_process: dict[str, int] = {}
    for proc, counts in after.items():
        for outcome, value in counts.items():
            d = int(value - before.get(proc, {}).get(outcome, 0.0))
            if d:
                by_outcome[outcome] = by_outcome.get(outcome, 0) + d
                by_process[proc] = by_process.get(proc, 0) + d
    return dict(sorted(by_outcome.items())), dict(sorted(by_process.items()))


async def run_bulk(ctx: Ctx, label: str, debtors: list[Any], first_case: int, institutions: list[str] | None = None,
                   sample: bool = True, quiet: bool = False) -> dict[str, Any]:
    """Posts the debtors as one batch (several if over the gateway's row limit) and waits until
    every batch is completed; returns legs/s from the POST to the last inquiry's completion."""
    lines = batch_lines(ctx, debtors, first_case, institutions)
    chunks = [lines[i:i + MAX_BATCH_ROWS] for i in range(0, len(lines), MAX_BATCH_ROWS)]
    bodies = [b"\n".join(c) for c in chunks]
    legs_before = await scrape_legs(ctx)
    sampler = Sampler(ctx.stack.pids()) if sample else None
    with sampler if sampler else contextlib.nullcontext():  # type: ignore[attr-defined]
        wall0 = time.time()
        t0 = time.monotonic()
        accepted = []
        for body in bodies:
            async with ctx.http.post("/v1/inquiry-batches", data=body, headers={"Content-Type": "application/x-ndjson"}) as r:
                reply = await r.json(content_type=None)
                if r.status != 202:
                    raise RuntimeError(f"batch refused ({r.status}): {reply}")
            accepted.append(reply)
        accepted_after = time.monotonic() - t0
        total = sum(a["legs"] for a in accepted)
        progress_cols = (TextColumn(f"{label} legs"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(), TimeElapsedColumn())
        with Progress(*progress_cols, console=console, transient=True, disable=quiet) as bar:
            task = bar.add_task(label, total=total)
            done_at: dict[str, str] = {}
            while len(done_at) < len(accepted):
                done = 0
                for a in accepted:
                    async with ctx.http.get(a["location"]) as r:
                        p = await r.json()
                    done += p["legs"]["done"]
                    if p["status"] == "completed":
                        done_at[a["id"]] = p["completed_at"]
                bar.update(task, completed=done)
                if len(done_at) < len(accepted):
                    await asyncio.sleep(0.25 if total < 50_000 else 1.0)
        observed = time.monotonic() - t0
    # The batch's own completion time (ms precision, same host clock) rather than our poll's.
    finished = max(parse_shown(v) for v in done_at.values())
    seconds = max(finished - wall0, 0.001)
    legs_after = await scrape_legs(ctx)
    outcomes, per_process = _delta(legs_after, legs_before)
    result: dict[str, Any] = {
        "debtors": len(debtors), "institutions": institutions if institutions else "all", "legs": total,
        "batches": len(accepted), "batch_ids": [a["id"] for a in accepted], "inquiries": sum(a["inquiries"] for a in accepted),
        "seconds": round(seconds, 3), "seconds_observed_by_polling": round(observed, 3), "post_accepted_after_s": round(accepted_after, 3),
        "legs_per_s": round(total / seconds, 1), "leg_outcomes": outcomes, "legs_by_worker_process": per_process,
    }
    if sampler:
        result.update(sampler.report())
        stack_cpu = sum(v for k, v in result["cpu_seconds"].items() if k != "bench")
        result["stack_cpu_seconds"] = round(stack_cpu, 2)
        result["stack_cpu_ms_per_leg"] = round(1000 * stack_cpu / total, 3)
        result["stack_cpu_share_of_machine"] = round(stack_cpu / (seconds * (os.cpu_count() or 1)), 3)
    if not quiet:
        console.print(f"{label}: {total:,} legs in {seconds:.2f}s = [bold]{total / seconds:,.0f} legs/s[/bold] "
                      f"(POST accepted after {accepted_after:.2f}s; outcomes {outcomes})")
    return result


async def phase_bulk(ctx: Ctx) -> None:
    n = ctx.opts.debtors
    # Untimed warm-up batch: first-use costs (code paths, connection pools, allocator arenas) are
    # paid here rather than counted as growth with the batch size.
    await run_bulk(ctx, "warm-up", bulk_debtors(ctx, 20, offset=n), 8_000, sample=False, quiet=True)
    if "memory" not in ctx.opts.skip:
        # A tenth-size run first, on the same processes: with the main run it gives memory two
        # sizes to fit a line through (smallest first, since RSS seldom falls back).
        small = await run_bulk(ctx, "bulk ÷10", bulk_debtors(ctx, max(10, n // 10)), 8_100)
        ctx.results["bulk_small"] = small
    debtors = bulk_debtors(ctx, n)
    rounds = []
    # Alternating, on the same simulators: the direct fan-out, then the gateway end to end with the
    # same debtors (new cases each round, so each run adds to the store's history).
    for r in range(ctx.opts.bulk_rounds):
        direct = await direct_fan_out(ctx, f"direct fan-out, round {r + 1}", debtors)
        run = await run_bulk(ctx, f"bulk, round {r + 1}", debtors, 10_000 + 1_000 * r)
        run["direct"] = direct
        run["ratio_to_direct"] = round(run["legs_per_s"] / direct["legs_per_s"], 4)
        run["cpu_ms_per_leg"] = {name: round(1000 * v / run["legs"], 4) for name, v in run["cpu_seconds"].items()}
        rounds.append(run)
    result = sorted(rounds, key=lambda run: run["legs_per_s"])[len(rounds) // 2]  # the median round
    speeds = [run["legs_per_s"] for run in rounds]
    ratios = [run["ratio_to_direct"] for run in rounds]
    raw = ctx.results.get("raw_ceiling", {}).get("msgs_per_s")
    result = {**result,
              "rounds": [{"legs_per_s": run["legs_per_s"], "direct_legs_per_s": run["direct"]["legs_per_s"],
                          "ratio_to_direct": run["ratio_to_direct"], "seconds": run["seconds"],
                          # Per round, so growth with the store's history shows where it is.
                          "post_accepted_after_s": run["post_accepted_after_s"],
                          "stack_cpu_ms_per_leg": run["stack_cpu_ms_per_leg"], "cpu_ms_per_leg": run["cpu_ms_per_leg"]}
                         for run in rounds],
              "ratio_to_direct_median": sorted(ratios)[len(ratios) // 2], "ratio_to_direct_min": min(ratios),
              # How far successive runs on one stack drift apart: (fastest - slowest) / fastest.
              "successive_spread": round((max(speeds) - min(speeds)) / max(speeds), 4),
              "ratio_to_raw_ceiling": round(result["legs_per_s"] / raw, 4) if raw else None,
              "connector_processes_per_kind": 1,
              "simulator_latency": "0; fund centres 20:80, market regulator 30:120, courts 40:200 (KIND_LATENCY in run.py)"}
    ctx.results["bulk"] = result
    console.print(f"bulk ÷ direct fan-out, per round: {', '.join(f'{x:.1%}' for x in ratios)}; successive runs within "
                  f"{result['successive_spread']:.1%} of each other")
    if raw:
        console.print(f"bulk / raw ceiling = [bold]{result['ratio_to_raw_ceiling']:.1%}[/bold]")


async def phase_scale_out(ctx: Ctx) -> None:
    from schemas.directory import QUERY_KINDS

    one = ctx.results.get("bulk")
    if one is None:
        raise RuntimeError("the one-worker bulk run did not complete")
    t = time.monotonic()
    with console.status("starting a second connector worker process per kind …"):
        # Query kinds only: a lodging registry's worker never takes a leg, so it could not warm up.
        names = [ctx.stack.add_connector_instance(kind, 2) for kind in QUERY_KINDS]
        for name in names:
            await ctx.stack.wait_healthy(name, 120)
    console.print(f"second workers healthy after {time.monotonic() - t:.1f}s: {', '.join(names)}")
    # Untimed warm-up batches until the groups have rebalanced and every new process takes legs.
    warm: dict[str, Any] = {}
    for attempt in range(6):
        warm = await run_bulk(ctx, "warm-up", bulk_debtors(ctx, 40, offset=ctx.opts.debtors), 29_000 + attempt, sample=False, quiet=True)
        if all(warm["legs_by_worker_process"].get(n, 0) > 0 for n in names):
            break
    else:
        console.print("[yellow]not every new worker took legs in the warm-up; measuring anyway")
    console.print(f"rebalanced after {time.monotonic() - t:.1f}s; warm-up legs by process: {warm['legs_by_worker_process']}")
    two = await run_bulk(ctx, "bulk, 2 workers/kind", bulk_debtors(ctx, ctx.opts.debtors), 30_000)
    raw = ctx.results.get("raw_ceiling", {}).get("msgs_per_s")
    ctx.results["scale_out"] = {
        "debtors": ctx.opts.debtors, "legs": two["legs"],
        "one_worker_per_kind": {"legs_per_s": one["legs_per_s"], "seconds": one["seconds"], "legs_by_worker_process": one["legs_by_worker_process"]},
        "two_workers_per_kind": {"legs_per_s": two["legs_per_s"], "seconds": two["seconds"], "legs_by_worker_process": two["legs_by_worker_process"],
                                 "peak_rss_mb": two["peak_rss_mb"], "cpu_seconds": two["cpu_seconds"], "leg_outcomes": two["leg_outcomes"]},
        "speedup": round(two["legs_per_s"] / one["legs_per_s"], 3),
        "ratio_to_raw_ceiling": round(two["legs_per_s"] / raw, 4) if raw else None,
        "warm_up_legs_by_worker_process": warm["legs_by_worker_process"], "cpus": os.cpu_count(),
        "note": "same debtors as the one-worker run, new cases, same stack (its store already holds the earlier runs)",
    }
    console.print(f"scale-out: 1 worker/kind {one['legs_per_s']:,.0f} legs/s → 2 workers/kind [bold]{two['legs_per_s']:,.0f} legs/s[/bold] "
                  f"(×{two['legs_per_s'] / one['legs_per_s']:.2f})")
