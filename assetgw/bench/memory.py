"""Phase 5, memory: peak RSS during the bulk runs and its extrapolation to 1,000,000 legs."""

from __future__ import annotations

from typing import Any

from assetgw.bench.bulk import bulk_debtors, run_bulk
from assetgw.bench.common import TARGET_LEGS, console
from assetgw.bench.context import Ctx
from assetgw.bench.stats import extrapolate, slope_per_100k


async def phase_memory(ctx: Ctx) -> None:
    runs = []
    for key, name in (("bulk_small", "bulk ÷10"), ("bulk", "bulk")):
        run = ctx.results.get(key)
        if run and "peak_rss_mb" in run:
            runs.append(_memory_row(run, name))
    if ctx.opts.memory_scale:
        k = ctx.opts.memory_scale
        debtors = bulk_debtors(ctx, ctx.opts.debtors * k)
        console.print(f"memory run: {len(debtors):,} debtors ({k}× the bulk run); this takes a while …")
        big = await run_bulk(ctx, f"bulk ×{k}", debtors, 20_000)
        ctx.results["bulk_memory_scale"] = {**big, "scale": k}
        runs.append(_memory_row(big, f"bulk ×{k}"))
    if not runs:
        raise RuntimeError("no bulk run to measure memory on (bulk skipped and no --memory-scale)")
    points = [(r["legs"], r["gateway_peak_rss_mb"]) for r in runs]
    baseline = runs[0]["gateway_rss_before_mb"]  # only used if a single run was measured
    estimate, method = extrapolate(points, baseline)
    ctx.results["memory"] = {
        "runs": runs,
        "gateway_peak_rss_mb": max(r["gateway_peak_rss_mb"] for r in runs),
        "connector_peak_rss_mb": max(r["connector_peak_rss_mb"] for r in runs),
        "gateway_rss_at_1m_legs_mb_extrapolated": round(estimate, 1) if estimate is not None else None,
        "extrapolation": method,
        "two_point_fit": len({p[0] for p in points}) >= 2,
        "gateway_mb_per_100k_legs": slope_per_100k(points),
        "how": "VmRSS of /proc/PID/status sampled every 0.2 s during each run (peak), VmHWM read at its end",
    }
    for r in runs:
        console.print(f"{r['run']}: {r['legs']:,} legs, gateway peak RSS {r['gateway_peak_rss_mb']:.0f} MB, "
                      f"busiest connector {r['connector_peak_rss_mb']:.0f} MB ({r['connector']})")
    if estimate is not None:
        console.print(f"gateway at {TARGET_LEGS:,} legs ≈ [bold]{estimate:.0f} MB[/bold] (extrapolated: {method})")


def _memory_row(run: dict[str, Any], name: str) -> dict[str, Any]:
    peaks = run["peak_rss_mb"]
    connectors = {k: v for k, v in peaks.items() if k.startswith("connector-")}
    busiest = max(connectors, key=lambda k: connectors[k]) if connectors else None
    return {
        "run": name, "legs": run["legs"], "legs_per_s": run["legs_per_s"],
        "gateway_peak_rss_mb": peaks.get("gateway", 0.0), "gateway_rss_before_mb": run["rss_at_start_mb"].get("gateway", 0.0),
        "gateway_vmhwm_mb": run["vmhwm_mb"].get("gateway", 0.0),
        "connector": busiest, "connector_peak_rss_mb": connectors.get(busiest, 0.0) if busiest else 0.0,
        "connectors_peak_rss_mb": connectors, "broker_peak_rss_mb": peaks.get("broker"), "simulator_peak_rss_mb": peaks.get("simulator"),
    }
