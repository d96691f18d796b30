"""Figures from measurements: percentiles, distributions and the memory extrapolation."""

from __future__ import annotations

import math

from assetgw.bench.common import TARGET_LEGS


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: every figure is one that was measured)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def dist(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": round(percentile(values, 50), 1), "p95": round(percentile(values, 95), 1),
            "p99": round(percentile(values, 99), 1), "max": round(max(values), 1), "mean": round(sum(values) / len(values), 1)}


def extrapolate(points: list[tuple[int, float]], baseline: float | None) -> tuple[float | None, str]:
    """Gateway RSS at TARGET_LEGS from measured (legs, peak MB) points."""
    points = sorted(points)
    if len(points) >= 2 and points[-1][0] > points[-2][0]:
        (l1, p1), (l2, p2) = points[-2], points[-1]
        slope = max((p2 - p1) / (l2 - l1), 0.0)
        return p2 + slope * (TARGET_LEGS - l2), (
            f"straight line through the two largest measured bulk runs ({l1:,} legs: peak {p1:.0f} MB; {l2:,} legs: "
            f"peak {p2:.0f} MB) = {slope * 1e5:.2f} MB per 100k legs, extended to {TARGET_LEGS:,} legs; the runs went smallest "
            f"first on the same gateway process after an untimed warm-up batch"
            + (" — an extrapolation far beyond the measured sizes" if 4 * l2 < TARGET_LEGS else ""))
    if points and baseline is not None:
        l1, p1 = points[0]
        slope = max((p1 - baseline) / l1, 0.0)
        return baseline + slope * TARGET_LEGS, (
            f"one measured run only ({l1:,} legs: peak {p1:.0f} MB over {baseline:.0f} MB before it): assumes ALL growth "
            f"during the run scales with the batch (an upper bound); run with --memory-scale 10 for a two-point fit")
    return None, "no bulk run measured"


def slope_per_100k(points: list[tuple[int, float]]) -> float | None:
    """Gateway peak RSS growth between the two largest runs, per 100,000 legs."""
    points = sorted(points)
    if len(points) < 2 or points[-1][0] <= points[-2][0]:
        return None
    (l1, p1), (l2, p2) = points[-2], points[-1]
    return round((p2 - p1) / (l2 - l1) * 1e5, 2)
