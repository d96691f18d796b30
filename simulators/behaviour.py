"""How each simulated institution misbehaves: latency, injected errors, hanging.

Operators and tests change this at run time (through the admin API) to rehearse partner
outages without restarting anything, so a ``Behaviour`` is a small mutable record and
``Behaviours`` keeps one default plus per-institution overrides.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any

from simulators.latency import NO_LATENCY, Latency


@dataclass(slots=True)
class Behaviour:
    latency: Latency = NO_LATENCY
    error_rate: float = 0.0  # share of requests answered with an injected failure, 0..1
    error_status: int = 503  # HTTP status of injected failures (payment: always code 20000)
    hang: bool = False  # never answer: the request stays open until the client gives up

    def __post_init__(self) -> None:
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")
        if not 400 <= self.error_status <= 599:
            raise ValueError("error_status must be an HTTP error status (400-599)")

    def patched(self, patch: dict[str, Any]) -> "Behaviour":
        """A copy with the fields named in ``patch`` (admin JSON) changed; unknown or mistyped
        fields raise ``ValueError`` naming the field."""
        unknown = sorted(set(patch) - {"latency", "error_rate", "error_status", "hang"})
        if unknown:
            raise ValueError(f"unknown behaviour field(s): {', '.join(unknown)}")
        changes: dict[str, Any] = {}
        if "latency" in patch:
            value = patch["latency"]
            if isinstance(value, str):
                changes["latency"] = Latency.parse(value)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                changes["latency"] = Latency(float(value), float(value))
            else:
                raise ValueError('latency must be a string "MEDIAN_MS:P99_MS"')
        if "error_rate" in patch:
            value = patch["error_rate"]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError("error_rate must be a number between 0 and 1")
            changes["error_rate"] = float(value)
        if "error_status" in patch:
            value = patch["error_status"]
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError("error_status must be an integer HTTP status")
            changes["error_status"] = value
        if "hang" in patch:
            if not isinstance(patch["hang"], bool):
                raise ValueError("hang must be true or false")
            changes["hang"] = patch["hang"]
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "latency": str(self.latency),
            "error_rate": self.error_rate,
            "error_status": self.error_status,
            "hang": self.hang,
        }


@dataclass(kw_only=True)
class Behaviours:
    """Default behaviour plus per-institution overrides, and the random stream that drives
    latency samples and error injection (seed it for reproducible runs)."""

    default: Behaviour = field(default_factory=Behaviour)
    default_latency: Latency | None = None  # shorthand: the default behaviour with this latency
    rng: random.Random = field(default_factory=random.Random)
    overrides: dict[str, Behaviour] = field(default_factory=dict)

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
        return self.set(institution_id, self.get(institution_id).patched(patch))

    def reset(self, institution_id: str) -> Behaviour:
        self.overrides.pop(institution_id, None)
        return self.default

    def sample_latency_s(self, institution_id: str) -> float:
        return self.get(institution_id).latency.sample_s(self.rng)

    def fails(self, institution_id: str) -> bool:
        """Whether this request gets an injected failure."""
        rate = self.get(institution_id).error_rate
        return rate > 0.0 and self.rng.random() < rate
