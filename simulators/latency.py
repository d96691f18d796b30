"""Response-time model: log-normal, given by its median and 99th percentile.

Real partner systems answer most requests quickly and a few very slowly; a log-normal with a
fat right tail reproduces that with two numbers an operator can reason about ("20:200" means
half the answers within 20 ms, 99% within 200 ms).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

_Z99 = 2.326  # standard-normal quantile of 0.99


@dataclass(frozen=True, slots=True)
class Latency:
    median_ms: float
    p99_ms: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.median_ms) and math.isfinite(self.p99_ms)):
            raise ValueError("latency must be a finite number of milliseconds")
        if self.median_ms < 0 or self.p99_ms < 0:
            raise ValueError("latency must not be negative")
        if self.median_ms > 0 and self.p99_ms < self.median_ms:
            raise ValueError("latency p99 must be at least the median")

    @property
    def sigma(self) -> float:
        return math.log(self.p99_ms / self.median_ms) / _Z99 if self.median_ms > 0 else 0.0

    def sample_ms(self, rng: random.Random | None = None) -> float:
        """One response time in milliseconds; a median of 0 means no delay at all."""
        if self.median_ms <= 0:
            return 0.0
        sigma = self.sigma
        if sigma == 0.0:
            return self.median_ms
        return (rng or random).lognormvariate(math.log(self.median_ms), sigma)

    def sample_s(self, rng: random.Random | None = None) -> float:
        return self.sample_ms(rng) / 1000.0

    @classmethod
    def parse(cls, text: str) -> Latency:
        """``"20:200"`` (median:p99 in ms), ``"20"`` (fixed), ``"0"`` (none)."""
        median, sep, p99 = text.strip().partition(":")
        try:
            m = float(median)
            return cls(m, float(p99) if sep else m)
        except ValueError as exc:
            raise ValueError(f"latency {text!r}: expected MEDIAN_MS:P99_MS, e.g. 20:200 ({exc})") from None

    def __str__(self) -> str:
        return f"{self.median_ms:g}:{self.p99_ms:g}"


NO_LATENCY = Latency(0.0, 0.0)
