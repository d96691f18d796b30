"""How each simulated institution misbehaves: latency, hanging, scheduled outages, and faults
drawn per request (errors, throttling, malformed or truncated bodies, connection resets).

Operators and tests change this at run time (through the admin API) to rehearse partner
outages without restarting anything, so a ``Behaviour`` is a small immutable record replaced
on each change, and ``Behaviours`` keeps one default plus per-institution overrides.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from simulators.latency import NO_LATENCY, Latency
from simulators.outages import Outage, parse_windows

# What one request gets instead of a normal answer. "outage" and "reset" come from a scheduled
# window (its mode decides which); the rest are drawn at their configured rates.
Fault = Literal["outage", "reset", "throttle", "error", "malformed", "truncated"]
OutageMode = Literal["unavailable", "reset"]
OUTAGE_MODES: tuple[OutageMode, ...] = ("unavailable", "reset")

# Drawn faults, in the order their shares are laid along one uniform draw: the rates are exact
# (10% errors and 10% throttling are 10% each), hence at most one fault per request and a sum <= 1.
RATED: tuple[tuple[str, Fault], ...] = (
    ("reset_rate", "reset"), ("throttle_rate", "throttle"), ("error_rate", "error"),
    ("malformed_rate", "malformed"), ("truncated_rate", "truncated"),
)
RATE_FIELDS = tuple(name for name, _ in RATED)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Behaviour:
    latency: Latency = NO_LATENCY
    error_rate: float = 0.0  # share of requests answered with an injected failure, 0..1
    error_status: int = 503  # HTTP status of injected failures (payment: always code 20000)
    hang: bool = False  # never answer: the request stays open until the client gives up
    throttle_rate: float = 0.0  # share answered 429 with Retry-After
    retry_after_s: float = 1.0  # the Retry-After of throttled answers
    malformed_rate: float = 0.0  # share answered 200 with a body that is not JSON
    truncated_rate: float = 0.0  # share answered 200 with a JSON body cut in half
    reset_rate: float = 0.0  # share whose connection is reset without an answer
    outages: tuple[Outage, ...] = ()  # windows in which every request fails
    outage_mode: OutageMode = "unavailable"  # 503 during an outage, or "reset" the connection

    def __post_init__(self) -> None:
        for name in RATE_FIELDS:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if sum(getattr(self, name) for name in RATE_FIELDS) > 1.0 + 1e-9:
            raise ValueError(f"{' + '.join(RATE_FIELDS)} must not exceed 1: a request gets at most one fault")
        if not 400 <= self.error_status <= 599:
            raise ValueError("error_status must be an HTTP error status (400-599)")
        if not (math.isfinite(self.retry_after_s) and self.retry_after_s >= 0):
            raise ValueError("retry_after_s must be a number of seconds, 0 or more")
        if self.outage_mode not in OUTAGE_MODES:
            raise ValueError(f"outage_mode must be one of {', '.join(OUTAGE_MODES)}")

    def patched(self, patch: dict[str, Any], now: datetime | None = None) -> Behaviour:
        """A copy with the fields named in ``patch`` (admin JSON) changed; unknown, mistyped or
        out-of-range fields raise ``ValueError`` naming the field. ``outages`` replaces the list;
        relative windows start from ``now``."""
        unknown = sorted(set(patch) - set(_PARSERS))
        if unknown:
            raise ValueError(f"unknown behaviour field(s): {', '.join(unknown)}")
        now = now or _utcnow()
        changes = {name: _PARSERS[name](value, now) for name, value in patch.items()}
        return replace(self, **changes)  # __post_init__ checks the combination

    def outage_now(self, now: datetime) -> bool:
        return any(w.active(now) for w in self.outages)

    def to_json(self, now: datetime | None = None) -> dict[str, Any]:
        now = now or _utcnow()
        return {
            "latency": str(self.latency),
            "error_rate": self.error_rate,
            "error_status": self.error_status,
            "hang": self.hang,
            "throttle_rate": self.throttle_rate,
            "retry_after_s": self.retry_after_s,
            "malformed_rate": self.malformed_rate,
            "truncated_rate": self.truncated_rate,
            "reset_rate": self.reset_rate,
            "outages": [w.to_json(now) for w in self.outages if not w.over(now)],
            "outage_mode": self.outage_mode,
        }


def _latency(value: Any, _: datetime) -> Latency:
    if isinstance(value, str):
        return Latency.parse(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Latency(float(value), float(value))
    raise ValueError('latency must be a string "MEDIAN_MS:P99_MS"')


def _number(name: str, what: str) -> Callable[[Any, datetime], float]:
    def parse(value: Any, _: datetime) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be {what}")
        return float(value)
    return parse


def _error_status(value: Any, _: datetime) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("error_status must be an integer HTTP status")
    return value


def _hang(value: Any, _: datetime) -> bool:
    if not isinstance(value, bool):
        raise ValueError("hang must be true or false")
    return value


def _outage_mode(value: Any, _: datetime) -> str:
    if value not in OUTAGE_MODES:
        raise ValueError(f"outage_mode must be one of {', '.join(OUTAGE_MODES)}")
    return str(value)


_PARSERS: dict[str, Callable[[Any, datetime], Any]] = {
    "latency": _latency,
    "error_status": _error_status,
    "hang": _hang,
    "retry_after_s": _number("retry_after_s", "a number of seconds, 0 or more"),
    "outages": parse_windows,
    "outage_mode": _outage_mode,
    **{name: _number(name, "a number between 0 and 1") for name in RATE_FIELDS},
}


@dataclass(kw_only=True)
class Behaviours:
    """Default behaviour plus per-institution overrides, the random stream that drives latency
    samples and fault draws (seed it for reproducible runs), and the wall clock of outages."""

    default: Behaviour = field(default_factory=Behaviour)
    default_latency: Latency | None = None  # shorthand: the default behaviour with this latency
    rng: random.Random = field(default_factory=random.Random)
    overrides: dict[str, Behaviour] = field(default_factory=dict)
    clock: Callable[[], datetime] = _utcnow

    def __post_init__(self) -> None:
        if self.default_latency is not None:
            self.default = replace(self.default, latency=self.default_latency)

    def get(self, institution_id: str) -> Behaviour:
        return self.overrides.get(institution_id, self.default)

    def set(self, institution_id: str, behaviour: Behaviour) -> Behaviour:
        self.overrides[institution_id] = behaviour
        return behaviour

    def update(self, institution_id: str, patch: dict[str, Any]) -> Behaviour:
        """Apply an admin patch on top of the institution's current behaviour."""
        return self.set(institution_id, self.get(institution_id).patched(patch, self.clock()))

    def reset(self, institution_id: str) -> Behaviour:
        self.overrides.pop(institution_id, None)
        return self.default

    def to_json(self, institution_id: str) -> dict[str, Any]:
        return {"institution_id": institution_id, **self.get(institution_id).to_json(self.clock())}

    def sample_latency_s(self, institution_id: str) -> float:
        return self.get(institution_id).latency.sample_s(self.rng)

    def fails(self, institution_id: str) -> bool:
        """Whether this request gets an injected failure (``error_rate`` alone)."""
        rate = self.get(institution_id).error_rate
        return rate > 0.0 and self.rng.random() < rate

    def draw(self, institution_id: str) -> Fault | None:
        """The fault this request gets, if any: a scheduled outage first, else one uniform draw
        across the configured rates. Decided before any work, so a fault changes nothing."""
        b = self.get(institution_id)
        if b.outages and b.outage_now(self.clock()):
            return "reset" if b.outage_mode == "reset" else "outage"
        if not any(getattr(b, name) for name in RATE_FIELDS):
            return None  # no draw: keeps the random stream of fault-free runs as it was
        x, edge = self.rng.random(), 0.0
        for name, fault in RATED:
            edge += getattr(b, name)
            if x < edge:
                return fault
        return None
